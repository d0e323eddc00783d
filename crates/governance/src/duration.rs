//! Reset durations for budgets and rate limits, and when a window ends.
//!
//! Bifrost writes a counter's window as a short string (`30s`, `5m`, `1h`, `1d`, `1w`, `1M`,
//! `1Y`, any `N` before a unit, or the words `daily`/`weekly`/`monthly`/`yearly`). A window is
//! either rolling (a lattice of equal steps from the counter's first reset) or calendar aligned
//! (UTC start of day, Monday, the 1st, 1 January). This module turns the string into a
//! [`ResetDuration`] once, at config load, so a typo is a config error rather than a counter
//! that never resets, and computes windows with [`window`] and [`next_reset`].
//!
//! Months and years are calendar months and years (`jiff` does the calendar math): a rolling
//! `1M` from 31 January ends on the last day of February, and `1Y` from 29 February 2024 ends on
//! 28 February 2025. This is a deliberate difference from Bifrost, whose rolling windows count a
//! month as 30 days and a year as 365; its calendar-aligned windows, the usual choice for
//! monthly budgets, agree with these. Everything is UTC; no time zone database is needed.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::{SignedDuration, Span, Timestamp};

const DAY_SECS: u64 = 86_400;
const WEEK_SECS: u64 = 7 * DAY_SECS;

/// A parsed reset duration.
///
/// Two shapes, because a month is not a fixed number of seconds: fixed lengths (seconds,
/// minutes, hours, days, weeks, and sums of them such as `1h30m`) and calendar months (`M`,
/// and `Y` as twelve months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetDuration {
    /// A fixed number of seconds, never zero.
    Seconds(u64),
    /// A number of calendar months, never zero; years are multiples of twelve.
    Months(u32),
}

/// Why a reset duration string was refused; the message is shown to the operator as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reset duration {input:?}: {reason}")]
pub struct DurationError {
    /// The string as written in the config.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ResetDuration {
    /// Parses Bifrost's reset-duration syntax.
    ///
    /// Accepted: `daily`, `weekly`, `monthly`, `yearly` (any case); one or more `<N><unit>`
    /// pieces with units `s`, `m`, `h`, `d`, `w` (fixed lengths, may be combined as in Go's
    /// `1h30m`); or a single `<N>M` (months) or `<N>Y` (years), which cannot be combined with
    /// other pieces because a month has no fixed length. `m` is minutes and `M` months, as in
    /// Bifrost. Zero-length durations are refused: a window that never advances would reset on
    /// every request.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let err = |reason| DurationError {
            input: input.to_owned(),
            reason,
        };
        let s = input.trim();
        match s.to_ascii_lowercase().as_str() {
            "daily" => return Ok(Self::Seconds(DAY_SECS)),
            "weekly" => return Ok(Self::Seconds(WEEK_SECS)),
            "monthly" => return Ok(Self::Months(1)),
            "yearly" | "annually" => return Ok(Self::Months(12)),
            "" => return Err(err("empty")),
            _ => {}
        }
        let mut seconds: u64 = 0;
        let mut months: Option<u32> = None;
        let mut pieces = 0usize;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err(
                    "expected a number and a unit (s, m, h, d, w, M, Y) such as 30s, 1d or 1M, or daily, weekly, monthly, yearly",
                ));
            }
            let (num, tail) = rest.split_at(digits);
            let n: u64 = num.parse().map_err(|_| err("number too large"))?;
            let unit_len = tail.chars().next().map_or(0, char::len_utf8);
            if unit_len == 0 {
                return Err(err("missing unit (one of s, m, h, d, w, M, Y)"));
            }
            let (unit, tail) = tail.split_at(unit_len);
            let per = match unit {
                "s" => Some(1),
                "m" => Some(60),
                "h" => Some(3_600),
                "d" => Some(DAY_SECS),
                "w" => Some(WEEK_SECS),
                "M" | "Y" => None,
                _ => return Err(err("unknown unit (expected one of s, m, h, d, w, M, Y)")),
            };
            match per {
                Some(per) => {
                    let add = n.checked_mul(per).ok_or_else(|| err("too long"))?;
                    seconds = seconds.checked_add(add).ok_or_else(|| err("too long"))?;
                }
                None => {
                    let m = if unit == "Y" {
                        n.checked_mul(12)
                    } else {
                        Some(n)
                    };
                    let m = m
                        .and_then(|m| u32::try_from(m).ok())
                        .ok_or_else(|| err("too long"))?;
                    months = Some(m);
                }
            }
            pieces += 1;
            rest = tail;
        }
        match months {
            Some(_) if pieces > 1 => {
                Err(err("months and years cannot be combined with other units"))
            }
            Some(0) => Err(err("must be longer than zero")),
            Some(m) => Ok(Self::Months(m)),
            None if seconds == 0 => Err(err("must be longer than zero")),
            None => Ok(Self::Seconds(seconds)),
        }
    }
}

