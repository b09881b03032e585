//! The stable text form of the IR (`rtap -p3`, IR golden tests).
//!
//! Nothing machine-specific appears: no addresses, offsets or sizes chosen by the code
//! generator. Strings are printed as C-style literals with `\xHH` for bytes outside printable
//! ASCII.

use super::*;
use rtap_abi::format::{Amount, Component, ConvKind, flags};
use std::fmt::{self, Write};

/// The whole program as text.
pub fn program(p: &Program) -> String {
    let mut out = String::new();
    Printer { out: &mut out }
        .program(p)
        .expect("writing to a String cannot fail");
    out
}

struct Printer<'a> {
    out: &'a mut String,
}

fn ty(t: Type) -> &'static str {
    match t {
        Type::Long => "long",
        Type::Str => "string",
    }
}

fn quote(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// A format in printf notation (the one-flag grammar makes this unambiguous).
fn format_text(f: &Format) -> String {
    let mut s = Vec::new();
    for c in &f.components {
        match c {
            Component::Literal(bytes) => {
                for &b in bytes {
                    if b == b'%' {
                        s.push(b'%');
                    }
                    s.push(b);
                }
            }
            Component::Conversion(conv) => {
                s.push(b'%');
                for (bit, ch) in [
                    (flags::ZEROPAD, b'0'),
                    (flags::PLUS, b'+'),
                    (flags::LEFT, b'-'),
                    (flags::SPACE, b' '),
                    (flags::SPECIAL, b'#'),
                ] {
                    if conv.flags & bit != 0 {
                        s.push(ch);
                    }
                }
                match conv.width {
                    Amount::None => {}
                    Amount::Static(n) => s.extend(n.to_string().bytes()),
                    Amount::Dynamic => s.push(b'*'),
                }
                match conv.precision {
                    Amount::None => {}
                    Amount::Static(n) => s.extend(format!(".{n}").bytes()),
                    Amount::Dynamic => s.extend(b".*"),
                }
                s.push(match conv.kind {
                    ConvKind::Signed => b'd',
                    ConvKind::Unsigned => b'u',
                    ConvKind::Octal => b'o',
                    ConvKind::HexLower => b'x',
                    ConvKind::HexUpper => b'X',
                    ConvKind::Pointer => b'p',
                    ConvKind::Char => b'c',
                    ConvKind::String => b's',
                    ConvKind::Binary => b'b',
                    ConvKind::Memory => b'm',
                    ConvKind::MemoryHex => b'M',
                });
            }
        }
    }
    quote(&s)
}

struct V(Value);
impl fmt::Display for V {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Const(c) => write!(f, "{c}"),
            Value::Local(l) => write!(f, "{l}"),
        }
    }
}

struct S<'a>(&'a Str);
impl fmt::Display for S<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Str::Local(l) => write!(f, "{l}"),
            Str::Global(g) => write!(f, "{g}"),
            Str::Lit(bytes) => f.write_str(&quote(bytes)),
        }
    }
}

struct D(StrDst);
impl fmt::Display for D {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            StrDst::Local(l) => write!(f, "{l}"),
            StrDst::Global(g) => write!(f, "{g}"),
        }
    }
}

struct A<'a>(&'a Arg);
impl fmt::Display for A<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Arg::Long(v) => V(*v).fmt(f),
            Arg::Str(s) => S(s).fmt(f),
        }
    }
}

struct R(Ret);
impl fmt::Display for R {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ret::Long(l) => write!(f, "{l}"),
            Ret::Str(d) => D(d).fmt(f),
        }
    }
}

