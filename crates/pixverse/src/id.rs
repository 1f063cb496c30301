//! Integer ids that the upstream sometimes spells as strings.
//!
//! PixVerse ids are int64 values around 3.2e14. The API documents them as numbers, but Ace Data
//! Cloud's own web app types them as strings, so each id reads from either and always writes
//! back as a number, which is what `/pixverse/videos` documents for `video_id`, `template_id`
//! and `asset_id`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::number;

/// The text was not an integer id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {what}: expected an integer such as 317982208110208")]
pub struct ParseIdError {
    what: &'static str,
    value: String,
}

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl $name {
            /// The raw integer, as the upstream expects it in a request.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                number::parse_int(s).map(Self).ok_or_else(|| ParseIdError {
                    what: $what,
                    value: s.to_owned(),
                })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                number::opt_i64(d)?
                    .map(Self)
                    .ok_or_else(|| de::Error::custom(concat!("missing ", $what)))
            }
        }
    };
}

int_id!(
    /// A PixVerse video id: `data[].id` of a result, and the `video_id` an extend continues.
    VideoId,
    "video id"
);

int_id!(
    /// A character id from `/pixverse/character`, passed as `asset_id` to a generation.
    AssetId,
    "asset id"
);

int_id!(
    /// An effect template id (see the catalog in `templates.json`); `0` in a result means none.
    TemplateId,
    "template id"
);

/// Deserializes an optional id where `null`, `""` and a missing field all mean "none".
pub(crate) fn opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<i64>,
{
    Ok(number::opt_i64(d)?.map(T::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_id_reads_number_and_string_and_writes_number() {
        let a: VideoId = serde_json::from_str("317982208110208").unwrap();
        let b: VideoId = serde_json::from_str("\"317982208110208\"").unwrap();
        assert_eq!(a, b);
        assert_eq!(serde_json::to_string(&b).unwrap(), "317982208110208");
    }

    #[test]
    fn video_id_rejects_null_and_words() {
        assert!(serde_json::from_str::<VideoId>("null").is_err());
        assert!(serde_json::from_str::<VideoId>("\"abc\"").is_err());
    }

    #[test]
    fn parse_error_names_the_value_and_the_kind_of_id() {
        let err = "v-12".parse::<AssetId>().unwrap_err().to_string();
        assert!(
            err.contains("\"v-12\"") && err.contains("asset id"),
            "{err}"
        );
        assert_eq!(
            "302325299651648".parse::<TemplateId>().unwrap().get(),
            302325299651648
        );
    }
}
