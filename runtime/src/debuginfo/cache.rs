//! Loaded modules, shared and reused while the file on disk is unchanged (same device, inode,
//! size and modification time), so every probe point and every symbolization of one binary
//! reads its ELF and DWARF once.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::elf::Module;
use super::error::{DebugInfoError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl FileIdentity {
    fn of(path: &Path) -> Result<FileIdentity> {
        let m = std::fs::metadata(path).map_err(|source| DebugInfoError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(FileIdentity {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        })
    }
}

#[derive(Debug, Default)]
pub struct ModuleCache {
    modules: Mutex<HashMap<PathBuf, (FileIdentity, Arc<Module>)>>,
    debug_roots: Option<Vec<PathBuf>>,
}

impl ModuleCache {
    pub fn new() -> ModuleCache {
        ModuleCache::default()
    }

    /// A cache whose modules look for separate debug files under `roots` instead of
    /// `/usr/lib/debug`.
    pub fn with_debug_roots(roots: Vec<PathBuf>) -> ModuleCache {
        ModuleCache {
            modules: Mutex::default(),
            debug_roots: Some(roots),
        }
    }

    /// The module at `path`, loaded now or reused from an earlier load of the same file.
    pub fn get(&self, path: &Path) -> Result<Arc<Module>> {
        let identity = FileIdentity::of(path)?;
        if let Some((id, module)) = self.lock().get(path)
            && *id == identity
        {
            return Ok(module.clone());
        }
        // Load without holding the lock: reading DWARF of a large library takes a while.
        let module = Arc::new(match &self.debug_roots {
            Some(roots) => Module::load_with_debug_roots(path, roots)?,
            None => Module::load(path)?,
        });
        self.lock()
            .insert(path.to_owned(), (identity, module.clone()));
        Ok(module)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (FileIdentity, Arc<Module>)>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        self.modules.lock().unwrap_or_else(|e| e.into_inner())
    }
}
