//! Probe-point resolution: `.function`, `.statement`, `.plt`, `.mark` (and their address
//! forms) of one module → the list of probe sites to attach, each with the text `pp()`
//! prints.
//!
//! Entry addresses follow stap 4.8 (`dwflpp::resolve_prologue_endings`, checked against
//! `stap -p2 -vvv` output): a function probe goes on the function's entry pc, except in
//! compilation units without valid entry locations (no optimization, or not GCC ≥ 4.5 — see
//! [`CompileUnit::valid_locs`]), where it goes after the prologue: on the address of the
//! first line-table row inside the function above the entry pc (the second row of the
//! function). `.return` probes always use the entry pc; their `$vars` are read as at the
//! post-prologue address. Inlined instances use their entry pc and cannot have `.return`.

use std::path::PathBuf;

use rustc_hash::FxHashSet;

use super::dwarf_index::{CompileUnit, Function, FunctionIndex, InstanceKind};
use super::elf::Module;
use super::error::{DebugInfoError, Result};
use super::lines::LineTable;
use super::pattern::{FunctionSpec, Glob, LineSpec};
use super::sdt::SdtArg;
use super::symbols::SymbolKind;

/// Which instances `.function("…")` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionFlavor {
    /// `.function`: out-of-line and inlined instances.
    Any,
    /// `.call`: out-of-line instances only.
    Call,
    /// `.inline`: inlined instances only.
    Inline,
    /// `.exported`: functions with a global symbol.
    Exported,
}

/// The part of a `process(…)[.library(…)]` probe point that selects locations in a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessPoint {
    Function {
        spec: String,
        flavor: FunctionFlavor,
        is_return: bool,
    },
    FunctionAddress {
        address: u64,
        is_return: bool,
    },
    Statement {
        spec: String,
        nearest: bool,
    },
    StatementAddress {
        address: u64,
        absolute: bool,
    },
    Plt {
        name: Option<String>,
        is_return: bool,
    },
    Mark {
        provider: Option<String>,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteKind {
    Function {
        inline: bool,
    },
    Statement,
    Plt {
        name: String,
    },
    Mark {
        provider: String,
        name: String,
        semaphore: Option<u64>,
        semaphore_offset: Option<u64>,
        args: Vec<SdtArg>,
    },
    Absolute,
}

/// One place to put a probe, as the uprobe engines need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSite {
    pub module: PathBuf,
    /// Link-time address; add the module's load bias at run time.
    pub address: u64,
    /// Offset in the file (for the kernel's uprobe API); `None` for addresses outside the
    /// file-backed part of a segment (only possible for `.statement(ADDR).absolute`).
    pub file_offset: Option<u64>,
    /// What `pp()` prints for this site.
    pub pp: String,
    pub kind: SiteKind,
    /// A return probe (uretprobe on `address`).
    pub is_return: bool,
    /// The function the site is in (for `ppfunc()`), when known.
    pub function: Option<String>,
    /// `.debug_info` offset of the function instance whose scope `$vars` are looked up in.
    pub scope_die: Option<u64>,
    /// The address at which `$vars` are evaluated (differs from `address` for `.return`).
    pub var_pc: u64,
}

/// The result of resolving one probe point in one module.
#[derive(Debug, Default)]
pub struct Resolution {
    pub sites: Vec<ProbeSite>,
    /// Warnings in stap's words (printed as `WARNING: …` by the caller).
    pub warnings: Vec<String>,
    seen: FxHashSet<(u64, String, bool)>,
}

/// Resolves `point` in `module`. `prefix` is the probe point text before the selector, e.g.
/// `process("/bin/ls")` or `process("/bin/ls").library("/lib/libc.so.6")`.
pub fn resolve(module: &Module, prefix: &str, point: &ProcessPoint) -> Result<Resolution> {
    let mut res = Resolution::default();
    let ctx = Ctx { module, prefix };
    match point {
        ProcessPoint::Function {
            spec,
            flavor,
            is_return,
        } => ctx.functions(spec, *flavor, *is_return, &mut res)?,
        ProcessPoint::FunctionAddress { address, is_return } => {
            ctx.function_address(*address, *is_return, &mut res)?
        }
        ProcessPoint::Statement { spec, nearest } => ctx.statements(spec, *nearest, &mut res)?,
        ProcessPoint::StatementAddress { address, absolute } => {
            ctx.statement_address(*address, *absolute, &mut res)?
        }
        ProcessPoint::Plt { name, is_return } => ctx.plt(name.as_deref(), *is_return, &mut res),
        ProcessPoint::Mark { provider, name } => ctx.marks(provider.as_deref(), name, &mut res),
    }
    if res.sites.is_empty() {
        return Err(DebugInfoError::NoMatch {
            what: describe(point),
            path: module.path.clone(),
        });
    }
    Ok(res)
}

