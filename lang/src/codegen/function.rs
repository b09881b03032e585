//! One body (probe handler or script function) → one Cranelift function.

use super::{CodegenError, Shared};
use crate::ir::{self, Arg, Inst, LocalId, Ret, Str, StrDst, Terminator};
use cranelift_codegen::entity::packed_option::ReservedValue;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    Block, BlockArg, FuncRef, Function, GlobalValue, InstBuilder, MemFlagsData, StackSlot,
    StackSlotData, StackSlotKind, Type, Value, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{DataId, FuncId, Module};
use rtap_abi::codes::{self, LOC_NONE};
use rtap_abi::context::{
    CONTEXT_ACTIONS_LEFT_OFFSET, CONTEXT_GLOBALS_OFFSET, CONTEXT_NESTING_OFFSET,
    CONTEXT_UNWIND_OFFSET,
};
use rtap_abi::strbuf::{STRBUF_LEN_OFFSET, strbuf_size};
use rtap_abi::{Helper, ParamKind};
use std::collections::HashMap;

/// Translates `body` into `func` (whose signature is already set).
#[allow(clippy::too_many_arguments)]
pub(super) fn translate(
    module: &mut JITModule,
    shared: &mut Shared<'_>,
    function_ids: &[FuncId],
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    body: &ir::Body,
    function: Option<&ir::Function>,
    place: &str,
) -> Result<(), CodegenError> {
    let ptr = module.target_config().pointer_type();
    let b = FunctionBuilder::new(func, fctx);
    let mut t = Translator {
        b,
        module,
        shared,
        function_ids,
        body,
        function,
        place,
        ptr,
        ctx: Value::reserved_value(),
        ret_ptr: None,
        vars: Vec::new(),
        str_offsets: Vec::new(),
        strings: None,
        slots: None,
        scratch: None,
        blocks: Vec::new(),
        leave: None,
        unwound: None,
        unwind: None,
        func_refs: HashMap::new(),
        helper_refs: HashMap::new(),
        data_refs: HashMap::new(),
    };
    t.run()?;
    t.b.seal_all_blocks();
    let config = t.module.target_config();
    t.b.finalize(config);
    Ok(())
}

struct Translator<'a, 's, 'f> {
    b: FunctionBuilder<'f>,
    module: &'a mut JITModule,
    shared: &'a mut Shared<'s>,
    function_ids: &'a [FuncId],
    body: &'a ir::Body,
    function: Option<&'a ir::Function>,
    place: &'a str,
    ptr: Type,
    /// The `*mut Context` parameter.
    ctx: Value,
    /// A string-returning function's destination parameter.
    ret_ptr: Option<Value>,
    /// Cranelift variables of long locals.
    vars: Vec<Option<Variable>>,
    /// Offsets of string locals in `strings`.
    str_offsets: Vec<Option<u32>>,
    strings: Option<StackSlot>,
    /// Key / argument slots for helpers.
    slots: Option<StackSlot>,
    /// A string buffer for results nobody reads.
    scratch: Option<StackSlot>,
    blocks: Vec<Block>,
    /// Functions: `leave(value, next)` decrements the nesting depth and returns.
    leave: Option<Block>,
    /// Leaves with the pending unwind.
    unwound: Option<Block>,
    /// Unwind target of the IR block being translated.
    unwind: Option<ir::BlockId>,
    func_refs: HashMap<FuncId, FuncRef>,
    helper_refs: HashMap<Helper, FuncRef>,
    data_refs: HashMap<DataId, GlobalValue>,
}

fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

