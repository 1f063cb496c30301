//! [`Seed`]: a fixed seed that reproduces a result, in the upstream's range 0..=2147483647.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A generation seed in `0..=`[`Seed::MAX`] (the upstream's `int32` range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seed(u32);

impl Seed {
    /// The largest seed the upstream takes, 2147483647.
    pub const MAX: u32 = i32::MAX as u32;

    /// The seed `value`, or `None` when it is above [`Seed::MAX`].
    pub fn new(value: u32) -> Option<Seed> {
        (value <= Seed::MAX).then_some(Seed(value))
    }

    /// The seed as the upstream request takes it.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Seed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = u32::deserialize(d)?;
        Seed::new(value).ok_or_else(|| {
            de::Error::custom(format!(
                "seed {value} is too large: it must be between 0 and {}",
                Seed::MAX
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_zero_to_i32_max() {
        assert_eq!(Seed::new(0).map(Seed::get), Some(0));
        assert_eq!(Seed::new(2_147_483_647).map(Seed::get), Some(2_147_483_647));
        assert_eq!(Seed::new(2_147_483_648), None);
        assert!(serde_json::from_str::<Seed>("2147483648").is_err());
        assert!(serde_json::from_str::<Seed>("-1").is_err());
    }
}
