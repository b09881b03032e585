//! The IR: a small typed, resolved program between the elaborated script and Cranelift.
//!
//! What the IR has already decided, so code generation is mechanical:
//! - **names are gone**: locals are slots of a body ([`LocalId`]), scalar globals and arrays
//!   are indices ([`ScalarId`], [`MapId`]) into the program's tables, which are the tables the
//!   runtime is loaded with; formats, regular expressions and source locations are indices too.
//! - **types are explicit**: every local is a `long` or a `string`; every operand says which.
//! - **control flow is explicit**: a body is a list of basic blocks ending in a
//!   [`Terminator`]; `if`, loops, `break`/`continue`, `foreach`, `try`/`catch`, `next` and
//!   overload chains are already blocks and branches. A block names where run-time errors
//!   raised inside it go ([`Block::unwind`]: the catch dispatch of the innermost `try`, or
//!   out of the function).
//! - **SystemTap's accounting is explicit**: MAXACTION bookkeeping is [`Inst::Actions`] /
//!   [`Inst::CheckActions`] placed exactly where stap's translator places it.
//! - **runtime calls are named**: builtins are [`Inst::Helper`] calls of an `rtap_abi`
//!   helper; arrays, statistics, printing and iteration have their own instructions.
//!
//! The text form ([`print`]) is stable and is what `rtap -p3` prints.

use rtap_abi::Helper;
use rtap_abi::format::Format;

pub mod print;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// The index as a `usize`.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

index_type!(
    /// A local slot of a body (parameters first, then script locals, then temporaries).
    LocalId,
    "%"
);
index_type!(
    /// A basic block of a body; block 0 is the entry.
    BlockId,
    "bb"
);
index_type!(
    /// A script function.
    FuncId,
    "fn"
);
index_type!(
    /// A scalar `long` or `string` global.
    ScalarId,
    "g"
);
index_type!(
    /// An array, or a statistics global (an aggregate of arity 0).
    MapId,
    "map"
);
index_type!(
    /// A printf format.
    FormatId,
    "fmt"
);
index_type!(
    /// A regular expression.
    RegexId,
    "re"
);
index_type!(
    /// A source location (`operator '/' at f.stp:1:22`), for run-time error messages.
    LocId,
    "loc"
);

/// A whole compiled script.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    /// MAXSTRINGLEN: every string buffer holds this many bytes (values hold one fewer).
    pub max_string_len: usize,
    /// MAXNESTING: deepest script-function nesting allowed.
    pub max_nesting: i64,
    /// Scalar globals.
    pub scalars: Vec<Scalar>,
    /// Arrays and statistics globals.
    pub maps: Vec<Map>,
    /// Script functions (one per overload).
    pub functions: Vec<Function>,
    /// Probes, in program order.
    pub probes: Vec<Probe>,
    /// printf formats (the print family already turned into formats).
    pub formats: Vec<Format>,
    /// Regular expressions, as written (POSIX ERE).
    pub regexes: Vec<Vec<u8>>,
    /// Source locations for run-time errors.
    pub locations: Vec<String>,
}

/// The two value types locals and scalars have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// A 64-bit signed integer.
    Long,
    /// A string of at most MAXSTRINGLEN-1 bytes.
    Str,
}

/// A scalar global.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// Script name.
    pub name: String,
    /// Initial value (its type is the global's type).
    pub init: Const,
    /// Written but never read: displayed at the end of the run (§6.5).
    pub display: bool,
}

/// A constant of either type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Const {
    /// A long.
    Long(i64),
    /// A string.
    Str(Vec<u8>),
}

impl Const {
    /// The constant's type.
    pub fn ty(&self) -> Type {
        match self {
            Const::Long(_) => Type::Long,
            Const::Str(_) => Type::Str,
        }
    }
}

/// An array, or a statistics global of arity 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    /// Script name.
    pub name: String,
    /// Key types (empty for a statistics scalar).
    pub keys: Vec<Type>,
    /// Value type.
    pub value: MapValue,
    /// Declared capacity `[N]`.
    pub size: Option<u32>,
    /// Declared with `%`.
    pub wrap: bool,
    /// Written but never read: displayed at the end of the run (§6.5).
    pub display: bool,
}

