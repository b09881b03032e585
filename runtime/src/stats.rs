//! Statistics (aggregates): `<<<` and `@count/@sum/@min/@max/@avg/@variance`, with SystemTap's
//! integer arithmetic (`runtime/stat-common.c` `__stp_stat_add`, `runtime/stat.c`
//! `_stp_stat_get`, `runtime/map.c` `_new_map_copy_stat`).
//!
//! `@variance` uses Welford's algorithm on values shifted left by the declared shift, with the
//! quirk that the running `delta` is a 32-bit C `int`. Reading it differs between a scalar
//! aggregate (always re-pooled from per-CPU data: `((S1 + S2) / (count - 1)) >> 2·shift`) and
//! an array element (the Welford estimate itself `>> 2·shift`); rtap keeps one "CPU" so both
//! reduce to the single-CPU formulas. stap.1: samples 1..5 give `@variance` 12 and
//! `@variance(x, 1)` 2 on a scalar; testsuite `maps/ix.exp`: 100, 0, -2 give 3410 in an array.

use crate::hist::HistSpec;
use rtap_abi::codes::{STAT_AVG, STAT_COUNT, STAT_MAX, STAT_MIN, STAT_SUM, STAT_VARIANCE};

/// How an aggregate variable is declared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatSpec {
    /// Its histogram, if the script uses `@hist_log` / `@hist_linear` on it.
    pub hist: HistSpec,
    /// The `@variance` shift (0…62), if the script reads `@variance` of it.
    pub variance_shift: Option<u32>,
}

/// Accumulated samples of one aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    /// `@count`
    pub count: i64,
    /// `@sum`
    pub sum: i64,
    /// `@min`
    pub min: i64,
    /// `@max`
    pub max: i64,
    avg_s: i64,
    m2: i64,
    variance_s: i64,
    /// Bucket counts (empty when the variable has no histogram).
    pub hist: Vec<i64>,
}

/// `_stp_div64`: division by 0 gives 0, by -1 negates (wrapping).
pub fn div64(x: i64, y: i64) -> i64 {
    match y {
        0 => 0,
        -1 => x.wrapping_neg(),
        _ => x / y,
    }
}

/// The aggregate operation could not be computed: `empty aggregate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmptyAggregate;

impl Stat {
    /// A cleared aggregate for `spec`.
    pub fn new(spec: &StatSpec) -> Self {
        Self {
            hist: vec![0; spec.hist.buckets()],
            ..Self::default()
        }
    }

    /// Forgets every sample (keeps the histogram allocation).
    pub fn clear(&mut self) {
        let mut hist = std::mem::take(&mut self.hist);
        hist.iter_mut().for_each(|b| *b = 0);
        *self = Self {
            hist,
            ..Self::default()
        };
    }

    /// `S <<< v`.
    pub fn add(&mut self, spec: &StatSpec, v: i64) {
        let shift = spec.variance_shift.unwrap_or(0);
        if self.count == 0 {
            self.count = 1;
            self.sum = v;
            self.min = v;
            self.max = v;
            self.avg_s = v.wrapping_shl(shift);
            self.m2 = 0;
            self.variance_s = 0;
        } else {
            self.count += 1;
            self.sum = self.sum.wrapping_add(v);
            self.max = self.max.max(v);
            self.min = self.min.min(v);
            if spec.variance_shift.is_some() {
                let shifted = v.wrapping_shl(shift);
                // `int delta` in stat-common.c: the difference is truncated to 32 bits.
                let delta = i64::from(shifted.wrapping_sub(self.avg_s) as i32);
                self.avg_s = self.avg_s.wrapping_add(div64(delta, self.count));
                self.m2 = self
                    .m2
                    .wrapping_add(delta.wrapping_mul(shifted.wrapping_sub(self.avg_s)));
                self.variance_s = if self.count < 2 {
                    -1
                } else {
                    div64(self.m2, self.count - 1)
                };
            }
        }
        if let Some(b) = spec.hist.bucket_of(v) {
            self.hist[b] += 1;
        }
    }

