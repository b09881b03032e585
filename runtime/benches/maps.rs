//! Maps and aggregates through the helper ABI, against a Rust `HashMap` baseline measured in
//! the same run: `cargo bench -p rtap-runtime --bench maps`.
//!
//! 1. 10^6 `a[k1, k2] += 1` on a two-long-key array (3000 distinct keys, as counting by
//!    pid and syscall does), through `rt_map_add_long`;
//! 2. 10^6 `a[i, i] = i` inserting 10^6 distinct keys into `global a[1000000]`;
//! 3. 10^6 `s <<< i` on a scalar aggregate, and on an array element, through `rt_stat_add`.

use rtap_abi::codes::LOC_NONE;
use rtap_runtime::exec::{Exec, Sinks};
use rtap_runtime::helpers::helpers;
use rtap_runtime::map::{KeyType, ValueType};
use rtap_runtime::program::{MapSpec, ProgramSpec};
use rtap_runtime::stats::StatSpec;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

const N: i64 = 1_000_000;

fn spec(name: &str, keys: Vec<KeyType>, value: ValueType, size: Option<usize>) -> MapSpec {
    MapSpec {
        name: name.into(),
        keys,
        value,
        size,
        wrap: false,
        display: false,
    }
}

fn time(label: &str, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    let ns = start.elapsed().as_nanos() as f64 / N as f64;
    println!("{label:<48} {ns:8.1} ns/op");
    ns
}

fn main() {
    let program = ProgramSpec {
        maps: vec![
            spec(
                "counts",
                vec![KeyType::Long, KeyType::Long],
                ValueType::Long,
                Some(4096),
            ),
            spec(
                "big",
                vec![KeyType::Long, KeyType::Long],
                ValueType::Long,
                Some(N as usize),
            ),
            spec("s", vec![], ValueType::Stats(StatSpec::default()), None),
            spec(
                "lat",
                vec![KeyType::Long],
                ValueType::Stats(StatSpec::default()),
                None,
            ),
        ],
        ..ProgramSpec::default()
    };
    let sinks = Sinks {
        out: Box::new(std::io::sink()),
        err: Box::new(std::io::sink()),
    };
    let mut exec = Exec::new(program, sinks);
    let ctx = exec.context();
    let h = helpers();

    let ours = time("rtap  a[i%1000, i%3] += 1 (rt_map_add_long)", || {
        for i in 0..N {
            let keys = [(i % 1000) as u64, (i % 3) as u64];
            // SAFETY: map 0 has two long keys; ctx is live.
            black_box(unsafe { (h.rt_map_add_long)(ctx, 0, keys.as_ptr(), 1, LOC_NONE) });
        }
    });
    let mut base: HashMap<(i64, i64), i64> = HashMap::new();
    let theirs = time("HashMap entry((i%1000, i%3)) += 1", || {
        for i in 0..N {
            *base.entry(black_box((i % 1000, i % 3))).or_insert(0) += 1;
        }
    });
    println!("  ratio rtap/HashMap: {:.2}", ours / theirs);

    let ours = time("rtap  a[i, i] = i, 10^6 inserts (rt_map_set_long)", || {
        for i in 0..N {
            let keys = [i as u64, i as u64];
            // SAFETY: map 1 has two long keys.
            unsafe { (h.rt_map_set_long)(ctx, 1, keys.as_ptr(), i, LOC_NONE) };
        }
    });
    let mut base: HashMap<(i64, i64), i64> = HashMap::new();
    let theirs = time("HashMap insert((i, i), i), 10^6 inserts", || {
        for i in 0..N {
            base.insert(black_box((i, i)), i);
        }
    });
    println!("  ratio rtap/HashMap: {:.2}", ours / theirs);

    let ours = time("rtap  s <<< i (rt_stat_add, scalar)", || {
        for i in 0..N {
            // SAFETY: map 2 is a scalar aggregate; keys are ignored.
            unsafe { (h.rt_stat_add)(ctx, 2, std::ptr::null(), black_box(i), LOC_NONE) };
        }
    });
    let ours_elem = time("rtap  lat[i%100] <<< i (rt_stat_add, element)", || {
        for i in 0..N {
            let keys = [(i % 100) as u64];
            // SAFETY: map 3 has one long key.
            unsafe { (h.rt_stat_add)(ctx, 3, keys.as_ptr(), black_box(i), LOC_NONE) };
        }
    });
    let mut base: HashMap<i64, (i64, i64, i64, i64)> = HashMap::new();
    let theirs = time("HashMap entry(i%100): count/sum/min/max", || {
        for i in 0..N {
            let e = base
                .entry(black_box(i % 100))
                .or_insert((0, 0, i64::MAX, i64::MIN));
            e.0 += 1;
            e.1 += i;
            e.2 = e.2.min(i);
            e.3 = e.3.max(i);
        }
    });
    println!(
        "  ratio rtap scalar/HashMap: {:.2}, element/HashMap: {:.2}",
        ours / theirs,
        ours_elem / theirs
    );
    assert!(exec.st.error.is_none(), "no overflow in the benchmark");
}
