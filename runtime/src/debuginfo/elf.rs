//! One ELF file as rtap sees it: its kind, load segments, build-id, dynamic section, symbol
//! tables, PLT stubs, SDT notes, and the sections DWARF and CFI are read from (its own, or
//! those of a separate debug file found by build-id or `.gnu_debuglink`).
//!
//! Addresses throughout the debuginfo layer are *link-time virtual addresses* of the module
//! (what `nm` and `readelf` print). At run time, add the mapping's load bias (0 for a
//! non-PIE executable); the kernel uprobe API wants the file offset instead
//! ([`Module::file_offset`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};

use super::debug_file;
use super::dwarf_index::FunctionIndex;
use super::error::{DebugInfoError, Result};
use super::lines::LineTable;
use super::plt::{self, PltEntry};
use super::sdt::{self, SdtProbe};
use super::symbols::{Symbol, SymbolKind, SymbolTable};

/// What sort of ELF object a module is; decides whether a load bias applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// `ET_EXEC`: loaded at its link-time addresses.
    Executable,
    /// `ET_DYN` with a `PT_INTERP`: a position-independent executable.
    PieExecutable,
    /// `ET_DYN` without an interpreter: a shared library (or the dynamic loader itself).
    SharedLibrary,
}

/// The CPU a module was built for; selects register tables and the PLT decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

/// A `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
}

/// Where a section's bytes live: in the mapped file, or decompressed into owned memory.
#[derive(Debug)]
enum SectionBytes {
    File(std::ops::Range<usize>),
    Owned(Box<[u8]>),
}

/// The sections of one ELF file that DWARF and CFI readers need.
#[derive(Debug)]
pub struct SectionSet {
    pub path: PathBuf,
    data: Arc<[u8]>,
    sections: HashMap<String, (u64, SectionBytes)>,
}

impl SectionSet {
    fn read(path: &Path, data: Arc<[u8]>, file: &object::File<'_>) -> Self {
        let mut sections = HashMap::new();
        for section in file.sections() {
            let Ok(name) = section.name() else { continue };
            let wanted = name.starts_with(".debug_")
                || name.starts_with(".zdebug_")
                || matches!(
                    name,
                    ".eh_frame" | ".eh_frame_hdr" | ".text" | ".got" | ".got.plt"
                );
            if !wanted {
                continue;
            }
            // `.zdebug_info` and SHF_COMPRESSED sections are inflated once here.
            let name = name.replacen(".zdebug_", ".debug_", 1);
            let bytes = match (section.compressed_file_range(), section.file_range()) {
                (Ok(c), Some((off, size))) if c.format == object::CompressionFormat::None => {
                    SectionBytes::File(off as usize..(off + size) as usize)
                }
                _ => match section.uncompressed_data() {
                    Ok(d) => SectionBytes::Owned(d.into_owned().into_boxed_slice()),
                    Err(_) => continue,
                },
            };
            sections.insert(name, (section.address(), bytes));
        }
        SectionSet {
            path: path.to_owned(),
            data,
            sections,
        }
    }

    /// The bytes of section `name`, empty when absent.
    pub fn bytes(&self, name: &str) -> &[u8] {
        match self.sections.get(name) {
            // A section header pointing outside the file reads as empty, not as a panic.
            Some((_, SectionBytes::File(r))) => self.data.get(r.clone()).unwrap_or_default(),
            Some((_, SectionBytes::Owned(b))) => b,
            None => &[],
        }
    }

    /// The link-time address of section `name`.
    pub fn address(&self, name: &str) -> Option<u64> {
        self.sections.get(name).map(|(a, _)| *a)
    }

    pub fn has(&self, name: &str) -> bool {
        self.sections.contains_key(name)
    }
}

/// The DWARF reader type used throughout: borrowed slices of a [`SectionSet`].
pub type Reader<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;

/// One loaded ELF module with everything resolved lazily on first use.
#[derive(Debug)]
pub struct Module {
    pub path: PathBuf,
    pub kind: ModuleKind,
    pub arch: Arch,
    pub build_id: Option<Vec<u8>>,
    /// `.gnu_debuglink` file name and CRC.
    pub debuglink: Option<(String, u32)>,
    pub soname: Option<String>,
    /// `DT_NEEDED` entries, in order.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` (or `DT_RPATH` when there is no RUNPATH) directories, `$ORIGIN` expanded.
    pub search_path: Vec<PathBuf>,
    pub segments: Vec<LoadSegment>,
    /// The `PT_TLS` segment's (memory size, alignment), for thread-local variables.
    pub tls: Option<(u64, u64)>,
    pub symbols: SymbolTable,
    pub plt: Vec<PltEntry>,
    pub sdt: Vec<SdtProbe>,
    /// Sections of the file itself (`.eh_frame`, and DWARF when not stripped).
    pub own: SectionSet,
    /// The separate debug file when one was found (build-id or debuglink).
    pub separate: Option<SectionSet>,
    pub(super) endian: gimli::RunTimeEndian,
    index: OnceLock<std::result::Result<Arc<FunctionIndex>, String>>,
    lines: OnceLock<std::result::Result<Arc<LineTable>, String>>,
}

