//! Errors of the debuginfo layer. Each variant names the file, probe point or variable it is
//! about, so the caller can show it to the user as is.

use std::path::PathBuf;

/// Everything that can go wrong while reading ELF/DWARF or resolving a probe point.
#[derive(Debug, thiserror::Error)]
pub enum DebugInfoError {
    #[error("cannot read '{path}': {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("'{path}' is not an ELF file we can read: {reason}", path = path.display())]
    BadElf { path: PathBuf, reason: String },
    #[error("malformed DWARF in '{path}': {reason}", path = path.display())]
    BadDwarf { path: PathBuf, reason: String },
    #[error("cannot find executable '{name}' in $PATH")]
    NotInPath { name: String },
    #[error("cannot find library '{name}' needed by '{path}'", path = path.display())]
    LibraryNotFound { name: String, path: PathBuf },
    #[error("invalid probe point pattern '{pattern}': {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("no match for probe point {what} in '{path}'", path = path.display())]
    NoMatch { what: String, path: PathBuf },
    #[error("'{path}' has no debuginfo (DWARF); {what} needs it", path = path.display())]
    NoDebugInfo { path: PathBuf, what: String },
    #[error("invalid SDT argument '{text}': {reason}")]
    BadSdtArgument { text: String, reason: String },
    /// An unresolvable `$var`, in stap's words.
    #[error("{0}")]
    UnknownVariable(Box<VariableNotFound>),
    /// A target-variable expression that cannot be compiled (bad member, non-pointer deref...).
    #[error("{message}")]
    TargetExpr { message: String },
}

/// Where a `$var` was looked for and what was in scope instead (tapsets.cxx
/// `dwarf_var_expanding_visitor` wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unable to find local '{name}', [man error::dwarf] dieoffset {die_offset:#x} in {module}, near pc {pc:#x} in {function} {file} (alternatives: {alternatives})"
)]
pub struct VariableNotFound {
    pub name: String,
    pub die_offset: u64,
    pub module: String,
    pub pc: u64,
    pub function: String,
    pub file: String,
    pub alternatives: String,
}

/// A run-time fault while evaluating a location program or reading a target value. The
/// `Display` texts are SystemTap's (runtime/loc2c-runtime.h, uconversions.stp).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("read fault [man error::fault] at {0:#x}")]
    Read(u64),
    #[error("register access fault [man error::fault]")]
    Register,
    #[error("user string copy fault -14 at {0:#x} [man error::fault]")]
    UserString(u64),
    #[error("divide by zero in DWARF operand (DW_OP_div)")]
    DivideByZero,
    /// The value exists in the program but not at this pc (optimized out, or needs an entry
    /// value we cannot recover).
    #[error("{0}")]
    Unavailable(String),
}

pub type Result<T, E = DebugInfoError> = std::result::Result<T, E>;
