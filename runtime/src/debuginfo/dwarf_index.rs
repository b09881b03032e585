//! The function index of a module: every DWARF subprogram with code (out-of-line instances)
//! and every `DW_TAG_inlined_subroutine` (inlined instances), with names, declaration files
//! and lines, address ranges and the DIE they come from. Built once per module by one pass
//! over `.debug_info`.

use std::ops::Range;

use gimli::constants as dw;
use rustc_hash::FxHashMap;

use super::elf::{Module, Reader};

pub type Unit<'a> = gimli::Unit<Reader<'a>>;
pub type Die<'a> = gimli::DebuggingInformationEntry<Reader<'a>>;

/// A compilation unit as far as probe resolution cares.
#[derive(Debug, Clone)]
pub struct CompileUnit {
    /// `.debug_info` offset of the unit header (to reopen it).
    pub offset: u64,
    pub name: String,
    pub comp_dir: String,
    pub producer: String,
    /// Whether GCC emitted location information that is valid from the first instruction of
    /// a function (stap's `dwflpp::has_valid_locs`): GCC ≥ 4.5 with optimization enabled.
    /// Without it, the probe goes after the prologue.
    pub valid_locs: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceKind {
    /// A `DW_TAG_subprogram` with code.
    OutOfLine,
    /// A `DW_TAG_inlined_subroutine`.
    Inlined,
}

/// One function instance with code.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub linkage_name: Option<String>,
    pub cu: usize,
    /// `.debug_info` offset of this instance's DIE.
    pub die: u64,
    /// `.debug_info` offset of the DIE holding the declaration (the abstract origin for
    /// inlined and concrete instances of inline functions; the DIE itself otherwise).
    pub origin: u64,
    pub decl_file: Option<String>,
    pub decl_line: u64,
    /// `DW_AT_external`.
    pub external: bool,
    /// `DW_AT_inline` says the function was declared (or became) inline.
    pub declared_inline: bool,
    pub kind: InstanceKind,
    pub ranges: Vec<Range<u64>>,
    /// `DW_AT_entry_pc`, else the lowest address (`DW_AT_low_pc`).
    pub entry_pc: u64,
    /// For inlined instances: where the call was.
    pub call_file: Option<String>,
    pub call_line: u64,
}

impl Function {
    pub fn contains(&self, address: u64) -> bool {
        self.ranges.iter().any(|r| r.contains(&address))
    }

    pub fn low_pc(&self) -> u64 {
        self.ranges
            .iter()
            .map(|r| r.start)
            .min()
            .unwrap_or(self.entry_pc)
    }
}

#[derive(Debug, Default)]
pub struct FunctionIndex {
    pub units: Vec<CompileUnit>,
    pub functions: Vec<Function>,
    by_name: FxHashMap<String, Vec<usize>>,
}

impl FunctionIndex {
    pub fn build(module: &Module) -> gimli::Result<FunctionIndex> {
        let mut index = FunctionIndex::default();
        if !module.has_dwarf() {
            return Ok(index);
        }
        let dwarf = module.dwarf();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next()? {
            let Some(offset) = header.debug_info_offset() else {
                continue;
            };
            let unit = dwarf.unit(header)?;
            let cu = index.units.len();
            index.units.push(read_unit(&dwarf, &unit, offset.0 as u64));
            let files = FileTable::new(&dwarf, &unit);
            let mut entries = unit.entries();
            while let Some(entry) = entries.next_dfs()? {
                let kind = match entry.tag() {
                    dw::DW_TAG_subprogram => InstanceKind::OutOfLine,
                    dw::DW_TAG_inlined_subroutine => InstanceKind::Inlined,
                    _ => continue,
                };
                if let Some(f) = read_function(&dwarf, &unit, &files, entry, kind, cu)? {
                    index.functions.push(f);
                }
            }
        }
        index.functions.sort_by_key(|f| (f.entry_pc, f.die));
        for (i, f) in index.functions.iter().enumerate() {
            index.by_name.entry(f.name.clone()).or_default().push(i);
        }
        Ok(index)
    }

    pub fn by_name(&self, name: &str) -> impl Iterator<Item = &Function> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.functions[i])
    }

    /// The out-of-line instances whose entry pc is `address`.
    pub fn at_entry(&self, address: u64) -> impl Iterator<Item = &Function> {
        let start = self.functions.partition_point(|f| f.entry_pc < address);
        self.functions[start..]
            .iter()
            .take_while(move |f| f.entry_pc == address)
            .filter(|f| f.kind == InstanceKind::OutOfLine)
    }

    /// The innermost function instance containing `address`: an inlined instance wins over
    /// the function it was inlined into.
    pub fn innermost(&self, address: u64) -> Option<&Function> {
        self.containing(address)
            .max_by_key(|f| (f.kind == InstanceKind::Inlined, std::cmp::Reverse(span(f))))
    }

    /// The out-of-line function containing `address`.
    pub fn outermost(&self, address: u64) -> Option<&Function> {
        self.containing(address)
            .find(|f| f.kind == InstanceKind::OutOfLine)
    }

    pub fn containing(&self, address: u64) -> impl Iterator<Item = &Function> {
        self.functions.iter().filter(move |f| f.contains(address))
    }
}

