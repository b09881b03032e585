//! Target expressions (`$var->a->b[3]`, `&$var->x`, `$var$`, `$return`, `@var("g@f.c")`,
//! `@cast(p, "struct t")->m`, `$$parms`...) compiled for one probe site into a read plan: a
//! location program for the base, member/index/dereference steps, and a final conversion to a
//! script value (a long, or a string for pretty printing).
//!
//! *For `.return` sites*: `$return` is read at the return hit; parameters must be read at the
//! entry hit of the same call (the engine runs those plans there), since after the return the
//! registers they lived in are gone — stap's implicit `@entry`.

use std::rc::Rc;

use super::dwarf_index::{FunctionIndex, InstanceKind};
use super::elf::Module;
use super::error::{DebugInfoError, Fault, Result, VariableNotFound};
use super::location::{CompileError, Hit, Location, Object, Piece, PieceLocation};
use super::pretty::{self, PrettyNode};
use super::registers::{self, extend};
use super::resolve::{ProbeSite, SiteKind};
use super::scope::{Scope, Variable};
use super::types::{TypeInfo, TypeKind, TypeRef, Types};

/// How a target expression is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pretty {
    None,
    /// `$var$`
    Shallow,
    /// `$var$$`
    Deep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Index {
    Const(i64),
    /// The value of script input `n` at run time (`$arr[i]`).
    Input(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accessor {
    Member(String),
    Index(Index),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetBase {
    /// `$name`
    Variable(String),
    /// `$return`
    Return,
    /// `@var("name[@file]")`
    Global { name: String, file: Option<String> },
    /// `@cast(EXPR, "type")`: the address comes from script input `input`.
    Cast { type_name: String, input: usize },
}

/// A target expression as the front end hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetExpr {
    pub base: TargetBase,
    pub path: Vec<Accessor>,
    pub address_of: bool,
    pub pretty: Pretty,
}

impl TargetExpr {
    /// Parses the textual forms `[&]$name[->m|[N]]*[$|$$]`, `$return`, and
    /// `@var("name@file")…` (numeric indices only; the front end builds other forms).
    pub fn parse(text: &str) -> Result<TargetExpr> {
        let bad = |reason: &str| DebugInfoError::TargetExpr {
            message: format!("invalid target expression '{text}': {reason}"),
        };
        let mut s = text.trim();
        let address_of = s.starts_with('&');
        s = s.trim_start_matches('&');
        let pretty = if s.ends_with("$$") && s.len() > 2 {
            s = &s[..s.len() - 2];
            Pretty::Deep
        } else if s.ends_with('$') && s.len() > 1 && !s[..s.len() - 1].ends_with('$') {
            s = &s[..s.len() - 1];
            Pretty::Shallow
        } else {
            Pretty::None
        };
        let (base, mut rest) = if let Some(r) = s.strip_prefix("@var(\"") {
            let end = r.find("\")").ok_or_else(|| bad("unterminated @var"))?;
            let spec = &r[..end];
            let (name, file) = match spec.split_once('@') {
                Some((n, f)) => (n.to_owned(), Some(f.to_owned())),
                None => (spec.to_owned(), None),
            };
            (TargetBase::Global { name, file }, &r[end + 2..])
        } else if let Some(r) = s.strip_prefix('$') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            if end == 0 {
                return Err(bad("missing variable name"));
            }
            let name = &r[..end];
            let base = if name == "return" {
                TargetBase::Return
            } else {
                TargetBase::Variable(name.to_owned())
            };
            (base, &r[end..])
        } else {
            return Err(bad("expected '$' or '@var'"));
        };
        let mut path = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("->") {
                let end = r
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(r.len());
                if end == 0 {
                    return Err(bad("missing member name after '->'"));
                }
                path.push(Accessor::Member(r[..end].to_owned()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| bad("missing ']'"))?;
                let n: i64 = r[..end]
                    .trim()
                    .parse()
                    .map_err(|_| bad("array index must be a number"))?;
                path.push(Accessor::Index(Index::Const(n)));
                rest = &r[end + 1..];
            } else {
                return Err(bad("expected '->' or '['"));
            }
        }
        Ok(TargetExpr {
            base,
            path,
            address_of,
            pretty,
        })
    }
}

/// The script type of a compiled target expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptType {
    Long,
    String,
}

