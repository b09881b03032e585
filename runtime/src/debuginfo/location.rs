//! Location programs: DWARF location expressions (and the location-list entry in effect at
//! the probe's pc) compiled ahead of time into a small owned stack program, run at each hit
//! against the hit's registers and memory.
//!
//! Compilation resolves what is static at the probe site — the location-list entry, the frame
//! base (`DW_OP_fbreg`), `.debug_addr` indices, and `DW_OP_entry_value` of a register when the
//! probe is on the function's first instruction (where the register still holds its entry
//! value) — so execution needs only registers, memory, the load bias and the CFA.

use gimli::Operation;

use super::elf::Reader;
use super::error::Fault;
use super::registers::{MemoryReader, RegisterSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Abs,
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    And,
    Or,
    Xor,
    Plus,
    Minus,
    Mul,
    Div,
    Mod,
    Shl,
    Shr,
    Shra,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// One stack-machine instruction (DWARF 5 §2.5 semantics on 64-bit values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocOp {
    /// Push a constant.
    Lit(u64),
    /// Push a link-time address plus the module's load bias (`DW_OP_addr`).
    Addr(u64),
    /// Push a register plus an offset (`DW_OP_bregN`).
    RegOffset(u16, i64),
    /// Push the canonical frame address at the hit pc (`DW_OP_call_frame_cfa`).
    Cfa,
    /// Pop a TLS offset, push its address: thread pointer (register slot) + the module's
    /// block offset + the offset (`DW_OP_form_tls_address`).
    Tls {
        thread_pointer: u16,
        block: i64,
    },
    /// Pop an address, push the zero-extended `n`-byte value there.
    Deref(u8),
    Pick(u8),
    Drop,
    Swap,
    Rot,
    PlusConst(u64),
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// Pop; if non-zero continue at op index.
    Bra(usize),
    /// Continue at op index.
    Skip(usize),
}

/// Where one piece of an object lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PieceLocation {
    /// The program computes the address.
    Memory(Vec<LocOp>),
    /// The value is in a register (`DW_OP_regN`).
    Register(u16),
    /// The program computes the value itself (`DW_OP_stack_value`).
    Value(Vec<LocOp>),
    /// The bytes are given (`DW_OP_implicit_value`, `DW_AT_const_value`).
    Implicit(Vec<u8>),
    /// Optimized out.
    Undefined,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub location: PieceLocation,
    /// Bytes; `None` for a location that is not split into pieces.
    pub size: Option<u64>,
}

/// Where a whole object lives at the probe site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub pieces: Vec<Piece>,
}

/// An object's storage at a hit: an address in target memory, or its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Memory(u64),
    Bytes(Vec<u8>),
}

/// What a location program needs from a hit.
pub struct Hit<'a> {
    pub regs: &'a RegisterSet,
    pub mem: &'a dyn MemoryReader,
    /// The module's load bias (0 for a non-PIE executable).
    pub bias: u64,
    /// The canonical frame address at the hit, when the engine computed it (see
    /// `unwind::cfa`); programs that need it fault without it.
    pub cfa: Option<u64>,
}

/// Why an expression cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// The value does not exist at this pc (optimized out, entry value elsewhere...).
    Unavailable(String),
    Unsupported(String),
    Malformed(String),
}

/// The static facts compilation needs.
pub struct CompileContext<'a> {
    pub encoding: gimli::Encoding,
    /// The frame base of the enclosing function, already compiled.
    pub frame_base: Option<&'a [LocOp]>,
    /// True when the probe is on the function's first instruction.
    pub at_entry: bool,
    pub resolve_index: &'a dyn Fn(gimli::DebugAddrIndex<usize>) -> Option<u64>,
    /// The thread-pointer register slot and the module's TLS block offset, when the block
    /// is at a fixed place (see `Module::tls_block_offset`).
    pub tls: Option<(u16, i64)>,
}

impl Location {
    pub fn undefined() -> Location {
        Location {
            pieces: vec![Piece {
                location: PieceLocation::Undefined,
                size: None,
            }],
        }
    }

