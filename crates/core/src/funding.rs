//! Funding carry of a cross-venue perpetual position, settlement by settlement, each leg on its own schedule.
//!
//! A perpetual's funding is settled every `interval_hours` (Binance: 8 h, or the 4 h / 1 h of symbols listed
//! by `/fapi/v1/fundingInfo`; OKX: `nextFundingTime − fundingTime`, 8, 4, 2 or 1 h). At each settlement a long
//! position pays `rate × notional` and a short one receives it (a negative rate reverses that). Two legs on
//! different schedules cannot be compared rate for rate: 1 bp every 4 h is twice 1 bp every 8 h. So the carry
//! of holding *long on one venue, short on the other* over a horizon `H` is
//!
//! ```text
//! carry(H) = Σ short.rate over short's settlements in (now, now + H]
//!          − Σ long.rate  over long's settlements in (now, now + H]
//! ```
//!
//! with each leg's **current** rate assumed to persist for every settlement (a forecast, not a promise: rates
//! change every interval). Everything here is in basis points of the notional (1 bp = 0.0001).

use serde::Serialize;

const MS_PER_HOUR: u64 = 3_600_000;
const HOURS_PER_YEAR: f64 = 24.0 * 365.0;

/// One leg's funding: its current rate, paid every `interval_hours`, next at `next_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FundingSchedule {
    /// Rate of the next settlement, as a fraction (0.0001 = 1 bp); a long pays it, a short receives it.
    pub rate: f64,
    /// Hours between settlements.
    pub interval_hours: u32,
    /// Next settlement, Unix ms.
    pub next_ms: u64,
}

impl FundingSchedule {
    /// The rate per hour, bp.
    pub fn bp_per_hour(&self) -> f64 {
        self.rate * 10_000.0 / f64::from(self.interval_hours.max(1))
    }

    /// The rate annualised (365 days), % — what a short earns in a year at this rate.
    pub fn apr_pct(&self) -> f64 {
        self.bp_per_hour() * HOURS_PER_YEAR / 100.0
    }

    /// Settlement times in `(now_ms, now_ms + horizon_ms]`, in order.
    pub fn settlements(&self, now_ms: u64, horizon_ms: u64) -> impl Iterator<Item = u64> {
        let step = u64::from(self.interval_hours.max(1)) * MS_PER_HOUR;
        let end = now_ms.saturating_add(horizon_ms);
        // A next time already past (a stale schedule) rolls forward to the first one after now.
        let first = if self.next_ms > now_ms {
            self.next_ms
        } else {
            self.next_ms + ((now_ms - self.next_ms) / step + 1) * step
        };
        (0..).map(move |k| first + k * step).take_while(move |t| *t <= end)
    }

    /// The first instant after `now_ms` at which the settlements in the moving window `(now, now + horizon]`
    /// change: the next settlement leaves it, or the one after the window's end enters it.
    pub(crate) fn window_changes_at(&self, now_ms: u64, horizon_ms: u64) -> u64 {
        let leaves = self.settlements(now_ms, u64::MAX / 4).next().unwrap_or(u64::MAX);
        let end = now_ms.saturating_add(horizon_ms);
        let enters = self.settlements(end, u64::MAX / 4).next().map_or(u64::MAX, |t| t - horizon_ms);
        leaves.min(enters)
    }

    /// What a short position receives over the horizon, bp (a long pays the same).
    pub(crate) fn received_by_short_bp(&self, now_ms: u64, horizon_ms: u64) -> f64 {
        self.settlements(now_ms, horizon_ms).count() as f64 * self.rate * 10_000.0
    }
}

/// Carry of holding long `long` and short `short` over a horizon, bp: what the short leg receives minus
/// what the long leg pays, each at its own settlements in `(now_ms, now_ms + horizon_ms]`.
pub fn carry_bp(long: &FundingSchedule, short: &FundingSchedule, now_ms: u64, horizon_ms: u64) -> f64 {
    short.received_by_short_bp(now_ms, horizon_ms) - long.received_by_short_bp(now_ms, horizon_ms)
}

/// Difference of the legs' annualised rates for this direction (short − long), %.
pub fn apr_diff_pct(long: &FundingSchedule, short: &FundingSchedule) -> f64 {
    short.apr_pct() - long.apr_pct()
}

/// Hours from `now_ms` until the carry, settled leg by leg, first covers `cost_bp` (the round trip's cost),
/// looking at most `max_hours` ahead; `None` when it never does within that (a carry that does not pay).
pub(crate) fn break_even_hours(
    long: &FundingSchedule,
    short: &FundingSchedule,
    now_ms: u64,
    cost_bp: f64,
    max_hours: u32,
) -> Option<f64> {
    if cost_bp <= 0.0 {
        return Some(0.0);
    }
    let horizon_ms = u64::from(max_hours) * MS_PER_HOUR;
    let mut events: Vec<(u64, f64)> = short
        .settlements(now_ms, horizon_ms)
        .map(|t| (t, short.rate * 10_000.0))
        .chain(long.settlements(now_ms, horizon_ms).map(|t| (t, -long.rate * 10_000.0)))
        .collect();
    events.sort_by_key(|(t, _)| *t);
    let mut carried = 0.0;
    for (index, &(time, amount)) in events.iter().enumerate() {
        carried += amount;
        // Settlements at the same instant count together.
        let last_at_time = events.get(index + 1).is_none_or(|(next, _)| *next != time);
        if last_at_time && carried >= cost_bp - 1e-9 {
            return Some((time - now_ms) as f64 / MS_PER_HOUR as f64);
        }
    }
    None
}

