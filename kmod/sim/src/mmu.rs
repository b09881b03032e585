//! Virtual memory: address spaces (page tables) mapping 4 KiB virtual pages to physical
//! frames with permissions.
//!
//! Two translation regimes, split as the ISA's [`VaLayout`] says (AArch64: `TCR_EL1` splits
//! on VA bit 55, bits 63:48 must all equal it; ARMv7: Linux's 3G/1G split at `TASK_SIZE`):
//! user addresses translate through the core's *user* address space (TTBR0, one per
//! process, shared by its threads), kernel addresses through the one *kernel* address space
//! (shared by all cores); any other address faults. One physical frame may be mapped at any number of virtual pages —
//! an executable alias and a writable alias, as the kernel's fixmap text patching
//! (`FIX_TEXT_POKE0`) and uprobes' `kmap` of the XOL page do (arm-probes.md §1.14, §4.2).
//! Besides its page table, the kernel regime has a linear map of all physical memory at
//! [`VaLayout::linear_base`], read-write and not executable, as Linux does.

use rustc_hash::FxHashMap;

use crate::memory::{PAGE_SIZE, Pa};

/// Identifies an address space of a [`crate::Machine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpaceId(pub(crate) usize);

/// Access permissions of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    /// Accessible from EL0. A user page is never executable at EL1 (the kernel sets PXN on
    /// user mappings); data accesses from EL1 to it are allowed (PAN is not modelled).
    pub user: bool,
}

impl Perms {
    pub const R: Perms = Perms {
        read: true,
        write: false,
        exec: false,
        user: false,
    };
    pub const RW: Perms = Perms {
        read: true,
        write: true,
        exec: false,
        user: false,
    };
    pub const RX: Perms = Perms {
        read: true,
        write: false,
        exec: true,
        user: false,
    };
    pub const RWX: Perms = Perms {
        read: true,
        write: true,
        exec: true,
        user: false,
    };

    /// The same permissions, accessible from EL0.
    pub const fn user(self) -> Perms {
        Perms { user: true, ..self }
    }
}

/// What an access wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

/// Why a translation failed: the fault status the syndrome reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// No mapping (level 3 translation fault), or a non-canonical address.
    Translation,
    /// Mapped, but the permissions forbid the access.
    Permission,
    /// The access needs an alignment the address lacks (exclusives, SP alignment).
    Alignment,
    /// The mapping points at a physical address with no frame behind it.
    External,
}

/// A failed memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemFault {
    pub va: u64,
    pub access: Access,
    pub kind: FaultKind,
}

/// One page-table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pte {
    /// Physical address of the frame.
    pub pa: Pa,
    pub perms: Perms,
}

/// Errors of mapping management.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("address {0:#x} is not page aligned")]
    Unaligned(u64),
    #[error("virtual page {0:#x} is already mapped")]
    AlreadyMapped(u64),
    #[error("virtual page {0:#x} is not mapped")]
    NotMapped(u64),
    #[error("virtual address {va:#x} does not belong to the {regime} translation regime")]
    WrongRegime { va: u64, regime: &'static str },
    #[error("unknown address space {0:?}")]
    NoSpace(SpaceId),
}

/// A page table.
#[derive(Debug, Default, Clone)]
pub struct AddressSpace {
    pages: FxHashMap<u64, Pte>,
}

impl AddressSpace {
    /// Maps one page; `va` and `pa` page aligned.
    pub fn map_page(&mut self, va: u64, pa: Pa, perms: Perms) -> Result<(), MapError> {
        if !va.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Unaligned(va));
        }
        if !pa.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Unaligned(pa));
        }
        match self.pages.entry(va / PAGE_SIZE) {
            std::collections::hash_map::Entry::Occupied(_) => Err(MapError::AlreadyMapped(va)),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Pte { pa, perms });
                Ok(())
            }
        }
    }

    /// Removes one page's mapping and returns it.
    pub fn unmap_page(&mut self, va: u64) -> Result<Pte, MapError> {
        self.pages
            .remove(&(va / PAGE_SIZE))
            .ok_or(MapError::NotMapped(va))
    }

    /// Changes one page's permissions.
    pub fn protect_page(&mut self, va: u64, perms: Perms) -> Result<(), MapError> {
        let pte = self
            .pages
            .get_mut(&(va / PAGE_SIZE))
            .ok_or(MapError::NotMapped(va))?;
        pte.perms = perms;
        Ok(())
    }

    /// The entry mapping `va`'s page.
    pub fn lookup(&self, va: u64) -> Option<Pte> {
        self.pages.get(&(va / PAGE_SIZE)).copied()
    }
}

