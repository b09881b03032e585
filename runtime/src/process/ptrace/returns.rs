//! Return probes by return-address hijack: per thread, a shadow stack of the real return
//! addresses replaced by the trampoline's address (Linux's `return_instance` list,
//! arm-probes.md §4.7).

use crate::process::ProbeId;

/// Deeper than this, return probes are not armed (Linux stops at 64, `MAX_URETPROBE_DEPTH`;
/// rtap's records are cheap, so recursion is followed much further).
pub const MAX_DEPTH: usize = 4096;

#[derive(Clone, Debug)]
pub struct Frame {
    /// Stack address holding the (hijacked) return address.
    pub slot: u64,
    pub real_return: u64,
    pub function: u64,
    pub call_id: u64,
    pub probes: Vec<ProbeId>,
    /// Entered by a tail call from another probed function: the return address at entry was
    /// already the trampoline, so this frame returns together with the one below it.
    chained: bool,
}

impl Frame {
    pub fn new(
        slot: u64,
        real_return: u64,
        function: u64,
        call_id: u64,
        probes: Vec<ProbeId>,
    ) -> Self {
        Frame {
            slot,
            real_return,
            function,
            call_id,
            probes,
            chained: false,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ShadowStack {
    frames: Vec<Frame>,
}

impl ShadowStack {
    /// Records a function entry whose return address (at `frame.slot`) is about to be
    /// replaced by `trampoline`. False when the stack is full (the return is not probed).
    pub fn push(&mut self, mut frame: Frame, trampoline: u64) -> bool {
        // A live frame's return address lies above the current stack pointer; records below
        // it were abandoned by longjmp (Linux: `cleanup_return_instances`).
        self.discard_below(frame.slot);
        if frame.real_return == trampoline {
            let Some(below) = self.frames.last() else {
                return false;
            };
            frame.real_return = below.real_return;
            frame.chained = true;
        }
        if self.frames.len() >= MAX_DEPTH {
            return false;
        }
        self.frames.push(frame);
        true
    }

    /// The frames returning through the trampoline whose return address was at `slot`,
    /// innermost first (several when tail calls chained them). Empty if there is no record.
    pub fn pop_returning(&mut self, slot: u64) -> Vec<Frame> {
        self.discard_below(slot);
        let mut popped = Vec::new();
        if self.frames.last().is_some_and(|f| f.slot == slot) {
            while let Some(frame) = self.frames.pop() {
                let chained = frame.chained;
                popped.push(frame);
                if !chained {
                    break;
                }
            }
        }
        popped
    }

    fn discard_below(&mut self, slot: u64) {
        while self.frames.last().is_some_and(|f| f.slot < slot) {
            self.frames.pop();
        }
    }

    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Keeps only the probes `keep` accepts; frames left without probes are dropped (their
    /// return addresses must be restored by the caller first).
    pub fn retain_probes(&mut self, keep: impl Fn(&ProbeId) -> bool) {
        for f in &mut self.frames {
            f.probes.retain(&keep);
        }
        self.frames.retain(|f| !f.probes.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 0x1000;

    fn frame(slot: u64, ret: u64, id: u64) -> Frame {
        Frame::new(slot, ret, 0, id, vec![ProbeId(0)])
    }

    #[test]
    fn nested_returns_pop_in_order() {
        let mut s = ShadowStack::default();
        assert!(s.push(frame(0x7000, 0xa, 1), T));
        assert!(s.push(frame(0x6f00, 0xb, 2), T));
        let inner = s.pop_returning(0x6f00);
        assert_eq!(inner.iter().map(|f| f.call_id).collect::<Vec<_>>(), [2]);
        let outer = s.pop_returning(0x7000);
        assert_eq!(outer[0].real_return, 0xa);
        assert!(s.frames().is_empty());
    }

    #[test]
    fn longjmp_abandoned_frames_are_discarded() {
        let mut s = ShadowStack::default();
        s.push(frame(0x7000, 0xa, 1), T);
        s.push(frame(0x6f00, 0xb, 2), T);
        s.push(frame(0x6e00, 0xc, 3), T);
        // longjmp back into the function of frame 1, which then returns.
        let got = s.pop_returning(0x7000);
        assert_eq!(got.iter().map(|f| f.call_id).collect::<Vec<_>>(), [1]);
        // A new entry deeper than abandoned records also discards them.
        s.push(frame(0x7000, 0xa, 4), T);
        s.push(frame(0x6e00, 0xc, 5), T);
        s.push(frame(0x6f80, 0xd, 6), T);
        assert_eq!(
            s.frames().iter().map(|f| f.call_id).collect::<Vec<_>>(),
            [4, 6]
        );
    }

    #[test]
    fn tail_calls_chain() {
        let mut s = ShadowStack::default();
        s.push(frame(0x7000, 0xa, 1), T);
        // The tail-called function finds the trampoline as its return address.
        assert!(s.push(frame(0x7000, T, 2), T));
        let got = s.pop_returning(0x7000);
        assert_eq!(
            got.iter()
                .map(|f| (f.call_id, f.real_return))
                .collect::<Vec<_>>(),
            [(2, 0xa), (1, 0xa)]
        );
    }

    #[test]
    fn unknown_return_is_empty() {
        let mut s = ShadowStack::default();
        assert!(s.pop_returning(0x7000).is_empty());
        assert!(!s.push(frame(0x7000, T, 1), T));
    }
}
