//! UTC calendar arithmetic on Unix nanoseconds, both ways (no timezone database needed): file hours, report
//! timestamps, OKX's signing time, Tardis.dev's local timestamps.

/// Nanoseconds per hour.
pub const HOUR_NS: u64 = 3_600_000_000_000;

/// `(year, month, day, hour)` in UTC of a Unix ns timestamp.
pub(crate) fn utc_parts(unix_ns: u64) -> (i64, u32, u32, u32) {
    let secs = unix_ns / 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let hour = ((secs % 86_400) / 3_600) as u32;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, hour)
}

/// UTC hour of day (0–23).
pub fn hour_of_day(unix_ns: u64) -> u32 {
    ((unix_ns / HOUR_NS) % 24) as u32
}

/// `YYYY-MM-DDTHH` of the hour containing `unix_ns` (UTC).
pub fn hour_label(unix_ns: u64) -> String {
    let (y, m, d, h) = utc_parts(unix_ns);
    format!("{y:04}-{m:02}-{d:02}T{h:02}")
}

/// RFC 3339 UTC with second precision.
pub fn rfc3339(unix_ns: u64) -> String {
    let (y, m, d, h) = utc_parts(unix_ns);
    let secs = unix_ns / 1_000_000_000;
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{:02}:{:02}Z", (secs % 3_600) / 60, secs % 60)
}

/// RFC 3339 UTC with millisecond precision (`2020-12-08T09:08:57.715Z`, OKX's signing timestamp).
pub fn rfc3339_millis(unix_ns: u64) -> String {
    let text = rfc3339(unix_ns);
    format!("{}.{:03}Z", &text[..19], unix_ns % 1_000_000_000 / 1_000_000)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` → Unix ns (fractions beyond nanoseconds are cut).
pub fn parse_utc_ns(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock = clock.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = &fraction[..fraction.len().min(9)];
    let nanos = if digits.is_empty() { 0 } else { digits.parse::<u64>().ok()? * 10u64.pow(9 - digits.len() as u32) };
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000_000 + second * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(utc_parts(0), (1970, 1, 1, 0));
        // 2024-02-29T13:45:10Z
        let ns = 1_709_214_310 * 1_000_000_000;
        assert_eq!(utc_parts(ns), (2024, 2, 29, 13));
        assert_eq!(hour_label(ns), "2024-02-29T13");
        assert_eq!(rfc3339(ns), "2024-02-29T13:45:10Z");
        assert_eq!(hour_of_day(ns), 13);
        assert_eq!(utc_parts(1_735_689_599 * 1_000_000_000), (2024, 12, 31, 23));
        assert_eq!(rfc3339_millis(ns + 715_000_000), "2024-02-29T13:45:10.715Z");
    }

    #[test]
    fn utc_timestamps_to_unix_ns() {
        assert_eq!(parse_utc_ns("1970-01-01T00:00:00Z"), Some(0));
        // The example of tardis-machine's docs, 100 ns precision.
        assert_eq!(parse_utc_ns("2019-05-01T00:00:00.2436351Z"), Some(1_556_668_800_243_635_100));
        assert_eq!(parse_utc_ns("2024-02-29T23:59:59.999Z"), Some(1_709_251_199_999_000_000));
        assert_eq!(parse_utc_ns("2024-05-01T00:00:00.1234567891234Z"), Some(1_714_521_600_123_456_789));
        for bad in
            ["2024-05-01 00:00:00Z", "2024-13-01T00:00:00Z", "2024-05-01T00:00:00", "2024-05-01T00:00:00.x1Z", ""]
        {
            assert_eq!(parse_utc_ns(bad), None, "{bad}");
        }
        // The two directions agree.
        let ns = 1_709_214_310_123_000_000;
        assert_eq!(parse_utc_ns(&rfc3339_millis(ns)), Some(ns));
    }
}
