//! The C type model read from DWARF: base types with size and signedness, pointers, arrays,
//! structs/unions with member offsets and bitfields, enums, and typedef/const/volatile chains
//! (peeled for layout, kept for the name stap prints: `char const*`, `struct pt*`, `int[]`).

use std::rc::Rc;

use gimli::constants as dw;
use rustc_hash::FxHashMap;

use super::dwarf_index::{die_string, global_offset};
use super::elf::{Module, Reader};

type Unit<'a> = gimli::Unit<Reader<'a>>;

/// A type DIE, by `.debug_info` offset; `None` where DWARF means `void`.
pub type TypeRef = Option<u64>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    Void,
    Integer {
        signed: bool,
        char_like: bool,
    },
    Float,
    Enum {
        signed: bool,
        enumerators: Vec<(String, i64)>,
    },
    Pointer {
        target: TypeRef,
    },
    /// `dimensions` > 1 for `int m[2][3]` (indexing those is not supported).
    Array {
        element: TypeRef,
        count: Option<u64>,
        dimensions: usize,
    },
    /// `members` is `None` for a declaration without a definition anywhere.
    Struct {
        keyword: &'static str,
        members: Option<Vec<Member>>,
    },
    Function,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitfield {
    /// Bits to shift the loaded storage right (little-endian bit numbering).
    pub shift: u32,
    pub bits: u32,
    /// Bytes to load starting at the member's byte offset.
    pub storage: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: Option<String>,
    pub ty: TypeRef,
    /// Byte offset from the start of the aggregate.
    pub offset: u64,
    pub bitfield: Option<Bitfield>,
    /// The member's type tag, for anonymous members (`<union>`).
    pub anonymous_keyword: Option<&'static str>,
}

/// A type with typedefs and qualifiers peeled off (`kind`, `size`), named as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    pub name: String,
    pub size: u64,
    pub kind: TypeKind,
    /// The DIE of the peeled type (for `@cast` results and autocast).
    pub die: TypeRef,
}

impl TypeInfo {
    pub fn void() -> TypeInfo {
        TypeInfo {
            name: "void".into(),
            size: 0,
            kind: TypeKind::Void,
            die: None,
        }
    }

    /// `char`, `signed char`, `unsigned char` (what stap prints as strings behind a pointer
    /// or as an array).
    pub fn is_char(&self) -> bool {
        matches!(
            self.kind,
            TypeKind::Integer {
                char_like: true,
                ..
            }
        ) && self.size == 1
    }
}

/// Reads types from one module's DWARF, caching by DIE.
pub struct Types<'m> {
    module: &'m Module,
    dwarf: gimli::Dwarf<Reader<'m>>,
    unit_offsets: Vec<u64>,
    units: FxHashMap<u64, Rc<Unit<'m>>>,
    cache: FxHashMap<u64, Rc<TypeInfo>>,
    /// Types being read, to turn a (malformed) cycle into an error instead of a stack
    /// overflow.
    in_progress: rustc_hash::FxHashSet<u64>,
}

type Res<T> = Result<T, String>;

impl<'m> Types<'m> {
    pub fn new(module: &'m Module) -> Res<Types<'m>> {
        let index = module.functions().map_err(|e| e.to_string())?;
        Ok(Types {
            module,
            dwarf: module.dwarf(),
            unit_offsets: index.units.iter().map(|u| u.offset).collect(),
            units: FxHashMap::default(),
            cache: FxHashMap::default(),
            in_progress: Default::default(),
        })
    }

    pub fn dwarf(&self) -> &gimli::Dwarf<Reader<'m>> {
        &self.dwarf
    }

