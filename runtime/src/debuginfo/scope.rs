//! Variables in scope at a probe site: the parameters and locals of the function instance
//! (and of the lexical blocks and inlined calls around the pc, innermost first), then the
//! compilation unit's globals and file statics; each with its type and its location at the
//! pc (the location-list entry covering it, the frame base folded in).

use gimli::constants as dw;

use super::dwarf_index::{die_string, global_offset};
use super::elf::Reader;
use super::location::{CompileContext, CompileError, Location};
use super::types::{TypeRef, Types};

type Unit<'a> = gimli::Unit<Reader<'a>>;
type Die<'a> = gimli::DebuggingInformationEntry<Reader<'a>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableKind {
    Parameter,
    Local,
    Global,
}

/// One variable visible at the site.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub die: u64,
    pub ty: TypeRef,
    pub kind: VariableKind,
    /// Where it is at the pc, or why it is not available there.
    pub location: Result<Location, CompileError>,
    /// The DIE has `DW_AT_location` or `DW_AT_const_value` (what `-L` lists).
    pub has_location: bool,
}

/// What is visible at one pc of one function instance.
#[derive(Debug, Clone)]
pub struct Scope {
    pub pc: u64,
    /// `.debug_info` offset of the function instance.
    pub function_die: u64,
    /// Function-level and block variables, innermost scope first, each scope in DIE order.
    pub locals: Vec<Variable>,
    /// The unit's globals and statics.
    pub globals: Vec<Variable>,
}

impl Scope {
    /// Finds the variables around `pc` in the function instance at `function_die`.
    /// `outer_die` is the out-of-line function containing the pc (for the frame base), and
    /// `entry_pc` its first instruction. With `nested` false only the function's own
    /// variables count (stap's view at a function probe); with true also those of the
    /// blocks and inlined calls around the pc (statement probes).
    pub fn at(
        types: &mut Types<'_>,
        function_die: u64,
        outer_die: u64,
        entry_pc: u64,
        pc: u64,
        nested: bool,
    ) -> Result<Scope, String> {
        let (unit, _) = types.entry(function_die)?;
        let dwarf = types.module().dwarf();
        let encoding = unit.encoding();
        let frame_base = {
            let (u, outer) = types.entry(outer_die)?;
            match outer.attr_value(dw::DW_AT_frame_base) {
                Some(v) => {
                    let cx = CompileContext {
                        encoding,
                        frame_base: None,
                        at_entry: pc == entry_pc,
                        resolve_index: &|_| None,
                        tls: None,
                    };
                    location_at(&dwarf, &u, v, pc, &cx)
                        .ok()
                        .and_then(|l| l.as_frame_base().ok())
                }
                None => None,
            }
        };
        let resolve_index = |i: gimli::DebugAddrIndex<usize>| dwarf.address(&unit, i).ok();
        let module = types.module();
        let tls = module.tls_block_offset().map(|block| {
            (
                super::registers::thread_pointer_register(module.arch),
                block,
            )
        });
        let cx = CompileContext {
            encoding,
            frame_base: frame_base.as_deref(),
            at_entry: pc == entry_pc,
            resolve_index: &resolve_index,
            tls,
        };
        let off = gimli::DebugInfoOffset(function_die as usize)
            .to_unit_offset(&unit.header)
            .ok_or("bad DIE offset")?;
        let mut scopes: Vec<Vec<Variable>> = Vec::new();
        let mut tree = unit.entries_tree(Some(off)).map_err(|e| e.to_string())?;
        let root = tree.root().map_err(|e| e.to_string())?;
        let walk = Walk {
            dwarf: &dwarf,
            unit: &unit,
            pc,
            cx: &cx,
            nested,
        };
        walk.collect(root, &mut scopes, true)?;
        let locals = scopes.into_iter().rev().flatten().collect();

        let globals = top_level_variables(&dwarf, &unit, pc, &cx)?;
        Ok(Scope {
            pc,
            function_die,
            locals,
            globals,
        })
    }

