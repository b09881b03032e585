//! Addresses to text, as stap's runtime prints them (`_stp_snprint_addr` in runtime/sym.c,
//! 4.8): `usymname`, `usymdata` (`sym+0xoff/0xsize [module]`), `usymfile`, `usymline`,
//! `usymfileline`, `umodname`, and the backtrace printers (`ubacktrace`,
//! `sprint_ubacktrace`, `print_ubacktrace`, `print_ubacktrace_brief`,
//! `print_ubacktrace_fileline`).

use std::path::PathBuf;

use super::symbols::SymbolKind;
use super::unwind::ModuleLookup;

/// What is known about an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressInfo {
    /// The containing symbol, leading `.` dropped (as stap does).
    pub name: Option<String>,
    /// Offset from the symbol, or from the module's link-time base when there is none.
    pub offset: u64,
    pub size: u64,
    pub module: Option<PathBuf>,
    pub file: Option<String>,
    pub line: u64,
}

/// Looks up the module, symbol and (if `lines`) source line of a run-time address.
pub fn describe(lookup: &dyn ModuleLookup, address: u64, lines: bool) -> AddressInfo {
    let Some((module, bias)) = lookup.module_at(address) else {
        return AddressInfo::default();
    };
    let rel = address.wrapping_sub(bias);
    let mut info = AddressInfo {
        module: Some(module.path.clone()),
        offset: rel,
        ..AddressInfo::default()
    };
    if let Some(sym) = module
        .symbols
        .lookup(rel)
        .filter(|s| s.kind == SymbolKind::Function || s.kind == SymbolKind::Object)
    {
        info.name = Some(sym.name.strip_prefix('.').unwrap_or(&sym.name).to_owned());
        info.offset = rel - sym.address;
        info.size = sym.size;
    }
    if lines
        && let Ok(table) = module.lines()
        && let Some(row) = table.lookup(rel)
    {
        info.file = Some(table.file(row).to_owned());
        info.line = row.line as u64;
    }
    info
}

/// stap's `_STP_SYM_*` flags (runtime/sym.h).
pub mod flags {
    pub const HEXSTR: u32 = 0;
    pub const SYMBOL: u32 = 1;
    pub const HEX_SYMBOL: u32 = 2;
    pub const MODULE: u32 = 4;
    pub const OFFSET: u32 = 8;
    pub const SIZE: u32 = 16;
    pub const PRE_SPACE: u32 = 64;
    pub const POST_SPACE: u32 = 128;
    pub const NEWLINE: u32 = 256;
    pub const MODULE_BASENAME: u32 = 512;
    pub const LINENUMBER: u32 = 1024;
    pub const FILENAME: u32 = 2048;
    /// `ubacktrace()`: hex addresses, space-separated.
    pub const NONE: u32 = HEXSTR | POST_SPACE;
    /// `print_ubacktrace_brief()`.
    pub const BRIEF: u32 = SYMBOL | OFFSET | NEWLINE;
    /// `print_ubacktrace()`.
    pub const FULL: u32 = SYMBOL | HEX_SYMBOL | MODULE | OFFSET | SIZE | PRE_SPACE | NEWLINE;
    /// `print_ubacktrace_fileline()`.
    pub const FULLER: u32 = FULL | FILENAME | LINENUMBER;
    /// `sprint_ubacktrace()`.
    pub const SIMPLE: u32 = SYMBOL | MODULE | MODULE_BASENAME | OFFSET | NEWLINE;
    /// `usymdata()`.
    pub const DATA: u32 = SYMBOL | MODULE | OFFSET | SIZE;
}

/// `_stp_snprint_addr`: one address in the format the flags select.
pub fn format_address(address: u64, info: &AddressInfo, f: u32) -> String {
    use flags::*;
    let pre = if f & PRE_SPACE != 0 { " " } else { "" };
    let post = if f & POST_SPACE != 0 {
        " "
    } else if f & NEWLINE != 0 {
        "\n"
    } else {
        ""
    };
    let module = info.module.as_ref().map(|m| {
        if f & MODULE_BASENAME != 0 {
            m.file_name().map_or_else(
                || m.display().to_string(),
                |b| b.to_string_lossy().into_owned(),
            )
        } else {
            m.display().to_string()
        }
    });
    let (name, off, size) = (info.name.as_deref(), info.offset, info.size);
    let file = info.file.as_deref();
    let line = (info.line != 0).then_some(info.line);
    let hex = format!("{address:#x}");
    let text = match f {
        SYMBOL => name.map(|n| n.to_owned()),
        FILENAME => file.map(|s| s.to_owned()),
        LINENUMBER => line.map(|l| l.to_string()),
        x if x == FILENAME | LINENUMBER => match (file, line) {
            (Some(fl), Some(l)) => Some(format!("{fl}:{l}")),
            (Some(fl), None) => Some(fl.to_owned()),
            (None, Some(l)) => Some(format!("??:{l}")),
            (None, None) => None,
        },
        BRIEF => name.map(|n| format!("{n}+{off:#x}")),
        SIMPLE => match (name, &module) {
            (Some(n), Some(m)) => Some(format!("{n}+{off:#x} [{m}]")),
            (Some(n), None) => Some(format!("{n}+{off:#x}")),
            (None, Some(m)) => Some(format!("{hex} [{m}+{off:#x}]")),
            (None, None) => None,
        },
        DATA => match (name, &module) {
            (Some(n), Some(m)) => Some(format!("{n}+{off:#x}/{size:#x} [{m}]")),
            (Some(n), None) => Some(format!("{n}+{off:#x}/{size:#x}")),
            (None, Some(m)) => Some(format!("{hex} [{m}+{off:#x}/{size:#x}]")),
            (None, None) => None,
        },
        FULL => match (name, &module) {
            (Some(n), Some(m)) => Some(format!("{hex} : {n}+{off:#x}/{size:#x} [{m}]")),
            (Some(n), None) => Some(format!("{hex} : {n}+{off:#x}/{size:#x}")),
            (None, Some(m)) => Some(format!("{hex} [{m}+{off:#x}/{size:#x}]")),
            (None, None) => None,
        },
        FULLER => match (name, &module, file) {
            (Some(n), Some(m), Some(fl)) => Some(match line {
                Some(l) => format!("{hex} : {n}+{off:#x}/{size:#x} at {fl}:{l} [{m}]"),
                None => format!("{hex} : {n}+{off:#x}/{size:#x} at {fl} [{m}]"),
            }),
            (Some(n), None, Some(fl)) => Some(match line {
                Some(l) => format!("{hex} : {n}+{off:#x}/{size:#x} at {fl}:{l}"),
                None => format!("{hex} : {n}+{off:#x}/{size:#x} at {fl}"),
            }),
            (None, Some(m), Some(fl)) => Some(match line {
                Some(l) => format!("{hex} [{m}+{off:#x}/{size:#x}] at {fl}:{l}"),
                None => format!("{hex} [{m}+{off:#x}/{size:#x}] at {fl}"),
            }),
            (Some(n), Some(m), None) => Some(format!("{hex} : {n}+{off:#x}/{size:#x} [{m}]")),
            (Some(n), None, None) => Some(format!("{hex} : {n}+{off:#x}/{size:#x}")),
            (None, Some(m), None) => Some(format!("{hex} [{m}+{off:#x}/{size:#x}]")),
            (None, None, _) => None,
        },
        _ => None,
    };
    // Without names: the hex address only.
    format!("{pre}{}{post}", text.unwrap_or(hex))
}

