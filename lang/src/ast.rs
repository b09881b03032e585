//! The syntax tree of one script file, as parsed (before resolution).
//!
//! Every node carries the span of its *token* — the token stap attaches to the node and names
//! in messages (`operator '+' at f.stp:1:9`): the operator of a binary expression, the name of
//! a call, the keyword of a statement. [`Expr::range`] gives the whole extent when needed.
//! Brace expansion in probe points is done by the parser (as stap does), so a
//! [`ProbePoint`] is always a flat list of components.
//!
//! Strings are byte strings (`Vec<u8>`): escapes are decoded, and a script may build any byte.

use crate::source::{FileId, Span};

/// One parsed file.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    pub file: FileId,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Probe(Probe),
    Alias(ProbeAlias),
    Global(Global),
    Function(Function),
    /// Top-level `%{ … %}`.
    Embedded(Embedded),
}

/// A name with its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `probe PP, PP… { body }`
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The `probe` keyword.
    pub span: Span,
    pub points: Vec<ProbePoint>,
    pub body: Block,
}

/// `probe NAME = PP… { prologue }`, `probe NAME += PP… { epilogue }`,
/// `probe NAME = PP… { prologue }, { epilogue }`; several names may share one definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeAlias {
    pub span: Span,
    pub names: Vec<ProbePoint>,
    pub points: Vec<ProbePoint>,
    pub body: AliasBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AliasBody {
    /// `=`: runs before the user's probe body.
    Prologue(Block),
    /// `+=`: runs after it.
    Epilogue(Block),
    /// `= … { prologue }, { epilogue }`.
    Both(Block, Block),
}

/// `comp.comp(arg)…[?|!] [if (cond)]`
#[derive(Clone, Debug, PartialEq)]
pub struct ProbePoint {
    pub components: Vec<Component>,
    /// `?` (also set by `!`).
    pub optional: bool,
    /// `!`.
    pub sufficient: bool,
    pub condition: Option<Expr>,
}

impl ProbePoint {
    /// The span of the first component (stap's location for a probe point).
    pub fn span(&self) -> Span {
        self.components[0].span
    }
}

/// One dotted component: a name that may contain `*` wildcards (`sys*read`, `*`, `**`), with
/// an optional literal parameter (`function("main")`, `ms(100)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    pub name: String,
    pub span: Span,
    pub arg: Option<Literal>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    pub value: LiteralValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LiteralValue {
    Number(i64),
    String(Vec<u8>),
}

/// `global NAME[%][[SIZE]][= LITERAL]` (one per name; `global a, b` gives two).
#[derive(Clone, Debug, PartialEq)]
pub struct Global {
    pub name: Ident,
    pub private: bool,
    /// `%`: when full, the oldest element is evicted.
    pub wrap: bool,
    /// `[SIZE]`: the array's capacity.
    pub size: Option<i64>,
    pub init: Option<Literal>,
}

/// `function NAME[:type] (params) [:priority] { body }` or `… %{ C %}`
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: Ident,
    pub private: bool,
    pub return_type: Option<TypeAnnotation>,
    pub params: Vec<Param>,
    pub priority: Option<Literal>,
    pub body: FunctionBody,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: Option<TypeAnnotation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeAnnotation {
    pub ty: ScalarType,
    pub span: Span,
}

/// The two types a script can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    Long,
    String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FunctionBody {
    Block(Block),
    Embedded(Embedded),
}

/// `%{ … %}`: the C text between the delimiters.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedded {
    pub code: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The `{`.
    pub span: Span,
    pub stmts: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    /// The statement's first token (its keyword, or the first token of an expression).
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    Block(Block),
    /// `;`
    Null,
    Expr(Expr),
    If {
        cond: Expr,
        then: Box<Stmt>,
        otherwise: Option<Box<Stmt>>,
    },
    While {
        cond: Expr,
        body: Box<Stmt>,
    },
    /// `for (init; cond; incr)`; a missing condition is stored as the literal `1`, as stap does.
    For {
        init: Option<Expr>,
        cond: Expr,
        incr: Option<Expr>,
        body: Box<Stmt>,
    },
    Foreach(Box<Foreach>),
    Return(Option<Expr>),
    Delete(Expr),
    Next,
    Break,
    Continue,
    Try {
        body: Block,
        catch_var: Option<Ident>,
        catch: Block,
    },
}