impl fmt::Display for ResetDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Months(m) if m % 12 == 0 => write!(f, "{}Y", m / 12),
            Self::Months(m) => write!(f, "{m}M"),
            Self::Seconds(s) if s % WEEK_SECS == 0 => write!(f, "{}w", s / WEEK_SECS),
            Self::Seconds(s) if s % DAY_SECS == 0 => write!(f, "{}d", s / DAY_SECS),
            Self::Seconds(s) if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            Self::Seconds(s) if s % 60 == 0 => write!(f, "{}m", s / 60),
            Self::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

fn utc(ts: Timestamp) -> DateTime {
    Offset::UTC.to_datetime(ts)
}

fn from_utc(dt: DateTime) -> Timestamp {
    Offset::UTC.to_timestamp(dt).unwrap_or(Timestamp::MAX)
}

impl ResetDuration {
    /// Whether the duration has a calendar boundary to snap to: whole days, weeks, months or
    /// years. Shorter ones (`30s`, `1h`) have none; as in Bifrost, `calendar_aligned` leaves them
    /// rolling.
    pub fn is_calendar_alignable(self) -> bool {
        match self {
            Self::Months(_) => true,
            Self::Seconds(s) => s % DAY_SECS == 0,
        }
    }
}

/// The start of the calendar period that contains `at`, for a calendar-aligned window.
///
/// Whole weeks snap to Monday 00:00 UTC, whole days to 00:00 UTC, whole years to 1 January,
/// other month counts to the 1st of the month (Bifrost's `GetCalendarPeriodStart`). Durations
/// without a calendar boundary return `at` unchanged.
pub fn period_start(at: Timestamp, duration: ResetDuration) -> Timestamp {
    let dt = utc(at);
    let midnight = jiff::civil::Time::midnight();
    match duration {
        ResetDuration::Months(m) if m % 12 == 0 => {
            from_utc(dt.date().first_of_year().to_datetime(midnight))
        }
        ResetDuration::Months(_) => from_utc(dt.date().first_of_month().to_datetime(midnight)),
        ResetDuration::Seconds(s) if s % WEEK_SECS == 0 => {
            let days_since_monday = i64::from(dt.weekday().to_monday_zero_offset());
            let day = dt.start_of_day();
            let monday = day
                .checked_sub(Span::new().days(days_since_monday))
                .unwrap_or(day);
            from_utc(monday)
        }
        ResetDuration::Seconds(s) if s % DAY_SECS == 0 => from_utc(dt.start_of_day()),
        ResetDuration::Seconds(_) => at,
    }
}

/// Adds `n` durations to an instant, in UTC; saturates at the end of representable time.
fn add_n(at: Timestamp, duration: ResetDuration, n: i64) -> Timestamp {
    match duration {
        ResetDuration::Seconds(s) => i64::try_from(s)
            .ok()
            .and_then(|s| s.checked_mul(n))
            .and_then(|secs| at.checked_add(SignedDuration::from_secs(secs)).ok())
            .unwrap_or(Timestamp::MAX),
        ResetDuration::Months(m) => i64::from(m)
            .checked_mul(n)
            .and_then(|months| utc(at).checked_add(Span::new().months(months)).ok())
            .map_or(Timestamp::MAX, from_utc),
    }
}

/// Adds one duration to an instant, in UTC; saturates at the end of representable time.
pub fn add(at: Timestamp, duration: ResetDuration) -> Timestamp {
    add_n(at, duration, 1)
}

