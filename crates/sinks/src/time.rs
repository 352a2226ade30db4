//! UTC calendar arithmetic on Unix nanoseconds (no timezone database needed).

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
pub(crate) fn hour_label(unix_ns: u64) -> String {
    let (y, m, d, h) = utc_parts(unix_ns);
    format!("{y:04}-{m:02}-{d:02}T{h:02}")
}

/// RFC 3339 UTC with second precision.
pub fn rfc3339(unix_ns: u64) -> String {
    let (y, m, d, h) = utc_parts(unix_ns);
    let secs = unix_ns / 1_000_000_000;
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{:02}:{:02}Z", (secs % 3_600) / 60, secs % 60)
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
    }
}