/// A target value at a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetValue {
    Long(i64),
    String(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PlanBase {
    Location {
        location: Location,
        size: u64,
    },
    /// An address from a script input (`@cast`).
    Input(usize),
    /// An SDT marker argument (`$argN` at a `.mark` site): already a value.
    Sdt(super::sdt::SdtArg),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(u64),
    /// Load the pointer the object holds; continue at the address it points to.
    Deref,
    Index {
        stride: u64,
        index: Index,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Final {
    Integer {
        size: u64,
        signed: bool,
    },
    Bitfield {
        shift: u32,
        bits: u32,
        storage: u32,
        signed: bool,
    },
    /// The object's address (`&$x`, arrays).
    Address,
    /// IEEE double bits as a long (stap ≥ 4.5 widens floats).
    Float {
        size: u64,
    },
    Pretty(PrettyNode),
}

/// What to do at a hit to get one target value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlan {
    base: PlanBase,
    steps: Vec<Step>,
    result: Final,
}

/// The result of compiling a target expression.
#[derive(Debug, Clone)]
pub struct CompiledTarget {
    pub plan: TargetPlan,
    pub script_type: ScriptType,
    /// The C type of the result as stap names it.
    pub c_type: String,
    /// The result's type DIE, for autocast in later `->` accesses.
    pub type_die: TypeRef,
}

impl TargetPlan {
    /// True when the engine must supply `Hit::cfa`.
    pub fn needs_cfa(&self) -> bool {
        matches!(&self.base, PlanBase::Location { location, .. } if location.needs_cfa())
    }

    /// Reads the value at a hit. `inputs` are the script values the expression refers to
    /// (`Index::Input`, `@cast` addresses).
    pub fn read(&self, hit: &Hit<'_>, inputs: &[i64]) -> std::result::Result<TargetValue, Fault> {
        let input = |i: usize| {
            inputs
                .get(i)
                .copied()
                .ok_or_else(|| Fault::Unavailable(format!("missing input {i}")))
        };
        let mut object = match &self.base {
            PlanBase::Location { location, size } => location.read(hit, *size)?,
            PlanBase::Input(i) => Object::Memory(input(*i)? as u64),
            PlanBase::Sdt(arg) => {
                return Ok(TargetValue::Long(arg.read(hit.regs, hit.mem, hit.bias)?));
            }
        };
        for step in &self.steps {
            object = match step {
                Step::Member(off) => pretty::sub_object(&object, *off),
                Step::Deref => Object::Memory(pretty::load(&object, 0, 8, hit.mem)?),
                Step::Index { stride, index } => {
                    let i = match index {
                        Index::Const(c) => *c,
                        Index::Input(n) => input(*n)?,
                    };
                    match object {
                        Object::Memory(a) => {
                            Object::Memory(a.wrapping_add((i as u64).wrapping_mul(*stride)))
                        }
                        Object::Bytes(_) if i < 0 => {
                            return Err(Fault::Unavailable(
                                "negative index into a register value".into(),
                            ));
                        }
                        Object::Bytes(_) => pretty::sub_object(&object, i as u64 * stride),
                    }
                }
            };
        }
        Ok(match &self.result {
            Final::Integer { size, signed } => TargetValue::Long(extend(
                pretty::load(&object, 0, *size as usize, hit.mem)?,
                *size as usize,
                *signed,
            )),
            Final::Bitfield {
                shift,
                bits,
                storage,
                signed,
            } => {
                let raw = pretty::load(&object, 0, *storage as usize, hit.mem)? >> shift;
                TargetValue::Long(bitfield_value(raw, *bits, *signed))
            }
            Final::Address => match object {
                Object::Memory(a) => TargetValue::Long(a as i64),
                Object::Bytes(_) => {
                    return Err(Fault::Unavailable(
                        "value is not in memory; it has no address".into(),
                    ));
                }
            },
            Final::Float { size } => {
                let raw = pretty::load(&object, 0, *size as usize, hit.mem)?;
                let v = if *size == 4 {
                    f32::from_bits(raw as u32) as f64
                } else {
                    f64::from_bits(raw)
                };
                TargetValue::Long(v.to_bits() as i64)
            }
            Final::Pretty(node) => TargetValue::String(pretty::render(node, &object, hit)),
        })
    }
}

fn bitfield_value(raw: u64, bits: u32, signed: bool) -> i64 {
    if bits >= 64 {
        return raw as i64;
    }
    let masked = raw & ((1u64 << bits) - 1);
    if signed {
        ((masked << (64 - bits)) as i64) >> (64 - bits)
    } else {
        masked as i64
    }
}

/// Which `$$` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarSet {
    Parms,
    Locals,
    Vars,
    Return,
}

/// A compiled `$$parms`/`$$locals`/`$$vars`/`$$return` (optionally with `$`/`$$`).
#[derive(Debug, Clone)]
pub struct VarsPlan {
    entries: Vec<(String, VarsEntry)>,
}

#[derive(Debug, Clone)]
enum VarsEntry {
    /// Not available at this pc: `name=?`.
    Unavailable,
    /// Printed as is (`{...}`, `[...]`, `?`).
    Literal(&'static str),
    /// A scalar printed `%#x`, or a pretty string.
    Plan(TargetPlan),
}

impl VarsPlan {
    pub fn needs_cfa(&self) -> bool {
        self.entries
            .iter()
            .any(|(_, e)| matches!(e, VarsEntry::Plan(p) if p.needs_cfa()))
    }

    /// The string stap builds: `a=0x1 b={...} c=?`.
    pub fn read(&self, hit: &Hit<'_>) -> std::result::Result<String, Fault> {
        let mut parts = Vec::with_capacity(self.entries.len());
        for (name, entry) in &self.entries {
            let value = match entry {
                VarsEntry::Unavailable => "?".to_owned(),
                VarsEntry::Literal(s) => (*s).to_owned(),
                VarsEntry::Plan(p) => match p.read(hit, &[])? {
                    TargetValue::Long(v) => format!("{:#x}", v as u64),
                    TargetValue::String(s) => s,
                },
            };
            parts.push(format!("{name}={value}"));
        }
        Ok(parts.join(" "))
    }
}

/// Compiles target expressions for one probe site.
pub struct TargetCompiler<'m> {
    module: &'m Module,
    types: Types<'m>,
    site: ProbeSite,
    scope: Option<Scope>,
    /// The function's return type, for `$return`.
    return_type: Option<TypeRef>,
    function_name: String,
    file: String,
}

impl<'m> TargetCompiler<'m> {
    pub fn new(module: &'m Module, site: &ProbeSite) -> Result<TargetCompiler<'m>> {
        let dwarf_err = |reason: String| DebugInfoError::BadDwarf {
            path: module.path.clone(),
            reason,
        };
        let mut types = Types::new(module).map_err(dwarf_err)?;
        let index = module.functions()?;
        let mut scope = None;
        let mut return_type = None;
        let mut file = String::new();
        if let Some(die) = site.scope_die {
            let f = index.functions.iter().find(|f| f.die == die);
            let outer = outer_function(&index, die, site.var_pc);
            if let (Some(f), Some(outer)) = (f, outer) {
                file = f.decl_file.clone().unwrap_or_default();
                let nested = !matches!(site.kind, SiteKind::Function { .. });
                scope = Some(
                    Scope::at(
                        &mut types,
                        die,
                        outer.die,
                        outer.entry_pc,
                        site.var_pc,
                        nested,
                    )
                    .map_err(dwarf_err)?,
                );
                let (unit, entry) = types.entry(f.origin).map_err(dwarf_err)?;
                return_type = Some(Types::type_attr(&unit, &entry));
            }
        }
        Ok(TargetCompiler {
            module,
            types,
            function_name: site.function.clone().unwrap_or_default(),
            site: site.clone(),
            scope,
            return_type,
            file,
        })
    }

    fn err(message: String) -> DebugInfoError {
        DebugInfoError::TargetExpr { message }
    }

    fn not_found(&self, name: &str) -> DebugInfoError {
        DebugInfoError::UnknownVariable(Box::new(VariableNotFound {
            name: name.to_owned(),
            die_offset: self.site.scope_die.unwrap_or(0),
            module: self.module.path.display().to_string(),
            pc: self.site.var_pc,
            function: self.function_name.clone(),
            file: self.file.clone(),
            alternatives: self
                .scope
                .as_ref()
                .map(Scope::alternatives)
                .unwrap_or_default(),
        }))
    }

    /// Compiles one target expression.
    pub fn compile(&mut self, expr: &TargetExpr) -> Result<CompiledTarget> {
        let (base, ty, what) = match &expr.base {
            TargetBase::Variable(name) if matches!(self.site.kind, SiteKind::Mark { .. }) => {
                return self.sdt_argument(name, expr);
            }
            TargetBase::Variable(name) => {
                let var = self
                    .scope
                    .as_ref()
                    .and_then(|s| s.find(name))
                    .cloned()
                    .ok_or_else(|| self.not_found(name))?;
                let location = self.location_of(&var)?;
                let t = self.ty(var.ty)?;
                (
                    PlanBase::Location {
                        location,
                        size: t.size,
                    },
                    t,
                    format!("${name}"),
                )
            }
            TargetBase::Return => {
                let rt = match (self.site.is_return, self.return_type) {
                    (true, Some(rt @ Some(_))) => rt,
                    _ => return Err(self.not_found("return")),
                };
                let t = self.ty(rt)?;
                let reg = registers::return_register(self.module.arch);
                let location = Location {
                    pieces: vec![Piece {
                        location: PieceLocation::Register(reg),
                        size: None,
                    }],
                };
                (
                    PlanBase::Location {
                        location,
                        size: t.size,
                    },
                    t,
                    "$return".to_owned(),
                )
            }
            TargetBase::Global { name, file } => {
                let var = self.global(name, file.as_deref())?;
                let location = self.location_of(&var)?;
                let t = self.ty(var.ty)?;
                (
                    PlanBase::Location {
                        location,
                        size: t.size,
                    },
                    t,
                    format!("@var(\"{name}\")"),
                )
            }
            TargetBase::Cast { type_name, input } => {
                let die = self.type_by_name(type_name)?;
                let t = self.ty(Some(die))?;
                (
                    PlanBase::Input(*input),
                    t,
                    format!("@cast(…, \"{type_name}\")"),
                )
            }
        };
        self.finish(base, ty, what, expr)
    }

    /// `$argN` at an SDT marker: a long, read from the operand the note describes.
    fn sdt_argument(&self, name: &str, expr: &TargetExpr) -> Result<CompiledTarget> {
        let SiteKind::Mark { args, .. } = &self.site.kind else {
            unreachable!("called for marks only")
        };
        let arg = name
            .strip_prefix("arg")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| args.get(i))
            .ok_or_else(|| {
                Self::err(format!(
                    "unable to find '${name}' at this marker: it has {} argument(s)",
                    args.len()
                ))
            })?;
        if !expr.path.is_empty() || expr.address_of || expr.pretty != Pretty::None {
            return Err(Self::err(format!(
                "${name} of a marker is a plain long (markers carry no type information)"
            )));
        }
        Ok(CompiledTarget {
            plan: TargetPlan {
                base: PlanBase::Sdt(arg.clone()),
                steps: Vec::new(),
                result: Final::Integer {
                    size: 8,
                    signed: true,
                },
            },
            script_type: ScriptType::Long,
            c_type: "long".to_owned(),
            type_die: None,
        })
    }

    /// `@defined(expr)`: whether the expression compiles at this site.
    pub fn is_defined(&mut self, expr: &TargetExpr) -> bool {
        self.compile(expr).is_ok()
    }

    fn ty(&mut self, ty: TypeRef) -> Result<Rc<TypeInfo>> {
        self.types
            .get(ty)
            .map_err(|reason| DebugInfoError::BadDwarf {
                path: self.module.path.clone(),
                reason,
            })
    }

    fn location_of(&self, var: &Variable) -> Result<Location> {
        var.location.clone().map_err(|e| {
            let why = match e {
                CompileError::Unavailable(s) | CompileError::Unsupported(s) | CompileError::Malformed(s) => s,
            };
            Self::err(format!(
                "not accessible at this address ({why}) [man error::dwarf] (pc: {:#x}, dieoffset: {:#x}, variable '{}' in {})",
                self.site.var_pc, var.die, var.name, self.function_name
            ))
        })
    }

    fn global(&mut self, name: &str, file: Option<&str>) -> Result<Variable> {
        // The site's own unit first, then every unit whose name matches `file`.
        if file.is_none()
            && let Some(v) = self
                .scope
                .as_ref()
                .and_then(|s| s.globals.iter().find(|v| v.name == name))
        {
            return Ok(v.clone());
        }
        let index = self.module.functions()?;
        let file_glob = super::pattern::Glob::new(file.unwrap_or("*"));
        for unit in &index.units {
            let unit_name = if unit.name.starts_with('/') {
                unit.name.clone()
            } else {
                format!("{}/{}", unit.comp_dir, unit.name)
            };
            if !super::pattern::path_matches(&file_glob, &unit_name) {
                continue;
            }
            if let Some(v) = self
                .unit_globals(unit.offset)?
                .into_iter()
                .find(|v| v.name == name)
            {
                return Ok(v);
            }
        }
        Err(Self::err(format!(
            "unable to find global '{name}' in {}{}",
            self.module.path.display(),
            file.map(|f| format!(", in {f}")).unwrap_or_default()
        )))
    }

    fn unit_globals(&mut self, unit_offset: u64) -> Result<Vec<Variable>> {
        Scope::unit_globals(&mut self.types, unit_offset).map_err(|reason| {
            DebugInfoError::BadDwarf {
                path: self.module.path.clone(),
                reason,
            }
        })
    }

    fn type_by_name(&mut self, name: &str) -> Result<u64> {
        let name = name.trim();
        let (keyword, bare) = match name.split_once(' ') {
            Some((k @ ("struct" | "union" | "class" | "enum"), rest)) => (k, rest.trim()),
            _ => ("", name),
        };
        if bare.ends_with('*') {
            return Err(Self::err(format!(
                "@cast to a pointer type '{name}' is not supported; cast to the pointee"
            )));
        }
        super::types::find_type_die(self.module, keyword, bare).ok_or_else(|| {
            Self::err(format!(
                "type definition '{name}' not found in '{}'",
                self.module.path.display()
            ))
        })
    }

    fn finish(
        &mut self,
        base: PlanBase,
        mut ty: Rc<TypeInfo>,
        mut what: String,
        expr: &TargetExpr,
    ) -> Result<CompiledTarget> {
        let mut steps = Vec::new();
        let mut bitfield = None;
        for (i, acc) in expr.path.iter().enumerate() {
            if bitfield.is_some() {
                return Err(Self::err(format!(
                    "cannot access '{what}': a bitfield has no members"
                )));
            }
            match acc {
                Accessor::Member(name) => {
                    if let TypeKind::Pointer { target } = ty.kind {
                        steps.push(Step::Deref);
                        ty = self.ty(target)?;
                    }
                    let (offset, member_ty, bf) = self.member(&ty, name, &what)?;
                    steps.push(Step::Member(offset));
                    ty = member_ty;
                    bitfield = bf;
                    what = format!("{what}->{name}");
                }
                Accessor::Index(index) => {
                    let stride = match ty.kind.clone() {
                        TypeKind::Pointer { target } => {
                            steps.push(Step::Deref);
                            ty = self.ty(target)?;
                            ty.size
                        }
                        TypeKind::Array {
                            element,
                            dimensions,
                            ..
                        } => {
                            if dimensions > 1 {
                                return Err(Self::err(format!(
                                    "cannot index '{what}': multi-dimensional arrays are not supported"
                                )));
                            }
                            ty = self.ty(element)?;
                            ty.size
                        }
                        _ => {
                            return Err(Self::err(format!(
                                "cannot index '{what}' of non-array, non-pointer type '{}'",
                                ty.name
                            )));
                        }
                    };
                    if stride == 0 {
                        return Err(Self::err(format!(
                            "cannot index '{what}': element type '{}' has no size",
                            ty.name
                        )));
                    }
                    steps.push(Step::Index {
                        stride,
                        index: index.clone(),
                    });
                    what = format!(
                        "{what}[{}]",
                        if let Index::Const(c) = index {
                            c.to_string()
                        } else {
                            format!("#{i}")
                        }
                    );
                }
            }
        }
        let (result, script_type, c_type) = if expr.address_of {
            if bitfield.is_some() {
                return Err(Self::err(format!(
                    "cannot take the address of bitfield '{what}'"
                )));
            }
            if expr.pretty != Pretty::None {
                return Err(Self::err(
                    "cannot take address of pretty-printed variable".into(),
                ));
            }
            (Final::Address, ScriptType::Long, format!("{}*", ty.name))
        } else if expr.pretty != Pretty::None {
            let node = pretty::plan(&mut self.types, &ty, expr.pretty == Pretty::Deep).map_err(
                |reason| DebugInfoError::BadDwarf {
                    path: self.module.path.clone(),
                    reason,
                },
            )?;
            (Final::Pretty(node), ScriptType::String, ty.name.clone())
        } else if let Some(b) = bitfield {
            let signed = matches!(
                ty.kind,
                TypeKind::Integer { signed: true, .. } | TypeKind::Enum { signed: true, .. }
            );
            (
                Final::Bitfield {
                    shift: b.shift,
                    bits: b.bits,
                    storage: b.storage,
                    signed,
                },
                ScriptType::Long,
                ty.name.clone(),
            )
        } else {
            let fin = match &ty.kind {
                TypeKind::Integer { signed, .. } | TypeKind::Enum { signed, .. } => {
                    Final::Integer {
                        size: ty.size,
                        signed: *signed,
                    }
                }
                TypeKind::Pointer { .. } | TypeKind::Function => Final::Integer {
                    size: 8,
                    signed: false,
                },
                TypeKind::Float => Final::Float { size: ty.size },
                TypeKind::Array { .. } => Final::Address,
                TypeKind::Struct { keyword, .. } => {
                    return Err(Self::err(format!(
                        "{keyword} '{}' is being accessed instead of a member ('{what}'); use '{what}$' to print it",
                        ty.name
                    )));
                }
                TypeKind::Void => return Err(Self::err(format!("'{what}' has type void"))),
            };
            (fin, ScriptType::Long, ty.name.clone())
        };
        Ok(CompiledTarget {
            plan: TargetPlan {
                base,
                steps,
                result,
            },
            script_type,
            c_type,
            type_die: ty.die,
        })
    }

    /// Finds a member, looking into anonymous struct/union members.
    fn member(
        &mut self,
        ty: &TypeInfo,
        name: &str,
        what: &str,
    ) -> Result<(u64, Rc<TypeInfo>, Option<super::types::Bitfield>)> {
        let TypeKind::Struct { members, .. } = &ty.kind else {
            return Err(Self::err(format!(
                "cannot access member '{name}' of '{what}', type '{}' is not a struct or union",
                ty.name
            )));
        };
        let Some(members) = members else {
            return Err(Self::err(format!(
                "cannot access member '{name}' of incomplete type '{}'",
                ty.name
            )));
        };
        for m in members {
            if m.name.as_deref() == Some(name) {
                return Ok((m.offset, self.ty(m.ty)?, m.bitfield.clone()));
            }
        }
        for m in members.iter().filter(|m| m.name.is_none()) {
            let inner = self.ty(m.ty)?;
            if let Ok((off, t, bf)) = self.member(&inner, name, what) {
                return Ok((m.offset + off, t, bf));
            }
        }
        let names: Vec<&str> = members.iter().filter_map(|m| m.name.as_deref()).collect();
        Err(Self::err(format!(
            "unable to find member '{name}' for {} (alternatives: {})",
            ty.name,
            names.join(" ")
        )))
    }

    /// Compiles `$$parms`, `$$locals`, `$$vars` or `$$return`, plain or pretty.
    pub fn compile_vars(&mut self, set: VarSet, pretty: Pretty) -> Result<VarsPlan> {
        let vars: Vec<Variable> = match (&self.scope, set) {
            (Some(s), VarSet::Parms) => s.parameters().cloned().collect(),
            (Some(s), VarSet::Locals) => s
                .visible_locals()
                .into_iter()
                .filter(|v| v.kind != super::scope::VariableKind::Parameter)
                .cloned()
                .collect(),
            (Some(s), VarSet::Vars) => {
                let mut v: Vec<Variable> = s.parameters().cloned().collect();
                v.extend(
                    s.visible_locals()
                        .into_iter()
                        .filter(|v| v.kind != super::scope::VariableKind::Parameter)
                        .cloned(),
                );
                v
            }
            (_, VarSet::Return) => {
                let expr = TargetExpr {
                    base: TargetBase::Return,
                    path: Vec::new(),
                    address_of: false,
                    pretty,
                };
                let entry = self.compile_vars_entry(&expr)?;
                return Ok(VarsPlan {
                    entries: vec![("return".to_owned(), entry)],
                });
            }
            (None, _) => Vec::new(),
        };
        let mut entries = Vec::new();
        for v in vars {
            let entry = match &v.location {
                Err(_) => VarsEntry::Unavailable,
                Ok(_) => {
                    let expr = TargetExpr {
                        base: TargetBase::Variable(v.name.clone()),
                        path: Vec::new(),
                        address_of: false,
                        pretty,
                    };
                    self.compile_vars_entry(&expr)?
                }
            };
            entries.push((v.name.clone(), entry));
        }
        Ok(VarsPlan { entries })
    }

    fn compile_vars_entry(&mut self, expr: &TargetExpr) -> Result<VarsEntry> {
        if expr.pretty != Pretty::None {
            return Ok(VarsEntry::Plan(self.compile(expr)?.plan));
        }
        // Without `$`, aggregates are elided and floats unprintable (stap's `{...}`).
        let probe = TargetExpr {
            pretty: Pretty::Shallow,
            ..expr.clone()
        };
        let compiled = self.compile(&probe)?;
        let ty = compiled.type_die;
        let info = self.ty(ty)?;
        Ok(match info.kind {
            TypeKind::Struct { .. } => VarsEntry::Literal("{...}"),
            TypeKind::Array { .. } => VarsEntry::Literal("[...]"),
            TypeKind::Float | TypeKind::Void => VarsEntry::Literal("?"),
            _ => VarsEntry::Plan(self.compile(expr)?.plan),
        })
    }

    /// The variables `-L` lists for this site: `$return` first for return probes, then
    /// locals and parameters visible at the pc (innermost first) that have a location,
    /// as `(name, type)`.
    pub fn listing(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let SiteKind::Mark { args, .. } = &self.site.kind {
            return (1..=args.len())
                .map(|i| (format!("arg{i}"), "long".to_owned()))
                .collect();
        }
        if self.site.is_return
            && let Some(rt @ Some(_)) = self.return_type
            && let Ok(name) = self.types.name(rt, 0)
        {
            out.push(("return".to_owned(), name));
        }
        let vars: Vec<Variable> = self
            .scope
            .as_ref()
            .map(|s| s.visible_locals().into_iter().cloned().collect())
            .unwrap_or_default();
        for v in vars.iter().filter(|v| v.has_location) {
            if let Ok(name) = self.types.name(v.ty, 0) {
                out.push((v.name.clone(), name));
            }
        }
        out
    }
}

/// The out-of-line function instance containing the scope DIE at `pc` (for the frame base).
fn outer_function(
    index: &FunctionIndex,
    die: u64,
    pc: u64,
) -> Option<&super::dwarf_index::Function> {
    let f = index.functions.iter().find(|f| f.die == die)?;
    if f.kind == InstanceKind::OutOfLine {
        return Some(f);
    }
    index.outermost(pc)
}

/// The `-L` line of a site: `pp() $a:int $b:char*`.
pub fn listing_line(module: &Module, site: &ProbeSite) -> String {
    let vars = TargetCompiler::new(module, site)
        .map(|mut c| c.listing())
        .unwrap_or_default();
    let mut line = site.pp.clone();
    for (name, ty) in vars {
        line.push_str(&format!(" ${name}:{ty}"));
    }
    line
}
