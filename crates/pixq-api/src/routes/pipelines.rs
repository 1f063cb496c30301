//! `GET /v1/pipelines`: the scheduled pipelines this API was configured with, each with its
//! schedule, its next run (from the clock now) and its last run (from the store, as the
//! schedulers recorded it).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use pixq_core::pipeline::{Pipeline, PromptSource};
use serde::Serialize;

use crate::error::ApiError;
use crate::openapi::V1Errors;
use crate::state::AppState;

/// `{"pipelines": [...]}`, in the order of the configuration.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PipelineList)]
pub(super) struct Pipelines {
    pipelines: Vec<PipelineView>,
}

/// One pipeline as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Pipeline)]
pub(crate) struct PipelineView {
    /// Its name.
    pub(crate) name: String,
    /// Its cron schedule, with seconds.
    pub(crate) schedule: String,
    /// The IANA time zone the schedule is read in (`UTC` unless configured).
    pub(crate) timezone: &'static str,
    /// The next tick, from now; `null` when the schedule has no more.
    #[schema(required = true)]
    pub(crate) next_run: Option<DateTime<Utc>>,
    /// The last tick fired (by any scheduler); `null` when it never ran.
    #[schema(required = true)]
    pub(crate) last_run: Option<DateTime<Utc>>,
    /// The batch the last tick submitted.
    #[schema(required = true)]
    pub(crate) last_batch_id: Option<String>,
    /// `skip` or `once`: what a scheduler starting up does about missed ticks.
    pub(crate) catch_up: &'static str,
    /// How many chains each tick submits.
    pub(crate) prompts: usize,
    /// The file the prompts were read from, when they were not inline.
    #[schema(required = true)]
    pub(crate) prompts_file: Option<String>,
    /// Where each tick's batch object is posted when it ends.
    #[schema(required = true)]
    pub(crate) webhook_url: Option<String>,
}

/// Every configured pipeline with its next and last runs.
#[utoipa::path(
    get,
    path = "/v1/pipelines",
    tag = "catalog",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The scheduled pipelines, in the configuration's order", body = Pipelines),
        V1Errors,
    )
)]
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Pipelines>, ApiError> {
    Ok(Json(Pipelines {
        pipelines: views(&state).await?,
    }))
}

/// Every configured pipeline's view, in the order of the configuration.
pub(crate) async fn views(state: &AppState) -> Result<Vec<PipelineView>, ApiError> {
    let now = Utc::now();
    let views = state.config().pipelines.iter().map(|pipeline| {
        let state = state.clone();
        async move { view(&state, pipeline, now).await }
    });
    try_join_all(views).await
}

async fn view(
    state: &AppState,
    pipeline: &Pipeline,
    now: DateTime<Utc>,
) -> Result<PipelineView, ApiError> {
    let last = state.store().pipelines().last(&pipeline.name).await?;
    Ok(PipelineView {
        name: pipeline.name.clone(),
        schedule: pipeline.cron.text().to_owned(),
        timezone: pipeline.cron.zone_name(),
        next_run: pipeline.cron.next_after(now),
        last_run: last.as_ref().map(|run| run.tick),
        last_batch_id: last.map(|run| run.batch.as_str().to_owned()),
        catch_up: pipeline.catch_up.as_str(),
        prompts: pipeline.jobs.len(),
        prompts_file: match &pipeline.source {
            PromptSource::File(path) => Some(path.display().to_string()),
            PromptSource::Inline(_) => None,
        },
        webhook_url: pipeline.webhook_url.clone(),
    })
}
