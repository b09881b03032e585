//! `/proc/PID/maps`: which modules a process has mapped where, and their load biases (the
//! difference between run-time and link-time addresses), for PIEs and for libraries loaded
//! at start-up or later by `dlopen`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cache::ModuleCache;
use super::elf::Module;
use super::unwind::ModuleLookup;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub readable: bool,
    pub executable: bool,
    /// Offset in the file of `start`.
    pub offset: u64,
    /// The mapped file; `None` for anonymous memory and `[stack]`-style names.
    pub path: Option<PathBuf>,
}

/// A snapshot of one process's mappings.
#[derive(Debug, Clone, Default)]
pub struct ProcessMaps {
    pub mappings: Vec<Mapping>,
}

impl ProcessMaps {
    pub fn read(pid: u32) -> std::io::Result<ProcessMaps> {
        Ok(Self::parse(&std::fs::read_to_string(format!(
            "/proc/{pid}/maps"
        ))?))
    }

    /// Parses maps(5) lines: `start-end perms offset dev inode [path]`. Malformed lines are
    /// skipped (the kernel does not write any).
    pub fn parse(text: &str) -> ProcessMaps {
        let mappings = text
            .lines()
            .filter_map(|line| {
                let mut it = line.splitn(6, ' ');
                let (range, perms, offset) = (it.next()?, it.next()?, it.next()?);
                let (_dev, _inode) = (it.next()?, it.next()?);
                let path = it
                    .next()
                    .map(str::trim_start)
                    .filter(|p| p.starts_with('/'));
                let (start, end) = range.split_once('-')?;
                Some(Mapping {
                    start: u64::from_str_radix(start, 16).ok()?,
                    end: u64::from_str_radix(end, 16).ok()?,
                    readable: perms.starts_with('r'),
                    executable: perms.as_bytes().get(2) == Some(&b'x'),
                    offset: u64::from_str_radix(offset, 16).ok()?,
                    // A replaced file shows as "/path (deleted)".
                    path: path.map(|p| PathBuf::from(p.strip_suffix(" (deleted)").unwrap_or(p))),
                })
            })
            .collect();
        ProcessMaps { mappings }
    }

    /// The mapping containing `address`.
    pub fn mapping_at(&self, address: u64) -> Option<&Mapping> {
        self.mappings
            .iter()
            .find(|m| (m.start..m.end).contains(&address))
    }

    /// The load bias of `module` in this process: where its offset-0 mapping starts minus
    /// the page of its lowest `PT_LOAD` address.
    pub fn bias_of(&self, module: &Module) -> Option<u64> {
        let first = self
            .mappings
            .iter()
            .find(|m| m.offset == 0 && same_file(m.path.as_deref(), &module.path))?;
        let lowest = module.segments.iter().map(|s| s.vaddr).min()?;
        Some(first.start.wrapping_sub(lowest & !0xfff))
    }

    /// The files mapped executable, each once, in address order.
    pub fn executable_files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for m in self.mappings.iter().filter(|m| m.executable) {
            if let Some(p) = &m.path
                && !out.contains(p)
            {
                out.push(p.clone());
            }
        }
        out
    }
}

fn same_file(mapped: Option<&Path>, module: &Path) -> bool {
    let Some(mapped) = mapped else { return false };
    mapped == module || std::fs::canonicalize(mapped).is_ok_and(|c| c == module)
}

/// A process's modules: maps + loaded ELF files, answering "which module is at this
/// address" for symbolization and unwinding.
pub struct ProcessModules<'c> {
    pub maps: ProcessMaps,
    cache: &'c ModuleCache,
}

impl<'c> ProcessModules<'c> {
    pub fn new(maps: ProcessMaps, cache: &'c ModuleCache) -> Self {
        ProcessModules { maps, cache }
    }
}

impl ModuleLookup for ProcessModules<'_> {
    fn module_at(&self, address: u64) -> Option<(Arc<Module>, u64)> {
        let m = self.maps.mapping_at(address)?;
        let module = self.cache.get(m.path.as_deref()?).ok()?;
        let bias = self.maps.bias_of(&module)?;
        Some((module, bias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_lines() {
        // Lines in the format of proc(5).
        let text = "\
55d0c6a00000-55d0c6a01000 r--p 00000000 fe:01 1234    /usr/bin/prog
55d0c6a01000-55d0c6a02000 r-xp 00001000 fe:01 1234    /usr/bin/prog
7ffd1c8e0000-7ffd1c901000 rw-p 00000000 00:00 0       [stack]
7f0000000000-7f0000001000 rw-p 00000000 00:00 0 
7f0000001000-7f0000002000 r-xp 00002000 fe:01 99      /tmp/x (deleted)
";
        let maps = ProcessMaps::parse(text);
        assert_eq!(maps.mappings.len(), 5);
        assert_eq!(maps.mappings[1].start, 0x55d0c6a01000);
        assert!(maps.mappings[1].executable && !maps.mappings[0].executable);
        assert_eq!(maps.mappings[1].offset, 0x1000);
        assert_eq!(maps.mappings[2].path, None);
        assert_eq!(maps.mappings[3].path, None);
        assert_eq!(maps.mappings[4].path.as_deref(), Some(Path::new("/tmp/x")));
        assert_eq!(maps.mapping_at(0x55d0c6a01234).unwrap().offset, 0x1000);
        assert_eq!(
            maps.executable_files(),
            vec![PathBuf::from("/usr/bin/prog"), PathBuf::from("/tmp/x")]
        );
    }
}