impl Translator<'_, '_, '_> {
    fn malformed(&self, message: impl Into<String>) -> CodegenError {
        CodegenError::Malformed {
            place: self.place.to_string(),
            message: message.into(),
        }
    }

    fn run(&mut self) -> Result<(), CodegenError> {
        self.allocate_frame()?;
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.ctx = params[0];
        let mut next_param = 1;
        if self.function.is_some_and(|f| f.ret == Some(ir::Type::Str)) {
            self.ret_ptr = Some(params[1]);
            next_param = 2;
        }
        self.blocks = (0..self.body.blocks.len())
            .map(|_| self.b.create_block())
            .collect();
        if self.blocks.is_empty() {
            return Err(self.malformed("body without blocks"));
        }
        self.make_exits();
        if let Some(f) = self.function {
            self.nesting_prologue(f)?;
        }
        // Locals are 0 / "" on entry; parameters take the arguments (strings copied in).
        let nparams = self.function.map_or(0, |f| f.params as usize);
        for (i, local) in self.body.locals.iter().enumerate() {
            let id = LocalId(i as u32);
            match local.ty {
                ir::Type::Long => {
                    let v = if i < nparams {
                        params[next_param + i]
                    } else {
                        self.b.ins().iconst(types::I64, 0)
                    };
                    let var = self.vars[i].expect("long locals have variables");
                    self.b.def_var(var, v);
                }
                ir::Type::Str => {
                    let addr = self.local_str(id)?;
                    if i < nparams {
                        let src = params[next_param + i];
                        self.call_helper(Helper::StrCopy, &[addr, src])?;
                    } else {
                        let zero = self.b.ins().iconst(types::I32, 0);
                        self.b.ins().store(trusted(), zero, addr, STRBUF_LEN_OFFSET);
                    }
                }
            }
        }
        self.b.ins().jump(self.blocks[0], &[]);

        for (i, block) in self.body.blocks.iter().enumerate() {
            self.b.switch_to_block(self.blocks[i]);
            self.unwind = block.unwind;
            if let Some(u) = block.unwind
                && u.index() >= self.blocks.len()
            {
                return Err(self.malformed(format!("unwind target {u} does not exist")));
            }
            for inst in &block.insts {
                self.inst(inst)?;
            }
            self.term(&block.term)?;
        }
        self.fill_exits();
        Ok(())
    }

    /// Variables for long locals, buffers for string locals, and the slot area.
    fn allocate_frame(&mut self) -> Result<(), CodegenError> {
        let buf = strbuf_size(self.shared.program.max_string_len) as u32;
        let mut offset = 0u32;
        for local in &self.body.locals {
            match local.ty {
                ir::Type::Long => {
                    self.vars.push(Some(self.b.declare_var(types::I64)));
                    self.str_offsets.push(None);
                }
                ir::Type::Str => {
                    self.vars.push(None);
                    self.str_offsets.push(Some(offset));
                    offset = offset
                        .checked_add(buf)
                        .ok_or_else(|| self.malformed("string locals exceed the frame"))?;
                }
            }
        }
        if offset > 0 {
            self.strings = Some(self.b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                offset,
                3,
            )));
        }
        let max_slots = self
            .body
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .map(slot_count)
            .max()
            .unwrap_or(0);
        if max_slots > 0 {
            self.slots = Some(self.b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                8 * max_slots as u32,
                3,
            )));
        }
        Ok(())
    }

    /// Creates the blocks every exit goes through (filled by [`Self::fill_exits`]).
    fn make_exits(&mut self) {
        let unwound = self.b.create_block();
        self.b.set_cold_block(unwound);
        self.unwound = Some(unwound);
        if self.function.is_some() {
            let leave = self.b.create_block();
            self.b.append_block_param(leave, types::I64);
            self.b.append_block_param(leave, types::I64);
            self.leave = Some(leave);
        }
    }

    /// Functions: `leave(value, next)` counts the frame out and returns; `unwound` leaves
    /// with `(0, 0)`. Probes: `unwound` returns.
    fn fill_exits(&mut self) {
        let unwound = self.unwound.expect("made first");
        if let Some(leave) = self.leave {
            self.b.switch_to_block(leave);
            let args = self.b.block_params(leave).to_vec();
            let n = self.load_ctx(CONTEXT_NESTING_OFFSET);
            let n = self.b.ins().iadd_imm_s(n, -1);
            self.b
                .ins()
                .store(trusted(), n, self.ctx, CONTEXT_NESTING_OFFSET);
            self.b.ins().return_(&args);
            self.b.switch_to_block(unwound);
            let zero = self.b.ins().iconst(types::I64, 0);
            self.b
                .ins()
                .jump(leave, &[BlockArg::Value(zero), BlockArg::Value(zero)]);
        } else {
            self.b.switch_to_block(unwound);
            self.b.ins().return_(&[]);
        }
    }

    /// SystemTap's function prologue: fail with MAXNESTING (near the function's declaration)
    /// when the nesting depth is already at the limit, else count this frame.
    fn nesting_prologue(&mut self, f: &ir::Function) -> Result<(), CodegenError> {
        let n = self.load_ctx(CONTEXT_NESTING_OFFSET);
        let too_deep = self.b.ins().icmp_imm_s(
            IntCC::SignedGreaterThanOrEqual,
            n,
            self.shared.program.max_nesting,
        );
        let fail = self.b.create_block();
        let ok = self.b.create_block();
        self.b.set_cold_block(fail);
        self.b.ins().brif(too_deep, fail, &[], ok, &[]);
        self.b.switch_to_block(fail);
        let kind = self.b.ins().iconst(types::I64, codes::ERROR_MAXNESTING);
        let loc = self.b.ins().iconst(types::I64, f.loc.0 as i64);
        self.call_helper(Helper::Raise, &[kind, loc])?;
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().return_(&[zero, zero]);
        self.b.switch_to_block(ok);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.b
            .ins()
            .store(trusted(), n, self.ctx, CONTEXT_NESTING_OFFSET);
        Ok(())
    }

    fn load_ctx(&mut self, offset: i32) -> Value {
        self.b.ins().load(types::I64, trusted(), self.ctx, offset)
    }

    /// Where the current block's errors go.
    fn unwind_block(&self) -> Block {
        match self.unwind {
            Some(b) => self.blocks[b.index()],
            None => self.unwound.expect("exits are made first"),
        }
    }

    /// After a call that may unwind: leave for the unwind target when the unwind word is set.
    fn check_unwind(&mut self) {
        let word = self.load_ctx(CONTEXT_UNWIND_OFFSET);
        let target = self.unwind_block();
        let cont = self.b.create_block();
        self.b.ins().brif(word, target, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Raises `kind` at `loc` and goes to the unwind target.
    fn raise_here(&mut self, kind: i64, loc: Option<ir::LocId>) -> Result<(), CodegenError> {
        let kind = self.b.ins().iconst(types::I64, kind);
        let loc = self.loc_value(loc);
        self.call_helper(Helper::Raise, &[kind, loc])?;
        let target = self.unwind_block();
        self.b.ins().jump(target, &[]);
        Ok(())
    }

    fn loc_value(&mut self, loc: Option<ir::LocId>) -> Value {
        let v = loc.map_or(LOC_NONE, |l| l.0 as i64);
        self.b.ins().iconst(types::I64, v)
    }

    // ---- operands ----

    fn var(&self, local: LocalId) -> Result<Variable, CodegenError> {
        self.vars
            .get(local.index())
            .copied()
            .flatten()
            .ok_or_else(|| self.malformed(format!("{local} is not a long local")))
    }

    fn value(&mut self, v: ir::Value) -> Result<Value, CodegenError> {
        Ok(match v {
            ir::Value::Const(c) => self.b.ins().iconst(types::I64, c),
            ir::Value::Local(l) => {
                let var = self.var(l)?;
                self.b.use_var(var)
            }
        })
    }

    fn set(&mut self, dst: LocalId, v: Value) -> Result<(), CodegenError> {
        let var = self.var(dst)?;
        self.b.def_var(var, v);
        Ok(())
    }

    fn local_str(&mut self, local: LocalId) -> Result<Value, CodegenError> {
        let offset = self
            .str_offsets
            .get(local.index())
            .copied()
            .flatten()
            .ok_or_else(|| self.malformed(format!("{local} is not a string local")))?;
        let slot = self.strings.expect("string locals have a slot");
        Ok(self.b.ins().stack_addr(self.ptr, slot, offset as i32))
    }

    fn global_addr(&mut self, g: ir::ScalarId) -> Result<Value, CodegenError> {
        let offset = *self
            .shared
            .layout
            .offsets
            .get(g.index())
            .ok_or_else(|| self.malformed(format!("{g} does not exist")))?;
        let base = self.b.ins().load(
            self.ptr,
            trusted().with_readonly(),
            self.ctx,
            CONTEXT_GLOBALS_OFFSET,
        );
        Ok(self.b.ins().iadd_imm_s(base, offset as i64))
    }

    fn scalar_type(&self, g: ir::ScalarId) -> Result<ir::Type, CodegenError> {
        self.shared
            .program
            .scalars
            .get(g.index())
            .map(|s| s.init.ty())
            .ok_or_else(|| self.malformed(format!("{g} does not exist")))
    }

    fn str_addr(&mut self, s: &Str) -> Result<Value, CodegenError> {
        match s {
            Str::Local(l) => self.local_str(*l),
            Str::Global(g) => {
                if self.scalar_type(*g)? != ir::Type::Str {
                    return Err(self.malformed(format!("{g} is not a string")));
                }
                self.global_addr(*g)
            }
            Str::Lit(bytes) => {
                let id = self.shared.literal(self.module, bytes)?;
                let gv = match self.data_refs.get(&id) {
                    Some(&gv) => gv,
                    None => {
                        let gv = self.module.declare_data_in_func(id, self.b.func);
                        self.data_refs.insert(id, gv);
                        gv
                    }
                };
                Ok(self.b.ins().symbol_value(self.ptr, gv))
            }
        }
    }

    fn dst_addr(&mut self, d: StrDst) -> Result<Value, CodegenError> {
        self.str_addr(&d.into())
    }

    /// Slot value of an argument: the long itself, or the string's address.
    fn arg(&mut self, a: &Arg) -> Result<Value, CodegenError> {
        match a {
            Arg::Long(v) => self.value(*v),
            Arg::Str(s) => {
                let addr = self.str_addr(s)?;
                Ok(if self.ptr == types::I64 {
                    addr
                } else {
                    self.b.ins().uextend(types::I64, addr)
                })
            }
        }
    }

    /// Stores `args` into the slot area; returns its address (null when empty) and the
    /// wildcard mask (bit i for a `None`).
    fn fill_slots(&mut self, args: &[Option<&Arg>]) -> Result<(Value, i64), CodegenError> {
        if args.is_empty() {
            return Ok((self.b.ins().iconst(self.ptr, 0), 0));
        }
        let slot = self.slots.expect("the slot area is sized by the prepass");
        let mut mask = 0i64;
        for (i, a) in args.iter().enumerate() {
            match a {
                Some(a) => {
                    let v = self.arg(a)?;
                    self.b.ins().stack_store(self.ptr, v, slot, 8 * i as i32);
                }
                None => mask |= 1 << i,
            }
        }
        Ok((self.b.ins().stack_addr(self.ptr, slot, 0), mask))
    }

    fn keys(&mut self, keys: &[Arg]) -> Result<Value, CodegenError> {
        let refs: Vec<Option<&Arg>> = keys.iter().map(Some).collect();
        Ok(self.fill_slots(&refs)?.0)
    }

    fn scratch(&mut self) -> Value {
        let slot = *self.scratch.get_or_insert_with(|| {
            let size = strbuf_size(self.shared.program.max_string_len) as u32;
            self.b
                .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3))
        });
        self.b.ins().stack_addr(self.ptr, slot, 0)
    }

    // ---- calls ----

    fn helper_ref(&mut self, helper: Helper) -> Result<FuncRef, CodegenError> {
        if let Some(&r) = self.helper_refs.get(&helper) {
            return Ok(r);
        }
        let id = self.shared.helper(self.module, helper)?;
        let r = self.module.declare_func_in_func(id, self.b.func);
        self.helper_refs.insert(helper, r);
        Ok(r)
    }

    /// Calls `helper(ctx, args…)`; returns its result, if it has one. No unwind check.
    fn call_helper(
        &mut self,
        helper: Helper,
        args: &[Value],
    ) -> Result<Option<Value>, CodegenError> {
        let r = self.helper_ref(helper)?;
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(self.ctx);
        all.extend_from_slice(args);
        let call = self.b.ins().call(r, &all);
        Ok(self.b.inst_results(call).first().copied())
    }

    /// Calls a helper and, when it may unwind, checks the unwind word.
    fn call_checked(
        &mut self,
        helper: Helper,
        args: &[Value],
    ) -> Result<Option<Value>, CodegenError> {
        let result = self.call_helper(helper, args)?;
        if helper.may_unwind() {
            self.check_unwind();
        }
        Ok(result)
    }

    fn map_id(&mut self, map: ir::MapId) -> Result<Value, CodegenError> {
        if map.index() >= self.shared.program.maps.len() {
            return Err(self.malformed(format!("{map} does not exist")));
        }
        Ok(self.b.ins().iconst(types::I64, map.0 as i64))
    }

    fn imm(&mut self, v: i64) -> Value {
        self.b.ins().iconst(types::I64, v)
    }

    // ---- instructions ----

    fn inst(&mut self, inst: &Inst) -> Result<(), CodegenError> {
        match inst {
            Inst::Move { dst, src } => {
                let v = self.value(*src)?;
                self.set(*dst, v)
            }
            Inst::Unary { dst, op, src } => {
                let x = self.value(*src)?;
                let v = match op {
                    ir::UnOp::Neg => self.b.ins().ineg(x),
                    ir::UnOp::BitNot => self.b.ins().bnot(x),
                    ir::UnOp::Not => {
                        let c = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                        self.b.ins().uextend(types::I64, c)
                    }
                };
                self.set(*dst, v)
            }
            Inst::Binary { dst, op, lhs, rhs } => {
                let a = self.value(*lhs)?;
                let c = self.value(*rhs)?;
                // Cranelift masks shift counts to the type's width (63 for i64), as stap does.
                let v = match op {
                    ir::BinOp::Add => self.b.ins().iadd(a, c),
                    ir::BinOp::Sub => self.b.ins().isub(a, c),
                    ir::BinOp::Mul => self.b.ins().imul(a, c),
                    ir::BinOp::And => self.b.ins().band(a, c),
                    ir::BinOp::Or => self.b.ins().bor(a, c),
                    ir::BinOp::Xor => self.b.ins().bxor(a, c),
                    ir::BinOp::Shl => self.b.ins().ishl(a, c),
                    ir::BinOp::Shr => self.b.ins().sshr(a, c),
                    ir::BinOp::Ushr => self.b.ins().ushr(a, c),
                };
                self.set(*dst, v)
            }
            Inst::Divide {
                dst,
                op,
                lhs,
                rhs,
                loc,
            } => self.divide(*dst, *op, *lhs, *rhs, *loc),
            Inst::Compare { dst, op, lhs, rhs } => {
                let a = self.value(*lhs)?;
                let c = self.value(*rhs)?;
                let f = self.b.ins().icmp(int_cc(*op), a, c);
                let v = self.b.ins().uextend(types::I64, f);
                self.set(*dst, v)
            }
            Inst::StrCompare { dst, op, lhs, rhs } => {
                let a = self.str_addr(lhs)?;
                let c = self.str_addr(rhs)?;
                let r = self
                    .call_helper(Helper::StrCompare, &[a, c])?
                    .expect("rt_str_compare returns");
                let f = self.b.ins().icmp_imm_s(int_cc(*op), r, 0);
                let v = self.b.ins().uextend(types::I64, f);
                self.set(*dst, v)
            }
            Inst::LoadGlobal { dst, global } => {
                if self.scalar_type(*global)? != ir::Type::Long {
                    return Err(self.malformed(format!("{global} is not a long")));
                }
                let addr = self.global_addr(*global)?;
                let v = self.b.ins().load(types::I64, trusted(), addr, 0);
                self.set(*dst, v)
            }
            Inst::StoreGlobal { global, src } => {
                if self.scalar_type(*global)? != ir::Type::Long {
                    return Err(self.malformed(format!("{global} is not a long")));
                }
                let v = self.value(*src)?;
                let addr = self.global_addr(*global)?;
                self.b.ins().store(trusted(), v, addr, 0);
                Ok(())
            }
            Inst::StrCopy { dst, src } => {
                let d = self.dst_addr(*dst)?;
                let s = self.str_addr(src)?;
                self.call_helper(Helper::StrCopy, &[d, s])?;
                Ok(())
            }
            Inst::StrConcat { dst, lhs, rhs } => {
                let d = self.dst_addr(*dst)?;
                let a = self.str_addr(lhs)?;
                let c = self.str_addr(rhs)?;
                self.call_helper(Helper::StrConcat, &[d, a, c])?;
                Ok(())
            }
            Inst::Call {
                ret,
                next,
                func,
                args,
                loc: _,
            } => self.call_function(*ret, *next, *func, args),
            Inst::Helper {
                helper,
                ret,
                args,
                loc,
            } => self.generic_helper(*helper, *ret, args, *loc),
            Inst::Raise { kind, loc } => {
                let code = match kind {
                    ir::RaiseKind::FunctionsExhausted => codes::ERROR_FUNCTIONS_EXHAUSTED,
                };
                self.raise_here(code, Some(*loc))?;
                // Anything after a raise in the same IR block is unreachable.
                let dead = self.b.create_block();
                self.b.switch_to_block(dead);
                Ok(())
            }
            Inst::Printf { format, args, loc } => {
                let f = self.format_id(*format)?;
                let refs: Vec<Option<&Arg>> = args.iter().map(Some).collect();
                let (slots, _) = self.fill_slots(&refs)?;
                let loc = self.loc_value(Some(*loc));
                self.call_checked(Helper::Printf, &[f, slots, loc])?;
                Ok(())
            }
            Inst::Sprintf {
                dst,
                format,
                args,
                loc,
            } => {
                let f = self.format_id(*format)?;
                let refs: Vec<Option<&Arg>> = args.iter().map(Some).collect();
                let (slots, _) = self.fill_slots(&refs)?;
                let d = self.dst_addr(*dst)?;
                let loc = self.loc_value(Some(*loc));
                self.call_checked(Helper::Sprintf, &[d, f, slots, loc])?;
                Ok(())
            }
            Inst::MapGet { ret, map, keys } => {
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                match ret {
                    Ret::Long(l) => {
                        let v = self
                            .call_helper(Helper::MapGetLong, &[m, k])?
                            .expect("returns");
                        self.set(*l, v)
                    }
                    Ret::Str(d) => {
                        let d = self.dst_addr(*d)?;
                        self.call_helper(Helper::MapGetStr, &[m, k, d])?;
                        Ok(())
                    }
                }
            }
            Inst::MapSet {
                map,
                keys,
                value,
                loc,
            } => {
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                let loc = self.loc_value(Some(*loc));
                match value {
                    Arg::Long(v) => {
                        let v = self.value(*v)?;
                        self.call_checked(Helper::MapSetLong, &[m, k, v, loc])?;
                    }
                    Arg::Str(s) => {
                        let s = self.str_addr(s)?;
                        self.call_checked(Helper::MapSetStr, &[m, k, s, loc])?;
                    }
                }
                Ok(())
            }
            Inst::MapAdd {
                dst,
                map,
                keys,
                delta,
                loc,
            } => {
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                let d = self.value(*delta)?;
                let loc = self.loc_value(Some(*loc));
                let v = self
                    .call_checked(Helper::MapAddLong, &[m, k, d, loc])?
                    .expect("returns");
                if let Some(dst) = dst {
                    self.set(*dst, v)?;
                }
                Ok(())
            }
            Inst::MapExists { dst, map, keys } => {
                let m = self.map_id(*map)?;
                let refs: Vec<Option<&Arg>> = keys.iter().map(Option::as_ref).collect();
                let (k, mask) = self.fill_slots(&refs)?;
                let mask = self.imm(mask);
                let v = self
                    .call_helper(Helper::MapExists, &[m, k, mask])?
                    .expect("returns");
                self.set(*dst, v)
            }
            Inst::MapDelete { map, keys } => {
                let m = self.map_id(*map)?;
                let refs: Vec<Option<&Arg>> = keys.iter().map(Option::as_ref).collect();
                let (k, mask) = self.fill_slots(&refs)?;
                let mask = self.imm(mask);
                self.call_helper(Helper::MapDelete, &[m, k, mask])?;
                Ok(())
            }
            Inst::MapClear { map } => {
                let m = self.map_id(*map)?;
                self.call_helper(Helper::MapClear, &[m])?;
                Ok(())
            }
            Inst::StatAdd {
                map,
                keys,
                value,
                loc,
            } => {
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                let v = self.value(*value)?;
                let loc = self.loc_value(Some(*loc));
                self.call_checked(Helper::StatAdd, &[m, k, v, loc])?;
                Ok(())
            }
            Inst::StatGet {
                dst,
                map,
                keys,
                op,
                loc,
            } => {
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                let op = self.imm(stat_code(*op));
                let loc = self.loc_value(Some(*loc));
                let v = self
                    .call_checked(Helper::StatGet, &[m, k, op, loc])?
                    .expect("returns");
                self.set(*dst, v)
            }
            Inst::HistPrint { map, keys, loc } => {
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                let loc = self.loc_value(Some(*loc));
                self.call_checked(Helper::HistPrint, &[m, k, loc])?;
                Ok(())
            }
            Inst::HistSprint {
                dst,
                map,
                keys,
                loc,
            } => {
                let d = self.dst_addr(*dst)?;
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                let loc = self.loc_value(Some(*loc));
                self.call_checked(Helper::HistSprint, &[d, m, k, loc])?;
                Ok(())
            }
            Inst::HistBucket {
                dst,
                map,
                keys,
                bucket,
                loc,
            } => {
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                let bucket = self.value(*bucket)?;
                let loc = self.loc_value(Some(*loc));
                let v = self
                    .call_checked(Helper::HistBucket, &[m, k, bucket, loc])?
                    .expect("returns");
                self.set(*dst, v)
            }
            Inst::HistCount {
                dst,
                map,
                keys,
                bucket,
            } => {
                let m = self.map_id(*map)?;
                let k = self.keys(keys)?;
                let bucket = self.value(*bucket)?;
                let v = self
                    .call_helper(Helper::HistCount, &[m, k, bucket])?
                    .expect("returns");
                self.set(*dst, v)
            }
            Inst::HistBuckets { dst, map } => {
                let m = self.map_id(*map)?;
                let v = self
                    .call_helper(Helper::HistBuckets, &[m])?
                    .expect("returns");
                self.set(*dst, v)
            }
            Inst::ForeachStart {
                iter,
                map,
                sort,
                limit,
                pattern,
            } => {
                let m = self.map_id(*map)?;
                let spec = match sort {
                    None => codes::SORT_NONE,
                    Some(s) => codes::sort_spec(
                        s.column,
                        if s.descending {
                            codes::SORT_DESCENDING
                        } else {
                            codes::SORT_ASCENDING
                        },
                        stat_code(s.stat_op),
                    ),
                };
                let spec = self.imm(spec);
                let limit = match limit {
                    Some(v) => self.value(*v)?,
                    None => self.imm(codes::LIMIT_NONE),
                };
                let refs: Vec<Option<&Arg>> = pattern.iter().map(Option::as_ref).collect();
                let (p, mask) = self.fill_slots(&refs)?;
                let mask = self.imm(mask);
                let v = self
                    .call_helper(Helper::ForeachStart, &[m, spec, limit, p, mask])?
                    .expect("returns");
                self.set(*iter, v)
            }
            Inst::ForeachNext { dst, iter, keys } => {
                let it = self.value(ir::Value::Local(*iter))?;
                let slot = self.slots;
                // String keys are copied into their locals: give the runtime their addresses.
                for (i, k) in keys.iter().enumerate() {
                    if self.body.ty(*k) == ir::Type::Str {
                        let addr = self.local_str(*k)?;
                        let addr = if self.ptr == types::I64 {
                            addr
                        } else {
                            self.b.ins().uextend(types::I64, addr)
                        };
                        let slot = slot.expect("sized by the prepass");
                        self.b.ins().stack_store(self.ptr, addr, slot, 8 * i as i32);
                    }
                }
                let out = match slot {
                    Some(s) if !keys.is_empty() => self.b.ins().stack_addr(self.ptr, s, 0),
                    _ => self.b.ins().iconst(self.ptr, 0),
                };
                let more = self
                    .call_helper(Helper::ForeachNext, &[it, out])?
                    .expect("returns");
                for (i, k) in keys.iter().enumerate() {
                    if self.body.ty(*k) == ir::Type::Long {
                        let slot = slot.expect("sized by the prepass");
                        let v = self
                            .b
                            .ins()
                            .stack_load(self.ptr, types::I64, slot, 8 * i as i32);
                        self.set(*k, v)?;
                    }
                }
                self.set(*dst, more)
            }
            Inst::ForeachValue { ret, iter } => {
                let it = self.value(ir::Value::Local(*iter))?;
                match ret {
                    Ret::Long(l) => {
                        let v = self
                            .call_helper(Helper::ForeachValueLong, &[it])?
                            .expect("returns");
                        self.set(*l, v)
                    }
                    Ret::Str(d) => {
                        let d = self.dst_addr(*d)?;
                        self.call_helper(Helper::ForeachValueStr, &[it, d])?;
                        Ok(())
                    }
                }
            }
            Inst::ForeachStat { dst, iter, op, loc } => {
                let it = self.value(ir::Value::Local(*iter))?;
                let op = self.imm(stat_code(*op));
                let loc = self.loc_value(Some(*loc));
                let v = self
                    .call_checked(Helper::ForeachValueStat, &[it, op, loc])?
                    .expect("returns");
                self.set(*dst, v)
            }
            Inst::ForeachEnd { iter } => {
                let it = self.value(ir::Value::Local(*iter))?;
                self.call_helper(Helper::ForeachEnd, &[it])?;
                Ok(())
            }
            Inst::RegexMatch { .. } => Err(CodegenError::Unsupported(
                "regular expression matching (=~, !~): the runtime has no regex engine yet",
            )),
            Inst::Actions { count, loc } => {
                let left = self.load_ctx(CONTEXT_ACTIONS_LEFT_OFFSET);
                let left = self.b.ins().iadd_imm_s(left, -i64::from(*count));
                self.b
                    .ins()
                    .store(trusted(), left, self.ctx, CONTEXT_ACTIONS_LEFT_OFFSET);
                let out = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::SignedLessThanOrEqual, left, 0);
                self.branch_raise(out, codes::ERROR_MAXACTION, *loc)
            }
            Inst::CheckActions { count, loc } => {
                let left = self.load_ctx(CONTEXT_ACTIONS_LEFT_OFFSET);
                let out = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::SignedLessThan, left, i64::from(*count));
                self.branch_raise(out, codes::ERROR_MAXACTION, *loc)
            }
        }
    }

    /// When `cond` holds, raise `kind` at `loc` (in a cold block) and unwind.
    fn branch_raise(
        &mut self,
        cond: Value,
        kind: i64,
        loc: Option<ir::LocId>,
    ) -> Result<(), CodegenError> {
        let fail = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(fail);
        self.b.ins().brif(cond, fail, &[], cont, &[]);
        self.b.switch_to_block(fail);
        self.raise_here(kind, loc)?;
        self.b.switch_to_block(cont);
        Ok(())
    }

    fn format_id(&mut self, f: ir::FormatId) -> Result<Value, CodegenError> {
        if f.index() >= self.shared.program.formats.len() {
            return Err(self.malformed(format!("{f} does not exist")));
        }
        Ok(self.imm(f.0 as i64))
    }

    /// `/` and `%`: 0 → `division by 0`; -1 → divide by 1 and negate (so `INT64_MIN / -1`
    /// wraps instead of trapping, and `x % -1` is 0).
    fn divide(
        &mut self,
        dst: LocalId,
        op: ir::DivOp,
        lhs: ir::Value,
        rhs: ir::Value,
        loc: ir::LocId,
    ) -> Result<(), CodegenError> {
        let a = self.value(lhs)?;
        if let ir::Value::Const(c) = rhs
            && c != 0
            && c != -1
        {
            let c = self.imm(c);
            let v = match op {
                ir::DivOp::Div => self.b.ins().sdiv(a, c),
                ir::DivOp::Rem => self.b.ins().srem(a, c),
            };
            return self.set(dst, v);
        }
        let d = self.value(rhs)?;
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, d, 0);
        self.branch_raise(zero, codes::ERROR_DIVISION_BY_ZERO, Some(loc))?;
        let minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, d, -1);
        let one = self.imm(1);
        let safe = self.b.ins().select(minus_one, one, d);
        let v = match op {
            ir::DivOp::Div => {
                let q = self.b.ins().sdiv(a, safe);
                let neg = self.b.ins().ineg(a);
                self.b.ins().select(minus_one, neg, q)
            }
            ir::DivOp::Rem => self.b.ins().srem(a, safe),
        };
        self.set(dst, v)
    }

    fn call_function(
        &mut self,
        ret: Option<Ret>,
        next: Option<LocalId>,
        func: ir::FuncId,
        args: &[Arg],
    ) -> Result<(), CodegenError> {
        let callee = self
            .shared
            .program
            .functions
            .get(func.index())
            .ok_or_else(|| self.malformed(format!("{func} does not exist")))?;
        if args.len() != callee.params as usize {
            return Err(self.malformed(format!("{func} takes {} arguments", callee.params)));
        }
        let mut values = vec![self.ctx];
        if callee.ret == Some(ir::Type::Str) {
            let d = match ret {
                Some(Ret::Str(d)) => self.dst_addr(d)?,
                None => self.scratch(),
                Some(Ret::Long(_)) => return Err(self.malformed("string result into a long")),
            };
            values.push(d);
        }
        for (i, a) in args.iter().enumerate() {
            if a.ty() != callee.body.locals[i].ty {
                return Err(self.malformed(format!("argument {i} of {func} has the wrong type")));
            }
            values.push(match a {
                Arg::Long(v) => self.value(*v)?,
                Arg::Str(s) => self.str_addr(s)?,
            });
        }
        let id = self.function_ids[func.index()];
        let r = match self.func_refs.get(&id) {
            Some(&r) => r,
            None => {
                let r = self.module.declare_func_in_func(id, self.b.func);
                self.func_refs.insert(id, r);
                r
            }
        };
        let call = self.b.ins().call(r, &values);
        let results = self.b.inst_results(call).to_vec();
        self.check_unwind();
        if let Some(Ret::Long(l)) = ret {
            if callee.ret != Some(ir::Type::Long) {
                return Err(self.malformed(format!("{func} does not return a long")));
            }
            self.set(l, results[0])?;
        }
        if let Some(n) = next {
            self.set(n, results[1])?;
        }
        Ok(())
    }

    /// A helper whose parameters are strings, longs, an optional string destination (the
    /// result) and an optional location, taken in the helper's order.
    fn generic_helper(
        &mut self,
        helper: Helper,
        ret: Option<Ret>,
        args: &[Arg],
        loc: Option<ir::LocId>,
    ) -> Result<(), CodegenError> {
        let mut values = Vec::new();
        let mut args = args.iter();
        for p in &helper.params()[1..] {
            let v = match (p.kind, p.name) {
                (ParamKind::I64, "loc") => self.loc_value(loc),
                (ParamKind::I64, _) => match args.next() {
                    Some(Arg::Long(v)) => self.value(*v)?,
                    _ => return Err(self.malformed(format!("{}: expected a long", helper.name()))),
                },
                (ParamKind::Str, _) => match args.next() {
                    Some(Arg::Str(s)) => self.str_addr(s)?,
                    _ => {
                        return Err(self.malformed(format!("{}: expected a string", helper.name())));
                    }
                },
                (ParamKind::StrOut, _) => match ret {
                    Some(Ret::Str(d)) => self.dst_addr(d)?,
                    None => self.scratch(),
                    Some(Ret::Long(_)) => {
                        return Err(self.malformed(format!("{}: string result", helper.name())));
                    }
                },
                (kind, _) => {
                    return Err(self.malformed(format!(
                        "{} has a {kind:?} parameter; it needs its own instruction",
                        helper.name()
                    )));
                }
            };
            values.push(v);
        }
        if args.next().is_some() {
            return Err(self.malformed(format!("{}: too many arguments", helper.name())));
        }
        let result = self.call_checked(helper, &values)?;
        match (ret, result) {
            (Some(Ret::Long(l)), Some(v)) => self.set(l, v),
            (Some(Ret::Long(_)), None) => {
                Err(self.malformed(format!("{} returns nothing", helper.name())))
            }
            _ => Ok(()),
        }
    }

    // ---- terminators ----

    fn block(&self, b: ir::BlockId) -> Result<Block, CodegenError> {
        self.blocks
            .get(b.index())
            .copied()
            .ok_or_else(|| self.malformed(format!("{b} does not exist")))
    }

    fn term(&mut self, term: &Terminator) -> Result<(), CodegenError> {
        match term {
            Terminator::Jump(b) => {
                let b = self.block(*b)?;
                self.b.ins().jump(b, &[]);
            }
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => {
                let c = self.value(*cond)?;
                let t = self.block(*then)?;
                let e = self.block(*otherwise)?;
                self.b.ins().brif(c, t, &[], e, &[]);
            }
            Terminator::Return(value) => self.ret(value.as_ref(), 0)?,
            Terminator::Next => {
                if self.function.is_none() {
                    return Err(self.malformed("`next` terminator in a probe"));
                }
                self.ret(None, 1)?;
            }
            Terminator::Catch {
                msg,
                caught,
                uncaught,
            } => {
                let caught = self.block(*caught)?;
                let uncaught = self.block(*uncaught)?;
                // translate.cxx: a MAXACTION error is not caught once the budget is spent.
                let left = self.load_ctx(CONTEXT_ACTIONS_LEFT_OFFSET);
                let spent = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::SignedLessThanOrEqual, left, 0);
                let dispatch = self.b.create_block();
                self.b.ins().brif(spent, uncaught, &[], dispatch, &[]);
                self.b.switch_to_block(dispatch);
                let m = match msg {
                    Some(l) => self.local_str(*l)?,
                    None => self.b.ins().iconst(self.ptr, 0),
                };
                let r = self.call_helper(Helper::Catch, &[m])?.expect("returns");
                self.b.ins().brif(r, caught, &[], uncaught, &[]);
            }
            Terminator::Unwind => {
                let u = self.unwound.expect("made first");
                self.b.ins().jump(u, &[]);
            }
        }
        Ok(())
    }

    fn ret(&mut self, value: Option<&Arg>, next: i64) -> Result<(), CodegenError> {
        let Some(f) = self.function else {
            if value.is_some() {
                return Err(self.malformed("a probe returns a value"));
            }
            self.b.ins().return_(&[]);
            return Ok(());
        };
        let v = match (f.ret, value) {
            (Some(ir::Type::Long), Some(Arg::Long(v))) => self.value(*v)?,
            (Some(ir::Type::Str), Some(Arg::Str(s))) => {
                let s = self.str_addr(s)?;
                let d = self.ret_ptr.expect("string functions take a destination");
                self.call_helper(Helper::StrCopy, &[d, s])?;
                self.imm(0)
            }
            (_, None) => self.imm(0),
            _ => return Err(self.malformed("return value of the wrong type")),
        };
        let n = self.imm(next);
        let leave = self.leave.expect("functions have a leave block");
        self.b
            .ins()
            .jump(leave, &[BlockArg::Value(v), BlockArg::Value(n)]);
        Ok(())
    }
}