    /// The globals and file statics of the unit starting at `.debug_info` offset
    /// `unit_offset` (for `@var("name@file.c")` in another unit).
    pub fn unit_globals(types: &mut Types<'_>, unit_offset: u64) -> Result<Vec<Variable>, String> {
        let unit = types.unit_of(unit_offset)?;
        let dwarf = types.module().dwarf();
        let module = types.module();
        let resolve_index = |i: gimli::DebugAddrIndex<usize>| dwarf.address(&unit, i).ok();
        let cx = CompileContext {
            encoding: unit.encoding(),
            frame_base: None,
            at_entry: false,
            resolve_index: &resolve_index,
            tls: module.tls_block_offset().map(|block| {
                (
                    super::registers::thread_pointer_register(module.arch),
                    block,
                )
            }),
        };
        top_level_variables(&dwarf, &unit, 0, &cx)
    }

    /// `$name`: innermost local or parameter first, then the unit's globals.
    pub fn find(&self, name: &str) -> Option<&Variable> {
        self.locals
            .iter()
            .find(|v| v.name == name)
            .or_else(|| self.globals.iter().find(|v| v.name == name))
    }

    pub fn parameters(&self) -> impl Iterator<Item = &Variable> {
        // Parameters live in the function's own scope, which comes last.
        self.locals
            .iter()
            .filter(|v| v.kind == VariableKind::Parameter)
    }

    /// Every local name once (innermost wins), in scope order.
    pub fn visible_locals(&self) -> Vec<&Variable> {
        let mut seen = rustc_hash::FxHashSet::default();
        self.locals
            .iter()
            .filter(|v| seen.insert(v.name.as_str()))
            .collect()
    }

    /// Names in scope, for "alternatives" in error messages.
    pub fn alternatives(&self) -> String {
        let names: Vec<&str> = self
            .visible_locals()
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        names.join(" ")
    }
}

/// The unit's top-level variables that have a location.
fn top_level_variables<'a>(
    dwarf: &gimli::Dwarf<Reader<'a>>,
    unit: &Unit<'a>,
    pc: u64,
    cx: &CompileContext<'_>,
) -> Result<Vec<Variable>, String> {
    let mut globals = Vec::new();
    let mut tree = unit.entries_tree(None).map_err(|e| e.to_string())?;
    let root = tree.root().map_err(|e| e.to_string())?;
    let mut children = root.children();
    while let Some(child) = children.next().map_err(|e| e.to_string())? {
        let e = child.entry();
        if e.tag() == dw::DW_TAG_variable
            && let Some(v) = variable(dwarf, unit, e, pc, cx, VariableKind::Global)
            && v.has_location
        {
            globals.push(v);
        }
    }
    Ok(globals)
}

/// What walking a function's scopes needs.
struct Walk<'w, 'a> {
    dwarf: &'w gimli::Dwarf<Reader<'a>>,
    unit: &'w Unit<'a>,
    pc: u64,
    cx: &'w CompileContext<'w>,
    /// Descend into blocks and inlined calls around the pc.
    nested: bool,
}

impl<'a> Walk<'_, 'a> {
    /// Walks a function (or inlined instance) and the blocks containing the pc, pushing one
    /// variable list per scope, outermost first.
    fn collect(
        &self,
        node: gimli::EntriesTreeNode<'_, '_, Reader<'a>>,
        scopes: &mut Vec<Vec<Variable>>,
        is_root: bool,
    ) -> Result<(), String> {
        let (dwarf, unit) = (self.dwarf, self.unit);
        let entry = node.entry().clone();
        if !is_root && !contains(dwarf, unit, &entry, self.pc) {
            return Ok(());
        }
        scopes.push(Vec::new());
        let mut inner = Vec::new();
        let mut children = node.children();
        while let Some(child) = children.next().map_err(|e| e.to_string())? {
            let e = child.entry();
            let kind = match e.tag() {
                dw::DW_TAG_formal_parameter => VariableKind::Parameter,
                dw::DW_TAG_variable => VariableKind::Local,
                dw::DW_TAG_lexical_block | dw::DW_TAG_inlined_subroutine => {
                    if self.nested {
                        inner.push(global_offset(unit, e.offset()));
                    }
                    continue;
                }
                _ => continue,
            };
            if let Some(v) = variable(dwarf, unit, e, self.pc, self.cx, kind) {
                scopes.last_mut().expect("pushed above").push(v);
            }
        }
        for die in inner {
            let off = gimli::DebugInfoOffset(die as usize)
                .to_unit_offset(&unit.header)
                .ok_or("bad DIE offset")?;
            let mut tree = unit.entries_tree(Some(off)).map_err(|e| e.to_string())?;
            let root = tree.root().map_err(|e| e.to_string())?;
            self.collect(root, scopes, false)?;
        }
        Ok(())
    }
}

