//! [`ResultLine`], one line of a batch's results (the batch object itself is
//! [`pixq_core::view::BatchView`]).

use pixq_core::batch::ChainState;
use pixq_core::job::JobId;
use serde::Serialize;
use serde_json::Value;

use crate::chains::Chain;

/// Why a chain did not succeed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ResultError {
    /// The code, as on the job.
    pub code: String,
    /// The message, as on the job.
    pub message: String,
}

/// One line of `GET /v1/batches/{id}/results`: a chain, its final video or its error.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ResultLine {
    /// The chain's place in the batch, from 0, in the order submitted.
    pub index: usize,
    /// The chain's first step (the job `POST /v1/batches` made).
    pub job_id: JobId,
    /// The step the chain got to: its last when it succeeded, the one that stopped it
    /// otherwise.
    #[schema(required = true)]
    pub final_job_id: Option<JobId>,
    /// The chain's state, or `expired` when its jobs are gone after `retention.finished`.
    #[schema(schema_with = result_state)]
    pub state: &'static str,
    /// The first step's prompt.
    #[schema(required = true)]
    pub prompt: Option<String>,
    /// The final video's id, when the chain succeeded.
    #[schema(required = true, value_type = Option<i64>)]
    pub video_id: Option<pixverse::VideoId>,
    /// The final video, when the chain succeeded.
    #[schema(required = true)]
    pub video_url: Option<String>,
    /// Why the chain failed or was cancelled.
    #[schema(required = true)]
    pub error: Option<ResultError>,
    /// The first step's metadata, as given.
    pub metadata: Value,
}

/// The states a result line may show: a chain's, or `expired`.
fn result_state() -> utoipa::openapi::schema::Object {
    let names = ChainState::ALL
        .iter()
        .map(|s| s.as_str())
        .chain(["expired"]);
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(names))
        .build()
}

impl ResultLine {
    /// The line of the chain at `index`.
    pub(crate) fn of(index: usize, chain: &Chain) -> Self {
        let current = chain.current();
        let state = chain.state();
        let succeeded = state == Some(ChainState::Succeeded);
        let result = current
            .and_then(|job| job.result.as_ref())
            .filter(|_| succeeded);
        ResultLine {
            index,
            job_id: chain.root.clone(),
            final_job_id: current.map(|job| job.id.clone()),
            state: state.map_or("expired", ChainState::as_str),
            prompt: chain
                .first()
                .and_then(|job| job.params.get("prompt"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            video_id: result.map(|r| r.video_id),
            video_url: result.map(|r| r.video_url.clone()),
            error: current
                .filter(|_| !succeeded)
                .and_then(|job| job.error.as_ref())
                .map(|e| ResultError {
                    code: e.code.clone(),
                    message: e.message.clone(),
                }),
            metadata: chain
                .first()
                .map_or(Value::Null, |job| job.metadata.clone()),
        }
    }
}