impl Module {
    /// Reads `path` and its separate debug file, if any (searched in the standard places
    /// below `/usr/lib/debug`).
    pub fn load(path: &Path) -> Result<Module> {
        Self::load_with_debug_roots(path, &[PathBuf::from("/usr/lib/debug")])
    }

    /// Like [`Module::load`], with the global debug directories given explicitly (tests).
    pub fn load_with_debug_roots(path: &Path, debug_roots: &[PathBuf]) -> Result<Module> {
        let data: Arc<[u8]> = std::fs::read(path)
            .map_err(|source| DebugInfoError::Io {
                path: path.to_owned(),
                source,
            })?
            .into();
        let bad = |reason: String| DebugInfoError::BadElf {
            path: path.to_owned(),
            reason,
        };
        let file = object::File::parse(&*data).map_err(|e| bad(e.to_string()))?;
        if file.format() != object::BinaryFormat::Elf || !file.is_64() {
            return Err(bad("only 64-bit ELF files are supported".into()));
        }
        let arch = match file.architecture() {
            object::Architecture::X86_64 => Arch::X86_64,
            object::Architecture::Aarch64 => Arch::Aarch64,
            other => return Err(bad(format!("unsupported architecture {other:?}"))),
        };
        let endian = if file.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let kind = match file.kind() {
            object::ObjectKind::Executable => ModuleKind::Executable,
            object::ObjectKind::Dynamic if file.section_by_name(".interp").is_some() => {
                ModuleKind::PieExecutable
            }
            object::ObjectKind::Dynamic => ModuleKind::SharedLibrary,
            other => {
                return Err(bad(format!(
                    "not an executable or shared library ({other:?})"
                )));
            }
        };
        let segments = file
            .segments()
            .map(|s| {
                let (offset, filesz) = s.file_range();
                LoadSegment {
                    vaddr: s.address(),
                    memsz: s.size(),
                    offset,
                    filesz,
                }
            })
            .collect();
        let tls = read_tls_segment(&data);
        let build_id = file.build_id().ok().flatten().map(<[u8]>::to_vec);
        let debuglink = file
            .gnu_debuglink()
            .ok()
            .flatten()
            .map(|(name, crc)| (String::from_utf8_lossy(name).into_owned(), crc));
        let dynamic = read_dynamic(&file, path);
        let mut symbols = read_symbols(&file);
        let plt = plt::read(&file, arch);
        let sdt = sdt::read(&file, arch).map_err(|e| bad(e.to_string()))?;
        let own = SectionSet::read(path, data.clone(), &file);

        let separate = if own.has(".debug_info") {
            None
        } else {
            debug_file::find(path, build_id.as_deref(), debuglink.as_ref(), debug_roots).and_then(
                |p| {
                    let d: Arc<[u8]> = std::fs::read(&p).ok()?.into();
                    let f = object::File::parse(&*d).ok()?;
                    // A stripped binary keeps only .dynsym; the debug file has the full table.
                    if symbols.is_empty_of_local_functions() {
                        symbols.merge(read_symbols(&f));
                    }
                    Some(SectionSet::read(&p, d.clone(), &f))
                },
            )
        };

        Ok(Module {
            path: path.to_owned(),
            kind,
            arch,
            build_id,
            debuglink,
            soname: dynamic.soname,
            needed: dynamic.needed,
            search_path: dynamic.search_path,
            segments,
            tls,
            symbols,
            plt,
            sdt,
            own,
            separate,
            endian,
            index: OnceLock::new(),
            lines: OnceLock::new(),
        })
    }

    /// The section set DWARF is read from (the separate debug file if there is one).
    pub fn debug_sections(&self) -> &SectionSet {
        self.separate.as_ref().unwrap_or(&self.own)
    }

    /// True when the module (or its separate debug file) has `.debug_info`.
    pub fn has_dwarf(&self) -> bool {
        self.debug_sections().has(".debug_info")
    }