fn int_cc(op: ir::CmpOp) -> IntCC {
    match op {
        ir::CmpOp::Eq => IntCC::Equal,
        ir::CmpOp::Ne => IntCC::NotEqual,
        ir::CmpOp::Lt => IntCC::SignedLessThan,
        ir::CmpOp::Le => IntCC::SignedLessThanOrEqual,
        ir::CmpOp::Gt => IntCC::SignedGreaterThan,
        ir::CmpOp::Ge => IntCC::SignedGreaterThanOrEqual,
    }
}

fn stat_code(op: ir::StatOp) -> i64 {
    match op {
        ir::StatOp::Count => codes::STAT_COUNT,
        ir::StatOp::Sum => codes::STAT_SUM,
        ir::StatOp::Min => codes::STAT_MIN,
        ir::StatOp::Max => codes::STAT_MAX,
        ir::StatOp::Avg => codes::STAT_AVG,
        ir::StatOp::Variance => codes::STAT_VARIANCE,
    }
}

/// How many 8-byte slots an instruction passes to its helper.
fn slot_count(inst: &Inst) -> usize {
    match inst {
        Inst::Printf { args, .. } | Inst::Sprintf { args, .. } => args.len(),
        Inst::MapGet { keys, .. }
        | Inst::MapSet { keys, .. }
        | Inst::MapAdd { keys, .. }
        | Inst::StatAdd { keys, .. }
        | Inst::StatGet { keys, .. }
        | Inst::HistPrint { keys, .. }
        | Inst::HistSprint { keys, .. }
        | Inst::HistBucket { keys, .. }
        | Inst::HistCount { keys, .. } => keys.len(),
        Inst::MapExists { keys, .. } | Inst::MapDelete { keys, .. } => keys.len(),
        Inst::ForeachStart { pattern, .. } => pattern.len(),
        Inst::ForeachNext { keys, .. } => keys.len(),
        _ => 0,
    }
}
