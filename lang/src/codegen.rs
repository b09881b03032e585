//! Code generation: IR → Cranelift → native code in memory (JIT).
//!
//! One Cranelift function per probe handler (`extern "C" fn(*mut Context)`) and per script
//! function. Script functions use the platform C convention with this signature:
//!
//! ```text
//! fn(ctx: *mut Context, [ret: *mut StrBuf,] args…) -> (value: i64, next: i64)
//! ```
//!
//! `ret` is present when the function returns a string (the caller's destination buffer);
//! long arguments are `i64`, string arguments `*const StrBuf` (copied into the callee's frame on
//! entry). `value` is the long result (0 otherwise); `next` is 1 when the function left with
//! `next`, so the caller tries the following overload.
//!
//! Frame: long locals are Cranelift variables (registers); string locals are
//! [`rtap_abi::strbuf`] buffers in one stack slot; one more slot holds the 8-byte key and
//! argument slots helpers read. Scalar globals live in the runtime's globals area at the
//! offsets of [`GlobalsLayout`]; string literals are read-only data objects laid out as
//! `StrBuf`s.
//!
//! *Architecture Invariant*: every helper the code may call comes from `rtap_abi`'s table;
//! the caller of [`compile`] provides their addresses, and a missing one is an error here,
//! never a panic in the JIT's relocation pass. Code and data live in one arena, so
//! PC-relative calls and data references between them are always in range.

use crate::ir;
use cranelift_codegen::ir::{AbiParam, Signature, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{ArenaMemoryProvider, JITBuilder, JITModule};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module, ModuleError};
use rtap_abi::Helper;
use rtap_abi::context::HandlerFn;
use rtap_abi::strbuf::{STRBUF_ALIGN, strbuf_size};
use std::collections::HashMap;

mod function;

/// What to compile and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep the Cranelift IR of every function (as given to the optimizer) in
    /// [`Compiled::clif`].
    pub keep_clif: bool,
}

/// Code generation failed: the IR is inconsistent (a front-end bug) or the JIT failed.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The IR breaks one of its rules.
    #[error("internal error: malformed IR in {place}: {message}")]
    Malformed {
        /// Function or probe.
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A helper the program needs has no address.
    #[error("internal error: runtime helper '{0}' is not provided")]
    MissingHelper(&'static str),
    /// Cranelift refused a function or the module failed.
    #[error("code generation failed: {0}")]
    Module(#[from] Box<ModuleError>),
    /// The memory for code could not be reserved.
    #[error("cannot reserve memory for generated code: {0}")]
    Memory(String),
    /// The program uses something the runtime cannot do yet.
    #[error("not supported yet: {0}")]
    Unsupported(&'static str),
    /// The host is not supported by Cranelift.
    #[error("cannot generate code for this machine: {0}")]
    Host(String),
}

impl From<ModuleError> for CodegenError {
    fn from(e: ModuleError) -> Self {
        CodegenError::Module(Box::new(e))
    }
}

/// Where scalar globals live in the runtime's globals area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalsLayout {
    /// Byte offset of each scalar (by [`ir::ScalarId`]), 8-aligned.
    pub offsets: Vec<usize>,
    /// Total size in bytes.
    pub size: usize,
}

impl GlobalsLayout {
    /// Longs take 8 bytes, strings a string buffer, in declaration order.
    pub fn new(program: &ir::Program) -> GlobalsLayout {
        let mut offsets = Vec::with_capacity(program.scalars.len());
        let mut size = 0;
        for s in &program.scalars {
            offsets.push(size);
            size += match s.init.ty() {
                ir::Type::Long => 8,
                ir::Type::Str => strbuf_size(program.max_string_len),
            };
        }
        GlobalsLayout { offsets, size }
    }
}

/// A compiled program: native handlers in memory that stays mapped while this lives.
pub struct Compiled {
    /// Keeps the code alive; never freed (a session's code lives as long as the process).
    _module: JITModule,
    /// One handler per probe, in program order.
    pub handlers: Vec<HandlerFn>,
    /// Where the scalar globals are.
    pub layout: GlobalsLayout,
    /// The Cranelift IR of every function, when [`Options::keep_clif`] was set.
    pub clif: Option<String>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("handlers", &self.handlers.len())
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// Reserved address space for code and data (only what is used is committed).
const ARENA_SIZE: usize = 256 << 20;

/// Compiles `program`; `helpers` gives the address of every runtime helper by symbol name
/// (`rtap_abi::Helpers::symbols()`).
pub fn compile(
    program: &ir::Program,
    helpers: &[(&'static str, *const u8)],
    options: &Options,
) -> Result<Compiled, CodegenError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, name: &str, value: &str| {
        flags
            .set(name, value)
            .map_err(|e| CodegenError::Host(format!("{name}={value}: {e}")))
    };
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", "false")?;
    // String buffers make frames of several pages; probe them inline so a deep frame cannot
    // step over the guard page, without a libcall.
    set(&mut flags, "enable_probestack", "true")?;
    set(&mut flags, "probestack_strategy", "inline")?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    let isa = cranelift_native::builder()
        .map_err(|e| CodegenError::Host(e.to_string()))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| CodegenError::Host(e.to_string()))?;
    let mut builder = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
    builder.symbols(helpers.iter().copied());
    builder.memory_provider(Box::new(
        ArenaMemoryProvider::new_with_size(ARENA_SIZE)
            .map_err(|e| CodegenError::Memory(e.to_string()))?,
    ));
    let mut module = JITModule::new(builder);

    let provided: HashMap<&str, *const u8> = helpers.iter().copied().collect();
    let layout = GlobalsLayout::new(program);
    let mut shared = Shared {
        program,
        layout: &layout,
        helper_ids: HashMap::new(),
        literals: HashMap::new(),
        provided: &provided,
    };

    // Declare every script function first: bodies call each other in any order.
    let ptr = module.target_config().pointer_type();
    let mut function_ids = Vec::with_capacity(program.functions.len());
    for (i, f) in program.functions.iter().enumerate() {
        let sig = function_signature(&module, f, ptr);
        function_ids.push(module.declare_function(
            &format!("fn{i}_{}", f.name),
            Linkage::Local,
            &sig,
        )?);
    }
    let mut probe_ids = Vec::with_capacity(program.probes.len());
    for i in 0..program.probes.len() {
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        probe_ids.push(module.declare_function(&format!("probe{i}"), Linkage::Local, &sig)?);
    }

    let mut clif = options.keep_clif.then(String::new);
    let mut ctx = module.make_context();
    let mut fctx = cranelift_frontend::FunctionBuilderContext::new();
    let units = program
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (
                function_ids[i],
                &f.body,
                Some(f),
                format!("function {}", f.name),
            )
        })
        .chain(
            program
                .probes
                .iter()
                .enumerate()
                .map(|(i, p)| (probe_ids[i], &p.body, None, format!("probe {i} ({})", p.pp))),
        );
    for (id, body, function, place) in units {
        ctx.func.signature = match function {
            Some(f) => function_signature(&module, f, ptr),
            None => {
                let mut sig = module.make_signature();
                sig.params.push(AbiParam::new(ptr));
                sig
            }
        };
        function::translate(
            &mut module,
            &mut shared,
            &function_ids,
            &mut ctx.func,
            &mut fctx,
            body,
            function,
            &place,
        )?;
        if let Some(text) = clif.as_mut() {
            text.push_str(&format!("; {place}\n{}\n", ctx.func.display()));
        }
        module.define_function(id, &mut ctx)?;
        module.clear_context(&mut ctx);
    }

    module.finalize_definitions()?;
    let handlers = probe_ids
        .iter()
        .map(|&id| {
            let code = module.get_finalized_function(id);
            // SAFETY: the function was compiled with the handler signature
            // `extern "C" fn(*mut Context)` (the platform's default call convention).
            unsafe { std::mem::transmute::<*const u8, HandlerFn>(code) }
        })
        .collect();
    Ok(Compiled {
        _module: module,
        handlers,
        layout,
        clif,
    })
}

/// State shared by the functions of one program: imported helpers and literal data.
struct Shared<'a> {
    program: &'a ir::Program,
    layout: &'a GlobalsLayout,
    helper_ids: HashMap<Helper, FuncId>,
    literals: HashMap<Vec<u8>, DataId>,
    provided: &'a HashMap<&'a str, *const u8>,
}

