//! A `submitting` job: its submit got no usable answer (or its run died mid-submit). Never
//! pay twice: find the task that submit created before daring to submit again.
//!
//! The recorded body is matched against the `request` of every task created since shortly
//! before the submit began ([`BatchQuery::created_since`], paged). Tasks another job holds,
//! and this job's own earlier tasks, are skipped; the oldest match is claimed atomically with
//! [`Transition::submitted`]. With a callback URL in the body the match is unique to the job;
//! without one, identical requests are interchangeable, which is fine.
//!
//! The job keeps its slot of the shared cap (renewed on every look) while the outcome is
//! unknown: the submit may have started a generation. It gives it back only when the lookup
//! concludes that no task was created.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pixq_core::job::Job;
use pixq_core::state::Transition;
use pixq_core::store::{Effects, Outcome};
use pixverse::{BatchQuery, SubmitBody, TaskRecord};
use tracing::{Span, debug, info, warn};

use crate::error::StepError;
use crate::handler::{Handler, SlotFate};
use crate::look::Look;
use crate::step::Step;
use crate::telemetry;

/// Tasks created this long before the submit began are looked at too: clocks differ.
const LOOKBACK: TimeDelta = TimeDelta::seconds(60);

/// Records per page, the upstream's maximum.
const PAGE: u32 = 100;

/// A lookup stops after this many pages and tries again later instead of concluding.
const MAX_PAGES: u32 = 1000;

/// The wait before looking again when the lookup failed or the submit is too recent to
/// conclude.
const LOOK_AGAIN: Duration = Duration::from_secs(2);

/// Looks are never closer together than this.
const MIN_LOOK_AGAIN: Duration = Duration::from_millis(200);

/// The first poll of a task just found: the upstream allows one poll a second.
const FIRST_POLL_AFTER_FOUND: Duration = Duration::from_secs(1);

/// What paging through the recent tasks ended with.
enum Search {
    /// A matching task was claimed, or the job moved: this is the step.
    Decided(Step),
    /// Every recent task was seen; none could be claimed.
    NoneFound,
    /// The lookup could not finish (a failed call, too many pages): look again later.
    Unfinished(Duration),
}

impl Handler {
    /// Decides a `submitting` job.
    pub(crate) async fn lookup(&self, job: Job, look: &Look) -> Result<Step, StepError> {
        let body = job
            .upstream
            .request
            .as_deref()
            .and_then(|text| SubmitBody::from_json(text).ok());
        let Some(body) = body else {
            warn!("the job is submitting without a usable recorded request; submitting afresh");
            return self
                .retry_later(
                    look,
                    &job,
                    "no recorded request to look the task up by",
                    SlotFate::Release,
                )
                .await;
        };
        self.hold_slot(&job.id).await?;
        match self.search(&job, &body, look).await? {
            Search::Decided(step) => Ok(step),
            Search::Unfinished(wait) => Ok(Step::LookAt(Utc::now() + wait)),
            Search::NoneFound => {
                let begun = (Utc::now() - job.updated_at).to_std().unwrap_or_default();
                if let Some(left) = self.config.lookup_grace.checked_sub(begun) {
                    // The submit may still be on its way upstream: do not conclude yet.
                    debug!("no task matches the unanswered submit yet; looking again");
                    let wait = LOOK_AGAIN.min(left).max(MIN_LOOK_AGAIN);
                    return Ok(Step::LookAt(Utc::now() + wait));
                }
                info!(
                    "no task matches the unanswered submit; it created none, so it may be sent again"
                );
                self.retry_later(
                    look,
                    &job,
                    "the submit got no answer and created no task",
                    SlotFate::Release,
                )
                .await
            }
        }
    }

    async fn search(&self, job: &Job, body: &SubmitBody, look: &Look) -> Result<Search, StepError> {
        let since = (job.updated_at - LOOKBACK).timestamp_millis() as f64 / 1000.0;
        let mut offset = 0u32;
        for _ in 0..MAX_PAGES {
            let query = BatchQuery {
                limit: Some(PAGE),
                offset: Some(offset),
                ..BatchQuery::created_since(since)
            };
            let answer = self.client.retrieve_batch(&query).await;
            telemetry::upstream_call("retrieve_batch", &answer);
            let batch = match answer {
                Ok(batch) => batch,
                Err(e) => {
                    warn!(error = %e, "looking the task up failed; staying submitting and trying again");
                    let wait = e.retry_after().unwrap_or(LOOK_AGAIN).max(LOOK_AGAIN / 2);
                    return Ok(Search::Unfinished(wait));
                }
            };
            let seen = u32::try_from(batch.items.len()).unwrap_or(u32::MAX);
            for record in &batch.items {
                if let Some(step) = self.try_claim(job, body, record, look).await? {
                    return Ok(Search::Decided(step));
                }
            }
            offset = offset.saturating_add(seen);
            let complete = batch.count.is_some_and(|count| u64::from(offset) >= count);
            if seen < PAGE || complete {
                return Ok(Search::NoneFound);
            }
        }
        warn!(
            pages = MAX_PAGES,
            "too many recent tasks to look through; trying again later"
        );
        Ok(Search::Unfinished(LOOK_AGAIN))
    }

    /// Claims `record` for `job` if it is this submit's task and nobody holds it.
    async fn try_claim(
        &self,
        job: &Job,
        body: &SubmitBody,
        record: &TaskRecord,
        look: &Look,
    ) -> Result<Option<Step>, StepError> {
        let Some(task) = record.id.as_deref().filter(|id| !id.is_empty()) else {
            return Ok(None);
        };
        let earlier = job.upstream.previous_task_ids.iter().any(|t| t == task);
        if earlier || !record.is_for(body) || self.store.jobs().job_for_task(task).await?.is_some()
        {
            return Ok(None);
        }
        let claim = Transition::submitted(job.id.clone(), task.to_owned(), record.trace_id.clone());
        match self
            .commit(look, job, claim, Effects::default())
            .await?
            .outcome
        {
            Outcome::Applied(_) => {
                Span::current().record("task_id", task);
                info!("found and claimed the task of the unanswered submit");
                Ok(Some(Step::LookAt(Utc::now() + FIRST_POLL_AFTER_FOUND)))
            }
            Outcome::TaskTaken { by, .. } => {
                debug!(task, holder = %by, "a matching task is held by another job");
                Ok(None)
            }
            Outcome::Stale { current } => Ok(Some(
                self.keep_late_task(current, task, record.trace_id.clone(), look)
                    .await?,
            )),
        }
    }
}