fn contains<'a>(
    dwarf: &gimli::Dwarf<Reader<'a>>,
    unit: &Unit<'a>,
    entry: &Die<'a>,
    pc: u64,
) -> bool {
    let Ok(mut ranges) = dwarf.die_ranges(unit, entry) else {
        return false;
    };
    while let Ok(Some(r)) = ranges.next() {
        if (r.begin..r.end).contains(&pc) {
            return true;
        }
    }
    false
}

fn variable<'a>(
    dwarf: &gimli::Dwarf<Reader<'a>>,
    unit: &Unit<'a>,
    e: &Die<'a>,
    pc: u64,
    cx: &CompileContext<'_>,
    kind: VariableKind,
) -> Option<Variable> {
    // Names and types may sit on the abstract origin (inlined instances) or the declaration
    // (a global's definition refers to it with DW_AT_specification).
    let origin = super::dwarf_index::origin(unit, e).ok().flatten();
    let attr = |at| super::dwarf_index::attr_with_origin(unit, e, origin.as_ref(), at);
    let name = attr(dw::DW_AT_name).and_then(|v| die_string(dwarf, unit, v))?;
    if kind == VariableKind::Global && e.attr_value(dw::DW_AT_declaration).is_some() {
        return None;
    }
    let ty = match attr(dw::DW_AT_type)? {
        gimli::AttributeValue::UnitRef(o) => Some(global_offset(unit, o)),
        gimli::AttributeValue::DebugInfoRef(o) => Some(o.0 as u64),
        _ => None,
    };
    let (location, has_location) = match (
        e.attr_value(dw::DW_AT_location),
        e.attr_value(dw::DW_AT_const_value),
    ) {
        (Some(v), _) => (location_at(dwarf, unit, v, pc, cx), true),
        (None, Some(c)) => (Ok(Location::implicit(const_bytes(c))), true),
        (None, None) => (
            Err(CompileError::Unavailable(
                "has no location (optimized out)".into(),
            )),
            false,
        ),
    };
    Some(Variable {
        name,
        die: global_offset(unit, e.offset()),
        ty,
        kind,
        location,
        has_location,
    })
}

fn const_bytes(v: gimli::AttributeValue<Reader<'_>>) -> Vec<u8> {
    match v {
        gimli::AttributeValue::Block(b) => b.slice().to_vec(),
        gimli::AttributeValue::Sdata(s) => s.to_le_bytes().to_vec(),
        other => other.udata_value().unwrap_or(0).to_le_bytes().to_vec(),
    }
}

/// The location in effect at `pc` from a `DW_AT_location`/`DW_AT_frame_base` value.
fn location_at<'a>(
    dwarf: &gimli::Dwarf<Reader<'a>>,
    unit: &Unit<'a>,
    value: gimli::AttributeValue<Reader<'a>>,
    pc: u64,
    cx: &CompileContext<'_>,
) -> Result<Location, CompileError> {
    if let gimli::AttributeValue::Exprloc(expr) = value {
        return Location::compile(expr, cx);
    }
    let malformed = |e: gimli::Error| CompileError::Malformed(e.to_string());
    let Some(mut list) = dwarf.attr_locations(unit, value).map_err(malformed)? else {
        return Err(CompileError::Malformed("unexpected location form".into()));
    };
    while let Some(entry) = list.next().map_err(malformed)? {
        if (entry.range.begin..entry.range.end).contains(&pc) {
            return Location::compile(entry.data, cx);
        }
    }
    Err(CompileError::Unavailable(format!(
        "is not available at pc {pc:#x} (no location-list entry covers it)"
    )))
}
