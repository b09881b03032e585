//! `/proc/PID/maps`: where each file is mapped, so a probe's file offset becomes an address.

use std::path::{Path, PathBuf};

use super::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
    /// File offset of `start`.
    pub offset: u64,
    pub inode: u64,
    /// The file, or a pseudo name such as `[vdso]`, `[stack]`; empty for anonymous memory.
    pub path: String,
}

impl Mapping {
    /// The address at which file offset `offset` is mapped, if this mapping covers it.
    pub fn address_of(&self, offset: u64) -> Option<u64> {
        let len = self.end - self.start;
        (offset >= self.offset && offset - self.offset < len)
            .then(|| self.start + (offset - self.offset))
    }

    pub fn is_file(&self, path: &Path) -> bool {
        self.inode != 0 && Path::new(self.path.trim_end_matches(" (deleted)")) == path
    }
}

pub fn read(pid: u32) -> Result<Vec<Mapping>, Error> {
    let path = PathBuf::from(format!("/proc/{pid}/maps"));
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read { path, source })?;
    Ok(parse(&text))
}

/// Parses the maps format (`start-end perms offset dev inode path`); malformed lines, which
/// the kernel never writes, are skipped.
pub fn parse(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mapping> {
    let mut fields = line.splitn(6, ' ');
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?.as_bytes();
    let offset = fields.next()?;
    let _dev = fields.next()?;
    let inode = fields.next()?;
    let path = fields.next().unwrap_or("").trim_start();
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        readable: perms.first() == Some(&b'r'),
        writable: perms.get(1) == Some(&b'w'),
        executable: perms.get(2) == Some(&b'x'),
        offset: u64::from_str_radix(offset, 16).ok()?,
        inode: inode.parse().ok()?,
        path: path.to_string(),
    })
}

/// The address of `path`+`offset` in a process with these mappings (the mapping must be
/// executable: a probe lives in code).
pub fn resolve(maps: &[Mapping], path: &Path, offset: u64) -> Option<u64> {
    maps.iter()
        .filter(|m| m.executable && m.is_file(path))
        .find_map(|m| m.address_of(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_kernel_format() {
        // Copied from a real /proc/self/maps of a PIE program.
        let text = "\
55d0c8a00000-55d0c8a01000 r--p 00000000 fd:01 1234                       /tmp/t
55d0c8a01000-55d0c8a02000 r-xp 00001000 fd:01 1234                       /tmp/t
7ffd1c5f2000-7ffd1c5f4000 r-xp 00000000 00:00 0                          [vdso]
7ffd1c5d0000-7ffd1c5f1000 rw-p 00000000 00:00 0                          [stack]
";
        let maps = parse(text);
        assert_eq!(maps.len(), 4);
        assert!(maps[1].executable && !maps[1].writable);
        assert_eq!(maps[2].path, "[vdso]");
        assert_eq!(
            resolve(&maps, Path::new("/tmp/t"), 0x1139),
            Some(0x55d0c8a01139)
        );
        // Offset 0x139 is in the non-executable first segment: no probe there.
        assert_eq!(resolve(&maps, Path::new("/tmp/t"), 0x139), None);
        assert_eq!(resolve(&maps, Path::new("/tmp/u"), 0x1139), None);
    }
}