    pub fn module(&self) -> &'m Module {
        self.module
    }

    /// The unit containing the DIE at `.debug_info` offset `die`.
    pub fn unit_of(&mut self, die: u64) -> Res<Rc<Unit<'m>>> {
        let i = self.unit_offsets.partition_point(|&o| o <= die);
        let start = *self
            .unit_offsets
            .get(i.wrapping_sub(1))
            .ok_or("DIE outside any unit")?;
        if let Some(u) = self.units.get(&start) {
            return Ok(u.clone());
        }
        let header = self
            .dwarf
            .debug_info
            .header_from_offset(gimli::DebugInfoOffset(start as usize))
            .map_err(|e| e.to_string())?;
        let unit = Rc::new(self.dwarf.unit(header).map_err(|e| e.to_string())?);
        self.units.insert(start, unit.clone());
        Ok(unit)
    }

    pub fn entry(
        &mut self,
        die: u64,
    ) -> Res<(Rc<Unit<'m>>, gimli::DebuggingInformationEntry<Reader<'m>>)> {
        let unit = self.unit_of(die)?;
        let off = gimli::DebugInfoOffset(die as usize)
            .to_unit_offset(&unit.header)
            .ok_or("DIE offset outside its unit")?;
        let entry = unit.entry(off).map_err(|e| e.to_string())?;
        Ok((unit, entry))
    }

    /// The `DW_AT_type` of a DIE as a global offset.
    pub fn type_attr(
        unit: &Unit<'_>,
        entry: &gimli::DebuggingInformationEntry<Reader<'_>>,
    ) -> TypeRef {
        match entry.attr_value(dw::DW_AT_type)? {
            gimli::AttributeValue::UnitRef(o) => Some(global_offset(unit, o)),
            gimli::AttributeValue::DebugInfoRef(o) => Some(o.0 as u64),
            _ => None,
        }
    }

    /// The type at `ty`, peeled and named.
    pub fn get(&mut self, ty: TypeRef) -> Res<Rc<TypeInfo>> {
        let Some(die) = ty else {
            return Ok(Rc::new(TypeInfo::void()));
        };
        if let Some(t) = self.cache.get(&die) {
            return Ok(t.clone());
        }
        let name = self.name(ty, 0)?;
        if !self.in_progress.insert(die) {
            return Err(format!("type DIE {die:#x} refers to itself"));
        }
        let info = self.peel(die);
        self.in_progress.remove(&die);
        let mut info = info?;
        info.name = name;
        let info = Rc::new(info);
        self.cache.insert(die, info.clone());
        Ok(info)
    }

    /// Typedefs and qualifiers take the layout of what they name.
    fn peel(&mut self, die: u64) -> Res<TypeInfo> {
        let (unit, entry) = self.entry(die)?;
        match entry.tag() {
            dw::DW_TAG_typedef
            | dw::DW_TAG_const_type
            | dw::DW_TAG_volatile_type
            | dw::DW_TAG_restrict_type
            | dw::DW_TAG_atomic_type => Ok((*self.get(Self::type_attr(&unit, &entry))?).clone()),
            _ => self.read(&unit, &entry, die),
        }
    }

    fn read(
        &mut self,
        unit: &Unit<'m>,
        entry: &gimli::DebuggingInformationEntry<Reader<'m>>,
        die: u64,
    ) -> Res<TypeInfo> {
        let size = entry
            .attr_value(dw::DW_AT_byte_size)
            .and_then(|v| v.udata_value())
            .unwrap_or(0);
        let kind = match entry.tag() {
            dw::DW_TAG_base_type => {
                let enc = match entry.attr_value(dw::DW_AT_encoding) {
                    Some(gimli::AttributeValue::Encoding(e)) => e,
                    _ => dw::DW_ATE_signed,
                };
                match enc {
                    dw::DW_ATE_float | dw::DW_ATE_complex_float => TypeKind::Float,
                    dw::DW_ATE_signed_char => TypeKind::Integer {
                        signed: true,
                        char_like: true,
                    },
                    dw::DW_ATE_unsigned_char => TypeKind::Integer {
                        signed: false,
                        char_like: true,
                    },
                    dw::DW_ATE_unsigned | dw::DW_ATE_boolean | dw::DW_ATE_UTF => {
                        TypeKind::Integer {
                            signed: false,
                            char_like: false,
                        }
                    }
                    _ => TypeKind::Integer {
                        signed: true,
                        char_like: false,
                    },
                }
            }
            dw::DW_TAG_pointer_type
            | dw::DW_TAG_reference_type
            | dw::DW_TAG_rvalue_reference_type => TypeKind::Pointer {
                target: Self::type_attr(unit, entry),
            },
            dw::DW_TAG_enumeration_type => {
                let signed = match Self::type_attr(unit, entry) {
                    Some(_) => matches!(
                        self.get(Self::type_attr(unit, entry))?.kind,
                        TypeKind::Integer { signed: true, .. }
                    ),
                    None => false,
                };
                let mut enumerators = Vec::new();
                for e in children_with_tag(unit, entry, dw::DW_TAG_enumerator)? {
                    let name = e
                        .attr_value(dw::DW_AT_name)
                        .and_then(|v| die_string(&self.dwarf, unit, v))
                        .unwrap_or_default();
                    let value = match e.attr_value(dw::DW_AT_const_value) {
                        Some(gimli::AttributeValue::Sdata(v)) => v,
                        Some(v) => v.udata_value().unwrap_or(0) as i64,
                        None => 0,
                    };
                    enumerators.push((name, value));
                }
                TypeKind::Enum {
                    signed,
                    enumerators,
                }
            }
            dw::DW_TAG_array_type => {
                let element = Self::type_attr(unit, entry);
                let mut counts = Vec::new();
                for e in children_with_tag(unit, entry, dw::DW_TAG_subrange_type)? {
                    let count = match (
                        e.attr_value(dw::DW_AT_count),
                        e.attr_value(dw::DW_AT_upper_bound),
                    ) {
                        (Some(c), _) => c.udata_value(),
                        (None, Some(u)) => u.udata_value().map(|u| u + 1),
                        _ => None,
                    };
                    counts.push(count);
                }
                // `int m[2][3]`: one array DIE with two subranges.
                let elem_size = self.get(element)?.size;
                let inner: u64 = counts
                    .iter()
                    .skip(1)
                    .map(|c| c.unwrap_or(0))
                    .product::<u64>()
                    .max(1);
                let count = counts.first().copied().flatten();
                let size = count.map_or(0, |c| c * inner * elem_size);
                return Ok(TypeInfo {
                    name: String::new(),
                    size,
                    kind: TypeKind::Array {
                        element,
                        count,
                        dimensions: counts.len().max(1),
                    },
                    die: Some(die),
                });
            }
            dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type => {
                let keyword = match entry.tag() {
                    dw::DW_TAG_union_type => "union",
                    dw::DW_TAG_class_type => "class",
                    _ => "struct",
                };
                if entry.attr_value(dw::DW_AT_declaration).is_some() {
                    let tag = entry
                        .attr_value(dw::DW_AT_name)
                        .and_then(|v| die_string(&self.dwarf, unit, v));
                    let full = tag.and_then(|t| find_type_die(self.module, keyword, &t));
                    return match full {
                        Some(d) if d != die => Ok((*self.get(Some(d))?).clone()),
                        _ => Ok(TypeInfo {
                            name: String::new(),
                            size: 0,
                            kind: TypeKind::Struct {
                                keyword,
                                members: None,
                            },
                            die: Some(die),
                        }),
                    };
                }
                TypeKind::Struct {
                    keyword,
                    members: Some(self.members(unit, entry)?),
                }
            }
            dw::DW_TAG_subroutine_type => TypeKind::Function,
            dw::DW_TAG_unspecified_type => TypeKind::Void,
            other => return Err(format!("unsupported type {other}")),
        };
        let size = match kind {
            TypeKind::Pointer { .. } if size == 0 => 8,
            _ => size,
        };
        Ok(TypeInfo {
            name: String::new(),
            size,
            kind,
            die: Some(die),
        })
    }

    fn members(
        &mut self,
        unit: &Unit<'m>,
        entry: &gimli::DebuggingInformationEntry<Reader<'m>>,
    ) -> Res<Vec<Member>> {
        let mut out = Vec::new();
        let mut tree = unit
            .entries_tree(Some(entry.offset()))
            .map_err(|e| e.to_string())?;
        let mut children = tree.root().map_err(|e| e.to_string())?.children();
        while let Some(child) = children.next().map_err(|e| e.to_string())? {
            let e = child.entry();
            // Static members are declarations; inheritance is flattened by the caller.
            if e.tag() != dw::DW_TAG_member || e.attr_value(dw::DW_AT_declaration).is_some() {
                continue;
            }
            let name = e
                .attr_value(dw::DW_AT_name)
                .and_then(|v| die_string(&self.dwarf, unit, v));
            let ty = Self::type_attr(unit, e);
            let mut offset = match e.attr_value(dw::DW_AT_data_member_location) {
                Some(gimli::AttributeValue::Exprloc(expr)) => plus_uconst(expr).unwrap_or(0),
                Some(v) => v.udata_value().unwrap_or(0),
                None => 0,
            };
            let bit_size = e
                .attr_value(dw::DW_AT_bit_size)
                .and_then(|v| v.udata_value());
            let bitfield = match bit_size {
                None => None,
                Some(bits) => {
                    let (byte, shift) = match e
                        .attr_value(dw::DW_AT_data_bit_offset)
                        .and_then(|v| v.udata_value())
                    {
                        // DWARF 4+: bits from the start of the aggregate (little-endian).
                        Some(d) => (d / 8, d % 8),
                        // DWARF 2/3: bit offset from the most significant bit of the storage unit.
                        None => {
                            let storage = e
                                .attr_value(dw::DW_AT_byte_size)
                                .and_then(|v| v.udata_value())
                                .map_or_else(|| self.get(ty).map(|t| t.size), Ok)?;
                            let from_msb = e
                                .attr_value(dw::DW_AT_bit_offset)
                                .and_then(|v| v.udata_value())
                                .unwrap_or(0);
                            (offset, (storage * 8).saturating_sub(from_msb + bits))
                        }
                    };
                    offset = byte;
                    let storage = (shift + bits).div_ceil(8) as u32;
                    Some(Bitfield {
                        shift: shift as u32,
                        bits: bits as u32,
                        storage,
                    })
                }
            };
            let anonymous_keyword = match (&name, ty) {
                (None, Some(_)) => match self.get(ty)?.kind {
                    TypeKind::Struct { keyword, .. } => Some(keyword),
                    _ => None,
                },
                _ => None,
            };
            out.push(Member {
                name,
                ty,
                offset,
                bitfield,
                anonymous_keyword,
            });
        }
        Ok(out)
    }

    /// The type's name as stap prints it (`dwarf_type_name`): typedef and base names as
    /// declared, `struct T`, `T*`, `T const`, `T[]`.
    pub fn name(&mut self, ty: TypeRef, depth: u32) -> Res<String> {
        let Some(die) = ty else {
            return Ok("void".into());
        };
        if depth > 32 {
            return Ok("?".into());
        }
        let (unit, entry) = self.entry(die)?;
        let own = entry
            .attr_value(dw::DW_AT_name)
            .and_then(|v| die_string(&self.dwarf, &unit, v));
        let target = Self::type_attr(&unit, &entry);
        Ok(match entry.tag() {
            dw::DW_TAG_base_type | dw::DW_TAG_typedef | dw::DW_TAG_unspecified_type => {
                own.unwrap_or_default()
            }
            dw::DW_TAG_structure_type => format!("struct {}", own.unwrap_or_default()),
            dw::DW_TAG_union_type => format!("union {}", own.unwrap_or_default()),
            dw::DW_TAG_class_type => format!("class {}", own.unwrap_or_default()),
            dw::DW_TAG_enumeration_type => format!("enum {}", own.unwrap_or_default()),
            dw::DW_TAG_pointer_type => format!("{}*", self.name(target, depth + 1)?),
            dw::DW_TAG_reference_type => format!("{}&", self.name(target, depth + 1)?),
            dw::DW_TAG_rvalue_reference_type => format!("{}&&", self.name(target, depth + 1)?),
            dw::DW_TAG_const_type => format!("{} const", self.name(target, depth + 1)?),
            dw::DW_TAG_volatile_type => format!("{} volatile", self.name(target, depth + 1)?),
            dw::DW_TAG_restrict_type | dw::DW_TAG_atomic_type => self.name(target, depth + 1)?,
            dw::DW_TAG_array_type => format!("{}[]", self.name(target, depth + 1)?),
            dw::DW_TAG_subroutine_type => "void".into(),
            _ => own.unwrap_or_else(|| "?".into()),
        })
    }
}