    pub fn implicit(bytes: Vec<u8>) -> Location {
        Location {
            pieces: vec![Piece {
                location: PieceLocation::Implicit(bytes),
                size: None,
            }],
        }
    }

    /// Compiles one DWARF location expression.
    pub fn compile(
        expr: gimli::Expression<Reader<'_>>,
        cx: &CompileContext<'_>,
    ) -> Result<Location, CompileError> {
        let mut pieces = Vec::new();
        let mut ops: Vec<LocOp> = Vec::new();
        let mut kind: Option<PieceLocation> = None;
        // Byte offsets of each op, to turn branch offsets into op indices.
        let mut offsets: Vec<(usize, usize)> = Vec::new(); // (byte offset, op index)
        let mut branches: Vec<(usize, usize)> = Vec::new(); // (op index, target byte offset)
        let total = expr.0.len();
        let mut bytes = expr.0;
        let bad = |e: gimli::Error| CompileError::Malformed(e.to_string());
        while !bytes.is_empty() {
            let at = total - bytes.len();
            offsets.push((at, ops.len()));
            let op = Operation::parse(&mut bytes, cx.encoding).map_err(bad)?;
            let after = total - bytes.len();
            let target = |t: i16| (after as i64 + t as i64) as usize;
            match op {
                Operation::Deref {
                    size, space: false, ..
                } => ops.push(LocOp::Deref(size)),
                Operation::Drop => ops.push(LocOp::Drop),
                Operation::Pick { index } => ops.push(LocOp::Pick(index)),
                Operation::Swap => ops.push(LocOp::Swap),
                Operation::Rot => ops.push(LocOp::Rot),
                Operation::Abs => ops.push(LocOp::Unary(UnaryOp::Abs)),
                Operation::Neg => ops.push(LocOp::Unary(UnaryOp::Neg)),
                Operation::Not => ops.push(LocOp::Unary(UnaryOp::Not)),
                Operation::And => ops.push(LocOp::Binary(BinaryOp::And)),
                Operation::Or => ops.push(LocOp::Binary(BinaryOp::Or)),
                Operation::Xor => ops.push(LocOp::Binary(BinaryOp::Xor)),
                Operation::Plus => ops.push(LocOp::Binary(BinaryOp::Plus)),
                Operation::Minus => ops.push(LocOp::Binary(BinaryOp::Minus)),
                Operation::Mul => ops.push(LocOp::Binary(BinaryOp::Mul)),
                Operation::Div => ops.push(LocOp::Binary(BinaryOp::Div)),
                Operation::Mod => ops.push(LocOp::Binary(BinaryOp::Mod)),
                Operation::Shl => ops.push(LocOp::Binary(BinaryOp::Shl)),
                Operation::Shr => ops.push(LocOp::Binary(BinaryOp::Shr)),
                Operation::Shra => ops.push(LocOp::Binary(BinaryOp::Shra)),
                Operation::Eq => ops.push(LocOp::Binary(BinaryOp::Eq)),
                Operation::Ne => ops.push(LocOp::Binary(BinaryOp::Ne)),
                Operation::Lt => ops.push(LocOp::Binary(BinaryOp::Lt)),
                Operation::Gt => ops.push(LocOp::Binary(BinaryOp::Gt)),
                Operation::Le => ops.push(LocOp::Binary(BinaryOp::Le)),
                Operation::Ge => ops.push(LocOp::Binary(BinaryOp::Ge)),
                Operation::PlusConstant { value } => ops.push(LocOp::PlusConst(value)),
                Operation::Bra { target: t } => {
                    branches.push((ops.len(), target(t)));
                    ops.push(LocOp::Bra(0));
                }
                Operation::Skip { target: t } => {
                    branches.push((ops.len(), target(t)));
                    ops.push(LocOp::Skip(0));
                }
                Operation::UnsignedConstant { value } => ops.push(LocOp::Lit(value)),
                Operation::SignedConstant { value } => ops.push(LocOp::Lit(value as u64)),
                Operation::Register { register } => {
                    kind = Some(PieceLocation::Register(register.0))
                }
                Operation::RegisterOffset {
                    register, offset, ..
                } => ops.push(LocOp::RegOffset(register.0, offset)),
                Operation::FrameOffset { offset } => {
                    let base = cx.frame_base.ok_or_else(|| {
                        CompileError::Malformed("DW_OP_fbreg without DW_AT_frame_base".into())
                    })?;
                    ops.extend_from_slice(base);
                    ops.push(LocOp::PlusConst(offset as u64));
                }
                Operation::Nop => {}
                Operation::CallFrameCFA => ops.push(LocOp::Cfa),
                Operation::Address { address } => ops.push(LocOp::Addr(address)),
                Operation::AddressIndex { index } => {
                    let a = (cx.resolve_index)(index)
                        .ok_or_else(|| CompileError::Malformed("bad .debug_addr index".into()))?;
                    ops.push(LocOp::Addr(a));
                }
                Operation::ConstantIndex { index } => {
                    let a = (cx.resolve_index)(index)
                        .ok_or_else(|| CompileError::Malformed("bad .debug_addr index".into()))?;
                    ops.push(LocOp::Lit(a));
                }
                Operation::StackValue => kind = Some(PieceLocation::Value(Vec::new())),
                Operation::ImplicitValue { data } => {
                    kind = Some(PieceLocation::Implicit(data.slice().to_vec()))
                }
                Operation::EntryValue { expression } => {
                    // The register's value on entry is the register itself on the first
                    // instruction; anywhere else it would need call-site information.
                    let mut e = expression;
                    match Operation::parse(&mut e, cx.encoding).map_err(bad)? {
                        Operation::Register { register } if e.is_empty() && cx.at_entry => {
                            ops.push(LocOp::RegOffset(register.0, 0))
                        }
                        _ => {
                            return Err(CompileError::Unavailable(
                                "needs its value at function entry (DW_OP_entry_value)".into(),
                            ));
                        }
                    }
                }
                Operation::ImplicitPointer { .. } => {
                    return Err(CompileError::Unavailable(
                        "is an implicit pointer (optimized out)".into(),
                    ));
                }
                Operation::TLS => match cx.tls {
                    Some((thread_pointer, block)) => ops.push(LocOp::Tls {
                        thread_pointer,
                        block,
                    }),
                    None => {
                        return Err(CompileError::Unsupported(
                            "thread-local variables of shared libraries are not supported".into(),
                        ));
                    }
                },
                Operation::Piece {
                    size_in_bits,
                    bit_offset,
                } => {
                    if size_in_bits % 8 != 0 || bit_offset.is_some_and(|b| b != 0) {
                        return Err(CompileError::Unsupported(
                            "bit pieces are not supported".into(),
                        ));
                    }
                    let location = finish(kind.take(), std::mem::take(&mut ops));
                    pieces.push(Piece {
                        location,
                        size: Some(size_in_bits / 8),
                    });
                }
                other => {
                    return Err(CompileError::Unsupported(format!(
                        "DWARF operation {other:?}"
                    )));
                }
            }
        }
        offsets.push((total, ops.len()));
        for (at, target) in branches {
            let idx = offsets
                .iter()
                .find(|(o, _)| *o == target)
                .map(|(_, i)| *i)
                .ok_or_else(|| {
                    CompileError::Malformed("branch into the middle of an operation".into())
                })?;
            match &mut ops[at] {
                LocOp::Bra(t) | LocOp::Skip(t) => *t = idx,
                _ => unreachable!("branch fix-ups point at branches"),
            }
        }
        if pieces.is_empty() || !ops.is_empty() || kind.is_some() {
            let location = finish(kind, ops);
            if pieces.is_empty() {
                pieces.push(Piece {
                    location,
                    size: None,
                });
            }
        }
        Ok(Location { pieces })
    }

