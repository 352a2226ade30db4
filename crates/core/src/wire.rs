//! Allocation-free decoding helpers shared by the venue parsers.
//!
//! Both venues send book levels as arrays of strings (`[["30236.1","0.5","0","3"], …]` on OKX,
//! `[["7.6110","297"], …]` on Binance). [`LevelsSeed`] decodes such an array straight into a reusable
//! vector of [`Dec64`] pairs, so a book message costs no allocation once the scratch vectors have grown.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, SeqAccess, Visitor};

use crate::num::Dec64;

/// A `(price, size)` level as decoded from the wire.
pub type RawLevel = (Dec64, Dec64);

/// Appends every `[price, size, …]` element of a JSON array to the vector (extra elements are ignored).
pub struct LevelsSeed<'s>(pub &'s mut Vec<RawLevel>);

impl<'de> DeserializeSeed<'de> for LevelsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LevelsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of [price, size] levels")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(level) = seq.next_element_seed(LevelSeed)? {
            self.0.push(level);
        }
        Ok(())
    }
}

struct LevelSeed;

impl<'de> DeserializeSeed<'de> for LevelSeed {
    type Value = RawLevel;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawLevel, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LevelSeed {
    type Value = RawLevel;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a [price, size] level of decimal strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawLevel, A::Error> {
        let price = seq.next_element_seed(DecSeed)?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let qty = seq.next_element_seed(DecSeed)?.ok_or_else(|| A::Error::invalid_length(1, &self))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((price, qty))
    }
}

/// Decodes one decimal string (borrowed, never copied) into a [`Dec64`].
pub struct DecSeed;

impl<'de> DeserializeSeed<'de> for DecSeed {
    type Value = Dec64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Dec64, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for DecSeed {
    type Value = Dec64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a decimal number as a string")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Dec64, E> {
        Dec64::parse(text).map_err(E::custom)
    }
}

/// `Deserialize` wrapper for a decimal string field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WireDec(pub Dec64);

impl<'de> serde::Deserialize<'de> for WireDec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DecSeed.deserialize(deserializer).map(WireDec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_levels_without_copying_strings() {
        let mut levels = Vec::new();
        let mut de = serde_json::Deserializer::from_str(r#"[["30236.1","0.5","0","3"],["30236","7"]]"#);
        LevelsSeed(&mut levels).deserialize(&mut de).unwrap();
        assert_eq!(levels, vec![(Dec64::new(302361, 1), Dec64::new(5, 1)), (Dec64::new(30236, 0), Dec64::new(7, 0))]);
        for bad in [r#"[["1"]]"#, r#"[[1, 2]]"#, r#"[["x","1"]]"#, r#"{"a":1}"#, r#"[["1","2"]"#] {
            let mut de = serde_json::Deserializer::from_str(bad);
            assert!(LevelsSeed(&mut Vec::new()).deserialize(&mut de).is_err(), "{bad}");
        }
    }
}