/// What an array holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapValue {
    /// Longs.
    Long,
    /// Strings.
    Str,
    /// Statistics.
    Stats(StatDecl),
}

/// What the program does with a statistics variable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatDecl {
    /// The one histogram kind it is read with.
    pub hist: Hist,
    /// The `@variance` shift, when `@variance` is read.
    pub variance_shift: Option<u32>,
}

/// A histogram kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hist {
    /// None.
    #[default]
    None,
    /// `@hist_log`.
    Log,
    /// `@hist_linear(S, low, high, width)`.
    Linear {
        /// Lowest value of the first regular bucket.
        low: i64,
        /// Upper bound.
        high: i64,
        /// Bucket width.
        width: i64,
    },
}

/// A script function (one overload).
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Script name (overloads share it).
    pub name: String,
    /// Number of parameters: locals `%0 .. %n-1`.
    pub params: u32,
    /// Return type (`None`: no value).
    pub ret: Option<Type>,
    /// Where the function is declared: the `near` location of MAXNESTING errors.
    pub loc: LocId,
    /// The code.
    pub body: Body,
}

/// A probe and its handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Where it attaches.
    pub kind: ProbeKind,
    /// `pp()`: the probe point as resolved.
    pub pp: String,
    /// `pn()`: the probe point as written.
    pub pn: String,
    /// The handler.
    pub body: Body,
}

/// The probe points the runtime knows how to fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// `begin(N)`.
    Begin(i64),
    /// `end(N)`.
    End(i64),
    /// `error(N)`.
    Error(i64),
    /// `never`.
    Never,
    /// `timer.UNIT(value)[.randomize(randomize)]`.
    Timer {
        /// The unit component (`s`, `ms`, `hz`, `jiffies`, …).
        unit: String,
        /// Its parameter.
        value: i64,
        /// `.randomize(N)`, 0 without.
        randomize: i64,
    },
    /// Any other probe point, served by a provider registered with the runtime.
    Other(String),
}

/// A handler or function body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    /// The slots.
    pub locals: Vec<Local>,
    /// Basic blocks; block 0 is the entry.
    pub blocks: Vec<Block>,
}

impl Body {
    /// The type of a local.
    pub fn ty(&self, local: LocalId) -> Type {
        self.locals[local.index()].ty
    }
}

/// A local slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// Script name; empty for a temporary.
    pub name: String,
    /// Type.
    pub ty: Type,
}

/// A basic block.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Straight-line instructions.
    pub insts: Vec<Inst>,
    /// How the block ends.
    pub term: Terminator,
    /// Where a run-time error raised in this block continues: a block (the catch dispatch of
    /// the innermost `try`), or `None` to leave the function with the error pending.
    pub unwind: Option<BlockId>,
}

/// A `long` operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A constant.
    Const(i64),
    /// A long local.
    Local(LocalId),
}

/// A `string` operand (the address of a string buffer, read only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    /// A string local.
    Local(LocalId),
    /// A string global.
    Global(ScalarId),
    /// A literal (may be longer than MAXSTRINGLEN-1: printed whole, truncated when stored).
    Lit(Vec<u8>),
}

/// Where a string result is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrDst {
    /// A string local.
    Local(LocalId),
    /// A string global.
    Global(ScalarId),
}

impl From<StrDst> for Str {
    fn from(dst: StrDst) -> Str {
        match dst {
            StrDst::Local(l) => Str::Local(l),
            StrDst::Global(g) => Str::Global(g),
        }
    }
}

/// An operand of either type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A long.
    Long(Value),
    /// A string.
    Str(Str),
}

impl Arg {
    /// The operand's type.
    pub fn ty(&self) -> Type {
        match self {
            Arg::Long(_) => Type::Long,
            Arg::Str(_) => Type::Str,
        }
    }
}

/// Where a result of either type goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// A long local.
    Long(LocalId),
    /// A string destination.
    Str(StrDst),
}

/// Unary long operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x` (wrapping).
    Neg,
    /// `!x`: 1 when x is 0, else 0.
    Not,
    /// `~x`.
    BitNot,
}

