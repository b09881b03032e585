//! Small integer codes passed to helpers.

/// `loc` argument meaning "no source location" (the error prints without a `near …` part).
pub const LOC_NONE: i64 = -1;

/// `rt_raise` kinds: run-time errors generated code detects inline.
pub const ERROR_DIVISION_BY_ZERO: i64 = 1;
/// The MAXACTION budget ran out (`Context::actions_left <= 0`).
pub const ERROR_MAXACTION: i64 = 2;
/// A function call would exceed MAXNESTING.
pub const ERROR_MAXNESTING: i64 = 3;
/// `next` in the last function of an overload chain.
pub const ERROR_FUNCTIONS_EXHAUSTED: i64 = 4;

/// Aggregate operators (`@count` … `@variance`) for the `*_stat_get` helpers and for sorting
/// a statistics array by value.
pub const STAT_COUNT: i64 = 0;
/// `@sum`
pub const STAT_SUM: i64 = 1;
/// `@min`
pub const STAT_MIN: i64 = 2;
/// `@max`
pub const STAT_MAX: i64 = 3;
/// `@avg`
pub const STAT_AVG: i64 = 4;
/// `@variance` (with the variable's declared shift)
pub const STAT_VARIANCE: i64 = 5;

/// `foreach` without a sort mark.
pub const SORT_NONE: i64 = 0;
/// Direction code: ascending (`+`).
pub const SORT_ASCENDING: i64 = 1;
/// Direction code: descending (`-`).
pub const SORT_DESCENDING: i64 = 2;

/// Encodes a `foreach` sort specification for `rt_foreach_start`.
///
/// `column` is 0 to sort by value, `1..=9` to sort by that key; `direction` is
/// [`SORT_ASCENDING`] or [`SORT_DESCENDING`]; `stat_op` is the aggregate a statistics array is
/// sorted by when sorting by value (`foreach (k in a @sum-)`; [`STAT_COUNT`] when none is
/// given), ignored otherwise.
pub const fn sort_spec(column: u32, direction: i64, stat_op: i64) -> i64 {
    direction | ((column as i64) << 8) | (stat_op << 16)
}

/// The parts of a sort specification: `(column, direction, stat_op)`; `None` for [`SORT_NONE`]
/// or a malformed value.
pub const fn decode_sort_spec(spec: i64) -> Option<(u32, i64, i64)> {
    let direction = spec & 0xff;
    let column = (spec >> 8) & 0xff;
    let stat_op = (spec >> 16) & 0xff;
    if (direction != SORT_ASCENDING && direction != SORT_DESCENDING)
        || column > 9
        || stat_op > STAT_VARIANCE
        || spec >> 24 != 0
    {
        return None;
    }
    Some((column as u32, direction, stat_op))
}

/// `limit` argument of `rt_foreach_start` when the loop has no `limit` clause.
pub const LIMIT_NONE: i64 = i64::MAX;

/// Number of buckets of a `@hist_log` histogram (`runtime/stat.h` HIST_LOG_BUCKETS).
pub const HIST_LOG_BUCKETS: i64 = 128;
/// Largest bucket count of a `@hist_linear` histogram, under- and overflow included
/// (`runtime/stat.h` STP_MAX_BUCKETS).
pub const HIST_MAX_BUCKETS: i64 = 128;

/// Buckets of `@hist_linear(S, low, high, width)`: `(high - low) / width + 3` (one underflow
/// and one overflow bucket), or `None` when SystemTap refuses the parameters (width 0, or a
/// count outside `3..=128`).
pub const fn hist_linear_buckets(low: i64, high: i64, width: i64) -> Option<i64> {
    if width == 0 {
        return None;
    }
    // SystemTap computes this in C `int`; the parameters are literals the front end checks.
    let buckets = (high - low) / width + 3;
    if buckets > HIST_MAX_BUCKETS || buckets < 3 {
        None
    } else {
        Some(buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_spec_round_trips() {
        for column in 0..=9 {
            for dir in [SORT_ASCENDING, SORT_DESCENDING] {
                for op in STAT_COUNT..=STAT_VARIANCE {
                    assert_eq!(
                        decode_sort_spec(sort_spec(column, dir, op)),
                        Some((column, dir, op))
                    );
                }
            }
        }
        assert_eq!(decode_sort_spec(SORT_NONE), None);
        assert_eq!(decode_sort_spec(sort_spec(10, SORT_ASCENDING, 0)), None);
    }

    #[test]
    fn linear_bucket_counts() {
        // §1.12: (H-L)/W + 3, and 3..=128 total.
        assert_eq!(hist_linear_buckets(0, 100, 10), Some(13));
        assert_eq!(hist_linear_buckets(250, 1000, 50), Some(18));
        assert_eq!(hist_linear_buckets(0, 10, 0), None);
        assert_eq!(hist_linear_buckets(0, 1260, 10), None);
        assert_eq!(hist_linear_buckets(0, 1250, 10), Some(128));
    }
}