/// How an ISA's virtual address space is split between the two translation regimes, and
/// where the kernel's linear map of physical memory lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaLayout {
    /// User addresses are `0..user_end` (TTBR0).
    pub user_end: u64,
    /// Kernel addresses are `kernel_start..=va_max` (TTBR1, or the kernel half of TTBR0).
    pub kernel_start: u64,
    /// Largest virtual address.
    pub va_max: u64,
    /// Where the linear map of all physical memory starts (like Linux's `PAGE_OFFSET`).
    /// Explicit kernel mappings in this range take precedence.
    pub linear_base: u64,
    /// Bytes of physical memory the linear map covers.
    pub linear_size: u64,
}

impl VaLayout {
    /// The linear-map virtual address of physical address `pa`.
    pub fn linear_alias(&self, pa: Pa) -> u64 {
        self.linear_base + pa
    }

    /// The physical address the linear-map address `va` stands for, if `va` is in the linear
    /// map.
    pub fn linear_map_pa(&self, va: u64) -> Option<Pa> {
        va.checked_sub(self.linear_base)
            .filter(|&pa| pa < self.linear_size)
    }

    /// Whether `va` translates through the kernel regime.
    pub fn is_kernel(&self, va: u64) -> bool {
        va >= self.kernel_start && va <= self.va_max
    }

    /// Whether `va` belongs to either regime (on AArch64: is canonical for 48-bit VAs).
    pub fn is_valid(&self, va: u64) -> bool {
        va < self.user_end || self.is_kernel(va)
    }
}

/// Checks `perms` for an `access` at exception level `el` (0 or 1).
pub fn permits(perms: Perms, access: Access, el: u8) -> bool {
    if el == 0 && !perms.user {
        return false;
    }
    match access {
        Access::Read => perms.read,
        Access::Write => perms.write,
        // PXN: the kernel never executes user pages.
        Access::Exec => perms.exec && (el == 0 || !perms.user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_follow_el_and_pxn() {
        let user_rx = Perms::RX.user();
        assert!(permits(user_rx, Access::Exec, 0));
        assert!(!permits(user_rx, Access::Exec, 1), "PXN on user pages");
        assert!(permits(user_rx, Access::Read, 1));
        assert!(
            !permits(Perms::RWX, Access::Read, 0),
            "kernel page from EL0"
        );
        assert!(!permits(user_rx, Access::Write, 0));
    }

    #[test]
    fn aarch64_canonical_addresses_split_on_bit_55() {
        let layout = crate::aarch64::LAYOUT;
        assert!(layout.is_valid(0x0000_7fff_ffff_f000));
        assert!(layout.is_valid(0xffff_8000_0000_0000));
        assert!(!layout.is_valid(0x0001_0000_0000_0000));
        assert!(!layout.is_valid(0xff00_8000_0000_0000));
        assert!(layout.is_kernel(0xffff_8000_0000_0000));
        assert!(!layout.is_kernel(0x0000_7fff_ffff_f000));
    }

    #[test]
    fn double_map_and_unmap_errors() {
        let mut space = AddressSpace::default();
        space.map_page(0x1000, 0x5000, Perms::RW).unwrap();
        assert_eq!(
            space.map_page(0x1000, 0x6000, Perms::RW),
            Err(MapError::AlreadyMapped(0x1000))
        );
        assert_eq!(space.lookup(0x1234).unwrap().pa, 0x5000);
        space.unmap_page(0x1000).unwrap();
        assert_eq!(space.unmap_page(0x1000), Err(MapError::NotMapped(0x1000)));
        assert_eq!(
            space.map_page(0x1001, 0, Perms::RW),
            Err(MapError::Unaligned(0x1001))
        );
    }
}