/// Binary long operators that cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+` (wrapping).
    Add,
    /// `-` (wrapping).
    Sub,
    /// `*` (wrapping).
    Mul,
    /// `&`.
    And,
    /// `|`.
    Or,
    /// `^`.
    Xor,
    /// `<<`, count masked to 63.
    Shl,
    /// `>>`, arithmetic, count masked to 63.
    Shr,
    /// `>>>`, logical, count masked to 63.
    Ushr,
}

/// `/` and `%`: division by 0 is the run-time error `division by 0`; `INT64_MIN / -1` wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivOp {
    /// `/`, truncating toward 0.
    Div,
    /// `%`, with the sign of the dividend.
    Rem,
}

/// Comparisons (of longs, or of strings byte-wise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Aggregate operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatOp {
    /// `@count`
    Count,
    /// `@sum`
    Sum,
    /// `@min`
    Min,
    /// `@max`
    Max,
    /// `@avg`
    Avg,
    /// `@variance`
    Variance,
}

/// How a `foreach` orders the elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// 0: by value; `1..=9`: by that key.
    pub column: u32,
    /// `-` rather than `+`.
    pub descending: bool,
    /// For statistics arrays sorted by value: the aggregate compared.
    pub stat_op: StatOp,
}

/// Run-time errors generated code raises itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaiseKind {
    /// `all functions exhausted`: `next` in the last overload.
    FunctionsExhausted,
}

