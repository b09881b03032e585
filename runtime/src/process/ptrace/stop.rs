//! Ending a run from outside the tracer thread: a [`StopHandle`], or SIGINT/SIGTERM once
//! [`install_stop_signals`] was called.
//!
//! The tracer blocks in `waitpid`; a stop request sets a flag and sends `SIGURG` to the tracer
//! thread, whose handler (installed without `SA_RESTART`) makes `waitpid` return `EINTR`.
//! `SIGURG` is ignored by default, so a late kick after the engine ended is harmless.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

/// Set by SIGINT/SIGTERM (process-wide: signals are).
static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// Tracer threads to wake from the signal handler.
static TRACERS: [AtomicI32; 16] = [const { AtomicI32::new(0) }; 16];

#[derive(Debug, Default)]
pub(crate) struct StopState {
    requested: AtomicBool,
    tracer_tid: AtomicI32,
}

/// Requests the end of a running engine from any thread.
#[derive(Clone, Debug)]
pub struct StopHandle(pub(crate) Arc<StopState>);

impl StopHandle {
    pub(crate) fn new() -> Self {
        StopHandle(Arc::new(StopState::default()))
    }

    pub fn stop(&self) {
        self.0.requested.store(true, Ordering::SeqCst);
        // A kick that lands just before the tracer enters waitpid is lost; repeat until the
        // tracer has left `run` (tracer_tid back to 0), for a bounded time.
        for _ in 0..200 {
            let tid = self.0.tracer_tid.load(Ordering::SeqCst);
            if tid == 0 {
                return;
            }
            kick(tid);
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn is_requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst) || SIGNALLED.load(Ordering::SeqCst)
    }

    /// Registers the calling thread as the tracer for the duration of the guard.
    pub(crate) fn enter(&self) -> TracerGuard<'_> {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        install_handler(libc::SIGURG, on_kick);
        self.0.tracer_tid.store(tid, Ordering::SeqCst);
        let slot = TRACERS.iter().position(|t| {
            t.compare_exchange(0, tid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        TracerGuard { handle: self, slot }
    }
}

pub(crate) struct TracerGuard<'a> {
    handle: &'a StopHandle,
    slot: Option<usize>,
}

impl Drop for TracerGuard<'_> {
    fn drop(&mut self) {
        self.handle.0.tracer_tid.store(0, Ordering::SeqCst);
        if let Some(i) = self.slot {
            TRACERS[i].store(0, Ordering::SeqCst);
        }
    }
}

/// Makes SIGINT and SIGTERM end every running engine in this process cleanly (probes
/// removed, targets detached and left running). For the binary; libraries never install
/// signal handlers on their own.
pub fn install_stop_signals() {
    install_handler(libc::SIGINT, on_stop_signal);
    install_handler(libc::SIGTERM, on_stop_signal);
}

/// Whether SIGINT/SIGTERM arrived since [`install_stop_signals`].
pub fn stop_signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

fn kick(tid: i32) {
    // SAFETY: tgkill only sends a signal; SIGURG is handled or ignored, never fatal.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGURG) };
}

extern "C" fn on_kick(_: libc::c_int) {}

extern "C" fn on_stop_signal(_: libc::c_int) {
    // Async-signal-safe: atomics and tgkill only.
    SIGNALLED.store(true, Ordering::SeqCst);
    for t in &TRACERS {
        let tid = t.load(Ordering::SeqCst);
        if tid != 0 {
            kick(tid);
        }
    }
}

fn install_handler(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask is well formed; no
    // SA_RESTART, so a blocked waitpid returns EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut());
    }
}
