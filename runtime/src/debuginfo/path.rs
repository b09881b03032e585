//! Finding the files probe points name. `process("PATH")` as stap resolves it (stapprobes
//! "USER-SPACE"): a name containing `/` is relative to the current directory, any other is
//! searched in `$PATH`; a `#!` script means its interpreter. `.library("LIB")`: a path, or a
//! name (with wildcards) matched against the libraries the program loads — its `DT_NEEDED`
//! closure found as ld.so does (ld.so(8): `DT_RPATH`, `LD_LIBRARY_PATH`, `DT_RUNPATH`,
//! `/etc/ld.so.conf`, the default directories) — or found in those directories.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::cache::ModuleCache;
use super::error::{DebugInfoError, Result};
use super::pattern::Glob;

/// Resolves the `PATH` of `process("PATH")` to the canonical file to probe.
pub fn resolve_executable(name: &str, cwd: &Path, path_env: Option<&OsStr>) -> Result<PathBuf> {
    let found = if name.contains('/') {
        cwd.join(name)
    } else {
        let dirs = path_env.map(std::env::split_paths).into_iter().flatten();
        dirs.map(|d| cwd.join(d).join(name))
            .find(|p| is_executable(p))
            .ok_or_else(|| DebugInfoError::NotInPath {
                name: name.to_owned(),
            })?
    };
    let mut path = canonical(&found)?;
    // `#!` chains: a script's interpreter may itself be a script (at most a few levels, as
    // the kernel's binfmt_script allows).
    for _ in 0..4 {
        match interpreter(&path)? {
            Some(interp) => path = canonical(&cwd.join(interp))?,
            None => break,
        }
    }
    Ok(path)
}

fn canonical(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).map_err(|source| DebugInfoError::Io {
        path: path.to_owned(),
        source,
    })
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The interpreter named on a `#!` line, if the file starts with one.
fn interpreter(path: &Path) -> Result<Option<PathBuf>> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|source| DebugInfoError::Io {
            path: path.to_owned(),
            source,
        })?;
    let Some(line) = head[..n].strip_prefix(b"#!") else {
        return Ok(None);
    };
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    Ok(text.split_whitespace().next().map(PathBuf::from))
}

/// The directories ld.so searches after `LD_LIBRARY_PATH` and `DT_RUNPATH`: those listed in
/// `/etc/ld.so.conf` (with `include` globs), then the defaults.
pub fn system_library_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    read_ld_so_conf(Path::new("/etc/ld.so.conf"), &mut dirs, 0);
    for d in ["/lib", "/usr/lib", "/lib64", "/usr/lib64"] {
        dirs.push(PathBuf::from(d));
    }
    dirs.dedup();
    dirs
}

fn read_ld_so_conf(file: &Path, dirs: &mut Vec<PathBuf>, depth: u32) {
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include") {
            if depth < 8 {
                for f in expand_glob(pattern.trim(), file.parent().unwrap_or(Path::new("/"))) {
                    read_ld_so_conf(&f, dirs, depth + 1);
                }
            }
        } else if !line.is_empty() {
            dirs.push(PathBuf::from(line));
        }
    }
}

