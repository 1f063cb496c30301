//! [`Doorbell`]: the queue message. It carries a job id and nothing the store does not already
//! know, so an old or new pixq can read it and a duplicate costs one store read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::job::JobId;

/// The payload of every queue message: "look at this job".
///
/// Queues carry it as a plain JSON value and decode it in pixq's own code: a payload of an
/// unknown shape then becomes a [`PayloadError`] that is set aside, instead of a decode error
/// inside apalis that would stop the worker (APALIS-NOTES, item 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doorbell {
    /// The job to look at.
    pub job_id: JobId,
    /// The payload's format version; 1 today. Readers ignore fields they do not know.
    #[serde(default = "Doorbell::version")]
    pub v: u32,
}

/// Why a queue message is not a [`Doorbell`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The message is not an object with a `job_id` string.
    #[error("queue payload is not a doorbell ({0}); expected {{\"job_id\": \"job_…\"}}")]
    Shape(String),
    /// The `job_id` is empty or too long to be one of pixq's ids.
    #[error("queue payload names no usable job id: {0:?}")]
    JobId(String),
}

/// Longest job id a doorbell may carry; pixq's ids are about 40 bytes.
const MAX_JOB_ID_LEN: usize = 200;

impl Doorbell {
    /// The doorbell for `job_id`.
    pub fn new(job_id: JobId) -> Self {
        Doorbell {
            job_id,
            v: Self::version(),
        }
    }

    fn version() -> u32 {
        1
    }

    /// Reads a doorbell out of whatever JSON the queue delivered.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when the value is not an object with a usable `job_id`.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let bell: Doorbell = serde_json::from_value(value.clone())
            .map_err(|e| PayloadError::Shape(e.to_string()))?;
        let id = bell.job_id.as_str();
        if id.is_empty() || id.len() > MAX_JOB_ID_LEN || id.chars().any(char::is_whitespace) {
            return Err(PayloadError::JobId(id.chars().take(64).collect()));
        }
        Ok(bell)
    }

    /// The doorbell as the JSON value a queue carries.
    pub fn to_value(&self) -> Value {
        serde_json::json!({ "job_id": self.job_id.as_str(), "v": self.v })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_ignores_unknown_fields() {
        let bell = Doorbell::new(JobId::from("job_1"));
        assert_eq!(Doorbell::from_value(&bell.to_value()).unwrap(), bell);
        let newer = json!({"job_id": "job_1", "v": 2, "hint": "poll"});
        assert_eq!(
            Doorbell::from_value(&newer).unwrap().job_id.as_str(),
            "job_1"
        );
        assert_eq!(
            Doorbell::from_value(&json!({"job_id": "job_1"})).unwrap().v,
            1
        );
    }

    #[test]
    fn other_shapes_are_errors_not_panics() {
        for bad in [
            json!(null),
            json!(42),
            json!("job_1"),
            json!([1, 2]),
            json!({"id": "job_1"}),
            json!({"job_id": 7}),
            json!({"job_id": ""}),
            json!({"job_id": "a b"}),
            json!({"job_id": "x".repeat(500)}),
        ] {
            assert!(Doorbell::from_value(&bad).is_err(), "{bad}");
        }
    }
}