impl Shared<'_> {
    /// The module-level id of a helper, declared on first use; fails when the caller did not
    /// provide its address.
    fn helper(&mut self, module: &mut JITModule, helper: Helper) -> Result<FuncId, CodegenError> {
        if let Some(&id) = self.helper_ids.get(&helper) {
            return Ok(id);
        }
        if !self.provided.contains_key(helper.name()) {
            return Err(CodegenError::MissingHelper(helper.name()));
        }
        let ptr = module.target_config().pointer_type();
        let mut sig = module.make_signature();
        for p in helper.params() {
            sig.params.push(AbiParam::new(if p.kind.is_pointer() {
                ptr
            } else {
                types::I64
            }));
        }
        if helper.returns_i64() {
            sig.returns.push(AbiParam::new(types::I64));
        }
        let id = module.declare_function(helper.name(), Linkage::Import, &sig)?;
        self.helper_ids.insert(helper, id);
        Ok(id)
    }

    /// A read-only `StrBuf` holding `bytes`, shared by every use of the same literal.
    fn literal(&mut self, module: &mut JITModule, bytes: &[u8]) -> Result<DataId, CodegenError> {
        if let Some(&id) = self.literals.get(bytes) {
            return Ok(id);
        }
        let len = u32::try_from(bytes.len()).map_err(|_| CodegenError::Malformed {
            place: "string literal".to_string(),
            message: "longer than 4 GiB".to_string(),
        })?;
        let mut contents = Vec::with_capacity(8 + bytes.len());
        contents.extend_from_slice(&len.to_ne_bytes());
        contents.extend_from_slice(&0u32.to_ne_bytes());
        contents.extend_from_slice(bytes);
        let mut data = DataDescription::new();
        data.define(contents.into_boxed_slice());
        data.set_align(STRBUF_ALIGN as u64);
        let id = module.declare_anonymous_data(false, false)?;
        module.define_data(id, &data)?;
        self.literals.insert(bytes.to_vec(), id);
        Ok(id)
    }
}

/// `fn(ctx, [ret,] args…) -> (i64, i64)`.
fn function_signature(
    module: &JITModule,
    f: &ir::Function,
    ptr: cranelift_codegen::ir::Type,
) -> Signature {
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    if f.ret == Some(ir::Type::Str) {
        sig.params.push(AbiParam::new(ptr));
    }
    for local in &f.body.locals[..f.params as usize] {
        sig.params.push(AbiParam::new(match local.ty {
            ir::Type::Long => types::I64,
            ir::Type::Str => ptr,
        }));
    }
    sig.returns.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I64));
    sig
}

#[cfg(test)]
mod tests;
