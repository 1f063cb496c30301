//! The closed sets of values `/pixverse/videos` accepts, as enums, so a request with a value the
//! upstream would reject with `bad_request` cannot be built.
//!
//! Each enum spells its values exactly as the API does (`as_str`, `Display`, serde) and parses
//! them back with `FromStr`, whose error names the rejected value and the accepted ones.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A parameter value outside the set the upstream accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {param} {value:?}: expected one of {}", .expected.join(", "))]
pub struct ParseParamError {
    param: &'static str,
    value: String,
    expected: &'static [&'static str],
}

impl ParseParamError {
    /// The rejected text, so a config loader can point at it.
    pub fn value(&self) -> &str {
        &self.value
    }
}

macro_rules! string_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $param:literal {
            $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in the upstream's documented order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as the upstream spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseParamError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseParamError {
                        param: $param,
                        value: s.to_owned(),
                        expected: &[$($text,)+],
                    }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(de::Error::custom)
            }
        }
    };
}

string_enum!(
    /// The PixVerse model; the upstream default is `v3.5`.
    Model, "model" {
        /// `v3.5`, the upstream default (its 360p is "Turbo").
        V3_5 => "v3.5",
        /// `v4`.
        V4 => "v4",
        /// `v4.5`.
        V4_5 => "v4.5",
    }
);

string_enum!(
    /// A visual style; without one the upstream applies none.
    Style, "style" {
        /// `cyberpunk`.
        Cyberpunk => "cyberpunk",
        /// `anime`.
        Anime => "anime",
        /// `comic`.
        Comic => "comic",
        /// `clay`.
        Clay => "clay",
        /// `3d_animation`.
        ThreeDAnimation => "3d_animation",
        /// `realistic`.
        Realistic => "realistic",
    }
);

string_enum!(
    /// The motion mode; the upstream default is `normal`. PixVerse allows `fast` only with
    /// 5-second videos below 1080p (inferred, not checked here).
    Motion, "motion" {
        /// `normal`.
        Normal => "normal",
        /// `fast` ("performance mode").
        Fast => "fast",
    }
);

string_enum!(
    /// The output resolution; the upstream default is `540p`. Some templates support only
    /// `360p` and `540p`.
    Quality, "quality" {
        /// `360p`.
        P360 => "360p",
        /// `540p`, the upstream default.
        P540 => "540p",
        /// `720p`.
        P720 => "720p",
        /// `1080p`: PixVerse allows neither 8 s nor `fast` with it (inferred).
        P1080 => "1080p",
    }
);

string_enum!(
    /// The frame shape; the upstream default is `16:9`.
    AspectRatio, "aspect ratio" {
        /// `16:9`, the upstream default.
        Landscape16x9 => "16:9",
        /// `4:3`.
        Landscape4x3 => "4:3",
        /// `1:1`.
        Square => "1:1",
        /// `3:4`.
        Portrait3x4 => "3:4",
        /// `9:16`.
        Portrait9x16 => "9:16",
    }
);

/// The video length. The API takes it as an integer number of seconds (`5` or `8`), so that is
/// how it serializes; `FromStr` takes `"5"` or `"8"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VideoDuration {
    /// 5 seconds, the upstream default.
    Five,
    /// 8 seconds.
    Eight,
}

impl VideoDuration {
    /// Every value, shortest first.
    pub const ALL: &'static [VideoDuration] = &[VideoDuration::Five, VideoDuration::Eight];

    /// The length in seconds, as sent on the wire.
    pub fn seconds(self) -> u32 {
        match self {
            VideoDuration::Five => 5,
            VideoDuration::Eight => 8,
        }
    }

    /// The length as text, for command lines and config files.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoDuration::Five => "5",
            VideoDuration::Eight => "8",
        }
    }

    /// The duration for a number of seconds, if the upstream offers it.
    pub fn from_seconds(seconds: i64) -> Option<Self> {
        match seconds {
            5 => Some(VideoDuration::Five),
            8 => Some(VideoDuration::Eight),
            _ => None,
        }
    }
}

impl fmt::Display for VideoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VideoDuration {
    type Err = ParseParamError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<i64>()
            .ok()
            .and_then(VideoDuration::from_seconds)
            .ok_or_else(|| ParseParamError {
                param: "duration",
                value: s.to_owned(),
                expected: &["5", "8"],
            })
    }
}

impl Serialize for VideoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.seconds())
    }
}

impl<'de> Deserialize<'de> for VideoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let seconds = crate::number::opt_i64(d)?
            .ok_or_else(|| de::Error::custom("missing duration: expected 5 or 8"))?;
        VideoDuration::from_seconds(seconds).ok_or_else(|| {
            de::Error::custom(format!("unknown duration {seconds}: expected 5 or 8"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_text_and_json() {
        fn check<T>(all: &[T])
        where
            T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr + Serialize,
            T: for<'de> Deserialize<'de>,
            <T as FromStr>::Err: fmt::Debug,
        {
            for v in all {
                assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
                let json = serde_json::to_string(v).unwrap();
                assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *v);
            }
        }
        check(Model::ALL);
        check(Style::ALL);
        check(Motion::ALL);
        check(Quality::ALL);
        check(AspectRatio::ALL);
        check(VideoDuration::ALL);
    }

    #[test]
    fn values_are_spelled_as_the_upstream_documents() {
        assert_eq!(Model::V3_5.as_str(), "v3.5");
        assert_eq!(Model::V4_5.as_str(), "v4.5");
        assert_eq!(Style::ThreeDAnimation.as_str(), "3d_animation");
        assert_eq!(Quality::P1080.as_str(), "1080p");
        assert_eq!(AspectRatio::Portrait9x16.as_str(), "9:16");
        assert_eq!(Motion::Fast.as_str(), "fast");
    }

    #[test]
    fn duration_serializes_as_an_integer() {
        assert_eq!(serde_json::to_string(&VideoDuration::Eight).unwrap(), "8");
        assert_eq!(
            serde_json::from_str::<VideoDuration>("5").unwrap(),
            VideoDuration::Five
        );
        assert!(serde_json::from_str::<VideoDuration>("6").is_err());
    }

    #[test]
    fn parse_error_names_the_rejected_value_and_the_choices() {
        let err = "v9".parse::<Model>().unwrap_err();
        assert_eq!(err.value(), "v9");
        let text = err.to_string();
        assert!(text.contains("\"v9\"") && text.contains("v4.5"), "{text}");
        let text = "10".parse::<VideoDuration>().unwrap_err().to_string();
        assert!(text.contains("\"10\"") && text.contains('8'), "{text}");
    }
}
