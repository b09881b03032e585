//! Physical memory, and the data side's view of the point of unification (PoU).
//!
//! The data side is modelled as coherent memory: every core's loads and stores see `data`
//! immediately. What is *not* immediate is the instruction side's view. The instruction side
//! refills from the PoU, and a data write reaches the PoU only when it is cleaned there
//! (`DC CVAU`/`DC CVAC`/`DC CIVAC`, completed by a `DSB`), Arm ARM "Cache maintenance
//! requirements for instruction modification" and arm-probes.md §1.15–§1.16.
//!
//! **Rule `pou-shadow`:** on the first data write to a PoU granule that is clean, the
//! granule's previous bytes are copied into the page's `pou` shadow and the granule is marked
//! dirty. An instruction-side refill reads dirty granules from the shadow (the old bytes) and
//! clean ones from `data`. A clean to the PoU drops the dirty mark. The model never writes a
//! dirty line back on its own (no eviction): it is the worst case the architecture allows.
//!
//! With `CTR_EL0.IDC == 1` the data side is coherent with the PoU and writes never make a
//! granule dirty (the caller passes `track_pou = false`).

/// Size of a page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// Granule of the PoU model: the smallest D-cache line the architecture allows
/// (`CTR_EL0.DminLine` = 2, i.e. 4 words). A core's `DC` operation cleans its own line size,
/// which is a whole number of granules.
pub const POU_GRANULE: u64 = 16;
const GRANULES_PER_PAGE: usize = (PAGE_SIZE / POU_GRANULE) as usize;

/// A physical address.
pub type Pa = u64;

struct Frame {
    data: Box<[u8; PAGE_SIZE as usize]>,
    /// The PoU image of the dirty granules (rule `pou-shadow`).
    pou: Option<Box<[u8; PAGE_SIZE as usize]>>,
    dirty: [u64; GRANULES_PER_PAGE / 64],
    /// Bit `c` set when core `c`'s instruction side (I-cache or prefetch window) has held
    /// bytes of this frame since the frame was allocated. Lets data writes to frames no core
    /// ever fetched skip the cross-modification checker and I-cache snooping.
    fetched_by: u64,
}

impl Frame {
    fn new() -> Frame {
        Frame {
            data: Box::new([0; PAGE_SIZE as usize]),
            pou: None,
            dirty: [0; GRANULES_PER_PAGE / 64],
            fetched_by: 0,
        }
    }

    fn is_dirty(&self, granule: usize) -> bool {
        self.dirty[granule / 64] & (1 << (granule % 64)) != 0
    }
}

/// Errors of physical-memory management.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhysError {
    #[error("physical address {0:#x} is not backed by an allocated frame")]
    Unbacked(Pa),
    #[error("physical address {0:#x} is not page aligned")]
    Unaligned(Pa),
}

/// All physical memory of the machine: frames allocated on demand, zero-filled.
#[derive(Default)]
pub struct PhysMemory {
    frames: Vec<Option<Frame>>,
    /// Freed frames with what they held, for rule `recycled-frame`.
    free: Vec<(usize, Frame)>,
}

impl PhysMemory {
    /// Allocates `pages` physically contiguous zeroed frames and returns the first one's address.
    /// Freed frames are reused only for single-page allocations, so contiguity always holds.
    ///
    /// **Rule `recycled-frame`:** a reused frame is zeroed by data writes, so with
    /// `zeroing_reaches_pou == false` (a core without `CTR_EL0.IDC`) its PoU image keeps
    /// the previous contents until cleaned, and the record of which cores fetched from it
    /// survives (their I-caches may still hold its old lines). A page allocator hands out such
    /// hot pages; executing one without maintenance runs the old instructions.
    pub fn alloc(&mut self, pages: usize, zeroing_reaches_pou: bool) -> Pa {
        if pages == 1
            && let Some((idx, old)) = self.free.pop()
        {
            let mut frame = Frame::new();
            frame.fetched_by = old.fetched_by;
            if !zeroing_reaches_pou {
                let mut pou = old.data.clone();
                if let Some(old_pou) = &old.pou {
                    for granule in 0..GRANULES_PER_PAGE {
                        if old.is_dirty(granule) {
                            let range = granule * POU_GRANULE as usize
                                ..(granule + 1) * POU_GRANULE as usize;
                            pou[range.clone()].copy_from_slice(&old_pou[range]);
                        }
                    }
                }
                frame.pou = Some(pou);
                frame.dirty = [u64::MAX; GRANULES_PER_PAGE / 64];
            }
            self.frames[idx] = Some(frame);
            return idx as u64 * PAGE_SIZE;
        }
        let first = self.frames.len();
        self.frames.extend((0..pages).map(|_| Some(Frame::new())));
        first as u64 * PAGE_SIZE
    }

