//! Loading static ELF executables (`aarch64-linux-gnu-gcc -static`, `arm-linux-gnueabihf-gcc
//! -static`) into an address space: every `PT_LOAD` segment is mapped with its permissions and
//! its bytes written as if cleaned to the PoU (the kernel's `set_pte_at` maintenance for fresh
//! executable pages).

use std::collections::BTreeMap;

use object::read::elf::{ElfFile, FileHeader, ProgramHeader};
use object::{FileKind, Object, ObjectSymbol, elf};

use crate::arch::Arch;
use crate::machine::Machine;
use crate::memory::PAGE_SIZE;
use crate::mmu::{MapError, Perms, SpaceId};

/// Why an ELF file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not an ELF file: {0}")]
    Parse(#[from] object::Error),
    #[error("ELF machine {found} is not {arch} ({want})")]
    Machine {
        found: u16,
        want: u16,
        arch: &'static str,
    },
    #[error("segment at {va:#x}: its file range is outside the file")]
    SegmentData { va: u64 },
    #[error("segment at {va:#x}: {source}")]
    Map { va: u64, source: MapError },
}

/// What loading produced.
#[derive(Debug, Clone, Default)]
pub struct LoadedImage {
    /// Entry point (on ARM, bit 0 set for a Thumb entry).
    pub entry: u64,
    /// Symbol table (name → address; on ARM, Thumb functions have bit 0 set); for tests to
    /// find functions and data.
    pub symbols: BTreeMap<String, u64>,
    /// First address above every loaded segment, page aligned (the initial program break).
    pub end: u64,
}

impl LoadedImage {
    /// The address of `name`, if the symbol table has it.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }
}

/// Loads `bytes` into `space`; user pages (`user == true`) are EL0-accessible.
pub fn load_elf<A: Arch>(
    m: &mut Machine<A>,
    space: SpaceId,
    bytes: &[u8],
    user: bool,
) -> Result<LoadedImage, LoadError> {
    match FileKind::parse(bytes)? {
        FileKind::Elf32 => load::<A, elf::FileHeader32<object::Endianness>>(m, space, bytes, user),
        _ => load::<A, elf::FileHeader64<object::Endianness>>(m, space, bytes, user),
    }
}

fn load<A: Arch, Elf: FileHeader<Endian = object::Endianness>>(
    m: &mut Machine<A>,
    space: SpaceId,
    bytes: &[u8],
    user: bool,
) -> Result<LoadedImage, LoadError> {
    let file = ElfFile::<Elf>::parse(bytes)?;
    let endian = file.endian();
    let machine = file.elf_header().e_machine(endian).0;
    if machine != A::ELF_MACHINE {
        return Err(LoadError::Machine {
            found: machine,
            want: A::ELF_MACHINE,
            arch: A::NAME,
        });
    }
    let mut end = 0;
    for ph in file.elf_program_headers() {
        if ph.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        let va: u64 = ph.p_vaddr(endian).into();
        let memsz: u64 = ph.p_memsz(endian).into();
        let flags = ph.p_flags(endian).0;
        let perms = Perms {
            read: flags & elf::PF_R.0 != 0,
            write: flags & elf::PF_W.0 != 0,
            exec: flags & elf::PF_X.0 != 0,
            user,
        };
        let data = ph
            .data(endian, bytes)
            .map_err(|()| LoadError::SegmentData { va })?;
        let first = va & !(PAGE_SIZE - 1);
        let last = (va + memsz).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let mut page = first;
        while page < last {
            // Segments may share a page: the page gets the union of their permissions.
            match m.lookup(space, page) {
                Some(pte) => {
                    let merged = Perms {
                        read: pte.perms.read || perms.read,
                        write: pte.perms.write || perms.write,
                        exec: pte.perms.exec || perms.exec,
                        user,
                    };
                    m.protect(space, page, PAGE_SIZE, merged)
                        .map_err(|source| LoadError::Map { va, source })?;
                }
                None => {
                    m.map_new(space, page, PAGE_SIZE, perms)
                        .map_err(|source| LoadError::Map { va, source })?;
                }
            }
            page += PAGE_SIZE;
        }
        for (i, chunk) in data.chunks(PAGE_SIZE as usize).enumerate() {
            let at = va + (i as u64) * PAGE_SIZE;
            write_virtual_clean(m, space, at, chunk);
        }
        end = end.max(last);
    }
    let symbols = file
        .symbols()
        .filter_map(|sym| Some((sym.name().ok()?.to_owned(), sym.address())))
        .filter(|(name, _)| !name.is_empty())
        .collect();
    Ok(LoadedImage {
        entry: file.entry(),
        symbols,
        end,
    })
}

/// Writes `bytes` at `va` of `space` through the back door (mapped pages only).
fn write_virtual_clean<A: Arch>(m: &mut Machine<A>, space: SpaceId, va: u64, bytes: &[u8]) {
    let mut done = 0;
    while done < bytes.len() {
        let at = va + done as u64;
        let len = ((PAGE_SIZE - at % PAGE_SIZE) as usize).min(bytes.len() - done);
        let pte = m.lookup(space, at).expect("segment pages were just mapped");
        m.write_phys_clean(pte.pa + at % PAGE_SIZE, &bytes[done..done + len])
            .expect("freshly allocated frames are backed");
        done += len;
    }
}
