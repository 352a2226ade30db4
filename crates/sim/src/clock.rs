//! Wall-clock helpers. Exchange time in the simulator is the model's step clock
//! ([`crate::model::Market::now_ms`]); these read the host clock for receive times and scheduling.

use std::time::{SystemTime, UNIX_EPOCH};

/// Host time, Unix ns.
pub fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Host time, Unix ms.
pub fn unix_ms() -> u64 {
    unix_ns() / 1_000_000
}

/// Funding settles every 8 hours at 00:00, 08:00 and 16:00 UTC.
pub const FUNDING_INTERVAL_MS: u64 = 8 * 3_600_000;

/// The next funding time strictly after `now_ms`.
pub fn next_funding_ms(now_ms: u64) -> u64 {
    next_funding_every(now_ms, 8)
}

/// The next settlement strictly after `now_ms` of a schedule every `hours` from 00:00 UTC.
pub fn next_funding_every(now_ms: u64, hours: u32) -> u64 {
    let interval = u64::from(hours.max(1)) * 3_600_000;
    (now_ms / interval + 1) * interval
}

#[cfg(test)]
mod tests {
    #[test]
    fn funding_boundaries() {
        assert_eq!(super::next_funding_ms(0), 28_800_000);
        assert_eq!(super::next_funding_ms(28_800_000), 57_600_000);
    }
}
