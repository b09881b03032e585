//! The stop-all-CPUs rendezvous on real host threads: the writer is the last CPU to arrive,
//! nobody leaves before the writer has finished, and every waiter executes its `ISB` after
//! the release and sees the new text.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use rtap_kmod::patch::Rendezvous;

#[test]
fn last_arrival_writes_and_the_others_synchronise_after_it() {
    const CPUS: usize = 4;
    for round in 0..100 {
        let rendezvous = Rendezvous::new(CPUS);
        let text = AtomicU32::new(0xd503_201f); // nop
        let arrived = AtomicUsize::new(0);
        let writers = AtomicUsize::new(0);
        let synchronised = AtomicUsize::new(0);
        let start = Barrier::new(CPUS);
        std::thread::scope(|scope| {
            for _ in 0..CPUS {
                scope.spawn(|| {
                    start.wait();
                    arrived.fetch_add(1, Ordering::SeqCst);
                    rendezvous.run(
                        || {
                            assert_eq!(
                                arrived.load(Ordering::SeqCst),
                                CPUS,
                                "round {round}: writer was not last"
                            );
                            writers.fetch_add(1, Ordering::SeqCst);
                            text.store(0xd420_1400, Ordering::Relaxed); // brk #0xa0
                        },
                        std::thread::yield_now, // the host has fewer cores than threads
                        || {
                            assert_eq!(
                                text.load(Ordering::Relaxed),
                                0xd420_1400,
                                "round {round}: left before the write"
                            );
                            synchronised.fetch_add(1, Ordering::SeqCst);
                        },
                    );
                });
            }
        });
        assert_eq!(writers.load(Ordering::SeqCst), 1);
        assert_eq!(synchronised.load(Ordering::SeqCst), CPUS - 1);
    }
}