/// Expands a wildcard in the last component of `pattern` (enough for ld.so.conf includes).
fn expand_glob(pattern: &str, relative_to: &Path) -> Vec<PathBuf> {
    let full = relative_to.join(pattern);
    let (Some(dir), Some(name)) = (full.parent(), full.file_name()) else {
        return Vec::new();
    };
    let glob = Glob::new(&name.to_string_lossy());
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| glob.matches(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// The search path for the dependencies of `module` (ld.so(8) order).
pub fn library_search_path(
    module: &super::Module,
    ld_library_path: Option<&OsStr>,
) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    dirs.extend(
        ld_library_path
            .map(std::env::split_paths)
            .into_iter()
            .flatten()
            .filter(|p| !p.as_os_str().is_empty()),
    );
    dirs.extend(module.search_path.iter().cloned());
    dirs.extend(system_library_dirs());
    dirs
}

/// The shared libraries `executable` loads at start-up: the `DT_NEEDED` closure, in
/// breadth-first order, as canonical paths. Missing libraries are skipped (the program
/// could not start without them, but listing probes still works).
pub fn needed_libraries(
    cache: &ModuleCache,
    executable: &Path,
    ld_library_path: Option<&OsStr>,
) -> Result<Vec<PathBuf>> {
    let root = cache.get(executable)?;
    let search = library_search_path(&root, ld_library_path);
    let mut queue = vec![root];
    let mut out: Vec<PathBuf> = Vec::new();
    let mut i = 0;
    while i < queue.len() {
        let module = queue[i].clone();
        i += 1;
        for name in &module.needed {
            let mut dirs = module.search_path.clone();
            dirs.extend(search.iter().cloned());
            let Some(path) = find_in(&dirs, name, module.arch) else {
                continue;
            };
            if out.contains(&path) || path == executable {
                continue;
            }
            out.push(path.clone());
            if let Ok(m) = cache.get(&path) {
                queue.push(m);
            }
        }
    }
    Ok(out)
}

/// `name` (a file name or a path) in `dirs`, canonical, of the right architecture.
fn find_in(dirs: &[PathBuf], name: &str, arch: super::Arch) -> Option<PathBuf> {
    if name.contains('/') {
        return std::fs::canonicalize(name).ok();
    }
    dirs.iter()
        .map(|d| d.join(name))
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .find(|p| elf_arch(p).is_none_or(|a| a == arch))
}

/// The ELF machine of a file, read from its header only (to skip 32-bit or foreign
/// libraries in multilib directories, as ld.so does).
fn elf_arch(path: &Path) -> Option<super::Arch> {
    use std::io::Read;
    let mut h = [0u8; 20];
    std::fs::File::open(path).ok()?.read_exact(&mut h).ok()?;
    if &h[..4] != b"\x7fELF" || h[4] != 2 {
        return None;
    }
    match u16::from_le_bytes([h[18], h[19]]) {
        62 => Some(super::Arch::X86_64),
        183 => Some(super::Arch::Aarch64),
        _ => None,
    }
}

/// The libraries `.library("LIB")` of `process(executable)` names. A pattern with `/` is a
/// path (made canonical); otherwise it is matched (with wildcards) against the file and
/// soname of each library in the `DT_NEEDED` closure, and failing that looked up by name in
/// the library search path (for libraries the program `dlopen`s).
pub fn find_library(
    cache: &ModuleCache,
    executable: &Path,
    lib: &str,
    ld_library_path: Option<&OsStr>,
) -> Result<Vec<PathBuf>> {
    let not_found = || DebugInfoError::LibraryNotFound {
        name: lib.to_owned(),
        path: executable.to_owned(),
    };
    if lib.contains('/') {
        let glob = Glob::new(lib);
        if glob.is_literal() {
            return std::fs::canonicalize(lib)
                .map(|p| vec![p])
                .map_err(|_| not_found());
        }
        let found: Vec<PathBuf> = needed_libraries(cache, executable, ld_library_path)?
            .into_iter()
            .filter(|p| glob.matches(&p.to_string_lossy()))
            .collect();
        return if found.is_empty() {
            Err(not_found())
        } else {
            Ok(found)
        };
    }
    let glob = Glob::new(lib);
    let mut found = Vec::new();
    for path in needed_libraries(cache, executable, ld_library_path)? {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let soname = cache.get(&path).ok().and_then(|m| m.soname.clone());
        if glob.matches(&file) || soname.as_deref().is_some_and(|s| glob.matches(s)) {
            found.push(path);
        }
    }
    if found.is_empty() && glob.is_literal() {
        let module = cache.get(executable)?;
        found.extend(find_in(
            &library_search_path(&module, ld_library_path),
            lib,
            module.arch,
        ));
    }
    if found.is_empty() {
        Err(not_found())
    } else {
        Ok(found)
    }
}
