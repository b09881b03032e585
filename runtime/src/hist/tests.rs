//! Charts against SystemTap's testsuite expected output (`systemtap.maps/elision.exp` for
//! HIST_ELISION -1, 0 and 2, `linear_overunder.exp`, `log_edge.exp`), kept in this directory.
//! The sample sequences are those of the corresponding `.stp` scripts.

use super::*;

fn linear(start: i32, stop: i32, interval: i32) -> HistSpec {
    let buckets =
        rtap_abi::codes::hist_linear_buckets(start.into(), stop.into(), interval.into()).unwrap();
    HistSpec::Linear {
        start,
        interval,
        buckets: buckets as usize,
    }
}

fn chart(spec: HistSpec, samples: &[i64], style: HistStyle) -> Vec<u8> {
    let mut counts = vec![0; spec.buckets()];
    for &s in samples {
        counts[spec.bucket_of(s).unwrap()] += 1;
    }
    let mut out = Vec::new();
    spec.print(&counts, style, &mut out);
    out
}

fn check(actual: &[u8], fixture: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/hist")
        .join(fixture);
    if std::env::var_os("RTAP_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read(&path).unwrap();
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(&expected),
        "{fixture}"
    );
}

/// The histograms `elision.stp` prints, in order.
fn elision_script(style: HistStyle) -> Vec<u8> {
    let a = linear(0, 1500, 50);
    let b = linear(-100, 100, 10);
    let mut out = Vec::new();
    for samples in [&[444, 999][..], &[444, 500], &[0], &[50], &[1450], &[1500]] {
        out.extend(chart(a, samples, style));
    }
    for samples in [&[-10][..], &[0]] {
        out.extend(chart(b, samples, style));
    }
    for samples in [&[128][..], &[0], &[-2, -4096]] {
        out.extend(chart(HistSpec::Log, samples, style));
    }
    out
}

#[test]
fn elision_goldens() {
    for elision in [-1, 0, 2] {
        let style = HistStyle {
            elision,
            ..HistStyle::default()
        };
        check(&elision_script(style), &format!("elision_{elision}.txt"));
    }
}

#[test]
fn linear_over_and_underflow() {
    let mut samples = Vec::new();
    for key in 0..100 {
        for m in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 13, 14, 15] {
            samples.push(key * m);
        }
    }
    check(
        &chart(linear(250, 1000, 50), &samples, HistStyle::default()),
        "linear_overunder.txt",
    );
}

#[test]
fn log_edges() {
    check(
        &chart(HistSpec::Log, &[-1, 1], HistStyle::default()),
        "log_edge.txt",
    );
}

#[test]
fn log_buckets_cover_the_whole_range() {
    // §1.12: bucket 64 is 0, positive v in 65 + floor(log2 v), negatives mirrored.
    assert_eq!(log_bucket(0), 64);
    assert_eq!(log_bucket(1), 65);
    assert_eq!(log_bucket(3), 66);
    assert_eq!(log_bucket(1024), 75);
    assert_eq!(log_bucket(-1), 63);
    assert_eq!(log_bucket(i64::MAX), 127);
    assert_eq!(log_bucket(i64::MIN), 0);
    assert_eq!(log_bucket_value(0), i64::MIN);
    assert_eq!(log_bucket_value(127), 1 << 62);
    for b in 1..127 {
        assert_eq!(log_bucket(log_bucket_value(b)), b, "bucket {b}");
    }
}

#[test]
fn large_counts_scale_the_bars() {
    // scale = ceil(max / 50): 120 samples in one bucket → scale 3, 40 @ for it, 3 for 10.
    let mut samples = vec![5; 120];
    samples.extend([1; 10]);
    let out = String::from_utf8(chart(linear(0, 10, 5), &samples, HistStyle::default())).unwrap();
    let row = out.lines().find(|l| l.starts_with("    5 |")).unwrap();
    assert_eq!(row.matches('@').count(), 40);
    let row = out.lines().find(|l| l.starts_with("    0 |")).unwrap();
    assert_eq!(row.matches('@').count(), 3);
    assert!(row.ends_with(" 10"));
}