/// The direct children of `entry` with tag `tag`.
fn children_with_tag<'a>(
    unit: &Unit<'a>,
    entry: &gimli::DebuggingInformationEntry<Reader<'a>>,
    tag: gimli::DwTag,
) -> Res<Vec<gimli::DebuggingInformationEntry<Reader<'a>>>> {
    let mut out = Vec::new();
    let mut tree = unit
        .entries_tree(Some(entry.offset()))
        .map_err(|e| e.to_string())?;
    let mut children = tree.root().map_err(|e| e.to_string())?.children();
    while let Some(child) = children.next().map_err(|e| e.to_string())? {
        if child.entry().tag() == tag {
            out.push(child.entry().clone());
        }
    }
    Ok(out)
}

/// `DW_OP_plus_uconst N` as a member location (DWARF 2 style).
fn plus_uconst(expr: gimli::Expression<Reader<'_>>) -> Option<u64> {
    let mut bytes = expr.0;
    let enc = gimli::Encoding {
        address_size: 8,
        format: gimli::Format::Dwarf32,
        version: 4,
    };
    match gimli::Operation::parse(&mut bytes, enc).ok()? {
        gimli::Operation::PlusConstant { value } => Some(value),
        gimli::Operation::UnsignedConstant { value } => Some(value),
        _ => None,
    }
}