fn args(list: &[Arg]) -> String {
    list.iter()
        .map(|a| A(a).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn keys(list: &[Arg]) -> String {
    format!("[{}]", args(list))
}

fn pattern(list: &[Option<Arg>]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|k| k.as_ref().map_or("*".to_string(), |a| A(a).to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

fn at(loc: Option<LocId>) -> String {
    loc.map_or(String::new(), |l| format!(" @{l}"))
}

fn stat_op(op: StatOp) -> &'static str {
    match op {
        StatOp::Count => "count",
        StatOp::Sum => "sum",
        StatOp::Min => "min",
        StatOp::Max => "max",
        StatOp::Avg => "avg",
        StatOp::Variance => "variance",
    }
}

fn cmp_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "eq",
        CmpOp::Ne => "ne",
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
    }
}

impl Printer<'_> {
    fn program(&mut self, p: &Program) -> fmt::Result {
        writeln!(self.out, "maxstringlen {}", p.max_string_len)?;
        writeln!(self.out, "maxnesting {}", p.max_nesting)?;
        for (i, s) in p.scalars.iter().enumerate() {
            let init = match &s.init {
                Const::Long(v) => v.to_string(),
                Const::Str(b) => quote(b),
            };
            let display = if s.display { " display" } else { "" };
            writeln!(
                self.out,
                "global g{i} {}: {} = {init}{display}",
                s.name,
                ty(s.init.ty())
            )?;
        }
        for (i, m) in p.maps.iter().enumerate() {
            let keys: Vec<&str> = m.keys.iter().map(|&t| ty(t)).collect();
            let value = match &m.value {
                MapValue::Long => "long".to_string(),
                MapValue::Str => "string".to_string(),
                MapValue::Stats(decl) => {
                    let mut s = "stats".to_string();
                    match decl.hist {
                        Hist::None => {}
                        Hist::Log => s.push_str(" hist_log"),
                        Hist::Linear { low, high, width } => {
                            let _ = write!(s, " hist_linear({low}, {high}, {width})");
                        }
                    }
                    if let Some(shift) = decl.variance_shift {
                        let _ = write!(s, " variance({shift})");
                    }
                    s
                }
            };
            write!(
                self.out,
                "map map{i} {}[{}]: {value}",
                m.name,
                keys.join(", ")
            )?;
            if let Some(size) = m.size {
                write!(self.out, " size {size}")?;
            }
            if m.wrap {
                write!(self.out, " wrap")?;
            }
            if m.display {
                write!(self.out, " display")?;
            }
            writeln!(self.out)?;
        }
        for (i, f) in p.formats.iter().enumerate() {
            writeln!(self.out, "format fmt{i} {}", format_text(f))?;
        }
        for (i, r) in p.regexes.iter().enumerate() {
            writeln!(self.out, "regex re{i} {}", quote(r))?;
        }
        for (i, l) in p.locations.iter().enumerate() {
            writeln!(self.out, "loc loc{i} {l}")?;
        }
        for (i, f) in p.functions.iter().enumerate() {
            let ret = f.ret.map_or("void", ty);
            writeln!(
                self.out,
                "\nfunction fn{i} {}({}): {ret} @{}",
                f.name,
                (0..f.params)
                    .map(|p| format!("%{p}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                f.loc
            )?;
            self.body(&f.body)?;
        }
        for (i, probe) in p.probes.iter().enumerate() {
            let kind = match &probe.kind {
                ProbeKind::Begin(n) => format!("begin({n})"),
                ProbeKind::End(n) => format!("end({n})"),
                ProbeKind::Error(n) => format!("error({n})"),
                ProbeKind::Never => "never".to_string(),
                ProbeKind::Timer {
                    unit,
                    value,
                    randomize,
                } => format!("timer.{unit}({value}) randomize({randomize})"),
                ProbeKind::Other(s) => format!("other {}", quote(s.as_bytes())),
            };
            writeln!(
                self.out,
                "\nprobe {i} {kind} pp {} pn {}",
                quote(probe.pp.as_bytes()),
                quote(probe.pn.as_bytes())
            )?;
            self.body(&probe.body)?;
        }
        Ok(())
    }

    fn body(&mut self, b: &Body) -> fmt::Result {
        for (i, l) in b.locals.iter().enumerate() {
            if l.name.is_empty() {
                writeln!(self.out, "  local %{i}: {}", ty(l.ty))?;
            } else {
                writeln!(self.out, "  local %{i} {}: {}", l.name, ty(l.ty))?;
            }
        }
        for (i, block) in b.blocks.iter().enumerate() {
            match block.unwind {
                Some(u) => writeln!(self.out, "bb{i} (unwind {u}):")?,
                None => writeln!(self.out, "bb{i}:")?,
            }
            for inst in &block.insts {
                self.out.push_str("  ");
                self.inst(inst)?;
                self.out.push('\n');
            }
            self.out.push_str("  ");
            self.term(&block.term)?;
            self.out.push('\n');
        }
        Ok(())
    }

    fn inst(&mut self, inst: &Inst) -> fmt::Result {
        let o = &mut *self.out;
        match inst {
            Inst::Move { dst, src } => write!(o, "{dst} = {}", V(*src)),
            Inst::Unary { dst, op, src } => {
                let op = match op {
                    UnOp::Neg => "neg",
                    UnOp::Not => "not",
                    UnOp::BitNot => "bitnot",
                };
                write!(o, "{dst} = {op} {}", V(*src))
            }
            Inst::Binary { dst, op, lhs, rhs } => {
                let op = match op {
                    BinOp::Add => "add",
                    BinOp::Sub => "sub",
                    BinOp::Mul => "mul",
                    BinOp::And => "and",
                    BinOp::Or => "or",
                    BinOp::Xor => "xor",
                    BinOp::Shl => "shl",
                    BinOp::Shr => "shr",
                    BinOp::Ushr => "ushr",
                };
                write!(o, "{dst} = {op} {}, {}", V(*lhs), V(*rhs))
            }
            Inst::Divide {
                dst,
                op,
                lhs,
                rhs,
                loc,
            } => {
                let op = match op {
                    DivOp::Div => "div",
                    DivOp::Rem => "rem",
                };
                write!(o, "{dst} = {op} {}, {} @{loc}", V(*lhs), V(*rhs))
            }
            Inst::Compare { dst, op, lhs, rhs } => {
                write!(o, "{dst} = {} {}, {}", cmp_op(*op), V(*lhs), V(*rhs))
            }
            Inst::StrCompare { dst, op, lhs, rhs } => {
                write!(o, "{dst} = str{} {}, {}", cmp_op(*op), S(lhs), S(rhs))
            }
            Inst::LoadGlobal { dst, global } => write!(o, "{dst} = load {global}"),
            Inst::StoreGlobal { global, src } => write!(o, "store {global}, {}", V(*src)),
            Inst::StrCopy { dst, src } => write!(o, "{} = strcopy {}", D(*dst), S(src)),
            Inst::StrConcat { dst, lhs, rhs } => {
                write!(o, "{} = concat {}, {}", D(*dst), S(lhs), S(rhs))
            }
            Inst::Call {
                ret,
                next,
                func,
                args: a,
                loc,
            } => {
                if let Some(r) = ret {
                    write!(o, "{} = ", R(*r))?;
                }
                write!(o, "call {func}({})", args(a))?;
                if let Some(n) = next {
                    write!(o, " next {n}")?;
                }
                write!(o, " @{loc}")
            }
            Inst::Helper {
                helper,
                ret,
                args: a,
                loc,
            } => {
                if let Some(r) = ret {
                    write!(o, "{} = ", R(*r))?;
                }
                write!(o, "helper {}({}){}", helper.name(), args(a), at(*loc))
            }
            Inst::Raise { kind, loc } => {
                let kind = match kind {
                    RaiseKind::FunctionsExhausted => "functions_exhausted",
                };
                write!(o, "raise {kind} @{loc}")
            }
            Inst::Printf {
                format,
                args: a,
                loc,
            } => write!(o, "printf {format}({}) @{loc}", args(a)),
            Inst::Sprintf {
                dst,
                format,
                args: a,
                loc,
            } => write!(o, "{} = sprintf {format}({}) @{loc}", D(*dst), args(a)),
            Inst::MapGet { ret, map, keys: k } => write!(o, "{} = get {map}{}", R(*ret), keys(k)),
            Inst::MapSet {
                map,
                keys: k,
                value,
                loc,
            } => write!(o, "set {map}{}, {} @{loc}", keys(k), A(value)),
            Inst::MapAdd {
                dst,
                map,
                keys: k,
                delta,
                loc,
            } => {
                if let Some(d) = dst {
                    write!(o, "{d} = ")?;
                }
                write!(o, "add {map}{}, {} @{loc}", keys(k), V(*delta))
            }
            Inst::MapExists { dst, map, keys: k } => {
                write!(o, "{dst} = exists {map}{}", pattern(k))
            }
            Inst::MapDelete { map, keys: k } => write!(o, "delete {map}{}", pattern(k)),
            Inst::MapClear { map } => write!(o, "clear {map}"),
            Inst::StatAdd {
                map,
                keys: k,
                value,
                loc,
            } => write!(o, "stat_add {map}{}, {} @{loc}", keys(k), V(*value)),
            Inst::StatGet {
                dst,
                map,
                keys: k,
                op,
                loc,
            } => write!(o, "{dst} = stat_{} {map}{} @{loc}", stat_op(*op), keys(k)),
            Inst::HistPrint { map, keys: k, loc } => {
                write!(o, "hist_print {map}{} @{loc}", keys(k))
            }
            Inst::HistSprint {
                dst,
                map,
                keys: k,
                loc,
            } => write!(o, "{} = hist_sprint {map}{} @{loc}", D(*dst), keys(k)),
            Inst::HistBucket {
                dst,
                map,
                keys: k,
                bucket,
                loc,
            } => write!(
                o,
                "{dst} = hist_bucket {map}{}, {} @{loc}",
                keys(k),
                V(*bucket)
            ),
            Inst::HistCount {
                dst,
                map,
                keys: k,
                bucket,
            } => write!(o, "{dst} = hist_count {map}{}, {}", keys(k), V(*bucket)),
            Inst::HistBuckets { dst, map } => write!(o, "{dst} = hist_buckets {map}"),
            Inst::ForeachStart {
                iter,
                map,
                sort,
                limit,
                pattern: p,
            } => {
                write!(o, "{iter} = foreach_start {map}{}", pattern(p))?;
                if let Some(s) = sort {
                    let dir = if s.descending { '-' } else { '+' };
                    if s.column == 0 {
                        write!(o, " sort value{dir} {}", stat_op(s.stat_op))?;
                    } else {
                        write!(o, " sort key{}{dir}", s.column)?;
                    }
                }
                if let Some(l) = limit {
                    write!(o, " limit {}", V(*l))?;
                }
                Ok(())
            }
            Inst::ForeachNext { dst, iter, keys: k } => {
                let k: Vec<String> = k.iter().map(|l| l.to_string()).collect();
                write!(o, "{dst} = foreach_next {iter} -> [{}]", k.join(", "))
            }
            Inst::ForeachValue { ret, iter } => write!(o, "{} = foreach_value {iter}", R(*ret)),
            Inst::ForeachStat { dst, iter, op, loc } => {
                write!(o, "{dst} = foreach_{} {iter} @{loc}", stat_op(*op))
            }
            Inst::ForeachEnd { iter } => write!(o, "foreach_end {iter}"),
            Inst::RegexMatch {
                dst,
                regex,
                subject,
            } => write!(o, "{dst} = match {regex}, {}", S(subject)),
            Inst::Actions { count, loc } => write!(o, "actions {count}{}", at(*loc)),
            Inst::CheckActions { count, loc } => write!(o, "check_actions {count}{}", at(*loc)),
        }
    }

    fn term(&mut self, term: &Terminator) -> fmt::Result {
        let o = &mut *self.out;
        match term {
            Terminator::Jump(b) => write!(o, "jump {b}"),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => write!(o, "branch {}, {then}, {otherwise}", V(*cond)),
            Terminator::Return(None) => write!(o, "return"),
            Terminator::Return(Some(a)) => write!(o, "return {}", A(a)),
            Terminator::Next => write!(o, "next"),
            Terminator::Catch {
                msg,
                caught,
                uncaught,
            } => {
                write!(o, "catch")?;
                if let Some(m) = msg {
                    write!(o, " {m}")?;
                }
                write!(o, " -> {caught}, {uncaught}")
            }
            Terminator::Unwind => write!(o, "unwind"),
        }
    }
}