    /// Returns a frame to the allocator (rule `recycled-frame`: what it held is kept for the
    /// PoU image of its next use; a core's I-cache may still hold lines of it, as on hardware).
    pub fn free(&mut self, pa: Pa) -> Result<(), PhysError> {
        if !pa.is_multiple_of(PAGE_SIZE) {
            return Err(PhysError::Unaligned(pa));
        }
        let idx = (pa / PAGE_SIZE) as usize;
        match self.frames.get_mut(idx).and_then(Option::take) {
            Some(frame) => {
                self.free.push((idx, frame));
                Ok(())
            }
            None => Err(PhysError::Unbacked(pa)),
        }
    }

    fn frame(&self, pa: Pa) -> Result<&Frame, PhysError> {
        self.frames
            .get((pa / PAGE_SIZE) as usize)
            .and_then(Option::as_ref)
            .ok_or(PhysError::Unbacked(pa))
    }

    fn frame_mut(&mut self, pa: Pa) -> Result<&mut Frame, PhysError> {
        self.frames
            .get_mut((pa / PAGE_SIZE) as usize)
            .and_then(Option::as_mut)
            .ok_or(PhysError::Unbacked(pa))
    }

    /// Whether `pa` is backed by an allocated frame.
    pub fn is_backed(&self, pa: Pa) -> bool {
        self.frame(pa).is_ok()
    }

    /// Reads the data side (what loads see). `buf` must not cross a page boundary.
    pub fn read(&self, pa: Pa, buf: &mut [u8]) -> Result<(), PhysError> {
        let frame = self.frame(pa)?;
        let off = (pa % PAGE_SIZE) as usize;
        buf.copy_from_slice(&frame.data[off..off + buf.len()]);
        Ok(())
    }

    /// Reads the instruction side's view of the PoU (rule `pou-shadow`). `buf` must not cross
    /// a page boundary.
    pub fn read_pou(&self, pa: Pa, buf: &mut [u8]) -> Result<(), PhysError> {
        let frame = self.frame(pa)?;
        let off = (pa % PAGE_SIZE) as usize;
        for (i, byte) in buf.iter_mut().enumerate() {
            let at = off + i;
            *byte = match &frame.pou {
                Some(pou) if frame.is_dirty(at / POU_GRANULE as usize) => pou[at],
                _ => frame.data[at],
            };
        }
        Ok(())
    }