/// A straight-line instruction.
#[derive(Debug, Clone, PartialEq)]
pub enum Inst {
    /// `dst = src`
    Move { dst: LocalId, src: Value },
    /// `dst = op src`
    Unary { dst: LocalId, op: UnOp, src: Value },
    /// `dst = lhs op rhs`
    Binary {
        dst: LocalId,
        op: BinOp,
        lhs: Value,
        rhs: Value,
    },
    /// `dst = lhs op rhs`, raising `division by 0` at `loc`.
    Divide {
        dst: LocalId,
        op: DivOp,
        lhs: Value,
        rhs: Value,
        loc: LocId,
    },
    /// `dst = lhs op rhs` (0 or 1).
    Compare {
        dst: LocalId,
        op: CmpOp,
        lhs: Value,
        rhs: Value,
    },
    /// `dst = lhs op rhs` on strings (0 or 1).
    StrCompare {
        dst: LocalId,
        op: CmpOp,
        lhs: Str,
        rhs: Str,
    },
    /// `dst = global`
    LoadGlobal { dst: LocalId, global: ScalarId },
    /// `global = src`
    StoreGlobal { global: ScalarId, src: Value },
    /// `dst = src` (truncated to MAXSTRINGLEN-1).
    StrCopy { dst: StrDst, src: Str },
    /// `dst = lhs . rhs` (dst may be `lhs`).
    StrConcat { dst: StrDst, lhs: Str, rhs: Str },
    /// A script-function call. `ret` receives the result; `next` receives 1 when the callee
    /// left with `next` (the caller then tries the next overload). Errors unwind.
    Call {
        ret: Option<Ret>,
        next: Option<LocalId>,
        func: FuncId,
        args: Vec<Arg>,
        loc: LocId,
    },
    /// A runtime helper with simple parameters (strings, longs, a string result, a location),
    /// in the helper's parameter order.
    Helper {
        helper: Helper,
        ret: Option<Ret>,
        args: Vec<Arg>,
        loc: Option<LocId>,
    },
    /// Raise a run-time error at `loc`.
    Raise { kind: RaiseKind, loc: LocId },
    /// `printf(format, args…)` into the handler's output.
    Printf {
        format: FormatId,
        args: Vec<Arg>,
        loc: LocId,
    },
    /// `dst = sprintf(format, args…)`.
    Sprintf {
        dst: StrDst,
        format: FormatId,
        args: Vec<Arg>,
        loc: LocId,
    },
    /// `ret = map[keys]` (0 / "" when absent).
    MapGet {
        ret: Ret,
        map: MapId,
        keys: Vec<Arg>,
    },
    /// `map[keys] = value`.
    MapSet {
        map: MapId,
        keys: Vec<Arg>,
        value: Arg,
        loc: LocId,
    },
    /// `dst = (map[keys] += delta)`.
    MapAdd {
        dst: Option<LocalId>,
        map: MapId,
        keys: Vec<Arg>,
        delta: Value,
        loc: LocId,
    },
    /// `dst = [keys] in map`; a `None` key is `*`.
    MapExists {
        dst: LocalId,
        map: MapId,
        keys: Vec<Option<Arg>>,
    },
    /// `delete map[keys]`; a `None` key is `*`.
    MapDelete { map: MapId, keys: Vec<Option<Arg>> },
    /// `delete map` (or reset a statistics scalar).
    MapClear { map: MapId },
    /// `map[keys] <<< value`.
    StatAdd {
        map: MapId,
        keys: Vec<Arg>,
        value: Value,
        loc: LocId,
    },
    /// `dst = @op(map[keys])`.
    StatGet {
        dst: LocalId,
        map: MapId,
        keys: Vec<Arg>,
        op: StatOp,
        loc: LocId,
    },
    /// `print(@hist_*(map[keys]))`.
    HistPrint {
        map: MapId,
        keys: Vec<Arg>,
        loc: LocId,
    },
    /// `dst = sprint(@hist_*(map[keys]))`.
    HistSprint {
        dst: StrDst,
        map: MapId,
        keys: Vec<Arg>,
        loc: LocId,
    },
    /// `dst = @hist_*(map[keys])[bucket]`, checked.
    HistBucket {
        dst: LocalId,
        map: MapId,
        keys: Vec<Arg>,
        bucket: Value,
        loc: LocId,
    },
    /// `dst` = count in `bucket`, unchecked (foreach over buckets).
    HistCount {
        dst: LocalId,
        map: MapId,
        keys: Vec<Arg>,
        bucket: Value,
    },
    /// `dst` = number of buckets of `map`'s histogram.
    HistBuckets { dst: LocalId, map: MapId },
    /// Start iterating `map`; `iter` receives the iterator.
    ForeachStart {
        iter: LocalId,
        map: MapId,
        sort: Option<Sort>,
        limit: Option<Value>,
        pattern: Vec<Option<Arg>>,
    },
    /// `dst` = 1 and the next element's keys in `keys`, or 0 when done.
    ForeachNext {
        dst: LocalId,
        iter: LocalId,
        keys: Vec<LocalId>,
    },
    /// `ret` = the current element's value (long or string arrays).
    ForeachValue { ret: Ret, iter: LocalId },
    /// `dst` = `@op` of the current element of a statistics array.
    ForeachStat {
        dst: LocalId,
        iter: LocalId,
        op: StatOp,
        loc: LocId,
    },
    /// End the iteration.
    ForeachEnd { iter: LocalId },
    /// `dst = subject =~ regex` (remembers the captures for `matched()`).
    RegexMatch {
        dst: LocalId,
        regex: RegexId,
        subject: Str,
    },
    /// MAXACTION: take `count` actions from the budget; when it drops to 0 or below, raise
    /// `MAXACTION exceeded` near `loc`.
    Actions { count: u32, loc: Option<LocId> },
    /// MAXACTION for a body with a bounded statement count: raise when fewer than `count`
    /// actions remain (nothing is taken).
    CheckActions { count: u32, loc: Option<LocId> },
}

/// How a block ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Terminator {
    /// Go to a block.
    Jump(BlockId),
    /// Go to `then` when `cond` is nonzero, else to `otherwise`.
    Branch {
        cond: Value,
        then: BlockId,
        otherwise: BlockId,
    },
    /// Leave the function (with its result) or the handler.
    Return(Option<Arg>),
    /// Leave the function with the `next` flag set (try the next overload).
    Next,
    /// A catch dispatch: when the pending unwind is a catchable error, clear it (copying the
    /// message into `msg`) and go to `caught`; otherwise go to `uncaught`.
    Catch {
        msg: Option<LocalId>,
        caught: BlockId,
        uncaught: BlockId,
    },
    /// Leave the function with the pending unwind.
    Unwind,
}