    /// A gimli view of the module's DWARF. Cheap: it only slices the sections.
    pub fn dwarf(&self) -> gimli::Dwarf<Reader<'_>> {
        let set = self.debug_sections();
        let mut dwarf = gimli::Dwarf::load(|id: gimli::SectionId| {
            Ok::<_, std::convert::Infallible>(gimli::EndianSlice::new(
                set.bytes(id.name()),
                self.endian,
            ))
        })
        .unwrap_or_else(|never| match never {});
        dwarf.file_type = gimli::DwarfFileType::Main;
        dwarf
    }

    /// The function index (DWARF subprograms and inlined instances), built on first use.
    pub fn functions(&self) -> Result<Arc<FunctionIndex>> {
        self.built_once(&self.index, FunctionIndex::build)
    }

    /// The module's line table, built on first use.
    pub fn lines(&self) -> Result<Arc<LineTable>> {
        self.built_once(&self.lines, LineTable::build)
    }

    /// The value in `cell`, built by `build` the first time (a failure is remembered too).
    fn built_once<T>(
        &self,
        cell: &OnceLock<std::result::Result<Arc<T>, String>>,
        build: fn(&Module) -> gimli::Result<T>,
    ) -> Result<Arc<T>> {
        cell.get_or_init(|| build(self).map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(|reason| DebugInfoError::BadDwarf {
                path: self.path.clone(),
                reason,
            })
    }

    /// The file offset of link-time address `vaddr`, if it lies in the file part of a
    /// `PT_LOAD` segment (what the kernel's uprobe API and `/proc/PID/maps` offsets use).
    pub fn file_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz)
            .map(|s| s.offset + (vaddr - s.vaddr))
    }

    /// The link-time address of file offset `offset` (inverse of [`Module::file_offset`]).
    pub fn vaddr_of_offset(&self, offset: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| offset >= s.offset && offset - s.offset < s.filesz)
            .map(|s| s.vaddr + (offset - s.offset))
    }

    /// Where this module's TLS block starts relative to the thread pointer, when that is
    /// fixed: only for the main program, whose block the ABI places next to the thread
    /// pointer (x86_64 TLS variant II: just below it; AArch64 variant I: after the 16-byte
    /// TCB). Shared libraries' blocks are placed by ld.so at run time.
    pub fn tls_block_offset(&self) -> Option<i64> {
        let (memsz, align) = self.tls?;
        if self.kind == ModuleKind::SharedLibrary {
            return None;
        }
        let align = align.max(1);
        Some(match self.arch {
            Arch::X86_64 => -((memsz.div_ceil(align) * align) as i64),
            Arch::Aarch64 => 16u64.div_ceil(align) as i64 * align as i64,
        })
    }

    /// The build-id as lowercase hex (what `umodbuildid` prints).
    pub fn build_id_hex(&self) -> Option<String> {
        self.build_id
            .as_ref()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
    }
}

/// The `PT_TLS` program header's memory size and alignment.
fn read_tls_segment(data: &[u8]) -> Option<(u64, u64)> {
    use object::read::elf::ProgramHeader;
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(data).ok()?;
    let endian = elf.endian();
    elf.elf_program_headers()
        .iter()
        .find(|ph| ph.p_type(endian) == object::elf::PT_TLS)
        .map(|ph| (ph.p_memsz(endian), ph.p_align(endian)))
}

struct DynamicInfo {
    soname: Option<String>,
    needed: Vec<String>,
    search_path: Vec<PathBuf>,
}

/// Reads `DT_NEEDED`, `DT_SONAME`, `DT_RUNPATH`/`DT_RPATH` from `.dynamic` (64-bit entries:
/// `d_tag`, `d_val`, 8 bytes each; strings in `.dynstr`).
fn read_dynamic(file: &object::File<'_>, path: &Path) -> DynamicInfo {
    let mut info = DynamicInfo {
        soname: None,
        needed: Vec::new(),
        search_path: Vec::new(),
    };
    let (Some(dynamic), Some(dynstr)) = (
        file.section_by_name(".dynamic"),
        file.section_by_name(".dynstr"),
    ) else {
        return info;
    };
    let (Ok(dynamic), Ok(dynstr)) = (dynamic.data(), dynstr.data()) else {
        return info;
    };
    let word = |b: &[u8]| {
        let a: [u8; 8] = b.try_into().unwrap_or_default();
        if file.is_little_endian() {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    };
    let string = |off: u64| -> Option<String> {
        let s = dynstr.get(off as usize..)?;
        let end = memchr::memchr(0, s)?;
        Some(String::from_utf8_lossy(&s[..end]).into_owned())
    };
    let (mut runpath, mut rpath) = (None, None);
    for entry in dynamic.chunks_exact(16) {
        let (tag, val) = (word(&entry[..8]), word(&entry[8..]));
        match tag {
            0 => break, // DT_NULL
            1 => info.needed.extend(string(val)),
            14 => info.soname = string(val),
            15 => rpath = string(val),
            29 => runpath = string(val),
            _ => {}
        }
    }
    let origin = path
        .parent()
        .unwrap_or(Path::new("/"))
        .to_string_lossy()
        .into_owned();
    if let Some(dirs) = runpath.or(rpath) {
        info.search_path = dirs
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| PathBuf::from(d.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin)))
            .collect();
    }
    info
}

fn read_symbols(file: &object::File<'_>) -> SymbolTable {
    let mut out = Vec::new();
    let mut push = |sym: object::Symbol<'_, '_>, dynamic: bool| {
        if !sym.is_definition() {
            return;
        }
        let Ok(name) = sym.name() else { return };
        if name.is_empty() {
            return;
        }
        let kind = match sym.kind() {
            object::SymbolKind::Text => SymbolKind::Function,
            object::SymbolKind::Data => SymbolKind::Object,
            object::SymbolKind::Tls => SymbolKind::Tls,
            _ => return,
        };
        out.push(Symbol {
            name: name.to_owned(),
            address: sym.address(),
            size: sym.size(),
            kind,
            global: sym.is_global(),
            weak: sym.is_weak(),
            dynamic,
        });
    };
    for sym in file.symbols() {
        push(sym, false);
    }
    for sym in file.dynamic_symbols() {
        push(sym, true);
    }
    SymbolTable::new(out)
}
