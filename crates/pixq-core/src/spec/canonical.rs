//! The canonical JSON of a spec, and a stable fingerprint of any JSON body.
//!
//! [`JobSpec::to_value`] writes the body a user could have sent to get this spec: `action`
//! always present, unset fields left out, `extend` left out when empty, ids and durations as
//! numbers, prompts trimmed, URLs normalized, `metadata` as given. Reading it back gives the
//! same spec, so the store can keep it as the job's `params` and re-parse it later.
//!
//! [`fingerprint`] hashes [`canonical_json`], a compact text with every object's keys sorted by
//! bytes. The keys are sorted here, not left to `serde_json::Map`, whose order changes if any
//! crate in the build enables serde_json's `preserve_order`. Both walk the value with an
//! explicit stack, so no value is too deep for them.

use serde_json::{Map, Value};

use super::{Action, JobSpec};

impl JobSpec {
    /// The spec as a canonical `POST /v1/jobs` body; [`JobSpec::from_value`] reads it back to
    /// an equal spec.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("action".into(), self.action.as_str().into());
        m.insert("prompt".into(), self.prompt.as_str().into());
        let mut opt = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                m.insert(key.into(), value);
            }
        };
        opt("model", self.model.map(|v| v.as_str().into()));
        opt("style", self.style.map(|v| v.as_str().into()));
        opt("motion", self.motion.map(|v| v.as_str().into()));
        opt("quality", self.quality.map(|v| v.as_str().into()));
        opt("duration", self.duration.map(|v| v.seconds().into()));
        opt("aspect_ratio", self.aspect_ratio.map(|v| v.as_str().into()));
        opt("seed", self.seed.map(|v| v.get().into()));
        opt(
            "image_url",
            self.image_url.as_ref().map(|u| u.as_str().into()),
        );
        opt(
            "frame",
            self.frame
                .as_ref()
                .map(|[a, b]| Value::Array(vec![a.as_str().into(), b.as_str().into()])),
        );
        opt("template_id", self.template_id.map(|v| v.get().into()));
        opt("asset_id", self.asset_id.map(|v| v.get().into()));
        if let Action::Extend { video_id } = self.action {
            opt("video_id", Some(video_id.get().into()));
        }
        if !self.extend.is_empty() {
            let steps = self.extend.iter().map(step_value).collect();
            opt("extend", Some(Value::Array(steps)));
        }
        opt(
            "webhook_url",
            self.webhook_url.as_ref().map(|u| u.as_str().into()),
        );
        opt("metadata", self.metadata.clone());
        Value::Object(m)
    }

    /// [`fingerprint`] of [`to_value`](Self::to_value): equal for bodies that differ only in
    /// key order, spacing, a default `action`, prompt padding or URL spelling.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.to_value())
    }
}

fn step_value(step: &super::ExtendStep) -> Value {
    let mut m = Map::new();
    m.insert("prompt".into(), step.prompt.as_str().into());
    let mut opt = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            m.insert(key.into(), value);
        }
    };
    opt("model", step.model.map(|v| v.as_str().into()));
    opt("quality", step.quality.map(|v| v.as_str().into()));
    opt("duration", step.duration.map(|v| v.seconds().into()));
    opt("motion", step.motion.map(|v| v.as_str().into()));
    opt("style", step.style.map(|v| v.as_str().into()));
    opt("seed", step.seed.map(|v| v.get().into()));
    Value::Object(m)
}

/// `value` as compact JSON with every object's keys sorted by their bytes.
pub fn canonical_json(value: &Value) -> String {
    enum Next<'a> {
        Value(&'a Value),
        Key(&'a str),
        Text(&'static str),
    }
    let mut out = String::new();
    let mut stack = vec![Next::Value(value)];
    while let Some(next) = stack.pop() {
        match next {
            Next::Text(text) => out.push_str(text),
            Next::Key(key) => {
                out.push_str(&Value::from(key).to_string());
                out.push(':');
            }
            Next::Value(Value::Array(items)) => {
                out.push('[');
                stack.push(Next::Text("]"));
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push(Next::Value(item));
                    if i > 0 {
                        stack.push(Next::Text(","));
                    }
                }
            }
            Next::Value(Value::Object(map)) => {
                out.push('{');
                stack.push(Next::Text("}"));
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (i, (key, item)) in entries.into_iter().enumerate().rev() {
                    stack.push(Next::Value(item));
                    stack.push(Next::Key(key));
                    if i > 0 {
                        stack.push(Next::Text(","));
                    }
                }
            }
            // Scalars never nest, so their own serializer is safe.
            Next::Value(scalar) => out.push_str(&scalar.to_string()),
        }
    }
    out
}

/// A stable fingerprint of a JSON body, for comparing the bodies sent with one
/// `Idempotency-Key`: `fnv1a128:` and 32 hex digits of the FNV-1a 128-bit hash of
/// [`canonical_json`].
///
/// It is not a cryptographic hash: it tells apart bodies that differ, which is all the
/// comparison needs, but a user could craft two bodies with one fingerprint (and so only get
/// their own first job back). The prefix names the algorithm, so a later switch to SHA-256 can
/// tell old fingerprints from new ones.
pub fn fingerprint(value: &Value) -> String {
    format!(
        "fnv1a128:{:032x}",
        fnv1a_128(canonical_json(value).as_bytes())
    )
}

fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u128::from(b)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        assert_eq!(fnv1a_128(b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": [3, {"z": null, "a": "x\"y"}], "a": 1.5, "": true});
        assert_eq!(
            canonical_json(&v),
            r#"{"":true,"a":1.5,"b":[3,{"a":"x\"y","z":null}]}"#
        );
        assert_eq!(canonical_json(&json!([])), "[]");
        assert_eq!(canonical_json(&json!({})), "{}");
    }

    #[test]
    fn canonical_json_equals_serde_for_sorted_values() {
        let v = json!({"a": [1, 2, {"b": "é\n"}], "c": {"d": [], "e": -0.5}});
        assert_eq!(canonical_json(&v), v.to_string());
    }

    #[test]
    fn fingerprint_ignores_key_order_and_tells_values_apart() {
        let a: Value = serde_json::from_str(r#"{"prompt":"x","seed":1}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "seed": 1, "prompt": "x" }"#).unwrap();
        let c = json!({"prompt": "x", "seed": 2});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert!(fingerprint(&a).starts_with("fnv1a128:"));
        assert_eq!(fingerprint(&a).len(), "fnv1a128:".len() + 32);
    }

    #[test]
    fn canonical_json_handles_depth_beyond_the_recursion_limit() {
        let mut v = json!(0);
        for _ in 0..1000 {
            v = json!([v]);
        }
        let text = canonical_json(&v);
        assert_eq!(text.len(), 1000 * 2 + 1);
        // Take it apart without recursion, as dropping it would recurse.
        let mut stack = vec![v];
        while let Some(mut v) = stack.pop() {
            if let Value::Array(items) = &mut v {
                stack.append(items);
            }
        }
    }
}
