//! Each core's instruction side: an instruction cache that does not snoop data writes, and
//! a prefetch window in front of it.
//!
//! **Rule `icache-no-snoop`:** a core's I-cache holds lines filled from the PoU image
//! (see [`crate::memory`]); a data write never touches them (unless `CTR_EL0.DIC == 1`, rule
//! `dic-snoop`). A line leaves only through `IC IVAU`/`IC IALLU`/`IC IALLUIS` completed by a
//! `DSB`. The cache has unbounded capacity — nothing is ever evicted on its own — so once a
//! core has executed a line, the line stays stale until software invalidates it: the
//! architecture's worst case, made deterministic.
//!
//! **Rule `prefetch-window`:** a core fetches up to `prefetch_depth` instructions ahead
//! (from the fetch address to the end of the page) through its I-cache into a window, and
//! executes from the window while the PC stays inside it — straight-line code and branches
//! that land in the window alike. The window is discarded only by a context
//! synchronization event (`ISB`, exception entry, exception return): the Arm ARM's instruction-modification sequence (arm-probes.md §1.15) requires
//! an `ISB` after `IC IVAU; DSB` before the modified instructions are guaranteed to be
//! fetched again, and the window is what makes a missing `ISB` observable.

use rustc_hash::FxHashMap;

use crate::config::{CacheType, IcacheIndexing};
use crate::memory::{PAGE_SIZE, Pa, PhysError, PhysMemory};

/// Largest configurable prefetch depth.
pub const MAX_PREFETCH_DEPTH: usize = 32;

/// One core's instruction cache.
#[derive(Debug)]
pub struct ICache {
    line: u64,
    indexing: IcacheIndexing,
    /// Key: line-aligned PA, ORed with the VA colour for aliasing VIPT caches (lines are at
    /// least 16 bytes, colours at most 16, so the two never overlap).
    lines: FxHashMap<u64, Box<[u8]>>,
}

impl ICache {
    pub fn new(cache_type: &CacheType) -> ICache {
        ICache {
            line: cache_type.icache_line,
            indexing: cache_type.indexing,
            lines: FxHashMap::default(),
        }
    }

    /// Line size in bytes.
    pub fn line_size(&self) -> u64 {
        self.line
    }

    fn colours(&self) -> u64 {
        match self.indexing {
            IcacheIndexing::Pipt => 1,
            IcacheIndexing::AliasingVipt { way_size } => way_size / PAGE_SIZE,
        }
    }

    fn colour(&self, va: u64) -> u64 {
        (va / PAGE_SIZE) % self.colours()
    }

    fn key(&self, va: u64, pa: Pa) -> u64 {
        (pa & !(self.line - 1)) | self.colour(va)
    }

    /// Reads the 32-bit word at `pa` (fetched through `va`), refilling the line from the PoU
    /// image on a miss. Returns the word and whether the access missed.
    pub fn fetch_word(
        &mut self,
        va: u64,
        pa: Pa,
        mem: &PhysMemory,
    ) -> Result<(u32, bool), PhysError> {
        let key = self.key(va, pa);
        let off = (pa & (self.line - 1)) as usize;
        let mut missed = false;
        if !self.lines.contains_key(&key) {
            let mut bytes = vec![0; self.line as usize].into_boxed_slice();
            mem.read_pou(pa & !(self.line - 1), &mut bytes)?;
            self.lines.insert(key, bytes);
            missed = true;
        }
        let line = &self.lines[&key];
        let word = u32::from_le_bytes(line[off..off + 4].try_into().expect("4-byte slice"));
        Ok((word, missed))
    }

    /// Refills the line holding `pa` from the PoU image now, as a speculative fetch would.
    pub fn refill(&mut self, va: u64, pa: Pa, mem: &PhysMemory) -> Result<(), PhysError> {
        let key = self.key(va, pa);
        self.lines.remove(&key);
        self.fetch_word(va, pa & !3, mem).map(|_| ())
    }

    /// Invalidates every line overlapping `[pa, pa + len)`. `va` selects the colour in an
    /// aliasing VIPT cache (only the alias used for the operation is invalidated); `None`
    /// invalidates all colours.
    pub fn invalidate(&mut self, va: Option<u64>, pa: Pa, len: u64) {
        let first = pa & !(self.line - 1);
        let mut base = first;
        while base < pa + len {
            match va {
                Some(va) => {
                    let key = base | self.colour(va);
                    self.lines.remove(&key);
                }
                None => {
                    for colour in 0..self.colours() {
                        self.lines.remove(&(base | colour));
                    }
                }
            }
            base += self.line;
        }
    }