/// The window `[start, end)` that contains `now`.
///
/// Calendar aligned (and the duration alignable): the calendar period containing `now`, ended
/// one duration later. Otherwise rolling windows lie on a lattice anchored at `anchor` (the
/// counter's first `last_reset`): `anchor + k·duration` for the largest whole `k` not after
/// `now`, which is what Bifrost's newest code does (`RollingWindowStart`). The lattice makes the
/// boundary a pure function of the anchor, so every replica computes the same windows however
/// long a counter sat idle, and a month lattice never drifts (31 January, 28 February, 31
/// March — each month counted from the anchor, not from the previous, clamped, boundary).
/// A `now` before the anchor gives the anchor's own window.
pub fn window(
    anchor: Timestamp,
    now: Timestamp,
    duration: ResetDuration,
    calendar_aligned: bool,
) -> (Timestamp, Timestamp) {
    if calendar_aligned && duration.is_calendar_alignable() {
        let start = period_start(now, duration);
        return (start, add(start, duration));
    }
    if now <= anchor {
        return (anchor, add(anchor, duration));
    }
    let k = match duration {
        ResetDuration::Seconds(s) => {
            let elapsed = now.duration_since(anchor).as_secs();
            elapsed / i64::try_from(s).unwrap_or(i64::MAX)
        }
        ResetDuration::Months(m) => {
            let (a, n) = (utc(anchor), utc(now));
            let months = (i64::from(n.year()) - i64::from(a.year())) * 12
                + (i64::from(n.month()) - i64::from(a.month()));
            let m = i64::from(m);
            let k = months.div_euclid(m);
            // The day of month (or time of day) may put that lattice point after `now`.
            if add_n(anchor, duration, k) > now {
                k - 1
            } else {
                k
            }
        }
    };
    (add_n(anchor, duration, k), add_n(anchor, duration, k + 1))
}

