//! The program description the binary hands the runtime: plain data, no dependency on `lang`.
//!
//! Everything generated code refers to by index lives here: scalar globals (at offsets in the
//! globals area), arrays and aggregates (`map` ids), printf formats, location strings
//! (`loc` ids), and the probes with their handlers.

use crate::map::{KeyType, ValueType};
use rtap_abi::context::HandlerFn;
use rtap_abi::format::Format;
use rtap_abi::strbuf::DEFAULT_MAXSTRINGLEN;

/// Run-time limits (`-D NAME=VALUE`; defaults of `runtime/runtime_defines.h`, 64-bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// MAXSTRINGLEN: strings hold at most this minus one bytes.
    pub max_string_len: usize,
    /// MAXACTION_INTERRUPTIBLE (10 × MAXACTION): the action budget of every handler.
    pub max_action: i64,
    /// MAXMAPENTRIES: capacity of arrays declared without a size.
    pub max_map_entries: usize,
    /// MAXERRORS: the session stops when the error count exceeds it.
    pub max_errors: i64,
    /// HIST_WIDTH and HIST_ELISION.
    pub hist: crate::hist::HistStyle,
    /// `--suppress-time-limits`: no MAXACTION budget.
    pub suppress_time_limits: bool,
    /// `--suppress-handler-errors`: errors are counted, not printed, and never stop the session.
    pub suppress_handler_errors: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_string_len: DEFAULT_MAXSTRINGLEN,
            max_action: 10_000,
            max_map_entries: 2048,
            max_errors: 0,
            hist: crate::hist::HistStyle::default(),
            suppress_time_limits: false,
            suppress_handler_errors: false,
        }
    }
}

/// Initial value of a scalar global.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScalarInit {
    /// A long at `offset` (8 bytes).
    Long(i64),
    /// A string at `offset` (a `StrBuf` of `strbuf_size(max_string_len)` bytes).
    Str(Vec<u8>),
}

/// A scalar `long` or `string` global.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarSpec {
    /// Script name (for the end-of-run display).
    pub name: String,
    /// Byte offset in the globals area (8-aligned).
    pub offset: usize,
    /// Type and initial value.
    pub init: ScalarInit,
    /// Written but never read: printed at the end of the run (§6.5).
    pub display: bool,
}

/// An array, or a scalar aggregate (arity 0 with a statistics value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    /// Script name.
    pub name: String,
    /// Key types (empty for a scalar aggregate).
    pub keys: Vec<KeyType>,
    /// Value type.
    pub value: ValueType,
    /// Declared size `[N]`, if any.
    pub size: Option<usize>,
    /// Declared with `%`: full arrays evict their oldest element.
    pub wrap: bool,
    /// Written but never read: printed at the end of the run (§6.5).
    pub display: bool,
}

/// A periodic timer probe (`timer.ms(N).randomize(M)` …), in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerSpec {
    /// Period.
    pub period_ns: u64,
    /// Each period is varied uniformly by ±this much.
    pub randomize_ns: u64,
}

/// Units of `timer.UNIT(N)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerUnit {
    /// `s`, `sec`
    Seconds,
    /// `ms`, `msec`
    Millis,
    /// `us`, `usec`
    Micros,
    /// `ns`, `nsec`
    Nanos,
    /// `hz`: N per second
    Hertz,
    /// `jiffies`, with the kernel's HZ
    Jiffies {
        /// CONFIG_HZ
        hz: u64,
    },
}

/// A timer probe point SystemTap rejects (its pass-2 messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// The interval is outside 100µs…1 day, printed in the probe's unit.
    #[error("interval value out of range ({0}, {1})")]
    Interval(i64, i64),
    /// `randomize(M)` outside 0…N.
    #[error("randomization value out of range")]
    Randomize,
    /// `timer.hz(0)` or negative.
    #[error("frequency must be greater than 0")]
    Frequency,
    /// `timer.jiffies(N)` outside 1…1000000.
    #[error("invalid interval for jiffies timer")]
    JiffiesInterval,
    /// `timer.jiffies(N).randomize(M)` outside 0…N.
    #[error("invalid randomize for jiffies timer")]
    JiffiesRandomize,
}

const MIN_NS: i64 = 100_000;
const MAX_NS: i64 = 86_400 * 1_000_000_000;

impl TimerSpec {
    /// Validates `timer.UNIT(n)[.randomize(m)]` with SystemTap's range checks.
    pub fn new(unit: TimerUnit, n: i64, randomize: i64) -> Result<TimerSpec, TimerError> {
        let ns_per = match unit {
            TimerUnit::Seconds => 1_000_000_000,
            TimerUnit::Millis => 1_000_000,
            TimerUnit::Micros => 1_000,
            TimerUnit::Nanos => 1,
            TimerUnit::Hertz => {
                if n <= 0 {
                    return Err(TimerError::Frequency);
                }
                let period = (1_000_000_000 + n - 1) / n;
                if period < MIN_NS {
                    return Err(TimerError::Interval(MIN_NS, MAX_NS));
                }
                return Ok(TimerSpec {
                    period_ns: period as u64,
                    randomize_ns: 0,
                });
            }
            TimerUnit::Jiffies { hz } => {
                if !(1..=1_000_000).contains(&n) {
                    return Err(TimerError::JiffiesInterval);
                }
                if randomize < 0 || randomize > n {
                    return Err(TimerError::JiffiesRandomize);
                }
                let jiffy = 1_000_000_000 / hz.max(1);
                return Ok(TimerSpec {
                    period_ns: n as u64 * jiffy,
                    randomize_ns: randomize as u64 * jiffy,
                });
            }
        };
        let (lo, hi) = ((MIN_NS + ns_per - 1) / ns_per, MAX_NS / ns_per);
        if n < lo || n > hi {
            return Err(TimerError::Interval(lo, hi));
        }
        if randomize < 0 || randomize > n {
            return Err(TimerError::Randomize);
        }
        Ok(TimerSpec {
            period_ns: (n * ns_per) as u64,
            randomize_ns: (randomize * ns_per) as u64,
        })
    }
}