    /// Invalidates every line.
    pub fn invalidate_all(&mut self) {
        self.lines.clear();
    }

    /// Whether some line (of any colour) holds `pa`.
    pub fn holds(&self, pa: Pa) -> bool {
        let base = pa & !(self.line - 1);
        (0..self.colours()).any(|colour| self.lines.contains_key(&(base | colour)))
    }

    /// The colours under which the line holding `pa` is cached.
    pub(crate) fn cached_colours(&self, pa: Pa) -> Vec<u64> {
        let base = pa & !(self.line - 1);
        (0..self.colours())
            .filter(|colour| self.lines.contains_key(&(base | colour)))
            .collect()
    }

    /// A virtual address of colour `colour` (for refilling an aliasing line).
    pub(crate) fn va_of_colour(colour: u64) -> u64 {
        colour * PAGE_SIZE
    }
}

/// One core's prefetch window (rule `prefetch-window`).
#[derive(Debug, Clone)]
pub struct Prefetch {
    va: u64,
    pa: Pa,
    len: usize,
    words: [u32; MAX_PREFETCH_DEPTH],
}

impl Default for Prefetch {
    fn default() -> Prefetch {
        Prefetch {
            va: 0,
            pa: 0,
            len: 0,
            words: [0; MAX_PREFETCH_DEPTH],
        }
    }
}

impl Prefetch {
    /// The instruction at `va`, if the window holds it.
    #[inline]
    pub fn get(&self, va: u64) -> Option<u32> {
        let off = va.wrapping_sub(self.va);
        if off < 4 * self.len as u64 {
            Some(self.words[(off / 4) as usize])
        } else {
            None
        }
    }

    /// Replaces the window.
    pub fn fill(&mut self, va: u64, pa: Pa, words: &[u32]) {
        self.va = va;
        self.pa = pa;
        self.len = words.len();
        self.words[..words.len()].copy_from_slice(words);
    }

    /// Discards the window (a context synchronization event).
    pub fn flush(&mut self) {
        self.len = 0;
    }

    /// Whether the window holds the word at physical address `pa`.
    pub fn holds(&self, pa: Pa) -> bool {
        pa.wrapping_sub(self.pa) < 4 * self.len as u64
    }

    /// Number of instructions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icache_keeps_stale_line_after_data_write() {
        let mut mem = PhysMemory::default();
        let pa = mem.alloc(1, false);
        mem.write_clean(pa, &0x1111_1111u32.to_le_bytes()).unwrap();
        let mut icache = ICache::new(&CacheType::default());
        assert_eq!(
            icache.fetch_word(0x1000, pa, &mem).unwrap(),
            (0x1111_1111, true)
        );
        mem.write_clean(pa, &0x2222_2222u32.to_le_bytes()).unwrap();
        assert_eq!(
            icache.fetch_word(0x1000, pa, &mem).unwrap(),
            (0x1111_1111, false)
        );
        icache.invalidate(Some(0x1000), pa, 4);
        assert_eq!(
            icache.fetch_word(0x1000, pa, &mem).unwrap(),
            (0x2222_2222, true)
        );
    }

    #[test]
    fn aliasing_vipt_invalidates_only_one_colour() {
        let mut mem = PhysMemory::default();
        let pa = mem.alloc(1, false);
        let ct = CacheType {
            indexing: IcacheIndexing::AliasingVipt {
                way_size: 4 * PAGE_SIZE,
            },
            ..CacheType::default()
        };
        let mut icache = ICache::new(&ct);
        let (user_va, kernel_va) = (0x1000, 0x2000); // colours 1 and 2
        icache.fetch_word(user_va, pa, &mem).unwrap();
        mem.write_clean(pa, &7u32.to_le_bytes()).unwrap();
        icache.invalidate(Some(kernel_va), pa, 4);
        assert_eq!(
            icache.fetch_word(user_va, pa, &mem).unwrap(),
            (0, false),
            "user alias still stale"
        );
        icache.invalidate(None, pa, 4);
        assert_eq!(icache.fetch_word(user_va, pa, &mem).unwrap(), (7, true));
    }

    #[test]
    fn prefetch_window_bounds() {
        let mut window = Prefetch::default();
        window.fill(0x1000, 0x8000, &[1, 2, 3]);
        assert_eq!(window.get(0x1008), Some(3));
        assert_eq!(window.get(0x100c), None);
        assert_eq!(window.get(0xffc), None);
        assert!(window.holds(0x8004));
        window.flush();
        assert_eq!(window.get(0x1000), None);
    }
}