    /// Writes the data side. With `track_pou`, granules that were clean keep their previous
    /// bytes in the PoU shadow (rule `pou-shadow`). `bytes` must not cross a page boundary.
    pub fn write(&mut self, pa: Pa, bytes: &[u8], track_pou: bool) -> Result<(), PhysError> {
        let frame = self.frame_mut(pa)?;
        let off = (pa % PAGE_SIZE) as usize;
        if track_pou && !bytes.is_empty() {
            let first = off / POU_GRANULE as usize;
            let last = (off + bytes.len() - 1) / POU_GRANULE as usize;
            for granule in first..=last {
                if !frame.is_dirty(granule) {
                    let pou = frame
                        .pou
                        .get_or_insert_with(|| Box::new([0; PAGE_SIZE as usize]));
                    let range =
                        granule * POU_GRANULE as usize..(granule + 1) * POU_GRANULE as usize;
                    pou[range.clone()].copy_from_slice(&frame.data[range]);
                    frame.dirty[granule / 64] |= 1 << (granule % 64);
                }
            }
        }
        frame.data[off..off + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// Writes both the data side and the PoU image, as if the bytes had been written and
    /// cleaned: the loader's and tests' back door. Touches no I-cache.
    pub fn write_clean(&mut self, pa: Pa, bytes: &[u8]) -> Result<(), PhysError> {
        let frame = self.frame_mut(pa)?;
        let off = (pa % PAGE_SIZE) as usize;
        frame.data[off..off + bytes.len()].copy_from_slice(bytes);
        if let Some(pou) = &mut frame.pou {
            pou[off..off + bytes.len()].copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Cleans `[pa, pa + len)` to the PoU; `len` is a multiple of [`POU_GRANULE`] and the range
    /// lies in one page. Returns whether any granule was dirty (the PoU image changed).
    pub fn clean_to_pou(&mut self, pa: Pa, len: u64) -> Result<bool, PhysError> {
        let frame = self.frame_mut(pa)?;
        let off = (pa % PAGE_SIZE) as usize;
        let mut changed = false;
        for granule in off / POU_GRANULE as usize..(off + len as usize) / POU_GRANULE as usize {
            if frame.is_dirty(granule) {
                frame.dirty[granule / 64] &= !(1 << (granule % 64));
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Whether any granule of `[pa, pa + len)` (within one page) is dirty with respect to the PoU.
    pub fn is_dirty(&self, pa: Pa, len: u64) -> bool {
        let Ok(frame) = self.frame(pa) else {
            return false;
        };
        let off = (pa % PAGE_SIZE) as usize;
        let first = off / POU_GRANULE as usize;
        let last = (off + len.max(1) as usize - 1) / POU_GRANULE as usize;
        (first..=last).any(|g| frame.is_dirty(g))
    }

    /// Cores whose instruction side has held bytes of the frame containing `pa`.
    pub fn fetched_by(&self, pa: Pa) -> u64 {
        self.frame(pa).map_or(0, |f| f.fetched_by)
    }

    pub(crate) fn mark_fetched(&mut self, pa: Pa, core: usize) {
        if let Ok(frame) = self.frame_mut(pa) {
            frame.fetched_by |= 1 << core;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pou_shadow_keeps_old_bytes_until_clean() {
        let mut mem = PhysMemory::default();
        let pa = mem.alloc(1, false);
        mem.write_clean(pa + 32, &[1, 2, 3, 4]).unwrap();
        mem.write(pa + 32, &[9, 9, 9, 9], true).unwrap();
        let mut buf = [0; 4];
        mem.read(pa + 32, &mut buf).unwrap();
        assert_eq!(buf, [9, 9, 9, 9]);
        mem.read_pou(pa + 32, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        // A second write does not move the PoU image: it still holds the bytes from before the
        // first unclean write.
        mem.write(pa + 33, &[7], true).unwrap();
        mem.read_pou(pa + 32, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        assert!(mem.clean_to_pou(pa + 32, POU_GRANULE).unwrap());
        mem.read_pou(pa + 32, &mut buf).unwrap();
        assert_eq!(buf, [9, 7, 9, 9]);
        assert!(!mem.clean_to_pou(pa + 32, POU_GRANULE).unwrap());
    }

    #[test]
    fn untracked_writes_reach_the_pou_at_once() {
        let mut mem = PhysMemory::default();
        let pa = mem.alloc(1, false);
        mem.write(pa, &[5; 8], false).unwrap();
        let mut buf = [0; 8];
        mem.read_pou(pa, &mut buf).unwrap();
        assert_eq!(buf, [5; 8]);
        assert!(!mem.is_dirty(pa, 8));
    }

    #[test]
    fn unbacked_and_freed_frames_are_errors() {
        let mut mem = PhysMemory::default();
        let pa = mem.alloc(2, false);
        let mut buf = [0; 4];
        assert_eq!(
            mem.read(pa + 3 * PAGE_SIZE, &mut buf),
            Err(PhysError::Unbacked(pa + 3 * PAGE_SIZE))
        );
        mem.free(pa + PAGE_SIZE).unwrap();
        assert!(mem.read(pa + PAGE_SIZE, &mut buf).is_err());
        assert_eq!(mem.alloc(1, false), pa + PAGE_SIZE);
    }

    #[test]
    fn recycled_frame_keeps_old_bytes_at_the_pou() {
        let mut mem = PhysMemory::default();
        let pa = mem.alloc(1, false);
        mem.write_clean(pa, &[1, 2, 3, 4]).unwrap();
        mem.write(pa + 100, &[7], true).unwrap(); // dirty: the PoU holds 0 there
        mem.mark_fetched(pa, 2);
        mem.free(pa).unwrap();
        assert_eq!(mem.alloc(1, false), pa);
        let mut buf = [0; 4];
        mem.read(pa, &mut buf).unwrap();
        assert_eq!(buf, [0; 4], "the data side is zeroed");
        mem.read_pou(pa, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4], "the PoU still holds the old page");
        mem.read_pou(pa + 100, &mut buf[..1]).unwrap();
        assert_eq!(
            buf[0], 0,
            "the old page's own PoU image, not its unclean data"
        );
        assert_eq!(mem.fetched_by(pa), 1 << 2);
        mem.free(pa).unwrap();
        assert_eq!(mem.alloc(1, true), pa);
        mem.read_pou(pa, &mut buf).unwrap();
        assert_eq!(buf, [0; 4], "zeroing reached the PoU (IDC)");
    }
}
