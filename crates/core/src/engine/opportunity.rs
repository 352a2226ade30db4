//! What the engine reports: quotes of each (direction, size), opportunities from open to close with their
//! figures and confidence, and why an evaluation was suppressed or an opportunity closed.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::instrument::Venue;
use crate::spread::{Direction, SizeTarget};

/// Why an evaluation was not allowed to produce a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    NotLive,
    Stale,
    Crossed,
    Latency,
}

impl Suppression {
    /// All reasons, for reporting.
    pub const ALL: [Suppression; 4] =
        [Suppression::NotLive, Suppression::Stale, Suppression::Crossed, Suppression::Latency];

    /// Snake-case label.
    pub fn label(self) -> &'static str {
        match self {
            Suppression::NotLive => "not_live",
            Suppression::Stale => "stale",
            Suppression::Crossed => "crossed",
            Suppression::Latency => "latency",
        }
    }
}

/// Latest evaluation of one (direction, size).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub direction: Direction,
    pub size_index: usize,
    pub size_base: Decimal,
    pub size_quote: f64,
    pub buy_vwap: f64,
    pub sell_vwap: f64,
    pub gross_bp: f64,
    pub fees_bp: f64,
    /// Net after fees (plus funding carry when `include_funding`).
    pub net_bp: f64,
    /// Largest size (base units, quote cost) with net ≥ the open threshold.
    pub max_size_base: Decimal,
    pub max_size_quote: f64,
}

/// Why an opportunity ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// Net fell below the close threshold.
    BelowThreshold,
    /// The size could no longer be filled.
    NotExecutable,
    /// A guard failed (book not live, stale, crossed, slow).
    Guard(Suppression),
    /// perpspread is stopping.
    Shutdown,
}

impl CloseReason {
    /// Every reason, in the order of [`CloseReason::index`].
    pub const ALL: [CloseReason; 7] = [
        CloseReason::BelowThreshold,
        CloseReason::NotExecutable,
        CloseReason::Guard(Suppression::NotLive),
        CloseReason::Guard(Suppression::Stale),
        CloseReason::Guard(Suppression::Crossed),
        CloseReason::Guard(Suppression::Latency),
        CloseReason::Shutdown,
    ];

    /// The one spelling of the reason in every output (JSON, files, metrics, dashboard): `below_threshold`,
    /// `not_executable`, `guard_not_live`, `guard_stale`, `guard_crossed`, `guard_latency`, `shutdown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CloseReason::BelowThreshold => "below_threshold",
            CloseReason::NotExecutable => "not_executable",
            CloseReason::Guard(Suppression::NotLive) => "guard_not_live",
            CloseReason::Guard(Suppression::Stale) => "guard_stale",
            CloseReason::Guard(Suppression::Crossed) => "guard_crossed",
            CloseReason::Guard(Suppression::Latency) => "guard_latency",
            CloseReason::Shutdown => "shutdown",
        }
    }

    /// Position in [`CloseReason::ALL`].
    pub const fn index(self) -> usize {
        match self {
            CloseReason::BelowThreshold => 0,
            CloseReason::NotExecutable => 1,
            CloseReason::Guard(Suppression::NotLive) => 2,
            CloseReason::Guard(Suppression::Stale) => 3,
            CloseReason::Guard(Suppression::Crossed) => 4,
            CloseReason::Guard(Suppression::Latency) => 5,
            CloseReason::Shutdown => 6,
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CloseReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An opportunity's lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Updated,
    Closed,
}

/// One tracked opportunity. Computed figures are serialized to 12 significant digits (see
/// [`crate::num::shown_f64`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Opportunity {
    pub id: u64,
    pub pair: String,
    pub direction: Direction,
    pub buy_venue: Venue,
    pub sell_venue: Venue,
    pub buy_symbol: String,
    pub sell_symbol: String,
    pub size_target: SizeTarget,
    /// Local receive time of the update that opened it, Unix ns.
    pub opened_ns: u64,
    /// Receive time of the latest update, Unix ns.
    pub last_ns: u64,
    pub closed_ns: Option<u64>,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub duration_ms: f64,
    /// Latest figures.
    pub size_base: Decimal,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub size_quote: f64,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub buy_vwap: f64,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub sell_vwap: f64,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub gross_bp: f64,
    pub fees_bp: f64,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub net_bp: f64,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub peak_net_bp: f64,
    /// Time-weighted mean of net bp over the opportunity's life.
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub mean_net_bp: f64,
    /// Largest executable size at the open threshold seen, base units and quote.
    pub max_size_base: Decimal,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub max_size_quote: f64,
    pub updates: u64,
    /// Exchange→receive latency of each leg's last message when it opened, ms.
    #[serde(serialize_with = "crate::num::serialize_shown_opt")]
    pub open_latency_buy_ms: Option<f64>,
    #[serde(serialize_with = "crate::num::serialize_shown_opt")]
    pub open_latency_sell_ms: Option<f64>,
    /// Funding received at the next funding by holding the pair (short rate − long rate), bp.
    #[serde(serialize_with = "crate::num::serialize_shown_opt")]
    pub funding_carry_bp: Option<f64>,
    #[serde(serialize_with = "crate::num::serialize_shown")]
    pub confidence: f64,
    pub close_reason: Option<CloseReason>,
    #[serde(skip)]
    pub(super) weighted_sum: f64,
    #[serde(skip)]
    pub(super) last_emit_ns: u64,
}