fn span(f: &Function) -> u64 {
    f.ranges.iter().map(|r| r.end - r.start).sum()
}

fn read_unit(dwarf: &gimli::Dwarf<Reader<'_>>, unit: &Unit<'_>, offset: u64) -> CompileUnit {
    let string = |at| {
        unit.entries()
            .next_dfs()
            .ok()
            .flatten()
            .and_then(|root| root.attr_value(at))
            .and_then(|v| dwarf.attr_string(unit, v).ok())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let producer = string(dw::DW_AT_producer);
    CompileUnit {
        offset,
        name: string(dw::DW_AT_name),
        comp_dir: string(dw::DW_AT_comp_dir),
        valid_locs: gcc_with_valid_locs(&producer),
        producer,
    }
}

/// stap (`dwflpp::has_valid_locs`): GCC 4.5 and later emit location lists that are right at
/// the first instruction when optimizing; then no prologue skipping is needed. The producer
/// string carries the command-line flags (`GNU C17 12.2.0 -mtune=generic -g -O2`).
fn gcc_with_valid_locs(producer: &str) -> bool {
    let Some(rest) = producer.strip_prefix("GNU ") else {
        return false;
    };
    let version = rest
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()));
    let Some(version) = version else { return false };
    let mut nums = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
    if (major, minor) < (4, 5) {
        return false;
    }
    // The last -O flag wins, as on the GCC command line.
    let level = rest
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("-O"))
        .next_back();
    matches!(level, Some(l) if l != "0")
}

/// Resolves `DW_AT_decl_file`/`DW_AT_call_file` indices to paths: the file name joined to its
/// include directory (what elfutils' `dwarf_decl_file` and hence stap print).
pub struct FileTable {
    names: Vec<Option<String>>,
    base: u64,
}

impl FileTable {
    pub fn new(dwarf: &gimli::Dwarf<Reader<'_>>, unit: &Unit<'_>) -> FileTable {
        let Some(program) = &unit.line_program else {
            return FileTable {
                names: Vec::new(),
                base: 0,
            };
        };
        let header = program.header();
        let base = if header.version() >= 5 { 0 } else { 1 };
        let string = |v| {
            dwarf
                .attr_string(unit, v)
                .ok()
                .map(|s| s.to_string_lossy().into_owned())
        };
        let names = header
            .file_names()
            .iter()
            .map(|file| {
                let name = string(file.path_name())?;
                if name.starts_with('/') {
                    return Some(name);
                }
                match file.directory(header).and_then(string) {
                    Some(dir) if !dir.is_empty() => {
                        Some(format!("{}/{name}", dir.trim_end_matches('/')))
                    }
                    _ => Some(name),
                }
            })
            .collect();
        FileTable { names, base }
    }

    pub fn get(&self, index: u64) -> Option<&str> {
        self.names
            .get(index.checked_sub(self.base)? as usize)?
            .as_deref()
    }
}

/// Follows `DW_AT_abstract_origin` and `DW_AT_specification` (within the unit) to the DIE
/// that carries the name and declaration.
pub fn origin<'a>(unit: &Unit<'a>, entry: &Die<'a>) -> gimli::Result<Option<Die<'a>>> {
    let mut current: Option<Die<'a>> = None;
    for _ in 0..8 {
        let e = current.as_ref().unwrap_or(entry);
        if e.attr_value(dw::DW_AT_name).is_some() && current.is_some() {
            break;
        }
        let next = [dw::DW_AT_abstract_origin, dw::DW_AT_specification]
            .into_iter()
            .find_map(|a| match e.attr_value(a) {
                Some(gimli::AttributeValue::UnitRef(o)) => Some(o),
                _ => None,
            });
        match next {
            Some(o) => current = Some(unit.entry(o)?),
            None => break,
        }
    }
    Ok(current)
}

/// Reads an attribute from the DIE or, failing that, from its origin chain.
pub fn attr_with_origin<'a>(
    unit: &Unit<'a>,
    entry: &Die<'a>,
    origin: Option<&Die<'a>>,
    at: gimli::DwAt,
) -> Option<gimli::AttributeValue<Reader<'a>>> {
    entry
        .attr_value(at)
        .or_else(|| origin.and_then(|o| o.attr_value(at)))
        .or_else(|| {
            // A concrete out-of-line instance → abstract DIE → its declaration (specification).
            let o = origin?;
            let gimli::AttributeValue::UnitRef(spec) = o.attr_value(dw::DW_AT_specification)?
            else {
                return None;
            };
            unit.entry(spec).ok()?.attr_value(at)
        })
}

pub fn die_string<'a>(
    dwarf: &gimli::Dwarf<Reader<'a>>,
    unit: &Unit<'a>,
    v: gimli::AttributeValue<Reader<'a>>,
) -> Option<String> {
    dwarf
        .attr_string(unit, v)
        .ok()
        .map(|s| s.to_string_lossy().into_owned())
}