    /// `@count`…`@variance` (`codes::STAT_*`); `scalar` selects the scalar-aggregate variance.
    pub fn get(&self, spec: &StatSpec, op: i64, scalar: bool) -> Result<i64, EmptyAggregate> {
        match op {
            STAT_COUNT => return Ok(self.count),
            STAT_SUM => return Ok(self.sum),
            _ => {}
        }
        if self.count == 0 {
            return Err(EmptyAggregate);
        }
        Ok(match op {
            STAT_MIN => self.min,
            STAT_MAX => self.max,
            STAT_AVG => div64(self.sum, self.count),
            STAT_VARIANCE => self.variance(spec, scalar),
            _ => 0,
        })
    }

    fn variance(&self, spec: &StatSpec, scalar: bool) -> i64 {
        let shift = spec.variance_shift.unwrap_or(0);
        let variance_s = if scalar {
            let avg_s = div64(self.sum.wrapping_shl(shift), self.count);
            let d = self.avg_s.wrapping_sub(avg_s);
            let s1 = self.count.wrapping_mul(d).wrapping_mul(d);
            let s2 = (self.count - 1).wrapping_mul(self.variance_s);
            div64(s1.wrapping_add(s2), self.count - 1)
        } else {
            self.variance_s
        };
        variance_s.wrapping_shr(2 * shift)
    }

    /// The value a statistics array is sorted by for `op` (`runtime/map.c` `_stp_cmp`: count,
    /// sum, min, max, avg; `@variance` sorts by count, as 4.8 emits SORT_COUNT for it).
    pub fn sort_key(&self, op: i64) -> i64 {
        match op {
            STAT_SUM => self.sum,
            STAT_MIN => self.min,
            STAT_MAX => self.max,
            STAT_AVG => div64(self.sum, self.count),
            _ => self.count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shift: u32) -> StatSpec {
        StatSpec {
            hist: HistSpec::None,
            variance_shift: Some(shift),
        }
    }

    fn stat(spec: &StatSpec, samples: &[i64]) -> Stat {
        let mut s = Stat::new(spec);
        samples.iter().for_each(|&v| s.add(spec, v));
        s
    }

    #[test]
    fn variance_examples_from_the_reference() {
        // stap.1 STATISTICS: samples 1..5 on a scalar.
        let s = stat(&spec(0), &[1, 2, 3, 4, 5]);
        assert_eq!(s.get(&spec(0), STAT_VARIANCE, true), Ok(12));
        let s1 = stat(&spec(1), &[1, 2, 3, 4, 5]);
        assert_eq!(s1.get(&spec(1), STAT_VARIANCE, true), Ok(2));
        // testsuite systemtap.maps/ix.exp: array element samples 100, 0, -2.
        let a = stat(&spec(0), &[100, 0, -2]);
        assert_eq!(a.get(&spec(0), STAT_VARIANCE, false), Ok(3410));
        // Hand computation of the scalar formula for the same samples: avg_s 33 (Welford),
        // pooled avg 98/3 = 32, S1 = 3·1², S2 = 2·3410, (3 + 6820) / 2 = 3411.
        assert_eq!(a.get(&spec(0), STAT_VARIANCE, true), Ok(3411));
    }

    #[test]
    fn extractors_and_empty_aggregates() {
        let sp = StatSpec::default();
        let e = Stat::new(&sp);
        assert_eq!(e.get(&sp, STAT_COUNT, true), Ok(0));
        assert_eq!(e.get(&sp, STAT_SUM, true), Ok(0));
        for op in [STAT_MIN, STAT_MAX, STAT_AVG] {
            assert_eq!(e.get(&sp, op, true), Err(EmptyAggregate));
        }
        let s = stat(&sp, &[4, -7, 10]);
        assert_eq!(
            [STAT_COUNT, STAT_SUM, STAT_MIN, STAT_MAX, STAT_AVG]
                .map(|op| s.get(&sp, op, true).unwrap()),
            [3, 7, -7, 10, 2]
        );
        // C division truncates toward 0.
        assert_eq!(stat(&sp, &[-3, -4]).get(&sp, STAT_AVG, true), Ok(-3));
        // One sample: the pooled formula divides by count-1 = 0, which _stp_div64 makes 0.
        assert_eq!(
            stat(&spec(0), &[9]).get(&spec(0), STAT_VARIANCE, true),
            Ok(0)
        );
    }

    #[test]
    fn welford_delta_is_a_32_bit_int() {
        // (1<<33) - 0 truncated to int is 0: the second sample adds nothing to M2.
        let s = stat(&spec(0), &[0, 1 << 33]);
        assert_eq!(s.get(&spec(0), STAT_VARIANCE, false), Ok(0));
    }
}