/// `foreach ([V =] KEYS in BASE[[slice]] [@agg][+|-] [limit N]) body`
#[derive(Clone, Debug, PartialEq)]
pub struct Foreach {
    /// `V = …`: also binds the element's value.
    pub value: Option<Ident>,
    pub keys: Vec<Ident>,
    /// The keys were written in brackets (`[k]` even for one key).
    pub bracketed: bool,
    pub base: Indexable,
    /// `in A[*, 5]`: `None` entries are `*`.
    pub slice: Option<Vec<Option<Expr>>>,
    pub sort: Option<Sort>,
    pub limit: Option<Expr>,
    pub body: Box<Stmt>,
}

/// A foreach sort directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    /// 0: by value (mark on the value variable or the array), `k`: by the k-th key (1-based).
    pub column: usize,
    pub descending: bool,
    /// For statistics arrays sorted by value: which aggregate (`@count` if not given).
    pub aggregate: Option<StatOp>,
}

/// What may be indexed or iterated: an array name or a histogram of a statistic.
#[derive(Clone, Debug, PartialEq)]
pub enum Indexable {
    Name(Ident),
    Hist(Box<HistOp>),
}

/// `@hist_linear(S, LOW, HIGH, WIDTH)` / `@hist_log(S)`
#[derive(Clone, Debug, PartialEq)]
pub struct HistOp {
    pub kind: HistKind,
    pub stat: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HistKind {
    Linear { low: i64, high: i64, width: i64 },
    Log,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatOp {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Variance,
}

impl StatOp {
    pub fn name(self) -> &'static str {
        match self {
            StatOp::Count => "@count",
            StatOp::Sum => "@sum",
            StatOp::Min => "@min",
            StatOp::Max => "@max",
            StatOp::Avg => "@avg",
            StatOp::Variance => "@variance",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// The node's token (see the module documentation).
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(i64),
    String(Vec<u8>),
    /// A variable (local or global), resolved later.
    Var(String),
    /// `A[i, j]`, `@hist_log(s)[b]`; `None` indexes are `*` (only valid in `delete` / `in` /
    /// foreach slices).
    Index {
        base: Indexable,
        indexes: Vec<Option<Expr>>,
    },
    /// `[i, j] in A`
    In {
        indexes: Vec<Option<Expr>>,
        base: Indexable,
    },
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Print(Box<PrintCall>),
    /// `@count(s)`, `@variance(s, 2)`
    Stat {
        op: StatOp,
        operand: Box<Expr>,
        params: Vec<i64>,
    },
    /// `$var`, `$var->x[2]$`, `@cast(...)`, `@var(...)`, `&…`, autocasts.
    Target(Box<TargetExpr>),
    Defined(Box<Expr>),
    Entry(Box<Expr>),
    /// `@probewrite(var)`
    ProbeWrite(Ident),
    /// `@perf("name")`
    Perf(Vec<u8>),
    /// `@const("C_MACRO")` (guru only).
    Const(Vec<u8>),
    /// `@kregister(N)` / `@uregister(N)`
    Register {
        user: bool,
        number: i64,
    },
    /// `@kderef(SIZE, ADDR)` / `@uderef(SIZE, ADDR)`
    Deref {
        user: bool,
        size: i64,
        address: Box<Expr>,
    },
    /// `%{ C %}` as an expression (guru only).
    Embedded(String),
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    /// `++x`, `x--`…
    Crement {
        op: CrementOp,
        prefix: bool,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Logical {
        and: bool,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Compare {
        op: CompareOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `s =~ "re"` / `s !~ "re"`: the pattern is always a literal.
    Regex {
        negated: bool,
        left: Box<Expr>,
        pattern: Vec<u8>,
        pattern_span: Span,
    },
    Concat {
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Assign {
        op: AssignOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
}

/// A print-family call (built into the translator: `print println printd printdln printf`,
/// their `s…` string-returning forms, and `print_char`).
#[derive(Clone, Debug, PartialEq)]
pub struct PrintCall {
    pub kind: PrintKind,
    /// `printf`'s format or `printd`'s delimiter, decoded.
    pub format: Option<(Vec<u8>, Span)>,
    pub args: Vec<Expr>,
    /// `print(@hist_log(s))`: print a histogram.
    pub hist: Option<HistOp>,
}

/// Which print function: whether it returns a string (`sprint…`), takes a format
/// (`…printf`), a delimiter (`…printd…`) or appends a newline (`…ln`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrintKind {
    pub to_string: bool,
    pub format: bool,
    pub delim: bool,
    pub newline: bool,
    pub char: bool,
}

impl PrintKind {
    /// Recognizes a print-family name (staptree.cxx `print_format::create`).
    pub fn from_name(name: &str) -> Option<PrintKind> {
        let mut kind = PrintKind {
            to_string: false,
            format: false,
            delim: false,
            newline: false,
            char: false,
        };
        if name == "print_char" {
            kind.char = true;
            return Some(kind);
        }
        let mut rest = name;
        if let Some(r) = rest.strip_prefix('s') {
            kind.to_string = true;
            rest = r;
        }
        rest = rest.strip_prefix("print")?;
        if let Some(r) = rest.strip_prefix('f') {
            kind.format = true;
            rest = r;
        } else {
            if let Some(r) = rest.strip_prefix('d') {
                kind.delim = true;
                rest = r;
            }
            if let Some(r) = rest.strip_prefix("ln") {
                kind.newline = true;
                rest = r;
            }
        }
        rest.is_empty().then_some(kind)
    }

    pub fn name(self) -> &'static str {
        match (
            self.char,
            self.to_string,
            self.format,
            self.delim,
            self.newline,
        ) {
            (true, ..) => "print_char",
            (_, false, true, ..) => "printf",
            (_, true, true, ..) => "sprintf",
            (_, false, _, false, false) => "print",
            (_, false, _, false, true) => "println",
            (_, false, _, true, false) => "printd",
            (_, false, _, true, true) => "printdln",
            (_, true, _, false, false) => "sprint",
            (_, true, _, false, true) => "sprintln",
            (_, true, _, true, false) => "sprintd",
            (_, true, _, true, true) => "sprintdln",
        }
    }
}

/// `$name…`, `@cast(…)`, `@var(…)` or an autocast (`expr->member`, `&expr`), with member /
/// index / pretty-print components.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetExpr {
    pub base: TargetBase,
    pub components: Vec<TargetComponent>,
    /// `&…`: the address instead of the value.
    pub address_of: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TargetBase {
    /// `$name` (the name includes the `$`; `$$vars` etc. included).
    Var(String),
    /// `@cast(expr, "type" [, "module"])`
    Cast {
        operand: Expr,
        type_name: Vec<u8>,
        module: Option<Vec<u8>>,
    },
    /// `@var("name[@cu]" [, "module"])`
    AtVar {
        name: Vec<u8>,
        module: Option<Vec<u8>>,
    },
    /// A plain value followed by `->` / `[` / `$`, or under `&` (an autocast).
    Autocast(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum TargetComponent {
    /// `->name`
    Member(String, Span),
    /// `[N]` with a literal number.
    Index(i64, Span),
    /// `[expr]`
    IndexExpr(Expr, Span),
    /// `$` / `$$` pretty-printing suffix.
    PrettyPrint(String, Span),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `+x`
    Plus,
    Neg,
    /// `!x`
    Not,
    /// `~x`
    BitNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrementOp {
    Increment,
    Decrement,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Shl,
    /// `>>`: arithmetic.
    Shr,
    /// `>>>`: logical.
    UShr,
    BitAnd,
    BitOr,
    BitXor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssignOp {
    /// `=`
    Assign,
    /// `<<<`: add a sample to a statistic.
    StatAdd,
    /// `x OP= y` for an arithmetic/bitwise operator.
    Compound(BinaryOp),
    /// `.=`
    Concat,
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Plus => "+",
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
            UnaryOp::BitNot => "~",
        }
    }
}

impl CrementOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CrementOp::Increment => "++",
            CrementOp::Decrement => "--",
        }
    }
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Shl => "<<",
            BinaryOp::Shr => ">>",
            BinaryOp::UShr => ">>>",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::BitXor => "^",
        }
    }
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
        }
    }
}

impl AssignOp {
    pub fn symbol(self) -> &'static str {
        match self {
            AssignOp::Assign => "=",
            AssignOp::StatAdd => "<<<",
            AssignOp::Concat => ".=",
            AssignOp::Compound(op) => match op {
                BinaryOp::Add => "+=",
                BinaryOp::Sub => "-=",
                BinaryOp::Mul => "*=",
                BinaryOp::Div => "/=",
                BinaryOp::Mod => "%=",
                BinaryOp::Shl => "<<=",
                BinaryOp::Shr => ">>=",
                BinaryOp::UShr => ">>>=",
                BinaryOp::BitAnd => "&=",
                BinaryOp::BitOr => "|=",
                BinaryOp::BitXor => "^=",
            },
        }
    }
}

