//! The printf format grammar, as SystemTap 4.8 parses it (`print_format::string_to_components`).
//!
//! ```text
//! %[FLAG][WIDTH][.PREC][l]CONV     FLAG  := ONE of 0 + - ' ' #   (a second flag is an error)
//!                                  WIDTH := digits | *     PREC := digits | *
//!                                  CONV  := b c s m M d i o u p x X      %% is a literal %
//! ```
//! The front end parses every format once (errors are pass-1 parse errors in SystemTap) and
//! hands the [`Format`] to the runtime in the program description; the print family
//! (`print`, `println`, `printd`, `printdln` and their `s` forms) is lowered to formats built
//! from [`Component`]s directly, as SystemTap does.
//!
//! Quirks kept on purpose (checked against `stap -p2`/`-p3` 4.8): `%-08d` is left-justified
//! with width 8 (the `0` is part of the width); `%#08x` has no zero padding; `%.d` has no
//! precision; a `%l` or `%.` that ends the string produces nothing; `%` at the very end is
//! "invalid or missing conversion specifier".

use std::fmt;

/// Flag bits of a conversion (at most one is set by the parser).
pub mod flags {
    /// `0`
    pub const ZEROPAD: u8 = 1;
    /// `+`
    pub const PLUS: u8 = 2;
    /// `-`
    pub const LEFT: u8 = 4;
    /// `' '`
    pub const SPACE: u8 = 8;
    /// `#`
    pub const SPECIAL: u8 = 16;
}

/// What a conversion prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKind {
    /// `%d`, `%i`
    Signed,
    /// `%u`
    Unsigned,
    /// `%o`
    Octal,
    /// `%x`
    HexLower,
    /// `%X`
    HexUpper,
    /// `%p` (same as `%#x` since SystemTap 1.3)
    Pointer,
    /// `%c`
    Char,
    /// `%s`
    String,
    /// `%b`: raw binary
    Binary,
    /// `%m`: raw memory bytes at an address
    Memory,
    /// `%M`: memory bytes at an address, hex-dumped
    MemoryHex,
}

/// Width or precision of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Not given.
    None,
    /// Given as digits (kept as C `int` arithmetic would: wrapping).
    Static(i32),
    /// `*`: taken from the next argument (a long).
    Dynamic,
}

/// One `%` conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// [`flags`] bits.
    pub flags: u8,
    /// Field width.
    pub width: Amount,
    /// Precision.
    pub precision: Amount,
    /// The conversion character.
    pub kind: ConvKind,
}

/// A piece of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// Bytes printed as they are.
    Literal(Vec<u8>),
    /// A conversion.
    Conversion(Conversion),
}

/// Type of one argument a format consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// A long (also `*` widths and precisions, `%c`, `%b`, `%m` addresses…).
    Long,
    /// A string (`%s`).
    String,
}

/// A parsed format.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Format {
    /// The pieces, in order.
    pub components: Vec<Component>,
}

/// A format string SystemTap rejects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Byte offset of the offending `%` in the format string.
    pub offset: usize,
    /// What is wrong.
    pub kind: FormatErrorKind,
}

/// The two parse errors SystemTap's format parser reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatErrorKind {
    /// `invalid or missing conversion specifier`
    InvalidConversion,
    /// `trailing incomplete print format conversion`
    TrailingIncomplete,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            FormatErrorKind::InvalidConversion => "invalid or missing conversion specifier",
            FormatErrorKind::TrailingIncomplete => "trailing incomplete print format conversion",
        })
    }
}

impl std::error::Error for FormatError {}

impl Format {
    /// Parses a format string (the bytes of the string literal after escape processing).
    pub fn parse(text: &[u8]) -> Result<Format, FormatError> {
        Parser {
            text,
            pos: 0,
            components: Vec::new(),
            literal: Vec::new(),
        }
        .run()
    }

