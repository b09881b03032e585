//! Kretprobes (arm-probes.md §1.12): a kprobe on a function's first instruction records the
//! return address and replaces it with the trampoline, a kernel slot holding
//! `BRK #KRETPROBE`; the trampoline's breakpoint runs the return handler with the real
//! exception registers (as Linux does since 253751233b19, instead of a hand-built frame) and
//! continues at the recorded address.

use core::sync::atomic::Ordering;

use crate::arch::Arch;
use crate::hit::{Hit, Outcome, ReturnHit};
use crate::instance::{self, Record};
use crate::kprobe::{Handler, Kprobe, Kprobes};
use crate::platform::Platform;
use crate::table::Handle;

/// Handlers of a kretprobe.
pub trait KretprobeHandler<P: Platform, A: Arch<P>>: Sync {
    /// At the function's entry; returning `false` does not record this call's return
    /// (Linux `entry_handler` returning non-zero).
    fn entry(&self, _hit: &mut Hit<'_, P, A>) -> bool {
        true
    }
    /// When the function returns; `hit.regs` holds the return value.
    fn ret(&self, hit: &mut ReturnHit<'_, P, A>);
}

fn owner<P: Platform>(p: &P) -> u64 {
    u64::from(p.task().thread.0)
}

/// At the entry probe: run the entry handler and hijack the return address. Never changes
/// the path (the entry instruction is still carried out).
pub(crate) fn entry_hit<'a, P: Platform, A: Arch<P>>(
    kprobes: &Kprobes<'a, P, A>,
    p: &P,
    handle: Handle,
    probe: &Kprobe<'a, P, A>,
    handler: &dyn KretprobeHandler<P, A>,
    regs: &mut A::Regs,
) -> bool {
    if !handler.entry(&mut Hit {
        platform: p,
        regs,
        addr: probe.addr,
        probe: handle,
    }) {
        return false;
    }
    let trampoline = kprobes.trampoline.load(Ordering::Acquire);
    let record = Record {
        probe: handle,
        function: probe.addr,
        return_address: A::return_address(regs),
        stack_pointer: A::stack_pointer(regs),
    };
    if trampoline != 0 && kprobes.instances.push(owner(p), record) {
        A::set_return_address(regs, trampoline);
    } else {
        probe.nmissed.fetch_add(1, Ordering::Relaxed);
    }
    false
}

/// The trampoline's breakpoint: handle the returns of this task and continue at the last
/// one's real return address.
pub(crate) fn trampoline_hit<P: Platform, A: Arch<P>>(
    kprobes: &Kprobes<'_, P, A>,
    p: &P,
    regs: &mut A::Regs,
) -> Outcome {
    let trampoline = kprobes.trampoline.load(Ordering::Acquire);
    if trampoline == 0 || A::pc(regs) != trampoline {
        return Outcome::NotMine;
    }
    let sp = A::stack_pointer(regs);
    let table = kprobes.table();
    let next = kprobes.busy(p, || {
        kprobes
            .instances
            .unwind(owner(p), sp, trampoline, |record| {
                let Some(probe) = table.get(record.probe, false) else {
                    return;
                };
                let Handler::Kretprobe(handler) = probe.handler else {
                    return;
                };
                A::set_pc(regs, record.return_address);
                handler.ret(&mut ReturnHit {
                    platform: p,
                    regs,
                    function: record.function,
                    return_address: record.return_address,
                    probe: record.probe,
                });
            })
    });
    instance::finish_return::<P, A>(regs, next)
}