/// Where a probe attaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbePoint {
    /// `begin(N)`: at start, in ascending N, ties in program order.
    Begin(i64),
    /// `end(N)`: at normal shutdown.
    End(i64),
    /// `error(N)`: at shutdown after too many errors (instead of end).
    Error(i64),
    /// `never`: type-checked, never run.
    Never,
    /// `timer.*`
    Timer(TimerSpec),
    /// A probe served by a provider registered with the session (process probes…): the
    /// provider recognizes its own probe points by this text.
    External(String),
}

/// One probe.
#[derive(Clone)]
pub struct ProbeSpec {
    /// Where it attaches.
    pub point: ProbePoint,
    /// `pp()`: the probe point as resolved (`timer.ms(100)`, `begin`).
    pub pp: String,
    /// `pn()`: the probe point as the script wrote it.
    pub pn: String,
    /// The generated handler.
    pub handler: HandlerFn,
}

impl std::fmt::Debug for ProbeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeSpec")
            .field("point", &self.point)
            .field("pp", &self.pp)
            .finish_non_exhaustive()
    }
}

/// Everything the runtime needs to run a compiled script.
#[derive(Debug, Clone, Default)]
pub struct ProgramSpec {
    /// Limits.
    pub limits: Limits,
    /// Size of the scalar-globals area in bytes.
    pub globals_size: usize,
    /// Scalar `long`/`string` globals.
    pub scalars: Vec<ScalarSpec>,
    /// Arrays and aggregates, indexed by `map` ids.
    pub maps: Vec<MapSpec>,
    /// printf formats, indexed by `format` ids.
    pub formats: Vec<Format>,
    /// Location descriptions (`operator '/' at f.stp:1:22`), indexed by `loc` ids.
    pub locations: Vec<String>,
    /// Probes, in program order.
    pub probes: Vec<ProbeSpec>,
}

/// A program description that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A scalar global lies outside the globals area or is misaligned.
    #[error("global '{0}' does not fit the globals area")]
    GlobalLayout(String),
    /// An array's key count is beyond SystemTap's nine (or a statistics scalar has keys).
    #[error("array '{0}' has an unsupported key list")]
    Keys(String),
    /// MAXSTRINGLEN must leave room for at least one byte.
    #[error("MAXSTRINGLEN must be at least 2")]
    StringLength,
}

impl ProgramSpec {
    /// Checks the layout facts generated code relies on.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.limits.max_string_len < 2 {
            return Err(SpecError::StringLength);
        }
        let str_size = rtap_abi::strbuf::strbuf_size(self.limits.max_string_len);
        for s in &self.scalars {
            let size = match s.init {
                ScalarInit::Long(_) => 8,
                ScalarInit::Str(_) => str_size,
            };
            if s.offset % 8 != 0 || s.offset + size > self.globals_size {
                return Err(SpecError::GlobalLayout(s.name.clone()));
            }
        }
        for m in &self.maps {
            let stats = matches!(m.value, ValueType::Stats(_));
            if m.keys.len() > 9 || (m.keys.is_empty() && !stats) {
                return Err(SpecError::Keys(m.name.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_ranges_match_stap() {
        // Messages and bounds as `stap -p2` 4.8 prints them.
        let err = |u, n, r| TimerSpec::new(u, n, r).unwrap_err().to_string();
        assert_eq!(
            err(TimerUnit::Millis, 0, 0),
            "interval value out of range (1, 86400000)"
        );
        assert_eq!(
            err(TimerUnit::Seconds, 86401, 0),
            "interval value out of range (1, 86400)"
        );
        assert_eq!(
            err(TimerUnit::Millis, 10, 11),
            "randomization value out of range"
        );
        assert_eq!(
            err(TimerUnit::Hertz, 10001, 0),
            "interval value out of range (100000, 86400000000000)"
        );
        assert_eq!(
            err(TimerUnit::Hertz, 0, 0),
            "frequency must be greater than 0"
        );
        assert_eq!(
            err(TimerUnit::Jiffies { hz: 250 }, 0, 0),
            "invalid interval for jiffies timer"
        );
        assert_eq!(
            err(TimerUnit::Jiffies { hz: 250 }, 5, 10),
            "invalid randomize for jiffies timer"
        );
        assert_eq!(
            err(TimerUnit::Micros, 99, 0),
            "interval value out of range (100, 86400000000)"
        );
        assert!(TimerSpec::new(TimerUnit::Micros, 100, 0).is_ok());
        assert!(TimerSpec::new(TimerUnit::Seconds, 86400, 0).is_ok());
        assert_eq!(
            TimerSpec::new(TimerUnit::Hertz, 3, 0).unwrap().period_ns,
            333_333_334
        );
        assert_eq!(
            TimerSpec::new(TimerUnit::Millis, 10, 10).unwrap(),
            TimerSpec {
                period_ns: 10_000_000,
                randomize_ns: 10_000_000
            }
        );
    }
}
