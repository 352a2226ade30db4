//! perpspread-core: the pure heart of perpspread.
//!
//! Everything here is deterministic and free of I/O: fixed-point numbers parsed straight from exchange
//! strings ([`num`]), venues and instruments ([`instrument`]), the cross-venue pairing rules
//! ([`universe`]), the L2 order book ([`book`]), fees ([`fees`]) and the executable-spread engine
//! ([`spread`]). Venue adapters turn wire messages into these types; sinks and the CLI consume them.

pub mod book;
pub mod engine;
pub mod feed;
pub mod fees;
pub mod funding;
pub mod health;
pub mod instrument;
pub mod num;
pub mod spread;
#[cfg(any(test, feature = "test-util"))]
pub mod testkit;
pub mod time;
pub mod universe;
pub mod venue;
pub mod wire;

pub use book::{BookError, Level, OrderBook, Side};
pub use feed::{BookState, Feed, FeedEvent, Frame, RecvTime, TrackedBook};
pub use fees::FeeModel;
pub use instrument::{ContractKind, Instrument, PairKey};
pub use num::{Dec64, NumError};
pub use universe::{legs_on, Pair, Skipped, Universe};
pub use venue::{Direction, Venue, VenueMap};
