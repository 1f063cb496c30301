//! `/pixverse/tasks`: task records, the batch query, and delete.
//!
//! A task record is how a worker learns what happened to a submit: `response` is absent while
//! the task runs, `finished_at` appears when it ends, and `request` echoes the body as sent,
//! which is how an unanswered submit's task is found again
//! (see [`SubmitBody::matches`](crate::SubmitBody::matches)).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::number;
use crate::request::object_text;
use crate::result::VideoResult;
use crate::submit::SubmitBody;

/// One task, as `retrieve` and `retrieve_batch` answer it. Every field is optional: a record
/// without `id` means "no such task" (the client turns that into
/// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task id (the `task_id` a submit answered).
    #[serde(default)]
    pub id: Option<String>,
    /// The upstream's internal record id (`_id`).
    #[serde(rename = "_id", default)]
    pub internal_id: Option<String>,
    /// Account metadata.
    #[serde(default)]
    pub api_id: Option<String>,
    /// Account metadata.
    #[serde(default)]
    pub application_id: Option<String>,
    /// Account metadata.
    #[serde(default)]
    pub credential_id: Option<String>,
    /// Account metadata.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The submit's trace id.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// When the task was submitted, in epoch seconds.
    #[serde(default, deserialize_with = "number::opt_f64")]
    pub created_at: Option<f64>,
    /// When the upstream started working on it, in epoch seconds.
    #[serde(default, deserialize_with = "number::opt_f64")]
    pub started_at: Option<f64>,
    /// When it ended, on success and on failure alike, in epoch seconds.
    #[serde(default, deserialize_with = "number::opt_f64")]
    pub finished_at: Option<f64>,
    /// How long it took, in seconds.
    #[serde(default, deserialize_with = "number::opt_f64")]
    pub elapsed: Option<f64>,
    /// The submitted body, as sent (defaults not filled in).
    #[serde(default)]
    pub request: Option<Value>,
    /// The result or failure body; absent while the task runs.
    #[serde(default)]
    pub response: Option<VideoResult>,
    /// Fields this client does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TaskRecord {
    /// Whether this task was created by a submit of `body`: its `request` equals the body.
    pub fn is_for(&self, body: &SubmitBody) -> bool {
        self.request.as_ref().is_some_and(|r| body.matches(r))
    }
}

/// The answer of `retrieve_batch`: `{"items":[…],"count":N}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskBatch {
    /// The records found; unknown ids are left out.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<TaskRecord>,
    /// How many records matched, as the upstream counts them.
    #[serde(default, deserialize_with = "number::opt_u64")]
    pub count: Option<u64>,
    /// Fields this client does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Which tasks `retrieve_batch` should return. Every filter is optional and left out of the
/// body when `None`.
///
/// To find the task of a submit that got no answer, ask for the tasks created since just before
/// it was sent and look for the record whose request matches the recorded body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchQuery {
    /// Only these task ids.
    pub ids: Option<Vec<String>>,
    /// At most this many records.
    pub limit: Option<u32>,
    /// Skip this many records.
    pub offset: Option<u32>,
    /// Only tasks created at or after this time, in epoch seconds.
    pub created_at_min: Option<f64>,
    /// Only tasks created at or before this time, in epoch seconds.
    pub created_at_max: Option<f64>,
}

impl BatchQuery {
    /// These tasks, for polling many at once.
    pub fn ids<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BatchQuery {
            ids: Some(ids.into_iter().map(Into::into).collect()),
            ..Self::default()
        }
    }

    /// The tasks created at or after `epoch_seconds`.
    pub fn created_since(epoch_seconds: f64) -> Self {
        BatchQuery {
            created_at_min: Some(epoch_seconds),
            ..Self::default()
        }
    }

    /// The JSON text sent: `action` first, unset filters left out.
    pub(crate) fn body_text(&self) -> String {
        let mut fields: Vec<(&str, Value)> = vec![("action", "retrieve_batch".into())];
        if let Some(ids) = &self.ids {
            fields.push((
                "ids",
                ids.iter().map(|id| Value::from(id.as_str())).collect(),
            ));
        }
        if let Some(limit) = self.limit {
            fields.push(("limit", limit.into()));
        }
        if let Some(offset) = self.offset {
            fields.push(("offset", offset.into()));
        }
        if let Some(min) = self.created_at_min {
            fields.push(("created_at_min", min.into()));
        }
        if let Some(max) = self.created_at_max {
            fields.push(("created_at_max", max.into()));
        }
        object_text(&fields)
    }
}

/// The answer of `delete`: `{"id","deleted":true}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deleted {
    /// The task id that was deleted.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether the record is gone.
    #[serde(default)]
    pub deleted: Option<bool>,
    /// Fields this client does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of a single-task action (`retrieve`, `delete`).
pub(crate) fn task_action_text(action: &str, task_id: &str) -> String {
    object_text(&[("action", action.into()), ("id", task_id.into())])
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TaskRecord>, D::Error> {
    Ok(Option::<Vec<TaskRecord>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_body_puts_action_first_and_leaves_out_unset_filters() {
        assert_eq!(
            BatchQuery::default().body_text(),
            r#"{"action":"retrieve_batch"}"#
        );
        let q = BatchQuery {
            limit: Some(50),
            ..BatchQuery::ids(["a", "b"])
        };
        assert_eq!(
            q.body_text(),
            r#"{"action":"retrieve_batch","ids":["a","b"],"limit":50}"#
        );
        let q = BatchQuery {
            offset: Some(10),
            created_at_max: Some(1737095400.0),
            ..BatchQuery::created_since(1737095374.496)
        };
        assert_eq!(
            q.body_text(),
            r#"{"action":"retrieve_batch","offset":10,"created_at_min":1737095374.496,"created_at_max":1737095400.0}"#
        );
    }

    #[test]
    fn single_task_bodies_put_action_first() {
        assert_eq!(
            task_action_text("retrieve", "t-1"),
            r#"{"action":"retrieve","id":"t-1"}"#
        );
    }

    #[test]
    fn batch_items_may_be_null_and_count_a_string() {
        let b: TaskBatch = serde_json::from_str(r#"{"items":null,"count":"0"}"#).unwrap();
        assert!(b.items.is_empty());
        assert_eq!(b.count, Some(0));
    }
}