/// The `-l` listing of sites: unique `pp()` texts in stap's (byte-wise) order.
pub fn list_points(sites: &[ProbeSite]) -> Vec<String> {
    let mut pps: Vec<String> = sites.iter().map(|s| s.pp.clone()).collect();
    pps.sort();
    pps.dedup();
    pps
}

fn describe(point: &ProcessPoint) -> String {
    match point {
        ProcessPoint::Function { spec, .. } => format!("function(\"{spec}\")"),
        ProcessPoint::FunctionAddress { address, .. } => format!("function({address:#x})"),
        ProcessPoint::Statement { spec, .. } => format!("statement(\"{spec}\")"),
        ProcessPoint::StatementAddress { address, .. } => format!("statement({address:#x})"),
        ProcessPoint::Plt { name, .. } => format!("plt(\"{}\")", name.as_deref().unwrap_or("*")),
        ProcessPoint::Mark {
            provider: Some(p),
            name,
        } => format!("provider(\"{p}\").mark(\"{name}\")"),
        ProcessPoint::Mark {
            provider: None,
            name,
        } => format!("mark(\"{name}\")"),
    }
}

/// How far `.statement(…).nearest` looks for a line with code.
const NEAREST_WINDOW: u64 = 5;

struct Ctx<'a> {
    module: &'a Module,
    prefix: &'a str,
}

/// Where a function probe goes: entry pc, or after the prologue (module docs).
pub fn function_probe_address(unit: &CompileUnit, lines: &LineTable, f: &Function) -> u64 {
    if unit.valid_locs || f.kind == InstanceKind::Inlined {
        return f.entry_pc;
    }
    post_prologue(lines, f)
}

/// The address of the first line-table row inside `f` above its entry pc.
pub fn post_prologue(lines: &LineTable, f: &Function) -> u64 {
    let range = f
        .ranges
        .iter()
        .find(|r| r.contains(&f.entry_pc))
        .cloned()
        .unwrap_or(f.entry_pc..f.entry_pc + 1);
    lines
        .rows_in(f.entry_pc + 1..range.end)
        .iter()
        .find(|r| !r.end_sequence)
        .map_or(f.entry_pc, |r| r.address)
}