/// The DIE of a complete type named `keyword name` (`struct pt`) anywhere in the module: what
/// `@cast(p, "struct pt")` and incomplete declarations resolve to. Typedef names are found
/// with `keyword` = "".
pub fn find_type_die(module: &Module, keyword: &str, name: &str) -> Option<u64> {
    let tag = match keyword {
        "struct" => dw::DW_TAG_structure_type,
        "union" => dw::DW_TAG_union_type,
        "class" => dw::DW_TAG_class_type,
        "enum" => dw::DW_TAG_enumeration_type,
        _ => dw::DW_TAG_typedef,
    };
    let dwarf = module.dwarf();
    let mut headers = dwarf.units();
    while let Ok(Some(header)) = headers.next() {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        let mut entries = unit.entries();
        while let Ok(Some(e)) = entries.next_dfs() {
            let matches_tag =
                e.tag() == tag || (keyword.is_empty() && e.tag() == dw::DW_TAG_base_type);
            if !matches_tag || e.attr_value(dw::DW_AT_declaration).is_some() {
                continue;
            }
            let n = e
                .attr_value(dw::DW_AT_name)
                .and_then(|v| die_string(&dwarf, &unit, v));
            if n.as_deref() == Some(name) {
                return Some(global_offset(&unit, e.offset()));
            }
        }
    }
    None
}