/// A `DW_AT_decl_file`/`DW_AT_call_file` value (gimli normalizes them to `FileIndex`).
pub fn file_index(v: gimli::AttributeValue<Reader<'_>>) -> Option<u64> {
    match v {
        gimli::AttributeValue::FileIndex(i) => Some(i),
        other => other.udata_value(),
    }
}

pub fn global_offset(unit: &Unit<'_>, offset: gimli::UnitOffset) -> u64 {
    offset
        .to_debug_info_offset(&unit.header)
        .map_or(0, |o| o.0 as u64)
}

fn read_function<'a>(
    dwarf: &gimli::Dwarf<Reader<'a>>,
    unit: &Unit<'a>,
    files: &FileTable,
    entry: &Die<'a>,
    kind: InstanceKind,
    cu: usize,
) -> gimli::Result<Option<Function>> {
    let mut ranges = Vec::new();
    let mut iter = dwarf.die_ranges(unit, entry)?;
    while let Some(r) = iter.next()? {
        if r.begin < r.end {
            ranges.push(r.begin..r.end);
        }
    }
    // Declarations, abstract instances and discarded (address 0) functions have no code here.
    // Inlined instances whose code merged into the caller's keep an empty range at their
    // entry pc, and stap still probes them there.
    let empty_inline_at = match (kind, entry.attr_value(dw::DW_AT_low_pc)) {
        (InstanceKind::Inlined, Some(v)) => dwarf.attr_address(unit, v)?.filter(|&a| a != 0),
        _ => None,
    };
    if (ranges.is_empty() || ranges.iter().all(|r| r.start == 0)) && empty_inline_at.is_none() {
        return Ok(None);
    }
    let origin = origin(unit, entry)?;
    let attr = |at| attr_with_origin(unit, entry, origin.as_ref(), at);
    let Some(name) = attr(dw::DW_AT_name).and_then(|v| die_string(dwarf, unit, v)) else {
        return Ok(None);
    };
    let linkage_name = attr(dw::DW_AT_linkage_name)
        .or_else(|| attr(dw::DW_AT_MIPS_linkage_name))
        .and_then(|v| die_string(dwarf, unit, v));
    let udata =
        |v: Option<gimli::AttributeValue<Reader<'a>>>| v.and_then(|v| v.udata_value()).unwrap_or(0);
    let decl_file = attr(dw::DW_AT_decl_file)
        .and_then(file_index)
        .and_then(|i| files.get(i))
        .map(str::to_owned);
    let decl_line = udata(attr(dw::DW_AT_decl_line));
    let external = matches!(
        attr(dw::DW_AT_external),
        Some(gimli::AttributeValue::Flag(true))
    );
    let declared_inline = matches!(
        attr(dw::DW_AT_inline),
        Some(gimli::AttributeValue::Inline(i)) if i == dw::DW_INL_declared_inlined || i == dw::DW_INL_inlined
    );
    let low = ranges
        .iter()
        .map(|r| r.start)
        .min()
        .or(empty_inline_at)
        .unwrap_or(0);
    let entry_pc = match entry.attr_value(dw::DW_AT_entry_pc) {
        Some(gimli::AttributeValue::Addr(a)) => a,
        Some(v @ gimli::AttributeValue::DebugAddrIndex(_)) => {
            dwarf.attr_address(unit, v)?.unwrap_or(low)
        }
        // DWARF 5 allows entry_pc as an offset from low_pc.
        Some(v) => v.udata_value().map_or(low, |off| low + off),
        None => low,
    };
    let (call_file, call_line) = if kind == InstanceKind::Inlined {
        let f = entry
            .attr_value(dw::DW_AT_call_file)
            .and_then(file_index)
            .and_then(|i| files.get(i));
        (
            f.map(str::to_owned),
            udata(entry.attr_value(dw::DW_AT_call_line)),
        )
    } else {
        (None, 0)
    };
    let die = global_offset(unit, entry.offset());
    Ok(Some(Function {
        name,
        linkage_name,
        cu,
        die,
        origin: origin
            .as_ref()
            .map_or(die, |o| global_offset(unit, o.offset())),
        decl_file,
        decl_line,
        external,
        declared_inline,
        kind,
        ranges,
        entry_pc,
        call_file,
        call_line,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn producer_flags_decide_valid_locations() {
        use super::gcc_with_valid_locs as v;
        assert!(v("GNU C17 12.2.0 -mtune=generic -march=x86-64 -g -O2"));
        assert!(!v("GNU C17 12.2.0 -mtune=generic -march=x86-64 -g"));
        assert!(!v("GNU C17 12.2.0 -g -O2 -O0"));
        assert!(!v("GNU C 4.4.7 -O2"));
        assert!(!v("clang version 16.0.6 -O2"));
        assert!(v("GNU C11 8.5.0 -Os"));
    }
}