impl Expr {
    /// The whole extent of the expression (its token span widened over its operands).
    pub fn range(&self) -> Span {
        let mut span = self.span;
        self.for_each_child(&mut |child| span = span.to(child.range()));
        span
    }

    /// Calls `f` on each direct sub-expression, in source order.
    pub fn for_each_child<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        fn indexes<'a>(list: &'a [Option<Expr>], f: &mut dyn FnMut(&'a Expr)) {
            list.iter().flatten().for_each(f);
        }
        fn indexable<'a>(base: &'a Indexable, f: &mut dyn FnMut(&'a Expr)) {
            if let Indexable::Hist(hist) = base {
                f(&hist.stat);
            }
        }
        match &self.kind {
            ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Var(_)
            | ExprKind::ProbeWrite(_)
            | ExprKind::Perf(_)
            | ExprKind::Const(_)
            | ExprKind::Register { .. }
            | ExprKind::Embedded(_) => {}
            ExprKind::Index {
                base,
                indexes: list,
            } => {
                indexable(base, f);
                indexes(list, f);
            }
            ExprKind::In {
                indexes: list,
                base,
            } => {
                indexes(list, f);
                indexable(base, f);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(&mut *f),
            ExprKind::Print(print) => {
                if let Some(hist) = &print.hist {
                    f(&hist.stat);
                }
                print.args.iter().for_each(&mut *f);
            }
            ExprKind::Stat { operand, .. }
            | ExprKind::Defined(operand)
            | ExprKind::Entry(operand)
            | ExprKind::Unary { operand, .. }
            | ExprKind::Crement { operand, .. } => f(operand),
            ExprKind::Deref { address, .. } => f(address),
            ExprKind::Target(target) => {
                match &target.base {
                    TargetBase::Cast { operand, .. } | TargetBase::Autocast(operand) => f(operand),
                    TargetBase::Var(_) | TargetBase::AtVar { .. } => {}
                }
                for component in &target.components {
                    if let TargetComponent::IndexExpr(e, _) = component {
                        f(e);
                    }
                }
            }
            ExprKind::Binary { left, right, .. }
            | ExprKind::Logical { left, right, .. }
            | ExprKind::Compare { left, right, .. }
            | ExprKind::Concat { left, right }
            | ExprKind::Assign { left, right, .. } => {
                f(left);
                f(right);
            }
            ExprKind::Regex { left, .. } => f(left),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                f(cond);
                f(then);
                f(otherwise);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_family_names() {
        for name in [
            "print",
            "println",
            "printd",
            "printdln",
            "printf",
            "sprint",
            "sprintln",
            "sprintd",
            "sprintdln",
            "sprintf",
            "print_char",
        ] {
            let kind = PrintKind::from_name(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(kind.name(), name);
        }
        for name in [
            "printfln",
            "sprintx",
            "prin",
            "printdf",
            "splint",
            "print_chars",
        ] {
            assert_eq!(PrintKind::from_name(name), None, "{name}");
        }
    }
}
