//! The `-p1` listing: a normalized re-print of a [`Script`] that parses back to the same tree.
//!
//! The shape follows stap's (`# parse tree dump`, `# file NAME`, every operand of an operator
//! in parentheses); unlike stap's it keeps declarations in source order, keeps type
//! annotations and `private`, indents blocks, and quotes strings so that they read back to the
//! same bytes.

use std::fmt::Write;

use crate::ast::*;
use crate::literal::quote_string;

/// The listing of several files, as `rtap -p1` prints it.
pub fn parse_tree_dump<'a>(files: impl IntoIterator<Item = (&'a str, &'a Script)>) -> String {
    let mut out = String::from("# parse tree dump\n");
    for (name, script) in files {
        let _ = writeln!(out, "# file {name}");
        out.push_str(&print_script(script));
    }
    out
}

/// One file's declarations.
pub fn print_script(script: &Script) -> String {
    let mut printer = Printer {
        out: String::new(),
        indent: 0,
    };
    for item in &script.items {
        printer.item(item);
    }
    printer.out
}

/// One expression, fully parenthesized.
pub fn print_expr(expr: &Expr) -> String {
    let mut printer = Printer {
        out: String::new(),
        indent: 0,
    };
    printer.expr(expr);
    printer.out
}

/// A probe point as written (`process("a").function("b")?`), without its condition.
pub fn print_probe_point(point: &ProbePoint) -> String {
    let mut printer = Printer {
        out: String::new(),
        indent: 0,
    };
    printer.probe_point_components(point);
    printer.out
}

struct Printer {
    out: String,
    indent: usize,
}

impl Printer {
    fn push(&mut self, text: &str) {
        self.out.push_str(text);
    }

    fn newline(&mut self) {
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    // ---- declarations --------------------------------------------------------------------

    fn item(&mut self, item: &Item) {
        match item {
            Item::Probe(probe) => {
                self.push("probe ");
                self.probe_points(&probe.points);
                self.push(" ");
                self.block(&probe.body);
            }
            Item::Alias(alias) => {
                self.push("probe ");
                let operator = if matches!(alias.body, AliasBody::Epilogue(_)) {
                    " += "
                } else {
                    " = "
                };
                for name in &alias.names {
                    self.probe_point(name);
                    self.push(operator);
                }
                self.probe_points(&alias.points);
                self.push(" ");
                match &alias.body {
                    AliasBody::Prologue(block) | AliasBody::Epilogue(block) => self.block(block),
                    AliasBody::Both(prologue, epilogue) => {
                        self.block(prologue);
                        self.push(", ");
                        self.block(epilogue);
                    }
                }
            }
            Item::Global(global) => {
                self.push(if global.private {
                    "private global "
                } else {
                    "global "
                });
                self.push(&global.name.name);
                if global.wrap {
                    self.push("%");
                }
                if let Some(size) = global.size {
                    let _ = write!(self.out, "[{size}]");
                }
                if let Some(init) = &global.init {
                    self.push(" = ");
                    self.literal(&init.value);
                }
            }
            Item::Function(function) => self.function(function),
            Item::Embedded(embedded) => self.embedded(&embedded.code),
        }
        self.push("\n");
    }

    fn function(&mut self, function: &Function) {
        self.push(if function.private {
            "private function "
        } else {
            "function "
        });
        self.push(&function.name.name);
        if let Some(ty) = function.return_type {
            self.push(":");
            self.push(scalar_name(ty.ty));
        }
        self.push(" (");
        for (i, param) in function.params.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push(&param.name.name);
            if let Some(ty) = param.ty {
                self.push(":");
                self.push(scalar_name(ty.ty));
            }
        }
        self.push(")");
        if let Some(priority) = &function.priority {
            self.push(" :");
            self.literal(&priority.value);
        }
        self.push(" ");
        match &function.body {
            FunctionBody::Block(block) => self.block(block),
            FunctionBody::Embedded(embedded) => self.embedded(&embedded.code),
        }
    }

