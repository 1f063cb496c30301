//! Bounds on `metadata`, the user's free JSON that pixq stores and returns as is.
//!
//! Any JSON value is accepted as long as it nests at most [`MAX_METADATA_DEPTH`] arrays and
//! objects deep (`{"a": [1]}` is 2 deep, a scalar 0) and its compact serialization is at most
//! [`MAX_METADATA_BYTES`] bytes. The depth is measured without recursion, so a value built in
//! code with any depth gets an error, never a stack overflow.

use serde_json::Value;

use super::error::{SpecError, SpecErrorCode};

/// The largest `metadata`, in bytes of compact JSON (16 KiB).
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// The deepest nesting of arrays and objects allowed in `metadata`.
pub const MAX_METADATA_DEPTH: usize = 32;

/// Checks `value` as the job's `metadata`.
pub(crate) fn check(value: &Value) -> Result<(), SpecError> {
    let depth = depth_up_to(value, MAX_METADATA_DEPTH + 1);
    if depth > MAX_METADATA_DEPTH {
        return Err(error(format!(
            "metadata nests arrays and objects more than {MAX_METADATA_DEPTH} levels deep: \
             flatten it"
        )));
    }
    // Safe to serialize: the depth is bounded.
    let len = value.to_string().len();
    if len > MAX_METADATA_BYTES {
        return Err(error(format!(
            "metadata is {len} bytes as JSON; at most {MAX_METADATA_BYTES} are allowed: keep \
             large data elsewhere and store a reference"
        )));
    }
    Ok(())
}

fn error(message: String) -> SpecError {
    SpecError::at("metadata".into(), SpecErrorCode::InvalidValue, message)
}

/// The nesting depth of `value`, or `limit` as soon as it is reached.
fn depth_up_to(value: &Value, limit: usize) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0_usize)];
    while let Some((value, above)) = stack.pop() {
        let depth = above + 1;
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|child| (child, depth))),
            Value::Object(map) => stack.extend(map.values().map(|child| (child, depth))),
            _ => continue,
        }
        deepest = deepest.max(depth);
        if deepest >= limit {
            return deepest;
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(depth: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..depth {
            v = json!([v]);
        }
        v
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth_up_to(&json!(1), 100), 0);
        assert_eq!(depth_up_to(&json!({"a": [1], "b": {}}), 100), 2);
        assert_eq!(depth_up_to(&nested(10), 100), 10);
        assert_eq!(depth_up_to(&nested(10), 4), 4);
    }

    #[test]
    fn depth_limit_is_inclusive() {
        assert!(check(&nested(MAX_METADATA_DEPTH)).is_ok());
        let e = check(&nested(MAX_METADATA_DEPTH + 1)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("metadata"));
        assert_eq!(e.code, SpecErrorCode::InvalidValue);
    }

    #[test]
    fn size_limit_is_inclusive() {
        // `"` + text + `"`
        let fits = Value::String("x".repeat(MAX_METADATA_BYTES - 2));
        assert!(check(&fits).is_ok());
        let over = Value::String("x".repeat(MAX_METADATA_BYTES - 1));
        assert_eq!(check(&over).unwrap_err().code, SpecErrorCode::InvalidValue);
    }

    #[test]
    fn any_json_type_is_fine() {
        for v in [
            json!(null),
            json!(true),
            json!(3.5),
            json!("s"),
            json!([]),
            json!({}),
        ] {
            assert!(check(&v).is_ok(), "{v}");
        }
    }
}