/// When the window that began at `last_reset` ends.
///
/// Rolling (`calendar_aligned == false`, or a duration without calendar boundary): exactly
/// one duration after `last_reset`. Calendar aligned: one duration after the start of the
/// calendar period containing `last_reset` (see [`period_start`]), so a `1M` budget reset on
/// 17 March ends on 1 April.
pub fn next_reset(
    last_reset: Timestamp,
    duration: ResetDuration,
    calendar_aligned: bool,
) -> Timestamp {
    window(last_reset, last_reset, duration, calendar_aligned).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn p(s: &str) -> ResetDuration {
        ResetDuration::parse(s).unwrap()
    }

    #[test]
    fn parses_units_and_words() {
        assert_eq!(p("30s"), ResetDuration::Seconds(30));
        assert_eq!(p("5m"), ResetDuration::Seconds(300));
        assert_eq!(p("1h"), ResetDuration::Seconds(3600));
        assert_eq!(p("1h30m"), ResetDuration::Seconds(5400));
        assert_eq!(p("1d"), ResetDuration::Seconds(DAY_SECS));
        assert_eq!(p("3d"), ResetDuration::Seconds(3 * DAY_SECS));
        assert_eq!(p("1w"), ResetDuration::Seconds(WEEK_SECS));
        assert_eq!(p("2w"), ResetDuration::Seconds(2 * WEEK_SECS));
        assert_eq!(p("1M"), ResetDuration::Months(1));
        assert_eq!(p("6M"), ResetDuration::Months(6));
        assert_eq!(p("1Y"), ResetDuration::Months(12));
        assert_eq!(p("2Y"), ResetDuration::Months(24));
        assert_eq!(p("daily"), p("1d"));
        assert_eq!(p("Weekly"), p("1w"));
        assert_eq!(p("monthly"), p("1M"));
        assert_eq!(p("yearly"), p("1Y"));
    }

    #[test]
    fn refuses_bad_durations() {
        for bad in [
            "",
            "0s",
            "0M",
            "h",
            "1",
            "1x",
            "1.5h",
            "-1d",
            "1M1d",
            "1d1M",
            "99999999999999999999s",
            "1 d",
        ] {
            assert!(
                ResetDuration::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn displays_canonically() {
        for s in ["30s", "5m", "1h", "3d", "1w", "1M", "1Y"] {
            assert_eq!(p(s).to_string(), s);
        }
        assert_eq!(p("daily").to_string(), "1d");
        assert_eq!(p("90m").to_string(), "90m");
    }

    #[test]
    fn rolling_fixed() {
        let last = ts("2026-03-17T10:20:30Z");
        assert_eq!(
            next_reset(last, p("30s"), false),
            ts("2026-03-17T10:21:00Z")
        );
        assert_eq!(next_reset(last, p("1h"), false), ts("2026-03-17T11:20:30Z"));
        assert_eq!(next_reset(last, p("1d"), false), ts("2026-03-18T10:20:30Z"));
        assert_eq!(next_reset(last, p("1w"), false), ts("2026-03-24T10:20:30Z"));
    }

    #[test]
    fn rolling_months_clamp_to_month_end() {
        assert_eq!(
            next_reset(ts("2026-01-31T12:00:00Z"), p("1M"), false),
            ts("2026-02-28T12:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2024-01-31T12:00:00Z"), p("1M"), false),
            ts("2024-02-29T12:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2026-03-31T00:00:00Z"), p("1M"), false),
            ts("2026-04-30T00:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2026-12-15T08:00:00Z"), p("1M"), false),
            ts("2027-01-15T08:00:00Z")
        );
    }

    #[test]
    fn rolling_years_and_leap_day() {
        assert_eq!(
            next_reset(ts("2024-02-29T06:00:00Z"), p("1Y"), false),
            ts("2025-02-28T06:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2024-02-29T06:00:00Z"), p("4Y"), false),
            ts("2028-02-29T06:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2023-02-28T00:00:00Z"), p("1Y"), false),
            ts("2024-02-28T00:00:00Z")
        );
    }

    #[test]
    fn calendar_day_and_sub_day() {
        let last = ts("2026-03-17T10:20:30Z");
        assert_eq!(next_reset(last, p("1d"), true), ts("2026-03-18T00:00:00Z"));
        assert_eq!(next_reset(last, p("2d"), true), ts("2026-03-19T00:00:00Z"));
        // Sub-day durations have no calendar boundary: they stay rolling, as in Bifrost.
        assert_eq!(next_reset(last, p("1h"), true), ts("2026-03-17T11:20:30Z"));
        assert_eq!(next_reset(last, p("5m"), true), ts("2026-03-17T10:25:30Z"));
        assert_eq!(next_reset(last, p("30s"), true), ts("2026-03-17T10:21:00Z"));
        assert!(!p("1h").is_calendar_alignable() && p("1d").is_calendar_alignable());
        // Across a year end.
        assert_eq!(
            next_reset(ts("2026-12-31T23:59:59Z"), p("1d"), true),
            ts("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn calendar_week_starts_monday() {
        // 2026-03-17 is a Tuesday; that week's Monday is the 16th.
        let tue = ts("2026-03-17T10:20:30Z");
        assert_eq!(period_start(tue, p("1w")), ts("2026-03-16T00:00:00Z"));
        assert_eq!(next_reset(tue, p("1w"), true), ts("2026-03-23T00:00:00Z"));
        // A Monday just after midnight stays in its own week.
        assert_eq!(
            next_reset(ts("2026-03-16T00:00:01Z"), p("1w"), true),
            ts("2026-03-23T00:00:00Z")
        );
        // A Sunday belongs to the week that started six days earlier.
        assert_eq!(
            next_reset(ts("2026-03-22T23:59:59Z"), p("1w"), true),
            ts("2026-03-23T00:00:00Z")
        );
        // A week spanning a month and year end.
        assert_eq!(
            period_start(ts("2027-01-02T05:00:00Z"), p("1w")),
            ts("2026-12-28T00:00:00Z")
        );
        assert_eq!(
            utc(ts("2026-12-28T00:00:00Z")).weekday(),
            jiff::civil::Weekday::Monday
        );
        assert_eq!(
            next_reset(ts("2027-01-02T05:00:00Z"), p("2w"), true),
            ts("2027-01-11T00:00:00Z")
        );
    }

    #[test]
    fn calendar_month_and_year() {
        assert_eq!(
            next_reset(ts("2026-03-17T10:00:00Z"), p("1M"), true),
            ts("2026-04-01T00:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2026-01-31T23:00:00Z"), p("1M"), true),
            ts("2026-02-01T00:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2024-02-29T23:00:00Z"), p("1M"), true),
            ts("2024-03-01T00:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2026-12-31T23:00:00Z"), p("1M"), true),
            ts("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2026-11-05T00:00:00Z"), p("3M"), true),
            ts("2027-02-01T00:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2024-02-29T12:00:00Z"), p("1Y"), true),
            ts("2025-01-01T00:00:00Z")
        );
        assert_eq!(
            next_reset(ts("2026-01-01T00:00:00Z"), p("yearly"), true),
            ts("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn calendar_windows_follow_now() {
        let anchor = ts("2026-01-01T00:00:00Z");
        let now = ts("2026-05-09T13:14:15Z");
        assert_eq!(
            window(anchor, now, p("1M"), true),
            (ts("2026-05-01T00:00:00Z"), ts("2026-06-01T00:00:00Z"))
        );
        assert_eq!(
            window(anchor, now, p("1w"), true),
            (ts("2026-05-04T00:00:00Z"), ts("2026-05-11T00:00:00Z"))
        );
        assert_eq!(
            window(anchor, now, p("yearly"), true),
            (ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn rolling_windows_sit_on_a_lattice_from_the_anchor() {
        let anchor = ts("2026-01-01T10:00:30Z");
        assert_eq!(
            window(anchor, ts("2026-01-01T10:07:00Z"), p("5m"), false),
            (ts("2026-01-01T10:05:30Z"), ts("2026-01-01T10:10:30Z"))
        );
        // Exactly on a boundary: the new window.
        assert_eq!(
            window(anchor, ts("2026-01-01T10:10:30Z"), p("5m"), false).0,
            ts("2026-01-01T10:10:30Z")
        );
        // Alignment requested on a sub-day duration: still the lattice.
        assert_eq!(
            window(anchor, ts("2026-01-03T09:00:00Z"), p("1h"), true),
            (ts("2026-01-03T08:00:30Z"), ts("2026-01-03T09:00:30Z"))
        );
        assert_eq!(
            window(anchor, ts("2026-01-20T00:00:00Z"), p("1w"), false),
            (ts("2026-01-15T10:00:30Z"), ts("2026-01-22T10:00:30Z"))
        );
        // Before the anchor: the anchor's window.
        assert_eq!(
            window(anchor, ts("2025-12-01T00:00:00Z"), p("1d"), false),
            (anchor, ts("2026-01-02T10:00:30Z"))
        );
    }

    #[test]
    fn month_lattice_does_not_drift_at_month_ends() {
        let anchor = ts("2026-01-31T12:00:00Z");
        // Inside February's window, which ends on the clamped 28th.
        assert_eq!(
            window(anchor, ts("2026-03-01T00:00:00Z"), p("1M"), false),
            (ts("2026-02-28T12:00:00Z"), ts("2026-03-31T12:00:00Z"))
        );
        // Before the day of month in the current month: still the previous window.
        assert_eq!(
            window(anchor, ts("2026-03-30T00:00:00Z"), p("1M"), false).0,
            ts("2026-02-28T12:00:00Z")
        );
        assert_eq!(
            window(anchor, ts("2026-03-31T12:00:00Z"), p("1M"), false).0,
            ts("2026-03-31T12:00:00Z")
        );
        // Leap day anchor with yearly windows.
        let leap = ts("2024-02-29T00:00:00Z");
        assert_eq!(
            window(leap, ts("2027-06-01T00:00:00Z"), p("1Y"), false),
            (ts("2027-02-28T00:00:00Z"), ts("2028-02-29T00:00:00Z"))
        );
        // Quarterly.
        assert_eq!(
            window(
                ts("2026-01-15T00:00:00Z"),
                ts("2026-08-01T00:00:00Z"),
                p("3M"),
                false
            ),
            (ts("2026-07-15T00:00:00Z"), ts("2026-10-15T00:00:00Z"))
        );
    }
}