impl Ctx<'_> {
    fn site(&self, address: u64, pp: String, kind: SiteKind) -> ProbeSite {
        ProbeSite {
            module: self.module.path.clone(),
            address,
            file_offset: self.module.file_offset(address),
            pp: format!("{}.{pp}", self.prefix),
            kind,
            is_return: false,
            function: None,
            scope_die: None,
            var_pc: address,
        }
    }

    fn functions(
        &self,
        spec_text: &str,
        flavor: FunctionFlavor,
        is_return: bool,
        res: &mut Resolution,
    ) -> Result<()> {
        let spec = FunctionSpec::parse(spec_text)?;
        if spec.line.is_some() {
            // stap 4.8 warns and probes the functions' entries (dwarf_query::parse_function_spec).
            res.warnings.push(
                "For probing a particular line, use a .statement() probe, not .function()".into(),
            );
        }
        let suffix = match (flavor, is_return) {
            (_, true) => ".return",
            (FunctionFlavor::Any, false) => "",
            (FunctionFlavor::Call, false) => ".call",
            (FunctionFlavor::Inline, false) => ".inline",
            (FunctionFlavor::Exported, false) => ".exported",
        };
        let flavor_suffix = match flavor {
            FunctionFlavor::Any => "",
            FunctionFlavor::Call => ".call",
            FunctionFlavor::Inline => ".inline",
            FunctionFlavor::Exported => ".exported",
        };
        let suffix = if is_return {
            format!("{flavor_suffix}{suffix}")
        } else {
            suffix.to_owned()
        };
        let index = self.module.functions()?;
        let lines = self.module.lines()?;
        let mut dwarf_entries: FxHashSet<u64> = FxHashSet::default();
        let mut dwarf_names: FxHashSet<&str> = FxHashSet::default();
        // A function also matches through a symbol alias at its entry (glibc's `malloc` is
        // `__libc_malloc` in DWARF); stap 4.8 lists it under its DWARF name.
        let aliases: Vec<u64> = self
            .module
            .symbols
            .iter()
            .filter(|s| s.kind == SymbolKind::Function && spec.function.matches(&s.name))
            .map(|s| s.address)
            .collect();
        let by_alias = aliases
            .iter()
            .flat_map(|&a| index.at_entry(a))
            .filter(|f| !spec.function.matches(&f.name));
        let mut matched: Vec<&Function> =
            candidates(&index, &spec.function).chain(by_alias).collect();
        matched.sort_by_key(|f| f.die);
        matched.dedup_by_key(|f| f.die);
        for f in matched {
            let inline = f.kind == InstanceKind::Inlined;
            if f.kind == InstanceKind::OutOfLine {
                dwarf_entries.insert(f.low_pc());
                dwarf_names.insert(&f.name);
            }
            if !spec.file_matches(f.decl_file.as_deref().unwrap_or("")) && spec.file.is_some() {
                continue;
            }
            let wanted = match flavor {
                FunctionFlavor::Any => true,
                FunctionFlavor::Call => !inline,
                FunctionFlavor::Inline => inline,
                FunctionFlavor::Exported => !inline && self.is_exported(f),
            };
            // stap drops inline instances from `.return` probes silently.
            if !wanted || (is_return && inline) {
                continue;
            }
            let at = match (&f.decl_file, f.decl_line) {
                (Some(file), line) if line > 0 => format!("{}@{file}:{line}", f.name),
                (Some(file), _) => format!("{}@{file}", f.name),
                (None, _) => f.name.clone(),
            };
            let site = self.function_site(&index.units[f.cu], &lines, f, is_return, |_| {
                format!("function(\"{at}\"){suffix}")
            });
            push_unique(res, site);
        }
        // Symbol-table functions without DWARF (crt files, assembly, stripped modules).
        if spec.file.is_none() && flavor != FunctionFlavor::Inline {
            for sym in self.module.symbols.iter() {
                if sym.kind != SymbolKind::Function
                    || dwarf_entries.contains(&sym.address)
                    || dwarf_names.contains(sym.name.as_str())
                    || !spec.function.matches(&sym.name)
                {
                    continue;
                }
                // stap 4.8 lists symbol-table functions under `.exported` whatever their
                // binding (crt's local `frame_dummy` too); the golden listings show it.
                let mut site = self.site(
                    sym.address,
                    format!("function(\"{}\"){suffix}", sym.name),
                    SiteKind::Function { inline: false },
                );
                site.is_return = is_return;
                site.function = Some(sym.name.clone());
                push_unique(res, site);
            }
        }
        Ok(())
    }

    /// The site of a DWARF function instance: on the entry pc or after the prologue (see the
    /// module docs), `$vars` read at the probe pc (post-prologue for `.return`). `pp` gets the
    /// address chosen.
    fn function_site(
        &self,
        unit: &CompileUnit,
        lines: &LineTable,
        f: &Function,
        is_return: bool,
        pp: impl FnOnce(u64) -> String,
    ) -> ProbeSite {
        let probe_pc = function_probe_address(unit, lines, f);
        let address = if is_return { f.entry_pc } else { probe_pc };
        let inline = f.kind == InstanceKind::Inlined;
        let mut site = self.site(address, pp(address), SiteKind::Function { inline });
        site.is_return = is_return;
        site.function = Some(f.name.clone());
        site.scope_die = Some(f.die);
        site.var_pc = if is_return {
            post_prologue_if_needed(unit, lines, f)
        } else {
            probe_pc
        };
        site
    }

    /// `.exported` for a DWARF function: it has a global (or weak) symbol at its entry — for
    /// a shared library exactly the dynamic symbol table's functions, since hidden symbols
    /// become local at link time. Without a symbol, `DW_AT_external` decides.
    fn is_exported(&self, f: &Function) -> bool {
        let mut at_entry = self
            .module
            .symbols
            .by_name(&f.name)
            .filter(|s| s.address == f.low_pc())
            .peekable();
        if at_entry.peek().is_none() {
            return f.external;
        }
        at_entry.any(|s| s.global || s.dynamic)
    }

    fn function_address(&self, address: u64, is_return: bool, res: &mut Resolution) -> Result<()> {
        let index = self.module.functions()?;
        let lines = self.module.lines()?;
        let suffix = if is_return { ".return" } else { "" };
        if let Some(f) = index.outermost(address) {
            let site = self.function_site(&index.units[f.cu], &lines, f, is_return, |at| {
                format!("function({at:#x}){suffix}")
            });
            res.sites.push(site);
        } else if let Some(sym) = self
            .module
            .symbols
            .lookup(address)
            .filter(|s| s.kind == SymbolKind::Function)
        {
            let mut site = self.site(
                sym.address,
                format!("function({:#x}){suffix}", sym.address),
                SiteKind::Function { inline: false },
            );
            site.is_return = is_return;
            site.function = Some(sym.name.clone());
            res.sites.push(site);
        }
        Ok(())
    }

    fn statements(&self, spec_text: &str, nearest: bool, res: &mut Resolution) -> Result<()> {
        let spec = FunctionSpec::parse(spec_text)?;
        if !self.module.has_dwarf() {
            return Err(DebugInfoError::NoDebugInfo {
                path: self.module.path.clone(),
                what: format!("statement(\"{spec_text}\")"),
            });
        }
        let index = self.module.functions()?;
        let lines = self.module.lines()?;
        let suffix = if nearest { ".nearest" } else { "" };
        let functions: Vec<&Function> = candidates(&index, &spec.function)
            .filter(|f| f.kind == InstanceKind::OutOfLine)
            .filter(|f| {
                spec.file.is_none() || spec.file_matches(f.decl_file.as_deref().unwrap_or(""))
            })
            .collect();
        let Some(line_spec) = spec.line else {
            // No line: the function's entry, named by its declaration.
            for f in functions {
                let file = f.decl_file.as_deref().unwrap_or("??");
                let pp = format!("statement(\"{}@{file}:{}\"){suffix}", f.name, f.decl_line);
                let mut site = self.site(f.entry_pc, pp, SiteKind::Statement);
                site.function = Some(f.name.clone());
                site.scope_die = Some(f.die);
                push_unique(res, site);
            }
            return Ok(());
        };
        // Per function: the lowest address of each wanted line (stap probes a line once).
        let mut found: Vec<(&Function, u32, String, u64)> = Vec::new();
        let mut available: Vec<(&Function, u32, String, u64)> = Vec::new();
        for f in &functions {
            let mut first: Vec<(u32, u32, u64)> = Vec::new(); // (file, line, lowest address)
            for range in &f.ranges {
                for row in lines.rows_in(range.clone()) {
                    if row.end_sequence || !row.is_stmt || row.line == 0 {
                        continue;
                    }
                    if spec.file.is_some() && !spec.file_matches(lines.file(row)) {
                        continue;
                    }
                    match first
                        .iter_mut()
                        .find(|(file, line, _)| *file == row.file && *line == row.line)
                    {
                        Some(e) => e.2 = e.2.min(row.address),
                        None => first.push((row.file, row.line, row.address)),
                    }
                }
            }
            for (file, line, address) in first {
                let file = lines.files[file as usize].clone();
                let wanted = match line_spec {
                    LineSpec::Exact(n) => line as u64 == n,
                    LineSpec::Range(a, b) => (a..=b).contains(&(line as u64)),
                    LineSpec::Any => true,
                    LineSpec::Relative(off) => line as u64 == f.decl_line + off,
                };
                if wanted {
                    found.push((f, line, file.clone(), address));
                }
                available.push((f, line, file, address));
            }
        }
        if found.is_empty() && nearest {
            // `.nearest`: the closest line with code, at most NEAREST_WINDOW lines away (later
            // lines win ties); the probe point keeps the requested line. Both observed with
            // stap 4.8 `-l` (tests/debuginfo/golden/statement_nearest*.l).
            if let LineSpec::Exact(n) = line_spec {
                let best = available
                    .iter()
                    .filter(|(_, line, _, _)| (*line as u64).abs_diff(n) <= NEAREST_WINDOW)
                    .min_by_key(|(_, line, _, _)| {
                        let l = *line as u64;
                        (l.abs_diff(n), l < n)
                    });
                if let Some(&(_, line, _, _)) = best {
                    for (f, l, file, address) in &available {
                        if *l == line {
                            let pp = format!("statement(\"{}@{file}:{n}\"){suffix}", f.name);
                            let mut site = self.site(*address, pp, SiteKind::Statement);
                            site.function = Some(f.name.clone());
                            site.scope_die = Some(f.die);
                            push_unique(res, site);
                        }
                    }
                }
            }
            return Ok(());
        }
        for (f, line, file, address) in found {
            let pp = format!("statement(\"{}@{file}:{line}\"){suffix}", f.name);
            let mut site = self.site(address, pp, SiteKind::Statement);
            site.function = Some(f.name.clone());
            site.scope_die = Some(f.die);
            push_unique(res, site);
        }
        Ok(())
    }

    fn statement_address(&self, address: u64, absolute: bool, res: &mut Resolution) -> Result<()> {
        let (pp, kind) = if absolute {
            (
                format!("statement({address:#x}).absolute"),
                SiteKind::Absolute,
            )
        } else {
            (format!("statement({address:#x})"), SiteKind::Statement)
        };
        let mut site = self.site(address, pp, kind);
        if !absolute {
            let index = self.module.functions()?;
            match index.innermost(address) {
                Some(f) => {
                    site.function = Some(f.name.clone());
                    site.scope_die = Some(f.die);
                }
                None => site.function = self.module.symbols.lookup(address).map(|s| s.name.clone()),
            }
        }
        res.sites.push(site);
        Ok(())
    }

    fn plt(&self, name: Option<&str>, is_return: bool, res: &mut Resolution) {
        let glob = Glob::new(name.unwrap_or("*"));
        for entry in self.module.plt.iter().filter(|e| glob.matches(&e.name)) {
            let suffix = if is_return { ".return" } else { "" };
            let mut site = self.site(
                entry.address,
                format!("plt(\"{}\"){suffix}", entry.name),
                SiteKind::Plt {
                    name: entry.name.clone(),
                },
            );
            site.is_return = is_return;
            site.function = Some(entry.name.clone());
            push_unique(res, site);
        }
    }

    fn marks(&self, provider: Option<&str>, name: &str, res: &mut Resolution) {
        let provider_glob = provider.map(Glob::new);
        let name_glob = Glob::new(name);
        for m in &self.module.sdt {
            if !name_glob.matches(&m.name)
                || provider_glob
                    .as_ref()
                    .is_some_and(|p| !p.matches(&m.provider))
            {
                continue;
            }
            let pp = match provider {
                Some(_) => format!("provider(\"{}\").mark(\"{}\")", m.provider, m.name),
                None => format!("mark(\"{}\")", m.name),
            };
            let kind = SiteKind::Mark {
                provider: m.provider.clone(),
                name: m.name.clone(),
                semaphore: m.semaphore,
                semaphore_offset: m.semaphore.and_then(|s| self.module.file_offset(s)),
                args: m.args.clone(),
            };
            let mut site = self.site(m.address, pp, kind);
            site.function = self
                .module
                .functions()
                .ok()
                .and_then(|i| i.outermost(m.address).map(|f| f.name.clone()));
            res.sites.push(site);
        }
    }
}

/// `.return` `$vars` are expanded at the post-prologue address in unoptimized code.
fn post_prologue_if_needed(unit: &CompileUnit, lines: &LineTable, f: &Function) -> u64 {
    if unit.valid_locs {
        f.entry_pc
    } else {
        post_prologue(lines, f)
    }
}

fn candidates<'a>(
    index: &'a FunctionIndex,
    glob: &'a Glob,
) -> Box<dyn Iterator<Item = &'a Function> + 'a> {
    if glob.is_literal() {
        Box::new(index.by_name(glob.as_str()))
    } else {
        Box::new(
            index
                .functions
                .iter()
                .filter(move |f| glob.matches(&f.name)),
        )
    }
}

fn push_unique(res: &mut Resolution, site: ProbeSite) {
    if res
        .seen
        .insert((site.address, site.pp.clone(), site.is_return))
    {
        res.sites.push(site);
    }
}
