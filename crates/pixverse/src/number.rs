//! Lenient numbers: the upstream types the same field as a number in one place and as a
//! numeric string in another (its own web app types video ids as strings), and sometimes sends
//! `null` or `""`. These deserializers accept all of those, so one odd field never costs us a
//! whole result body.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// An integer given as a number, an integral float (`5.0`), or a numeric string; `null`
/// and `""` read as absent.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(IntVisitor)
}

/// A float given as a number or a numeric string; `null` and `""` read as absent.
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(FloatVisitor)
}

/// Like [`opt_i64`], for unsigned counts; a negative value is an error.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match opt_i64(d)? {
        None => Ok(None),
        Some(n) => u64::try_from(n)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected a count, got {n}"))),
    }
}

/// Parses an integer out of text the way [`opt_i64`] does.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let text = text.trim();
    text.parse::<i64>()
        .ok()
        .or_else(|| text.parse::<f64>().ok().and_then(integral))
}

fn integral(f: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

struct IntVisitor;

impl<'de> Visitor<'de> for IntVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, a numeric string, or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        integral(v)
            .map(Some)
            .ok_or_else(|| E::custom(format!("expected an integer, got {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.trim().is_empty() {
            return Ok(None);
        }
        parse_int(v)
            .map(Some)
            .ok_or_else(|| E::custom(format!("expected an integer, got {v:?}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

struct FloatVisitor;

impl<'de> Visitor<'de> for FloatVisitor {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a numeric string, or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| E::custom(format!("expected a number, got {v:?}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "super::opt_i64")]
        int: Option<i64>,
        #[serde(default, deserialize_with = "super::opt_f64")]
        float: Option<f64>,
        #[serde(default, deserialize_with = "super::opt_u64")]
        count: Option<u64>,
    }

    fn probe(v: serde_json::Value) -> Result<Probe, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn integers_accept_number_string_integral_float_and_null() {
        assert_eq!(probe(json!({"int": 5})).unwrap().int, Some(5));
        assert_eq!(
            probe(json!({"int": "317982208110208"})).unwrap().int,
            Some(317982208110208)
        );
        assert_eq!(probe(json!({"int": " 8 "})).unwrap().int, Some(8));
        assert_eq!(probe(json!({"int": 8.0})).unwrap().int, Some(8));
        assert_eq!(probe(json!({"int": null})).unwrap().int, None);
        assert_eq!(probe(json!({"int": ""})).unwrap().int, None);
        assert_eq!(probe(json!({})).unwrap().int, None);
    }

    #[test]
    fn integers_reject_fractions_words_and_overflow() {
        assert!(probe(json!({"int": 1.5})).is_err());
        assert!(probe(json!({"int": "five"})).is_err());
        assert!(probe(json!({"int": u64::MAX})).is_err());
        assert!(probe(json!({"int": true})).is_err());
    }

    #[test]
    fn floats_accept_number_string_and_null() {
        assert_eq!(
            probe(json!({"float": 1737095374.496})).unwrap().float,
            Some(1737095374.496)
        );
        assert_eq!(
            probe(json!({"float": "1737095374.5"})).unwrap().float,
            Some(1737095374.5)
        );
        assert_eq!(probe(json!({"float": 3})).unwrap().float, Some(3.0));
        assert_eq!(probe(json!({"float": null})).unwrap().float, None);
        assert!(probe(json!({"float": "soon"})).is_err());
    }

    #[test]
    fn counts_reject_negative_numbers() {
        assert_eq!(probe(json!({"count": "2"})).unwrap().count, Some(2));
        assert!(probe(json!({"count": -1})).is_err());
    }
}
