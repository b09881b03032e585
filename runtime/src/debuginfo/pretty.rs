//! `$var$` and `$var$$` pretty printing, after stap's `dwarf_pretty_print` (tapsets.cxx):
//! structs as `{.a=1, .b=0x…}` (members of nested structs only with `$$`, else `{...}`),
//! char pointers and char arrays as quoted strings, other arrays as `[first, ...]`, other
//! pointers as `0x…` (a pointer at the top is followed once), floats as `?`, at most 32
//! values per string. A fault anywhere makes the whole string `ERROR`, as stap's generated
//! `try`/`catch` does.

use super::error::Fault;
use super::location::{Hit, Object};
use super::registers::{MemoryReader, extend};
use super::types::{TypeInfo, TypeKind, Types};

/// The most values one pretty-printed string may contain (stap PR10750).
const MAX_ARGS: usize = 32;

/// The longest string read for a `char *` (MAXSTRINGLEN - 1).
pub const MAX_STRING: usize = 511;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrettyNode {
    /// `%i`/`%u`, or `'%#c'` for chars.
    Integer {
        size: u64,
        signed: bool,
        char_like: bool,
    },
    Bitfield {
        offset: u64,
        shift: u32,
        bits: u32,
        storage: u32,
        signed: bool,
    },
    /// `%p`: `0x…`.
    Pointer,
    /// A `char *`: the quoted string it points to.
    CharPointer,
    /// A `char[N]`: the quoted string it holds.
    CharArray,
    /// Text printed as is (`?`, `{...}`, `[...]`).
    Literal(&'static str),
    /// Follow the pointer, print what it points to.
    Deref(Box<PrettyNode>),
    /// `{.a=…, .b=…}`; `truncated` appends `...` after the 32-value limit.
    Struct {
        fields: Vec<(String, u64, PrettyNode)>,
        truncated: bool,
    },
    /// `[first, ...]`.
    Array { first: Box<PrettyNode> },
    /// `<function>:0x…`.
    Function,
}

/// Builds the printing plan for a value of type `ty`.
pub fn plan(types: &mut Types<'_>, ty: &TypeInfo, deep: bool) -> Result<PrettyNode, String> {
    let mut args = 0;
    node(types, ty, deep, true, &mut args, 0)
}

fn node(
    types: &mut Types<'_>,
    ty: &TypeInfo,
    deep: bool,
    top: bool,
    args: &mut usize,
    depth: u32,
) -> Result<PrettyNode, String> {
    if depth > 16 {
        return Ok(PrettyNode::Literal("?"));
    }
    Ok(match &ty.kind {
        TypeKind::Void => PrettyNode::Literal("?"),
        TypeKind::Float => PrettyNode::Literal("?"),
        TypeKind::Integer { signed, char_like } => {
            *args += 1;
            PrettyNode::Integer {
                size: ty.size,
                signed: *signed,
                char_like: *char_like && ty.size == 1,
            }
        }
        TypeKind::Enum { signed, .. } => {
            *args += 1;
            PrettyNode::Integer {
                size: ty.size,
                signed: *signed,
                char_like: false,
            }
        }
        TypeKind::Function => {
            *args += 1;
            PrettyNode::Function
        }
        TypeKind::Pointer { target } => {
            let pointee = types.get(*target)?;
            *args += 1;
            if pointee.is_char() {
                PrettyNode::CharPointer
            } else if top && !matches!(pointee.kind, TypeKind::Void) {
                *args -= 1;
                PrettyNode::Deref(Box::new(node(
                    types,
                    &pointee,
                    deep,
                    true,
                    args,
                    depth + 1,
                )?))
            } else {
                PrettyNode::Pointer
            }
        }
        TypeKind::Array { element, .. } => {
            if !top && !deep {
                return Ok(PrettyNode::Literal("[...]"));
            }
            let elem = types.get(*element)?;
            if elem.is_char() {
                *args += 1;
                PrettyNode::CharArray
            } else {
                PrettyNode::Array {
                    first: Box::new(node(types, &elem, deep, false, args, depth + 1)?),
                }
            }
        }
        TypeKind::Struct { members: None, .. } => PrettyNode::Literal("{...}"),
        TypeKind::Struct {
            members: Some(members),
            ..
        } => {
            if !top && !deep {
                return Ok(PrettyNode::Literal("{...}"));
            }
            let mut fields = Vec::new();
            let mut truncated = false;
            for m in members {
                if *args >= MAX_ARGS {
                    truncated = true;
                    break;
                }
                let label = match (&m.name, m.anonymous_keyword) {
                    (Some(n), _) => format!(".{n}"),
                    (None, Some(k)) => format!("<{k}>"),
                    (None, None) => String::new(),
                };
                let mty = types.get(m.ty)?;
                let n = match &m.bitfield {
                    Some(b) => {
                        *args += 1;
                        let signed = matches!(
                            mty.kind,
                            TypeKind::Integer { signed: true, .. }
                                | TypeKind::Enum { signed: true, .. }
                        );
                        PrettyNode::Bitfield {
                            offset: 0,
                            shift: b.shift,
                            bits: b.bits,
                            storage: b.storage,
                            signed,
                        }
                    }
                    None => node(types, &mty, deep, false, args, depth + 1)?,
                };
                fields.push((label, m.offset, n));
            }
            PrettyNode::Struct { fields, truncated }
        }
    })
}

/// Renders `object` with `plan`; any fault becomes `ERROR`.
pub fn render(plan: &PrettyNode, object: &Object, hit: &Hit<'_>) -> String {
    let mut out = String::new();
    match render_into(plan, object, hit, &mut out) {
        Ok(()) => out,
        Err(_) => "ERROR".into(),
    }
}

fn render_into(
    plan: &PrettyNode,
    object: &Object,
    hit: &Hit<'_>,
    out: &mut String,
) -> Result<(), Fault> {
    match plan {
        PrettyNode::Literal(s) => out.push_str(s),
        PrettyNode::Integer {
            size,
            signed,
            char_like,
        } => {
            let v = extend(
                load(object, 0, *size as usize, hit.mem)?,
                *size as usize,
                *signed,
            );
            if *char_like {
                out.push('\'');
                out.push_str(&escape_char(v as u8, '\''));
                out.push('\'');
            } else if *signed {
                out.push_str(&v.to_string());
            } else {
                out.push_str(&(v as u64).to_string());
            }
        }
        PrettyNode::Bitfield {
            offset,
            shift,
            bits,
            storage,
            signed,
        } => {
            let raw = load(object, *offset, *storage as usize, hit.mem)? >> shift;
            let masked = if *bits >= 64 {
                raw
            } else {
                raw & ((1u64 << bits) - 1)
            };
            let v = if *signed && *bits < 64 && masked >> (bits - 1) & 1 == 1 {
                masked | !((1u64 << bits) - 1)
            } else {
                masked
            };
            if *signed {
                out.push_str(&(v as i64).to_string());
            } else {
                out.push_str(&v.to_string());
            }
        }
        PrettyNode::Pointer => out.push_str(&format!("{:#x}", load(object, 0, 8, hit.mem)?)),
        PrettyNode::Function => {
            out.push_str(&format!("<function>:{:#x}", load(object, 0, 8, hit.mem)?))
        }
        PrettyNode::CharPointer => {
            out.push_str(&quoted_user_string(load(object, 0, 8, hit.mem)?, hit.mem))
        }
        PrettyNode::CharArray => match object {
            Object::Memory(a) => out.push_str(&quoted_user_string(*a, hit.mem)),
            Object::Bytes(b) => {
                let end = memchr::memchr(0, b).unwrap_or(b.len());
                out.push_str(&string_quoted(&b[..end]));
            }
        },
        PrettyNode::Deref(inner) => {
            let ptr = load(object, 0, 8, hit.mem)?;
            render_into(inner, &Object::Memory(ptr), hit, out)?;
        }
        PrettyNode::Struct { fields, truncated } => {
            out.push('{');
            for (i, (label, offset, n)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(label);
                out.push('=');
                render_into(n, &sub_object(object, *offset), hit, out)?;
            }
            if *truncated {
                out.push_str(if fields.is_empty() { "..." } else { ", ..." });
            }
            out.push('}');
        }
        PrettyNode::Array { first } => {
            out.push('[');
            render_into(first, object, hit, out)?;
            out.push_str(", ...]");
        }
    }
    Ok(())
}

/// The part of an object starting `offset` bytes in.
pub fn sub_object(object: &Object, offset: u64) -> Object {
    match object {
        Object::Memory(a) => Object::Memory(a.wrapping_add(offset)),
        Object::Bytes(b) => Object::Bytes(b.get(offset as usize..).unwrap_or_default().to_vec()),
    }
}

/// `size` bytes at `offset` of an object, little-endian, zero-extended.
pub fn load(
    object: &Object,
    offset: u64,
    size: usize,
    mem: &dyn MemoryReader,
) -> Result<u64, Fault> {
    match object {
        Object::Memory(a) => mem.read_uint(a.wrapping_add(offset), size),
        Object::Bytes(b) => {
            let mut w = [0u8; 8];
            let src = b.get(offset as usize..).unwrap_or_default();
            let n = src.len().min(size).min(8);
            w[..n].copy_from_slice(&src[..n]);
            Ok(u64::from_le_bytes(w))
        }
    }
}

/// `user_string_quoted(addr)` as the tapset defines it: the quoted string, or `0x…` of the
/// address when it cannot be read.
pub fn quoted_user_string(addr: u64, mem: &dyn MemoryReader) -> String {
    match mem.read_cstring(addr, MAX_STRING) {
        Ok(s) if addr != 0 => string_quoted(&s),
        _ => format!("{addr:#x}"),
    }
}

/// `string_quoted`: double quotes around the text with C escapes for `"`, `\` and
/// non-printable bytes (`\n`, or three-digit octal).
pub fn string_quoted(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        s.push_str(&escape_char(b, '"'));
    }
    s.push('"');
    s
}

fn escape_char(b: u8, quote: char) -> String {
    match b {
        b'\n' => "\\n".into(),
        b'\t' => "\\t".into(),
        b'\r' => "\\r".into(),
        0x07 => "\\a".into(),
        0x08 => "\\b".into(),
        0x0b => "\\v".into(),
        0x0c => "\\f".into(),
        b'\\' => "\\\\".into(),
        c if c as char == quote => format!("\\{quote}"),
        c if (0x20..0x7f).contains(&c) => (c as char).to_string(),
        c => format!("\\{c:03o}"),
    }
}