/// The cost of opening and closing a position at a size, bp of notional: the entry's and the exit's gross spreads
/// (buy the long leg and sell the short one; later the reverse — each walked through the books, negative when
/// paying the spread) plus a taker fee on each of the four trades (`taker_bp` = the two legs' rates together).
pub fn round_trip_bp(entry_gross_bp: f64, exit_gross_bp: f64, taker_bp: f64) -> f64 {
    -(entry_gross_bp + exit_gross_bp) + 2.0 * taker_bp
}

/// What holding long `long` and short `short` over a horizon earns after its round trip.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FundingTrade {
    pub carry_bp: f64,
    pub net_carry_bp: f64,
    /// Hours until the carry covers the round trip (`None`: not within a year).
    pub break_even_h: Option<f64>,
    pub apr_diff_pct: f64,
}

/// [`FundingTrade`] of a direction with a round trip of `round_trip_bp`.
pub fn trade(
    long: &FundingSchedule,
    short: &FundingSchedule,
    round_trip_bp: f64,
    now_ms: u64,
    horizon_ms: u64,
) -> FundingTrade {
    let carry_bp = carry_bp(long, short, now_ms, horizon_ms);
    FundingTrade {
        carry_bp,
        net_carry_bp: carry_bp - round_trip_bp,
        break_even_h: break_even_hours(long, short, now_ms, round_trip_bp, 24 * 365),
        apr_diff_pct: apr_diff_pct(long, short),
    }
}

/// A settlement seen in a stream of funding messages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settlement {
    /// When it settled, Unix ms.
    pub time_ms: u64,
    /// The rate settled, fraction: the last rate announced for that settlement before it happened.
    pub rate: f64,
}

/// Finds settlements in one leg's funding messages: a settlement at `T` has happened when a message's
/// next funding time moves past `T`, and it settled at the last rate announced for `T` (venues fix the rate
/// at the settlement from the same premium, so this is the settled rate to within the last minute's change).
/// A leg seen only after its settlement, or whose message announcing `T` was never seen, yields nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SettlementWatch {
    pending: Option<Settlement>,
}

