//! The venues perpspread speaks to, enumerated in one place, and maps indexed by venue.
//!
//! Adding a venue is one variant here (with its name) plus its adapter crate; everything else iterates
//! [`Venue::ALL`] or indexes a [`VenueMap`].

use std::fmt;
use std::ops::{Index, IndexMut};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A trading venue perpspread speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Venue {
    Okx,
    Binance,
    Bybit,
}

impl Venue {
    /// Every supported venue, in display order (the order of [`Venue::index`]).
    pub const ALL: [Venue; 3] = [Venue::Okx, Venue::Binance, Venue::Bybit];
    /// Number of venues.
    pub const COUNT: usize = Venue::ALL.len();

    /// Lower-case name used in output, config and capture files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Venue::Okx => "okx",
            Venue::Binance => "binance",
            Venue::Bybit => "bybit",
        }
    }

    /// Position in [`Venue::ALL`]: `0..Venue::COUNT`.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Every venue's name, comma-separated (for messages).
    pub fn names() -> String {
        Venue::ALL.map(Venue::as_str).join(", ")
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Venue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // No allocation: replay parses the venue of every record.
        let wanted = s.trim();
        Venue::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| format!("unknown venue {s:?} (expected one of {})", Venue::names()))
    }
}

/// One `T` per venue, indexed by [`Venue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VenueMap<T>([T; Venue::COUNT]);

impl<T> VenueMap<T> {
    /// A map with `f(venue)` for every venue.
    pub fn from_fn(mut f: impl FnMut(Venue) -> T) -> Self {
        VenueMap(std::array::from_fn(|i| f(Venue::ALL[i])))
    }

    /// `(venue, value)` in [`Venue::ALL`] order (the map also derefs to the slice of values).
    pub fn entries(&self) -> impl Iterator<Item = (Venue, &T)> {
        Venue::ALL.into_iter().zip(self.0.iter())
    }

    /// The values in [`Venue::ALL`] order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    /// A map of `f(value)`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> VenueMap<U> {
        VenueMap(self.0.map(f))
    }
}

impl<T> std::ops::Deref for VenueMap<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> std::ops::DerefMut for VenueMap<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T> Index<Venue> for VenueMap<T> {
    type Output = T;
    fn index(&self, venue: Venue) -> &T {
        &self.0[venue.index()]
    }
}

impl<T> IndexMut<Venue> for VenueMap<T> {
    fn index_mut(&mut self, venue: Venue) -> &mut T {
        &mut self.0[venue.index()]
    }
}

/// Which venue buys and which sells; shown and serialized as `buy_<venue>_sell_<venue>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Direction {
    pub buy: Venue,
    pub sell: Venue,
}

impl Direction {
    /// Buy on `buy`, sell on `sell`.
    pub const fn new(buy: Venue, sell: Venue) -> Self {
        Direction { buy, sell }
    }

    /// `buy_okx_sell_binance`: the label in every output (built once per venue pair, never per message).
    pub fn as_str(&self) -> &'static str {
        static LABELS: OnceLock<Vec<&'static str>> = OnceLock::new();
        let labels = LABELS.get_or_init(|| {
            let label = |i: usize| -> &'static str {
                let (buy, sell) = (Venue::ALL[i / Venue::COUNT], Venue::ALL[i % Venue::COUNT]);
                Box::leak(format!("buy_{buy}_sell_{sell}").into_boxed_str())
            };
            (0..Venue::COUNT * Venue::COUNT).map(label).collect()
        });
        labels[self.index()]
    }

    /// `buy_okx_sell_binance` style label (same as [`Direction::as_str`]).
    pub fn label(&self) -> String {
        self.as_str().to_owned()
    }

    /// Number of [`Direction::index`] values (every ordered pair of venues, same-venue ones included).
    pub const INDEXES: usize = Venue::COUNT * Venue::COUNT;

    /// A dense index, `0..Direction::INDEXES`, for tables of per-direction series.
    pub const fn index(&self) -> usize {
        self.buy.index() * Venue::COUNT + self.sell.index()
    }

    /// Every cross-venue direction (buy and sell on different venues).
    pub fn all() -> impl Iterator<Item = Direction> {
        Venue::ALL.into_iter().flat_map(|buy| {
            Venue::ALL.into_iter().filter(move |sell| *sell != buy).map(move |sell| Direction { buy, sell })
        })
    }

    /// The same legs the other way round.
    pub const fn reversed(&self) -> Direction {
        Direction { buy: self.sell, sell: self.buy }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s.strip_prefix("buy_").and_then(|rest| rest.split_once("_sell_"));
        let (buy, sell) = parsed.ok_or_else(|| format!("{s:?} is not a direction (buy_<venue>_sell_<venue>)"))?;
        Ok(Direction { buy: buy.parse()?, sell: sell.parse()? })
    }
}

impl Serialize for Direction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Direction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venues_are_indexed_in_display_order() {
        for (i, venue) in Venue::ALL.into_iter().enumerate() {
            assert_eq!(venue.index(), i);
            assert_eq!(venue.as_str().parse::<Venue>(), Ok(venue));
        }
        assert!("kraken".parse::<Venue>().unwrap_err().contains("okx"));
        let mut map = VenueMap::from_fn(|v| v.as_str().len());
        map[Venue::Binance] += 1;
        assert_eq!(map[Venue::Okx], 3);
        assert_eq!(map[Venue::Binance], 8);
        assert_eq!(map.entries().count(), Venue::COUNT);
        assert_eq!(map.iter().sum::<usize>(), Venue::ALL.map(|v| v.as_str().len()).iter().sum::<usize>() + 1);
    }

    #[test]
    fn directions_round_trip_through_their_labels() {
        for buy in Venue::ALL {
            for sell in Venue::ALL.into_iter().filter(|s| *s != buy) {
                let direction = Direction::new(buy, sell);
                assert_eq!(direction.as_str(), format!("buy_{buy}_sell_{sell}"));
                assert_eq!(direction.as_str().parse::<Direction>(), Ok(direction));
                assert_eq!(serde_json::to_string(&direction).unwrap(), format!("\"{direction}\""));
                assert_eq!(direction.reversed().reversed(), direction);
            }
        }
        assert_eq!(Direction::all().count(), Venue::COUNT * (Venue::COUNT - 1));
        let indexes: std::collections::HashSet<usize> = Direction::all().map(|d| d.index()).collect();
        assert!(indexes.len() == Direction::all().count() && indexes.iter().all(|i| *i < Direction::INDEXES));
        assert!("buy_okx".parse::<Direction>().is_err());
        assert!("buy_okx_sell_nowhere".parse::<Direction>().is_err());
    }
}