    /// The arguments the format consumes, in order: for each conversion its `*` width, its
    /// `*` precision, then its value.
    pub fn arg_types(&self) -> Vec<ArgType> {
        let mut types = Vec::new();
        for component in &self.components {
            let Component::Conversion(conv) = component else {
                continue;
            };
            if conv.width == Amount::Dynamic {
                types.push(ArgType::Long);
            }
            if conv.precision == Amount::Dynamic {
                types.push(ArgType::Long);
            }
            types.push(if conv.kind == ConvKind::String {
                ArgType::String
            } else {
                ArgType::Long
            });
        }
        types
    }
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    components: Vec<Component>,
    literal: Vec<u8>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn run(mut self) -> Result<Format, FormatError> {
        while let Some(c) = self.peek() {
            if c != b'%' {
                self.literal.push(c);
                self.pos += 1;
                continue;
            }
            if self.text.get(self.pos + 1) == Some(&b'%') {
                self.literal.push(b'%');
                self.pos += 2;
                continue;
            }
            let start = self.pos;
            self.pos += 1;
            if self.peek().is_none() {
                return Err(FormatError {
                    offset: start,
                    kind: FormatErrorKind::InvalidConversion,
                });
            }
            if !self.literal.is_empty() {
                self.components
                    .push(Component::Literal(std::mem::take(&mut self.literal)));
            }
            match self.conversion(start)? {
                Some(conv) => self.components.push(Component::Conversion(conv)),
                // The string ended inside a conversion that had nothing in it yet.
                None => break,
            }
        }
        if !self.literal.is_empty() {
            self.components.push(Component::Literal(self.literal));
        }
        Ok(Format {
            components: self.components,
        })
    }

    /// Parses one conversion after its `%`; `None` when the text ends before anything of the
    /// conversion was seen.
    fn conversion(&mut self, start: usize) -> Result<Option<Conversion>, FormatError> {
        let mut flags = 0;
        let mut width = Amount::None;
        let mut precision = Amount::None;
        let incomplete = |flags: u8, width: Amount, precision: Amount| {
            if flags == 0 && width == Amount::None && precision == Amount::None {
                Ok(None)
            } else {
                Err(FormatError {
                    offset: start,
                    kind: FormatErrorKind::TrailingIncomplete,
                })
            }
        };

        let flag = match self.peek() {
            Some(b'0') => flags::ZEROPAD,
            Some(b'+') => flags::PLUS,
            Some(b'-') => flags::LEFT,
            Some(b' ') => flags::SPACE,
            Some(b'#') => flags::SPECIAL,
            _ => 0,
        };
        if flag != 0 {
            flags = flag;
            self.pos += 1;
        }
        let Some(c) = self.peek() else {
            return incomplete(flags, width, precision);
        };
        if c == b'*' {
            width = Amount::Dynamic;
            self.pos += 1;
        } else if c.is_ascii_digit() {
            width = Amount::Static(self.digits());
        }
        let Some(c) = self.peek() else {
            return incomplete(flags, width, precision);
        };
        if c == b'.' {
            self.pos += 1;
            let Some(c) = self.peek() else {
                return incomplete(flags, width, precision);
            };
            if c == b'*' {
                precision = Amount::Dynamic;
                self.pos += 1;
            } else if c.is_ascii_digit() {
                precision = Amount::Static(self.digits());
            }
        }
        let Some(mut c) = self.peek() else {
            return incomplete(flags, width, precision);
        };
        // A single `l` length modifier is accepted and ignored (all values are 64-bit).
        if c == b'l' {
            self.pos += 1;
            let Some(next) = self.peek() else {
                return incomplete(flags, width, precision);
            };
            c = next;
        }
        let kind = match c {
            b'b' => ConvKind::Binary,
            b'c' => ConvKind::Char,
            b's' => ConvKind::String,
            b'm' => ConvKind::Memory,
            b'M' => ConvKind::MemoryHex,
            b'd' | b'i' => ConvKind::Signed,
            b'o' => ConvKind::Octal,
            b'u' => ConvKind::Unsigned,
            b'p' => ConvKind::Pointer,
            b'X' => ConvKind::HexUpper,
            b'x' => ConvKind::HexLower,
            _ => {
                return Err(FormatError {
                    offset: start,
                    kind: FormatErrorKind::InvalidConversion,
                });
            }
        };
        self.pos += 1;
        Ok(Some(Conversion {
            flags,
            width,
            precision,
            kind,
        }))
    }

    /// Digits as C `int` accumulates them (wrapping on overflow).
    fn digits(&mut self) -> i32 {
        let mut value: i32 = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            value = value.wrapping_mul(10).wrapping_add(i32::from(d - b'0'));
            self.pos += 1;
        }
        value
    }
}
