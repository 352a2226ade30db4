//! Scaling past one machine: a stable partition of the pair universe into `n` shards.
//!
//! `perpspread monitor --shard i/n` watches only the pairs whose stable hash falls in shard `i` of `n`
//! (shards are numbered from 1, like `--shard 1/3 … 3/3`). The hash is 64-bit FNV-1a of the pair key
//! `BASE/QUOTE` (upper case, as [`perpspread_core::PairKey`] displays it) — fixed forever and identical on
//! every machine and build, unlike std's randomized hasher — so `n` processes with `1/n … n/n` cover every
//! pair exactly once.

use std::fmt;
use std::str::FromStr;

/// Why a `--shard` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("invalid shard {0:?}: expected i/n, e.g. 1/3 (shard 1 of 3)")]
    Syntax(String),
    #[error("invalid shard {0:?}: the shard count n must be at least 1")]
    ZeroCount(String),
    #[error("invalid shard {0:?}: shards are numbered from 1 to n (e.g. 1/3, 2/3, 3/3)")]
    OutOfRange(String),
}

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Shard {
    /// 1 ..= count.
    pub index: u32,
    /// Number of shards, ≥ 1.
    pub count: u32,
}

impl Shard {
    /// The whole universe in one shard.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Whether this shard owns the pair `pair_key` (`BASE/QUOTE`).
    pub fn contains(&self, pair_key: &str) -> bool {
        in_shard(pair_key, self.index, self.count)
    }

    /// Keeps the items whose pair key this shard owns (e.g. `shard.filter(pairs, |p| p.key.to_string())`).
    pub fn filter<T, K: AsRef<str>>(&self, items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
        items.into_iter().filter(|item| self.contains(key(item).as_ref())).collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_shard(text)
    }
}

/// Parses `i/n` (1-based: `1/3`, `2/3`, `3/3`).
pub fn parse_shard(text: &str) -> Result<Shard, ShardError> {
    let syntax = || ShardError::Syntax(text.to_owned());
    let (index, count) = text.trim().split_once('/').ok_or_else(syntax)?;
    let index: u32 = index.trim().parse().map_err(|_| syntax())?;
    let count: u32 = count.trim().parse().map_err(|_| syntax())?;
    if count == 0 {
        return Err(ShardError::ZeroCount(text.to_owned()));
    }
    if index == 0 || index > count {
        return Err(ShardError::OutOfRange(text.to_owned()));
    }
    Ok(Shard { index, count })
}

/// 64-bit FNV-1a.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The shard (1 ..= `count`) a pair key belongs to; `count` 0 is treated as 1.
pub fn shard_of(pair_key: &str, count: u32) -> u32 {
    let count = count.max(1);
    (fnv1a64(pair_key.as_bytes()) % u64::from(count)) as u32 + 1
}

/// Whether `pair_key` (`BASE/QUOTE`) is in shard `i` (1-based) of `n`. Always false for an invalid shard
/// (`i` = 0, `i` > `n`), true for everything when `n` = 1.
pub fn in_shard(pair_key: &str, i: u32, n: u32) -> bool {
    n >= 1 && i >= 1 && i <= n && shard_of(pair_key, n) == i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(parse_shard("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(parse_shard(" 1 / 1 "), Ok(Shard::ALL));
        assert_eq!("3/3".parse::<Shard>().map(|s| s.to_string()), Ok("3/3".to_owned()));
        assert!(matches!(parse_shard("0/3"), Err(ShardError::OutOfRange(_))));
        assert!(matches!(parse_shard("4/3"), Err(ShardError::OutOfRange(_))));
        assert!(matches!(parse_shard("1/0"), Err(ShardError::ZeroCount(_))));
        for bad in ["", "1", "a/b", "1/2/3", "-1/2", "1/"] {
            assert!(matches!(parse_shard(bad), Err(ShardError::Syntax(_))), "{bad}");
        }
        assert!(parse_shard("0/3").unwrap_err().to_string().contains("numbered from 1"));
    }

    #[test]
    fn hash_is_stable() {
        // Fixed values: changing the hash would silently move pairs between machines.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"BTC/USDT"), 0x39d6_8621_8c28_e341);
        assert_eq!(shard_of("BTC/USDT", 3), 2);
        assert!(in_shard("BTC/USDT", 1, 1));
        assert!(!in_shard("BTC/USDT", 0, 1));
        assert!(!in_shard("BTC/USDT", 2, 1));
    }
}
