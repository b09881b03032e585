//! PLT stubs (`.plt`, `.plt.sec`) for `.plt` / `.plt("NAME")` probes. Each stub is decoded to
//! the GOT slot it jumps through, and the slot is named by the dynamic relocation that fills
//! it (`R_X86_64_JUMP_SLOT`, `R_AARCH64_JUMP_SLOT`). Decoding the jump instead of assuming
//! "entry i ↔ relocation i" keeps lazy-binding, IBT (`.plt.sec`) and BTI layouts correct.

use object::{Object, ObjectSection, ObjectSymbol, ObjectSymbolTable};
use rustc_hash::FxHashMap;

use super::elf::Arch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PltEntry {
    /// The imported function the stub calls, without symbol version (`puts`).
    pub name: String,
    /// Link-time address of the stub (what a `.plt` probe is placed on).
    pub address: u64,
}

pub(super) fn read(file: &object::File<'_>, arch: Arch) -> Vec<PltEntry> {
    let mut slots: FxHashMap<u64, String> = FxHashMap::default();
    if let (Some(relocs), Some(dynsym)) = (file.dynamic_relocations(), file.dynamic_symbol_table())
    {
        for (offset, reloc) in relocs {
            if let object::RelocationTarget::Symbol(idx) = reloc.target()
                && let Ok(sym) = dynsym.symbol_by_index(idx)
                && let Ok(name) = sym.name()
                && !name.is_empty()
            {
                slots.insert(offset, name.to_owned());
            }
        }
    }
    let mut out = Vec::new();
    for section_name in [".plt", ".plt.sec"] {
        let Some(section) = file.section_by_name(section_name) else {
            continue;
        };
        let Ok(bytes) = section.data() else { continue };
        let base = section.address();
        let entry_size = 16;
        for (i, entry) in bytes.chunks_exact(entry_size).enumerate() {
            let addr = base + (i * entry_size) as u64;
            let slot = match arch {
                Arch::X86_64 => x86_64_slot(entry, addr),
                Arch::Aarch64 => aarch64_slot(entry, addr),
            };
            if let Some(name) = slot.and_then(|s| slots.get(&s)) {
                out.push(PltEntry {
                    name: name.clone(),
                    address: addr,
                });
            }
        }
    }
    out.sort_by_key(|e| e.address);
    out
}

/// `jmp *disp32(%rip)` (`ff 25`), possibly after `endbr64` and a `bnd` prefix.
fn x86_64_slot(entry: &[u8], addr: u64) -> Option<u64> {
    let at = entry.windows(2).position(|w| w == [0xff, 0x25])?;
    let disp = i32::from_le_bytes(entry.get(at + 2..at + 6)?.try_into().ok()?);
    Some((addr + at as u64 + 6).wrapping_add_signed(disp as i64))
}

/// `adrp x16, PAGE` followed by `ldr x17, [x16, #OFF]` (Arm ARM C6.2.11 ADRP, C6.2.132 LDR
/// immediate, unsigned offset, 64-bit), possibly after `bti c`.
fn aarch64_slot(entry: &[u8], addr: u64) -> Option<u64> {
    let words: Vec<u32> = entry
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap_or_default()))
        .collect();
    words.windows(2).enumerate().find_map(|(i, w)| {
        let (adrp, ldr) = (w[0], w[1]);
        let is_adrp_x16 = adrp & 0x9f00_001f == 0x9000_0010;
        let is_ldr_x17_x16 = ldr & 0xffc0_03ff == 0xf940_0211;
        if !(is_adrp_x16 && is_ldr_x17_x16) {
            return None;
        }
        let immlo = ((adrp >> 29) & 3) as i64;
        let immhi = ((adrp >> 5) & 0x7ffff) as i64;
        let imm = ((immhi << 2 | immlo) << 43) >> 31; // sign-extend 21 bits, then << 12
        let pc = addr + 4 * i as u64;
        let page = (pc & !0xfff).wrapping_add_signed(imm);
        Some(page + (((ldr >> 10) & 0xfff) as u64) * 8)
    })
}