    fn embedded(&mut self, code: &str) {
        self.push("%{");
        self.push(code);
        self.push("%}");
    }

    fn probe_points(&mut self, points: &[ProbePoint]) {
        for (i, point) in points.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.probe_point(point);
        }
    }

    fn probe_point(&mut self, point: &ProbePoint) {
        self.probe_point_components(point);
        if let Some(condition) = &point.condition {
            self.push(" if (");
            self.expr(condition);
            self.push(")");
        }
    }

    fn probe_point_components(&mut self, point: &ProbePoint) {
        for (i, component) in point.components.iter().enumerate() {
            if i > 0 {
                self.push(".");
            }
            self.push(&component.name);
            if let Some(arg) = &component.arg {
                self.push("(");
                self.literal(&arg.value);
                self.push(")");
            }
        }
        if point.sufficient {
            self.push("!");
        } else if point.optional {
            self.push("?");
        }
    }

    /// A literal where a sign is allowed (probe-point arguments, initializers, priorities).
    fn literal(&mut self, value: &LiteralValue) {
        match value {
            LiteralValue::Number(n) => {
                let _ = write!(self.out, "{n}");
            }
            LiteralValue::String(s) => self.push(&quote_string(s)),
        }
    }

    // ---- statements ----------------------------------------------------------------------

    fn block(&mut self, block: &Block) {
        self.push("{");
        self.indent += 1;
        for stmt in &block.stmts {
            self.newline();
            self.stmt(stmt);
        }
        self.indent -= 1;
        self.newline();
        self.push("}");
    }

    /// A statement that is the body of `if`/`while`/`for`/`foreach`: blocks stay on the line,
    /// other statements go on their own, indented.
    fn body(&mut self, stmt: &Stmt) {
        if let StmtKind::Block(block) = &stmt.kind {
            self.push(" ");
            self.block(block);
        } else {
            self.indent += 1;
            self.newline();
            self.stmt(stmt);
            self.indent -= 1;
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Block(block) => self.block(block),
            StmtKind::Null => self.push(";"),
            StmtKind::Expr(expr) => {
                self.expr(expr);
                self.push(";");
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.push("if (");
                self.expr(cond);
                self.push(")");
                self.body(then);
                if let Some(otherwise) = otherwise {
                    self.newline();
                    self.push("else");
                    if matches!(otherwise.kind, StmtKind::If { .. }) {
                        self.push(" ");
                        self.stmt(otherwise);
                    } else {
                        self.body(otherwise);
                    }
                }
            }
            StmtKind::While { cond, body } => {
                self.push("while (");
                self.expr(cond);
                self.push(")");
                self.body(body);
            }
            StmtKind::For {
                init,
                cond,
                incr,
                body,
            } => {
                self.push("for (");
                if let Some(init) = init {
                    self.expr(init);
                }
                self.push("; ");
                self.expr(cond);
                self.push("; ");
                if let Some(incr) = incr {
                    self.expr(incr);
                }
                self.push(")");
                self.body(body);
            }
            StmtKind::Foreach(foreach) => self.foreach(foreach),
            StmtKind::Return(value) => {
                self.push("return");
                if let Some(value) = value {
                    self.push(" ");
                    self.expr(value);
                }
                self.push(";");
            }
            StmtKind::Delete(expr) => {
                self.push("delete ");
                self.expr(expr);
                self.push(";");
            }
            StmtKind::Next => self.push("next;"),
            StmtKind::Break => self.push("break;"),
            StmtKind::Continue => self.push("continue;"),
            StmtKind::Try {
                body,
                catch_var,
                catch,
            } => {
                self.push("try ");
                self.block(body);
                self.push(" catch ");
                if let Some(var) = catch_var {
                    let _ = write!(self.out, "({}) ", var.name);
                }
                self.block(catch);
            }
        }
    }

    fn foreach(&mut self, foreach: &Foreach) {
        let mark = |column: usize| match foreach.sort {
            Some(sort) if sort.column == column => {
                if sort.descending {
                    "-"
                } else {
                    "+"
                }
            }
            _ => "",
        };
        self.push("foreach (");
        if let Some(value) = &foreach.value {
            let _ = write!(self.out, "{} = ", value.name);
        }
        if foreach.bracketed {
            self.push("[");
        }
        for (i, key) in foreach.keys.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push(&key.name);
            self.push(mark(i + 1));
        }
        if foreach.bracketed {
            self.push("]");
        }
        self.push(" in ");
        self.indexable(&foreach.base);
        if let Some(slice) = &foreach.slice {
            self.index_list(slice);
        }
        if let Some(sort) = foreach.sort
            && sort.column == 0
        {
            if let Some(aggregate) = sort.aggregate {
                self.push(" ");
                self.push(aggregate.name());
            }
            self.push(mark(0));
        }
        if let Some(limit) = &foreach.limit {
            self.push(" limit ");
            self.expr(limit);
        }
        self.push(")");
        self.body(&foreach.body);
    }

    // ---- expressions ---------------------------------------------------------------------

    fn paren(&mut self, expr: &Expr) {
        self.push("(");
        self.expr(expr);
        self.push(")");
    }

    fn args(&mut self, args: &[Expr]) {
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.expr(arg);
        }
    }

    fn index_list(&mut self, indexes: &[Option<Expr>]) {
        self.push("[");
        for (i, index) in indexes.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            match index {
                Some(expr) => self.expr(expr),
                None => self.push("*"),
            }
        }
        self.push("]");
    }

    fn indexable(&mut self, base: &Indexable) {
        match base {
            Indexable::Name(name) => self.push(&name.name),
            Indexable::Hist(hist) => self.hist(hist),
        }
    }

    fn hist(&mut self, hist: &HistOp) {
        match hist.kind {
            HistKind::Linear { low, high, width } => {
                self.push("@hist_linear(");
                self.expr(&hist.stat);
                let _ = write!(self.out, ", {low}, {high}, {width})");
            }
            HistKind::Log => {
                self.push("@hist_log(");
                self.expr(&hist.stat);
                self.push(")");
            }
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            // A negative value can only come from a literal of 2^63 or more; print it the way
            // it was read so that it reads back the same.
            ExprKind::Number(n) => {
                let _ = write!(self.out, "{}", *n as u64);
            }
            ExprKind::String(s) => self.push(&quote_string(s)),
            ExprKind::Var(name) => self.push(name),
            ExprKind::Index { base, indexes } => {
                self.indexable(base);
                self.index_list(indexes);
            }
            ExprKind::In { indexes, base } => {
                self.push("[");
                for (i, index) in indexes.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    match index {
                        Some(expr) => self.paren(expr),
                        None => self.push("*"),
                    }
                }
                self.push("] in ");
                self.indexable(base);
            }
            ExprKind::Call { name, args } => {
                self.push(name);
                self.push("(");
                self.args(args);
                self.push(")");
            }
            ExprKind::Print(print) => {
                self.push(print.kind.name());
                self.push("(");
                let mut first = true;
                if let Some((format, _)) = &print.format {
                    self.push(&quote_string(format));
                    first = false;
                }
                if let Some(hist) = &print.hist {
                    self.hist(hist);
                }
                for arg in &print.args {
                    if !first {
                        self.push(", ");
                    }
                    first = false;
                    self.expr(arg);
                }
                self.push(")");
            }
            ExprKind::Stat {
                op,
                operand,
                params,
            } => {
                self.push(op.name());
                self.push("(");
                self.expr(operand);
                for param in params {
                    let _ = write!(self.out, ", {param}");
                }
                self.push(")");
            }
            ExprKind::Target(target) => self.target(target),
            ExprKind::Defined(operand) => self.call_like("@defined", operand),
            ExprKind::Entry(operand) => self.call_like("@entry", operand),
            ExprKind::ProbeWrite(var) => {
                let _ = write!(self.out, "@probewrite({})", var.name);
            }
            ExprKind::Perf(name) => {
                let _ = write!(self.out, "@perf({})", quote_string(name));
            }
            ExprKind::Const(name) => {
                let _ = write!(self.out, "@const({})", quote_string(name));
            }
            ExprKind::Register { user, number } => {
                let _ = write!(
                    self.out,
                    "@{}register({number})",
                    if *user { "u" } else { "k" }
                );
            }
            ExprKind::Deref {
                user,
                size,
                address,
            } => {
                let _ = write!(self.out, "@{}deref({size}, ", if *user { "u" } else { "k" });
                self.expr(address);
                self.push(")");
            }
            ExprKind::Embedded(code) => self.embedded(code),
            ExprKind::Unary { op, operand } => {
                self.push(op.symbol());
                self.paren(operand);
            }
            ExprKind::Crement {
                op,
                prefix,
                operand,
            } => {
                if *prefix {
                    self.push(op.symbol());
                    self.paren(operand);
                } else {
                    self.paren(operand);
                    self.push(op.symbol());
                }
            }
            ExprKind::Binary { op, left, right } => self.infix(left, op.symbol(), right),
            ExprKind::Logical { and, left, right } => {
                self.infix(left, if *and { "&&" } else { "||" }, right)
            }
            ExprKind::Compare { op, left, right } => self.infix(left, op.symbol(), right),
            ExprKind::Concat { left, right } => self.infix(left, ".", right),
            ExprKind::Assign { op, left, right } => self.infix(left, op.symbol(), right),
            ExprKind::Regex {
                negated,
                left,
                pattern,
                ..
            } => {
                self.paren(left);
                self.push(if *negated { " !~ " } else { " =~ " });
                self.push(&quote_string(pattern));
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                self.paren(cond);
                self.push(" ? ");
                self.paren(then);
                self.push(" : ");
                self.paren(otherwise);
            }
        }
    }

    fn call_like(&mut self, name: &str, operand: &Expr) {
        self.push(name);
        self.push("(");
        self.expr(operand);
        self.push(")");
    }

    fn infix(&mut self, left: &Expr, op: &str, right: &Expr) {
        self.paren(left);
        self.push(" ");
        self.push(op);
        self.push(" ");
        self.paren(right);
    }

    fn target(&mut self, target: &TargetExpr) {
        if target.address_of {
            self.push("&");
        }
        match &target.base {
            TargetBase::Var(name) => self.push(name),
            TargetBase::Cast {
                operand,
                type_name,
                module,
            } => {
                self.push("@cast(");
                self.expr(operand);
                self.push(", ");
                self.push(&quote_string(type_name));
                if let Some(module) = module {
                    self.push(", ");
                    self.push(&quote_string(module));
                }
                self.push(")");
            }
            TargetBase::AtVar { name, module } => {
                self.push("@var(");
                self.push(&quote_string(name));
                if let Some(module) = module {
                    self.push(", ");
                    self.push(&quote_string(module));
                }
                self.push(")");
            }
            TargetBase::Autocast(operand) => self.paren(operand),
        }
        for component in &target.components {
            match component {
                TargetComponent::Member(name, _) => {
                    self.push("->");
                    self.push(name);
                }
                TargetComponent::Index(n, _) => {
                    let _ = write!(self.out, "[{}]", *n as u64);
                }
                TargetComponent::IndexExpr(expr, _) => {
                    self.push("[");
                    self.expr(expr);
                    self.push("]");
                }
                TargetComponent::PrettyPrint(dollars, _) => self.push(dollars),
            }
        }
    }
}

fn scalar_name(ty: ScalarType) -> &'static str {
    match ty {
        ScalarType::Long => "long",
        ScalarType::String => "string",
    }
}
