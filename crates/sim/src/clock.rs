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

/// The next settlement strictly after `now_ms` of a schedule every `hours` from 00:00 UTC.
pub(crate) fn next_funding_every(now_ms: u64, hours: u32) -> u64 {
    let interval = u64::from(hours.max(1)) * 3_600_000;
    (now_ms / interval + 1) * interval
}

#[cfg(test)]
mod tests {
    #[test]
    fn funding_boundaries() {
        assert_eq!(super::next_funding_every(0, 8), 28_800_000);
        assert_eq!(super::next_funding_every(28_800_000, 8), 57_600_000);
    }
}
