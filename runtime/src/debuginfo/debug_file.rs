//! Locating a module's separate debug file, as gdb and elfutils do (gdb manual "Separate
//! Debug Files"): first by build-id, `ROOT/.build-id/xx/rest.debug`; then by
//! `.gnu_debuglink` name in the module's directory, its `.debug/` subdirectory, and
//! `ROOT/<module's directory>/`, accepting a candidate only when its CRC-32 matches.

use std::path::{Path, PathBuf};

pub(super) fn find(
    module: &Path,
    build_id: Option<&[u8]>,
    debuglink: Option<&(String, u32)>,
    roots: &[PathBuf],
) -> Option<PathBuf> {
    if let Some(id) = build_id.filter(|id| id.len() >= 2) {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        for root in roots {
            let p = root
                .join(".build-id")
                .join(&hex[..2])
                .join(format!("{}.debug", &hex[2..]));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let (name, crc) = debuglink?;
    let real = std::fs::canonicalize(module).unwrap_or_else(|_| module.to_owned());
    let dir = real.parent().unwrap_or(Path::new("/"));
    let mut candidates = vec![dir.join(name), dir.join(".debug").join(name)];
    for root in roots {
        candidates.push(root.join(dir.strip_prefix("/").unwrap_or(dir)).join(name));
    }
    candidates
        .into_iter()
        .filter(|c| c.is_file() && std::fs::canonicalize(c).ok().as_deref() != Some(&real))
        .find(|c| std::fs::read(c).is_ok_and(|bytes| crc32(&bytes) == *crc))
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) — the checksum `.gnu_debuglink`
/// stores (binutils `bfd_calc_gnu_debuglink_crc32`).
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32 catalogue's check value for "123456789".
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
