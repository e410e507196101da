//! Market time: America/New_York offsets (US DST rules, no tz database needed), weekday
//! sessions, and the number formatting Alpaca uses for decimal strings.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};

/// Second Sunday of March .. first Sunday of November, switching at 02:00 local time.
fn is_dst(date: NaiveDate, hour: u32) -> bool {
    let y = date.year();
    let start = nth_sunday(y, 3, 2);
    let end = nth_sunday(y, 11, 1);
    (date > start || (date == start && hour >= 2)) && (date < end || (date == end && hour < 2))
}

fn nth_sunday(year: i32, month: u32, n: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n as u8)
        .expect("every month has a first and second Sunday")
}

/// The New York offset (-05:00 or -04:00) at a local date and hour.
pub fn ny_offset_local(date: NaiveDate, hour: u32) -> FixedOffset {
    let hours = if is_dst(date, hour) { 4 } else { 5 };
    FixedOffset::west_opt(hours * 3600).expect("valid offset")
}

/// `utc` in New York time.
pub fn to_ny(utc: DateTime<Utc>) -> DateTime<FixedOffset> {
    // Decide with the standard-time wall clock; the hour-long ambiguity does not matter here.
    let est = utc.with_timezone(&FixedOffset::west_opt(5 * 3600).expect("valid offset"));
    utc.with_timezone(&ny_offset_local(est.date_naive(), est.hour_u32()))
}

trait HourU32 {
    fn hour_u32(&self) -> u32;
}
impl HourU32 for DateTime<FixedOffset> {
    fn hour_u32(&self) -> u32 {
        chrono::Timelike::hour(self)
    }
}

/// A New York wall-clock time.
pub fn ny_at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<FixedOffset> {
    let offset = ny_offset_local(date, hour);
    offset
        .from_local_datetime(
            &date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).expect("time")),
        )
        .single()
        .expect("fixed offsets are unambiguous")
}

pub fn is_weekday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

pub fn next_weekday(d: NaiveDate) -> NaiveDate {
    let mut d = d + Duration::days(1);
    while !is_weekday(d) {
        d += Duration::days(1);
    }
    d
}

/// The `n` weekdays strictly before `today`, oldest first.
pub fn weekdays_before(today: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(n);
    let mut d = today;
    while out.len() < n {
        d -= Duration::days(1);
        if is_weekday(d) {
            out.push(d);
        }
    }
    out.reverse();
    out
}

/// Alpaca's clock: `(timestamp, next_open, next_close)` in New York time.
pub fn clock(now: DateTime<Utc>, open: bool) -> [DateTime<FixedOffset>; 3] {
    let local = to_ny(now);
    let today = local.date_naive();
    let opens_today = ny_at(today, 9, 30);
    let closes_today = ny_at(today, 16, 0);
    let (next_open, next_close) = if open {
        let close_day = if is_weekday(today) && local < closes_today {
            today
        } else {
            next_weekday(today)
        };
        (ny_at(next_weekday(today), 9, 30), ny_at(close_day, 16, 0))
    } else {
        let open_day = if is_weekday(today) && local < opens_today {
            today
        } else {
            next_weekday(today)
        };
        (ny_at(open_day, 9, 30), ny_at(open_day, 16, 0))
    };
    [local, next_open, next_close]
}

/// A daily bar's timestamp as Alpaca sends it: New York midnight, in UTC (`...T05:00:00Z`).
pub fn bar_time(date: NaiveDate) -> DateTime<Utc> {
    ny_at(date, 0, 0).with_timezone(&Utc)
}

/// An Alpaca decimal string: no exponent, no trailing zeros, at most 10 decimals.
pub fn dec(x: f64) -> String {
    let s = format!("{x:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Parses a JSON string or number as a decimal.
pub fn num_of(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Number(n) => n.as_f64(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_york_offsets_and_bar_times() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(bar_time(d).to_rfc3339(), "2026-12-03T05:00:00+00:00");
        let d = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(bar_time(d).to_rfc3339(), "2026-07-01T04:00:00+00:00");
        let s = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(); // second Sunday of March 2026
        assert_eq!(ny_offset_local(s, 1).local_minus_utc(), -5 * 3600);
        assert_eq!(ny_offset_local(s, 3).local_minus_utc(), -4 * 3600);
    }

    #[test]
    fn weekdays_skip_weekends() {
        let fri = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let mon = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(weekdays_before(mon, 2), vec![fri - Duration::days(1), fri]);
        assert_eq!(next_weekday(fri), mon);
    }

    #[test]
    fn clock_times_are_consistent() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 15, 0, 0).unwrap(); // Fri 10:00 New York
        let [ts, open, close] = clock(now, true);
        assert_eq!(ts.to_rfc3339(), "2026-12-04T10:00:00-05:00");
        assert_eq!(close.to_rfc3339(), "2026-12-04T16:00:00-05:00");
        assert_eq!(open.to_rfc3339(), "2026-12-07T09:30:00-05:00");
        let [_, open, close] = clock(now, false);
        assert_eq!(open.to_rfc3339(), "2026-12-07T09:30:00-05:00");
        assert_eq!(close.to_rfc3339(), "2026-12-07T16:00:00-05:00");
    }

    #[test]
    fn decimals() {
        assert_eq!(dec(10.0), "10");
        assert_eq!(dec(0.1 + 0.2), "0.3");
        assert_eq!(dec(-0.0), "0");
        assert_eq!(dec(505.5), "505.5");
    }
}