impl Opportunity {
    /// The pair's quote currency (`USDT` of `BTC/USDT`): the unit of its notionals.
    pub fn quote_currency(&self) -> &str {
        self.pair.rsplit_once('/').map_or("quote", |(_, quote)| quote)
    }
}

/// An event for sinks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpportunityEvent {
    pub event: EventKind,
    #[serde(flatten)]
    pub opportunity: Opportunity,
}

/// Copies a quote's figures into an open opportunity.
pub(super) fn apply_quote(opportunity: &mut Opportunity, q: &Quote, carry: Option<f64>) {
    opportunity.size_base = q.size_base;
    opportunity.size_quote = q.size_quote;
    opportunity.buy_vwap = q.buy_vwap;
    opportunity.sell_vwap = q.sell_vwap;
    opportunity.gross_bp = q.gross_bp;
    opportunity.net_bp = q.net_bp;
    opportunity.peak_net_bp = opportunity.peak_net_bp.max(q.net_bp);
    if q.max_size_base > opportunity.max_size_base {
        opportunity.max_size_base = q.max_size_base;
        opportunity.max_size_quote = q.max_size_quote;
    }
    opportunity.funding_carry_bp = carry;
}

/// Integrates net bp over the time since the last update and refreshes duration and mean.
pub(super) fn advance(opportunity: &mut Opportunity, now_ns: u64) {
    let dt = now_ns.saturating_sub(opportunity.last_ns) as f64;
    opportunity.weighted_sum += opportunity.net_bp * dt;
    opportunity.last_ns = now_ns.max(opportunity.last_ns);
    let life = opportunity.last_ns.saturating_sub(opportunity.opened_ns) as f64;
    opportunity.duration_ms = life / 1e6;
    opportunity.mean_net_bp = if life > 0.0 { opportunity.weighted_sum / life } else { opportunity.net_bp };
}

/// Confidence in `[0, 1]`: the mean of four factors, each in `[0, 1]`:
/// * freshness — `1 − age / max_age` of the older book (`age_ns` since its last update);
/// * latency — `1 − latency / max_latency` of the slower leg (1 when unknown);
/// * depth — `max_size_at_threshold / evaluated size` (capped at 1): how much of the size is covered;
/// * duration — `duration / 1 s` (capped at 1): fleeting gaps are more often noise.
pub fn confidence(
    opportunity: &Opportunity,
    latency: [Option<f64>; 2],
    age_ns: u64,
    max_age_ns: u64,
    max_latency_ms: f64,
) -> f64 {
    let clamp = |x: f64| {
        if x.is_finite() {
            x.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    let fresh = clamp(1.0 - age_ns as f64 / max_age_ns.max(1) as f64);
    let worst = latency.iter().flatten().fold(0.0f64, |a, b| a.max(*b));
    let slow = clamp(1.0 - worst / max_latency_ms.max(1e-9));
    let size = opportunity.size_base.to_f64().unwrap_or(0.0);
    let depth = if size > 0.0 { clamp(opportunity.max_size_base.to_f64().unwrap_or(0.0) / size) } else { 0.0 };
    let lasting = clamp(opportunity.duration_ms / 1000.0);
    (fresh + slow + depth + lasting) / 4.0
}
