//! The events a write causes, with their frozen bodies: `{"type", "timestamp", "data"}`, where
//! `data` is the job or batch object exactly as the API shows it ([`crate::view`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{EventId, EventKind, NewEvent};
use crate::batch::Batch;
use crate::job::Job;
use crate::state::JobState;
use crate::store::StoreError;
use crate::view::{BatchView, JobView};

/// The body of an event.
#[derive(Serialize)]
struct Envelope<T> {
    #[serde(rename = "type")]
    kind: EventKind,
    timestamp: DateTime<Utc>,
    data: T,
}

fn encode<T: Serialize>(kind: EventKind, at: DateTime<Utc>, data: T) -> Result<String, StoreError> {
    serde_json::to_string(&Envelope {
        kind,
        timestamp: at,
        data,
    })
    .map_err(|e| {
        StoreError::corrupt(
            format!("a {} event", kind.as_str()),
            format!("cannot encode: {e}"),
        )
    })
}

/// The `job.finished` event of a write that takes a job from `from` to `job`: only when the
/// job has just ended (from a state that was not terminal) and has a webhook URL.
///
/// # Errors
///
/// [`StoreError::Corrupt`] when the job cannot be encoded.
pub(crate) fn job_finished(from: JobState, job: &Job) -> Result<Option<NewEvent>, StoreError> {
    if from.is_terminal() || !job.is_terminal() {
        return Ok(None);
    }
    let Some(url) = job.webhook_url.as_ref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let kind = EventKind::JobFinished;
    let at = job.finished_at.unwrap_or(job.updated_at);
    Ok(Some(NewEvent {
        id: EventId::generate(),
        kind,
        subject: job.id.to_string(),
        url: url.clone(),
        body: encode(kind, at, JobView::from(job.clone()))?,
    }))
}

/// The `batch.finished` event of a batch that has just finished, under `id`; `None` when it
/// has no webhook URL.
///
/// # Errors
///
/// [`StoreError::Corrupt`] when the batch cannot be encoded.
pub(crate) fn batch_finished(id: EventId, batch: &Batch) -> Result<Option<NewEvent>, StoreError> {
    let Some(url) = batch.webhook_url.as_ref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let kind = EventKind::BatchFinished;
    let at = batch.finished_at.unwrap_or(batch.created_at);
    Ok(Some(NewEvent {
        id,
        kind,
        subject: batch.id.to_string(),
        url: url.clone(),
        body: encode(kind, at, BatchView::from(batch.clone()))?,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::job::{Action, JobError, NewJob};

    fn job(webhook: Option<&str>) -> Job {
        let mut new = NewJob::new(Action::Generate, json!({"prompt": "a"}));
        new.webhook_url = webhook.map(str::to_owned);
        new.into_job(Utc::now())
    }

    #[test]
    fn only_a_job_that_just_ended_with_a_webhook_has_an_event() {
        let mut ended = job(Some("https://hooks.example/x"));
        ended.state = JobState::Failed;
        ended.error = Some(JobError::new("max_attempts", "gave up", false));
        ended.finished_at = Some(Utc::now());
        let event = job_finished(JobState::Generating, &ended).unwrap().unwrap();
        assert_eq!(event.kind, EventKind::JobFinished);
        assert_eq!(
            (event.subject.as_str(), event.url.as_str()),
            (ended.id.as_str(), "https://hooks.example/x")
        );
        assert!(event.id.as_str().starts_with("evt_"));
        let body: Value = serde_json::from_str(&event.body).unwrap();
        assert_eq!(body["type"], "job.finished");
        assert_eq!(
            body["data"],
            serde_json::to_value(JobView::from(ended.clone())).unwrap()
        );
        assert_eq!(
            body["timestamp"],
            serde_json::to_value(ended.finished_at).unwrap()
        );
        assert_eq!(body.as_object().unwrap().len(), 3);

        assert!(
            job_finished(JobState::Cancelled, &ended).unwrap().is_none(),
            "already ended"
        );
        let mut running = ended.clone();
        running.state = JobState::Generating;
        assert!(
            job_finished(JobState::Queued, &running).unwrap().is_none(),
            "not ended"
        );
        let mut silent = job(None);
        silent.state = JobState::Succeeded;
        assert!(
            job_finished(JobState::Generating, &silent)
                .unwrap()
                .is_none(),
            "no webhook"
        );
    }
}
