//! Uretprobes (arm-probes.md §4.7): at a probed function's entry the return address (LR) is
//! recorded and replaced with XOL slot 0 of the process, whose `BRK #URETPROBE` brings the
//! thread back to run the return handlers and continue at the recorded address.

use crate::arch::Arch;
use crate::hit::{Fatal, Outcome, ReturnHit};
use crate::instance::{self, Record};
use crate::platform::{Platform, Task};
use crate::table::Handle;
use crate::uprobe::{Uprobe, Uprobes};

/// Linux's `MAX_URETPROBE_DEPTH`: deeper recursion through a uretprobe is not recorded.
pub const MAX_DEPTH: usize = 64;

/// At the entry of a uretprobe's function: record the return and hijack LR.
pub(crate) fn entry_hit<'a, P: Platform, A: Arch<P>>(
    uprobes: &Uprobes<'a, P, A>,
    task: Task,
    handle: Handle,
    probe: &Uprobe<'a, P, A>,
    regs: &mut A::Regs,
) {
    let Some(trampoline) = uprobes.areas().find(task.process).map(|a| a.base()) else {
        uprobes.count_missed(probe);
        return;
    };
    let record = Record {
        probe: handle,
        function: probe.addr,
        return_address: A::return_address(regs),
        stack_pointer: A::stack_pointer(regs),
    };
    let owner = u64::from(task.thread.0);
    if uprobes.instances.count(owner) < MAX_DEPTH && uprobes.instances.push(owner, record) {
        A::set_return_address(regs, trampoline);
    } else {
        uprobes.count_missed(probe);
    }
}

/// Slot 0's breakpoint: run this thread's return handlers and continue at the real return
/// address. A thread with nothing recorded is not ours to continue (Linux sends SIGILL).
pub(crate) fn trampoline_hit<P: Platform, A: Arch<P>>(
    uprobes: &Uprobes<'_, P, A>,
    p: &P,
    regs: &mut A::Regs,
) -> Outcome {
    let task = p.task();
    let Some(trampoline) = uprobes.areas().find(task.process).map(|a| a.base()) else {
        return Outcome::NotMine;
    };
    if A::pc(regs) != trampoline {
        return Outcome::NotMine;
    }
    let owner = u64::from(task.thread.0);
    if !uprobes.instances.has(owner) {
        return Outcome::Fatal(Fatal::NoReturnRecorded);
    }
    let table = uprobes.table();
    let sp = A::stack_pointer(regs);
    let next = uprobes.instances.unwind(owner, sp, trampoline, |record| {
        let Some(probe) = table.get(record.probe, false) else {
            return;
        };
        A::set_pc(regs, record.return_address);
        probe.handler.ret(&mut ReturnHit {
            platform: p,
            regs,
            function: record.function,
            return_address: record.return_address,
            probe: record.probe,
        });
    });
    instance::finish_return::<P, A>(regs, next)
}