impl SettlementWatch {
    /// Feeds one message (`rate` announced for the settlement at `next_ms`); returns the settlement it
    /// shows to have happened, if any.
    pub fn observe(&mut self, rate: f64, next_ms: u64) -> Option<Settlement> {
        let settled = self.pending.filter(|pending| next_ms > pending.time_ms);
        if self.pending.is_none_or(|pending| next_ms >= pending.time_ms) {
            self.pending = Some(Settlement { time_ms: next_ms, rate });
        }
        settled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = MS_PER_HOUR;
    const NOW: u64 = 1_800_000_000_000;

    fn leg(rate_bp: f64, interval_hours: u32, next_in_ms: u64) -> FundingSchedule {
        FundingSchedule { rate: rate_bp / 10_000.0, interval_hours, next_ms: NOW + next_in_ms }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Binance every 4 h and OKX every 8 h at the same 1 bp per settlement: the naive "next settlement"
    /// difference is 0, but over 24 h the 4-hourly leg settles six times and the 8-hourly one three times.
    #[test]
    fn four_hourly_against_eight_hourly_at_the_same_rate() {
        let (binance, okx) = (leg(1.0, 4, H), leg(1.0, 8, H));
        assert!(close(binance.rate - okx.rate, 0.0), "the naive difference");
        // Short the 4-hourly leg (receives 6 × 1 bp), long the 8-hourly one (pays 3 × 1 bp).
        assert!(close(carry_bp(&okx, &binance, NOW, 24 * H), 3.0));
        assert!(close(carry_bp(&binance, &okx, NOW, 24 * H), -3.0));
        assert!(close(binance.bp_per_hour(), 0.25) && close(okx.bp_per_hour(), 0.125));
        // 0.25 bp/h × 8760 h = 2190 bp = 21.9 %; 10.95 % for the 8-hourly leg.
        assert!(close(binance.apr_pct(), 21.9) && close(okx.apr_pct(), 10.95));
        assert!(close(apr_diff_pct(&okx, &binance), 10.95));
    }

    /// A 1-hourly leg at 0.5 bp against an 8-hourly one at 2 bp, next settlements in 30 min and 6 h.
    #[test]
    fn hourly_against_eight_hourly() {
        let (hourly, eight) = (leg(0.5, 1, H / 2), leg(2.0, 8, 6 * H));
        // 24 h: the hourly leg settles at 0.5 h, 1.5 h, … 23.5 h (24 times); the 8-hourly at 6 h, 14 h, 22 h.
        assert_eq!(hourly.settlements(NOW, 24 * H).count(), 24);
        assert_eq!(eight.settlements(NOW, 24 * H).collect::<Vec<_>>(), [NOW + 6 * H, NOW + 14 * H, NOW + 22 * H]);
        // Short hourly, long 8-hourly: 24 × 0.5 − 3 × 2 = 6 bp.
        assert!(close(carry_bp(&eight, &hourly, NOW, 24 * H), 6.0));
        // Round trip of 5 bp: after 5.5 h the short has 6 × 0.5 = 3 bp; at 6 h the long pays 2 (and the
        // hourly nothing yet): 1 bp; 6.5 h: 1.5; … it first reaches 5 bp at 13.5 h (14 × 0.5 − 2 = 5).
        assert_eq!(break_even_hours(&eight, &hourly, NOW, 5.0, 72), Some(13.5));
        // The other way round never pays.
        assert_eq!(break_even_hours(&hourly, &eight, NOW, 5.0, 72), None);
    }

    /// A round trip pays both spreads and four taker fees; the trade nets the carry against it.
    #[test]
    fn a_trade_nets_the_carry_against_its_round_trip() {
        // Entry gross −1.5 bp, exit gross −2.5 bp, taker 5 + 4 bp: 4 + 18 = 22 bp.
        assert!(close(round_trip_bp(-1.5, -2.5, 9.0), 22.0));
        let (okx, binance) = (leg(1.0, 8, H), leg(1.0, 4, H));
        let t = trade(&okx, &binance, 2.0, NOW, 24 * H);
        assert!(close(t.carry_bp, 3.0) && close(t.net_carry_bp, 1.0) && close(t.apr_diff_pct, 10.95));
        // Short 4-hourly (1 bp at +1, +5, +9 …), long 8-hourly (−1 at +1, +9 …): +1 bp net per 8 h, 2 bp at +13 h.
        assert_eq!(t.break_even_h, Some(13.0));
    }

    /// The carry over a moving window changes only when a settlement leaves it or enters it.
    #[test]
    fn the_window_changes_when_a_settlement_leaves_or_enters() {
        let eight = leg(1.0, 8, 3 * H); // settles at +3 h, +11 h, +19 h, +27 h …
                                        // Over 24 h: +3 leaves at +3 h; +27 enters when now + 24 h reaches it, at +3 h too.
        assert_eq!(eight.window_changes_at(NOW, 24 * H), NOW + 3 * H);
        // Over 10 h: +3 leaves at +3 h, +11 enters at +1 h.
        assert_eq!(eight.window_changes_at(NOW, 10 * H), NOW + H);
    }

    /// Settlements exactly at the horizon count; one a millisecond later does not; a past next time rolls on.
    #[test]
    fn settlements_straddling_the_horizon() {
        let at_horizon = leg(1.0, 8, 8 * H);
        assert_eq!(at_horizon.settlements(NOW, 8 * H).count(), 1);
        assert_eq!(at_horizon.settlements(NOW, 8 * H - 1).count(), 0);
        let just_after = leg(1.0, 8, 8 * H + 1);
        assert!(close(carry_bp(&leg(0.0, 8, H), &just_after, NOW, 8 * H), 0.0));
        assert!(close(carry_bp(&leg(0.0, 8, H), &just_after, NOW, 16 * H), 1.0));
        // The next time was 1 h ago (the schedule was not refreshed yet): the settlements roll forward.
        let stale = FundingSchedule { rate: 0.0001, interval_hours: 4, next_ms: NOW - H };
        assert_eq!(stale.settlements(NOW, 8 * H).collect::<Vec<_>>(), [NOW + 3 * H, NOW + 7 * H]);
        // Both legs settling together count together for the break-even.
        assert_eq!(break_even_hours(&leg(1.0, 8, H), &leg(3.0, 8, H), NOW, 2.0, 24), Some(1.0));
        assert_eq!(break_even_hours(&leg(1.0, 8, H), &leg(3.0, 8, H), NOW, 0.0, 24), Some(0.0));
    }

    /// A settlement is the last rate announced before the next funding time moves on; repeated or older
    /// messages change nothing.
    #[test]
    fn settlements_are_seen_when_the_next_time_moves_on() {
        let mut watch = SettlementWatch::default();
        assert_eq!(watch.observe(0.0001, 8 * H), None);
        assert_eq!(watch.observe(0.0002, 8 * H), None, "the rate for 8 h is updated");
        assert_eq!(watch.observe(0.0003, 4 * H), None, "an older message is ignored");
        let settled = watch.observe(0.0005, 12 * H);
        assert_eq!(settled, Some(Settlement { time_ms: 8 * H, rate: 0.0002 }));
        assert_eq!(watch.observe(0.0005, 12 * H), None);
        // A skipped settlement (a gap in the messages) still shows the last one announced.
        assert_eq!(watch.observe(0.0001, 20 * H), Some(Settlement { time_ms: 12 * H, rate: 0.0005 }));
    }
}