fn one(lookup: &dyn ModuleLookup, address: u64, f: u32) -> String {
    let lines = f & (flags::FILENAME | flags::LINENUMBER) != 0;
    format_address(address, &describe(lookup, address, lines), f)
}

/// `usymname(addr)`.
pub fn usymname(lookup: &dyn ModuleLookup, address: u64) -> String {
    one(lookup, address, flags::SYMBOL)
}

/// `usymdata(addr)`.
pub fn usymdata(lookup: &dyn ModuleLookup, address: u64) -> String {
    one(lookup, address, flags::DATA)
}

/// `usymfile(addr)`.
pub fn usymfile(lookup: &dyn ModuleLookup, address: u64) -> String {
    one(lookup, address, flags::FILENAME)
}

/// `usymline(addr)`.
pub fn usymline(lookup: &dyn ModuleLookup, address: u64) -> String {
    one(lookup, address, flags::LINENUMBER)
}

/// `usymfileline(addr)`.
pub fn usymfileline(lookup: &dyn ModuleLookup, address: u64) -> String {
    one(lookup, address, flags::FILENAME | flags::LINENUMBER)
}

/// `umodname(addr)`: the module's path, or `None` where stap returns `<unknown>` and sets
/// the error "module cannot be found".
pub fn umodname(lookup: &dyn ModuleLookup, address: u64) -> Option<String> {
    lookup
        .module_at(address)
        .map(|(m, _)| m.path.display().to_string())
}

/// A whole backtrace in one of the stap formats (`flags::NONE` for `ubacktrace`,
/// `SIMPLE` for `sprint_ubacktrace`, `FULL`/`BRIEF`/`FULLER` for the printers): each frame
/// formatted and concatenated, as `_stp_stack_user_print` does.
pub fn format_backtrace(lookup: &dyn ModuleLookup, pcs: &[u64], f: u32) -> String {
    pcs.iter().map(|&pc| one(lookup, pc, f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> AddressInfo {
        AddressInfo {
            name: Some("main".into()),
            offset: 0x10,
            size: 0x40,
            module: Some("/usr/bin/prog".into()),
            file: Some("/src/prog.c".into()),
            line: 12,
        }
    }

    // Expected strings are stap 4.8's format strings (runtime/sym.c) filled by hand.
    #[test]
    fn formats_follow_stap_runtime() {
        let i = info();
        assert_eq!(format_address(0x1234, &i, flags::SYMBOL), "main");
        assert_eq!(
            format_address(0x1234, &i, flags::DATA),
            "main+0x10/0x40 [/usr/bin/prog]"
        );
        assert_eq!(
            format_address(0x1234, &i, flags::SIMPLE),
            "main+0x10 [prog]\n"
        );
        assert_eq!(
            format_address(0x1234, &i, flags::FULL),
            " 0x1234 : main+0x10/0x40 [/usr/bin/prog]\n"
        );
        assert_eq!(format_address(0x1234, &i, flags::BRIEF), "main+0x10\n");
        assert_eq!(
            format_address(0x1234, &i, flags::FULLER),
            " 0x1234 : main+0x10/0x40 at /src/prog.c:12 [/usr/bin/prog]\n"
        );
        assert_eq!(format_address(0x1234, &i, flags::NONE), "0x1234 ");
        assert_eq!(
            format_address(0x1234, &i, flags::FILENAME | flags::LINENUMBER),
            "/src/prog.c:12"
        );
        assert_eq!(format_address(0x1234, &i, flags::LINENUMBER), "12");
        let none = AddressInfo::default();
        assert_eq!(format_address(0x1234, &none, flags::SYMBOL), "0x1234");
        assert_eq!(format_address(0x1234, &none, flags::FULL), " 0x1234\n");
        let nosym = AddressInfo {
            name: None,
            ..info()
        };
        assert_eq!(
            format_address(0x1234, &nosym, flags::SIMPLE),
            "0x1234 [prog+0x10]\n"
        );
    }
}
