//! Histograms: bucketing and the ASCII chart, byte for byte as `runtime/stat-common.c`
//! (`_stp_val_to_bucket`, `_stp_bucket_to_val`, `_stp_stat_print_histogram_buf`).

use rtap_abi::codes::HIST_LOG_BUCKETS;
use std::io::Write;

/// The histogram kind of an aggregate variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HistSpec {
    /// No histogram.
    #[default]
    None,
    /// `@hist_log`: 128 buckets, bucket 64 holds 0.
    Log,
    /// `@hist_linear(S, start, stop, interval)`; `buckets` includes under- and overflow.
    Linear {
        /// Lower bound.
        start: i32,
        /// Interval (never 0).
        interval: i32,
        /// Bucket count, 3…128.
        buckets: usize,
    },
}

const BUCKET0: usize = 64;

/// Display parameters (`-D HIST_WIDTH=N`, `-D HIST_ELISION=N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistStyle {
    /// Bar width (50).
    pub width: i64,
    /// Zero rows kept around data (2); negative: never elide.
    pub elision: i64,
}

impl Default for HistStyle {
    fn default() -> Self {
        Self {
            width: 50,
            elision: 2,
        }
    }
}

/// Log-histogram bucket of a value (`_stp_val_to_bucket`).
pub fn log_bucket(val: i64) -> usize {
    if val == 0 {
        return BUCKET0;
    }
    let neg = val < 0;
    // -val of INT64_MIN stays INT64_MIN, whose unsigned magnitude is 2^63, as in C.
    let mag = val.wrapping_abs() as u64;
    let res = HIST_LOG_BUCKETS as usize - mag.leading_zeros() as usize;
    if neg {
        HIST_LOG_BUCKETS as usize - res
    } else {
        res
    }
}

/// Lower bound of a log-histogram bucket (`_stp_bucket_to_val`).
pub fn log_bucket_value(bucket: usize) -> i64 {
    match bucket.cmp(&BUCKET0) {
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Less => i64::MIN >> bucket,
        std::cmp::Ordering::Greater => 1i64 << (bucket - BUCKET0 - 1),
    }
}

impl HistSpec {
    /// Number of buckets (0 without a histogram).
    pub fn buckets(&self) -> usize {
        match *self {
            HistSpec::None => 0,
            HistSpec::Log => HIST_LOG_BUCKETS as usize,
            HistSpec::Linear { buckets, .. } => buckets,
        }
    }

    /// The bucket a sample falls in.
    pub fn bucket_of(&self, val: i64) -> Option<usize> {
        match *self {
            HistSpec::None => None,
            HistSpec::Log => Some(log_bucket(val).min(HIST_LOG_BUCKETS as usize - 1)),
            HistSpec::Linear {
                start,
                interval,
                buckets,
            } => {
                let v = val.wrapping_sub(i64::from(start));
                let b = if v < 0 {
                    0
                } else {
                    (v as u64 / u64::from(interval as u32)) as i64 + 1
                };
                Some((b as usize).min(buckets - 1))
            }
        }
    }

    /// Writes the chart of `counts` (`_stp_stat_print_histogram_buf`).
    pub fn print(&self, counts: &[i64], style: HistStyle, out: &mut Vec<u8>) {
        let buckets = counts.len();
        if buckets == 0 {
            return;
        }
        let linear = match *self {
            HistSpec::None => return,
            HistSpec::Log => None,
            HistSpec::Linear {
                start, interval, ..
            } => Some((i64::from(start), i64::from(interval))),
        };
        let mut low: i64 = -1;
        let mut high: i64 = 0;
        let mut valmax = 0i64;
        for (i, &c) in counts.iter().enumerate() {
            if c > 0 && low == -1 {
                low = i as i64;
            }
            if c > 0 {
                high = i as i64;
            }
            valmax = valmax.max(c);
        }
        for _ in 0..2 {
            if linear.is_none() {
                // Log histograms do not widen below bucket 0 unless negatives are present.
                if low != BUCKET0 as i64 && low > 0 {
                    low -= 1;
                }
            } else if low > 0 {
                low -= 1;
            }
            if high < buckets as i64 - 1 {
                high += 1;
            }
        }
        let (mut under, mut over) = (0, 0);
        if linear.is_some() {
            if low == 0 && counts[0] == 0 {
                low += 1;
            }
            if high == buckets as i64 - 1 && counts[high as usize] == 0 {
                high -= 1;
            }
            if low == 0 {
                under = 1;
            }
            if high == buckets as i64 - 1 {
                over = 1;
            }
        }
        let scale = if valmax <= style.width {
            1
        } else {
            (valmax as u64).div_ceil(style.width as u64) as i64
        };
        let cnt_space = needed_space(valmax);
        let mut val_space = match linear {
            Some((start, interval)) => {
                // C `int` arithmetic: start + interval * high_bucket.
                let top = (start as i32).wrapping_add((interval as i32).wrapping_mul(high as i32));
                (needed_space(start) + under).max(needed_space(i64::from(top)) + over)
            }
            None => needed_space(log_bucket_value(high.max(0) as usize))
                .max(needed_space(log_bucket_value(low.max(0) as usize))),
        };
        val_space = val_space.max(5);
        let vs = val_space as usize;

        let _ = write!(out, "{:>vs$} |", "value");
        out.extend(std::iter::repeat_n(b'-', style.width.max(0) as usize));
        out.extend_from_slice(b" count\n");

        let mut eliding = false;
        let mut i = low;
        while i <= high {
            if style.elision >= 0 {
                let max_elide = style.elision.min(buckets as i64);
                let lo = low.max(i - max_elide);
                let hi = high.min(i + max_elide);
                let elide = (lo..=hi).all(|k| counts[k as usize] == 0);
                if elide {
                    eliding = true;
                    i += 1;
                    continue;
                }
                if eliding {
                    let _ = writeln!(out, "{:>vs$} ~", "");
                    eliding = false;
                }
            }
            let (val, prefix) = match linear {
                Some((start, _)) if i == 0 => (start, "<"),
                Some((start, interval)) if i == buckets as i64 - 1 => {
                    (start + (i - 2) * interval, ">")
                }
                Some((start, interval)) => (start + (i - 1) * interval, ""),
                None => (log_bucket_value(i as usize), ""),
            };
            let pad = (val_space - needed_space(val)).max(0) as usize;
            let _ = write!(out, "{prefix:>pad$}{val} |");
            let count = counts[i as usize];
            let v = (count as u64 / scale as u64) as i64;
            out.extend(std::iter::repeat_n(b'@', v.max(0) as usize));
            let w = (style.width - v + 1 + cnt_space).max(0) as usize;
            let _ = writeln!(out, "{count:>w$}");
            i += 1;
        }
        out.push(b'\n');
    }
}

/// Characters `%lld` needs for `v` (`needed_space`).
fn needed_space(v: i64) -> i64 {
    if v == 0 {
        return 1;
    }
    let mut space = i64::from(v < 0);
    let mut tmp = v.wrapping_abs() as u64;
    while tmp != 0 {
        tmp /= 10;
        space += 1;
    }
    space
}

#[cfg(test)]
mod tests;