    /// The program a frame base computes (a register location means the register's value).
    pub fn as_frame_base(&self) -> Result<Vec<LocOp>, CompileError> {
        match self.pieces.as_slice() {
            [
                Piece {
                    location: PieceLocation::Memory(ops),
                    size: None,
                },
            ] => Ok(ops.clone()),
            [
                Piece {
                    location: PieceLocation::Register(r),
                    size: None,
                },
            ] => Ok(vec![LocOp::RegOffset(*r, 0)]),
            _ => Err(CompileError::Unsupported("unusual DW_AT_frame_base".into())),
        }
    }

    /// True when executing needs the CFA.
    pub fn needs_cfa(&self) -> bool {
        self.pieces.iter().any(|p| match &p.location {
            PieceLocation::Memory(ops) | PieceLocation::Value(ops) => ops.contains(&LocOp::Cfa),
            _ => false,
        })
    }

    /// The object's storage at a hit; `size` is the object's byte size (for register and
    /// value locations).
    pub fn read(&self, hit: &Hit<'_>, size: u64) -> Result<Object, Fault> {
        if let [piece] = self.pieces.as_slice()
            && piece.size.is_none()
        {
            return match &piece.location {
                PieceLocation::Memory(ops) => Ok(Object::Memory(execute(ops, hit)?)),
                other => Ok(Object::Bytes(piece_bytes(other, hit, size)?)),
            };
        }
        let mut bytes = Vec::new();
        for p in &self.pieces {
            let n = p.size.unwrap_or(size);
            match &p.location {
                PieceLocation::Memory(ops) => {
                    let addr = execute(ops, hit)?;
                    let mut buf = vec![0u8; n as usize];
                    hit.mem.read(addr, &mut buf)?;
                    bytes.extend(buf);
                }
                other => bytes.extend(piece_bytes(other, hit, n)?),
            }
        }
        Ok(Object::Bytes(bytes))
    }
}

fn finish(kind: Option<PieceLocation>, ops: Vec<LocOp>) -> PieceLocation {
    match kind {
        Some(PieceLocation::Value(_)) => PieceLocation::Value(ops),
        Some(k) => k,
        None if ops.is_empty() => PieceLocation::Undefined,
        None => PieceLocation::Memory(ops),
    }
}

fn piece_bytes(loc: &PieceLocation, hit: &Hit<'_>, size: u64) -> Result<Vec<u8>, Fault> {
    let word = |v: u64| {
        let mut b = v.to_le_bytes().to_vec();
        b.resize(size as usize, 0);
        b
    };
    match loc {
        PieceLocation::Register(r) => Ok(word(hit.regs.get_or_fault(*r)?)),
        PieceLocation::Value(ops) => Ok(word(execute(ops, hit)?)),
        PieceLocation::Implicit(b) => {
            let mut b = b.clone();
            b.resize(size as usize, 0);
            Ok(b)
        }
        PieceLocation::Undefined => Err(Fault::Unavailable("value optimized out".into())),
        PieceLocation::Memory(_) => unreachable!("memory pieces are read by the caller"),
    }
}

/// Runs a program and returns the top of the stack.
pub fn execute(ops: &[LocOp], hit: &Hit<'_>) -> Result<u64, Fault> {
    let mut stack: Vec<u64> = Vec::with_capacity(8);
    let malformed = || Fault::Unavailable("malformed DWARF expression".into());
    let mut pc = 0;
    let mut steps = 0;
    while pc < ops.len() {
        steps += 1;
        if steps > 10_000 {
            return Err(malformed());
        }
        let mut next = pc + 1;
        match &ops[pc] {
            LocOp::Lit(v) => stack.push(*v),
            LocOp::Addr(a) => stack.push(a.wrapping_add(hit.bias)),
            LocOp::RegOffset(r, off) => {
                stack.push(hit.regs.get_or_fault(*r)?.wrapping_add(*off as u64))
            }
            LocOp::Cfa => stack.push(hit.cfa.ok_or(Fault::Register)?),
            LocOp::Tls {
                thread_pointer,
                block,
            } => {
                let off = stack.pop().ok_or_else(malformed)?;
                let tp = hit.regs.get_or_fault(*thread_pointer)?;
                stack.push(tp.wrapping_add(*block as u64).wrapping_add(off));
            }
            LocOp::Deref(n) => {
                let a = stack.pop().ok_or_else(malformed)?;
                stack.push(hit.mem.read_uint(a, (*n).min(8) as usize)?);
            }
            LocOp::Pick(i) => {
                let v = *stack.iter().rev().nth(*i as usize).ok_or_else(malformed)?;
                stack.push(v);
            }
            LocOp::Drop => {
                stack.pop().ok_or_else(malformed)?;
            }
            LocOp::Swap => {
                let n = stack.len();
                if n < 2 {
                    return Err(malformed());
                }
                stack.swap(n - 1, n - 2);
            }
            LocOp::Rot => {
                let n = stack.len();
                if n < 3 {
                    return Err(malformed());
                }
                // (a b c -- c a b): the top moves to third place.
                let top = stack.remove(n - 1);
                stack.insert(n - 3, top);
            }
            LocOp::PlusConst(c) => {
                let v = stack.pop().ok_or_else(malformed)?;
                stack.push(v.wrapping_add(*c));
            }
            LocOp::Unary(op) => {
                let v = stack.pop().ok_or_else(malformed)?;
                stack.push(match op {
                    UnaryOp::Abs => (v as i64).unsigned_abs(),
                    UnaryOp::Neg => (v as i64).wrapping_neg() as u64,
                    UnaryOp::Not => !v,
                });
            }
            LocOp::Binary(op) => {
                let b = stack.pop().ok_or_else(malformed)?;
                let a = stack.pop().ok_or_else(malformed)?;
                let (sa, sb) = (a as i64, b as i64);
                stack.push(match op {
                    BinaryOp::And => a & b,
                    BinaryOp::Or => a | b,
                    BinaryOp::Xor => a ^ b,
                    BinaryOp::Plus => a.wrapping_add(b),
                    BinaryOp::Minus => a.wrapping_sub(b),
                    BinaryOp::Mul => a.wrapping_mul(b),
                    BinaryOp::Div if b == 0 => return Err(Fault::DivideByZero),
                    BinaryOp::Div => sa.wrapping_div(sb) as u64,
                    BinaryOp::Mod if b == 0 => return Err(Fault::DivideByZero),
                    BinaryOp::Mod => a % b,
                    BinaryOp::Shl => a.checked_shl(b as u32).unwrap_or(0),
                    BinaryOp::Shr => a.checked_shr(b as u32).unwrap_or(0),
                    BinaryOp::Shra => {
                        sa.checked_shr(b as u32)
                            .unwrap_or(if sa < 0 { -1 } else { 0 }) as u64
                    }
                    BinaryOp::Eq => (a == b) as u64,
                    BinaryOp::Ne => (a != b) as u64,
                    BinaryOp::Lt => (sa < sb) as u64,
                    BinaryOp::Gt => (sa > sb) as u64,
                    BinaryOp::Le => (sa <= sb) as u64,
                    BinaryOp::Ge => (sa >= sb) as u64,
                });
            }
            LocOp::Bra(t) => {
                if stack.pop().ok_or_else(malformed)? != 0 {
                    next = *t;
                }
            }
            LocOp::Skip(t) => next = *t,
        }
        pc = next;
    }
    stack.pop().ok_or_else(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debuginfo::elf::Arch;
    use crate::debuginfo::registers::BufferMemory;

    fn compile(bytes: &[u8]) -> Result<Location, CompileError> {
        let encoding = gimli::Encoding {
            address_size: 8,
            format: gimli::Format::Dwarf32,
            version: 5,
        };
        let frame_base = [LocOp::Cfa];
        let cx = CompileContext {
            encoding,
            frame_base: Some(&frame_base),
            at_entry: true,
            resolve_index: &|_| None,
            tls: None,
        };
        Location::compile(
            gimli::Expression(gimli::EndianSlice::new(bytes, gimli::RunTimeEndian::Little)),
            &cx,
        )
    }

    fn hit_read(loc: &Location, size: u64) -> Result<Object, Fault> {
        let mut regs = RegisterSet::new(Arch::X86_64);
        regs.set(6, 0x1000); // rbp
        regs.set(5, 0xfeed); // rdi
        let mem = BufferMemory {
            base: 0x1000,
            bytes: (0u8..32).collect(),
        };
        loc.read(
            &Hit {
                regs: &regs,
                mem: &mem,
                bias: 0x5000,
                cfa: Some(0x1010),
            },
            size,
        )
    }

    // Byte encodings from the DWARF 5 standard, Appendix D.1 examples and §7.7.
    #[test]
    fn simple_locations() {
        // DW_OP_fbreg -20 (0x91 0x6c) with frame base DW_OP_call_frame_cfa.
        assert_eq!(
            hit_read(&compile(&[0x91, 0x6c]).unwrap(), 4),
            Ok(Object::Memory(0x1010 - 20))
        );
        // DW_OP_reg5 (rdi).
        let mut rdi = 0xfeedu64.to_le_bytes().to_vec();
        rdi.truncate(4);
        assert_eq!(
            hit_read(&compile(&[0x55]).unwrap(), 4),
            Ok(Object::Bytes(rdi))
        );
        // DW_OP_addr 0x4010: module-relative, the bias is added.
        let mut addr = vec![0x03];
        addr.extend(0x4010u64.to_le_bytes());
        assert_eq!(
            hit_read(&compile(&addr).unwrap(), 8),
            Ok(Object::Memory(0x9010))
        );
        // DW_OP_breg6 8; DW_OP_deref: reads the 8 bytes at rbp+8 = bytes 8..16 of the buffer.
        let want = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(
            hit_read(&compile(&[0x76, 0x08, 0x06]).unwrap(), 8),
            Ok(Object::Memory(want))
        );
    }

    #[test]
    fn values_pieces_and_branches() {
        // DW_OP_lit7 DW_OP_lit5 DW_OP_minus DW_OP_stack_value → 2.
        assert_eq!(
            hit_read(&compile(&[0x37, 0x35, 0x1c, 0x9f]).unwrap(), 4),
            Ok(Object::Bytes(vec![2, 0, 0, 0]))
        );
        // DW_OP_reg5 DW_OP_piece 2; DW_OP_lit1 DW_OP_stack_value DW_OP_piece 2.
        let loc = compile(&[0x55, 0x93, 0x02, 0x31, 0x9f, 0x93, 0x02]).unwrap();
        assert_eq!(hit_read(&loc, 4), Ok(Object::Bytes(vec![0xed, 0xfe, 1, 0])));
        // DW_OP_lit0; DW_OP_bra +1 (not taken); DW_OP_lit3; DW_OP_skip +1 (over DW_OP_lit9);
        // DW_OP_stack_value → 3.
        let loc = compile(&[0x30, 0x28, 0x01, 0x00, 0x33, 0x2f, 0x01, 0x00, 0x39, 0x9f]).unwrap();
        assert_eq!(hit_read(&loc, 1), Ok(Object::Bytes(vec![3])));
        // DW_OP_lit1 DW_OP_lit0 DW_OP_div → fault text is stap's.
        let loc = compile(&[0x31, 0x30, 0x1b, 0x9f]).unwrap();
        assert_eq!(hit_read(&loc, 8), Err(Fault::DivideByZero));
        // DW_OP_implicit_value 2 0x34 0x12.
        assert_eq!(
            hit_read(&compile(&[0x9e, 0x02, 0x34, 0x12]).unwrap(), 2),
            Ok(Object::Bytes(vec![0x34, 0x12]))
        );
    }

    #[test]
    fn entry_values_only_at_entry() {
        // DW_OP_entry_value(DW_OP_reg5) DW_OP_stack_value: 0xa3 len=1 0x55 0x9f.
        let loc = compile(&[0xa3, 0x01, 0x55, 0x9f]).unwrap();
        assert_eq!(
            hit_read(&loc, 8),
            Ok(Object::Bytes(0xfeedu64.to_le_bytes().to_vec()))
        );
        // An empty expression is an optimized-out value.
        assert_eq!(
            hit_read(&compile(&[]).unwrap(), 4),
            Err(Fault::Unavailable("value optimized out".into()))
        );
    }
}
