//! A typed async client of Ace Data Cloud's Pixverse video API (`https://api.acedata.cloud`).
//!
//! It knows the upstream's bodies and its failure modes, and nothing of queues. Its job is to
//! let a worker submit a video, wait for it, and never pay twice:
//!
//! - [`Client`] makes one HTTP call per method and never retries on its own.
//! - [`GenerateRequest`] / [`ExtendRequest`] are typed requests; enums such as [`Model`] and
//!   [`Quality`] make values the upstream would reject unrepresentable.
//! - [`SubmitBody`] is the exact JSON a submit sends. Record it before sending: if the answer
//!   is lost, the task whose record [`matches`](SubmitBody::matches) it is the one that submit
//!   created.
//! - [`VideoResult`], [`TaskRecord`], [`TaskBatch`], [`Character`] parse every documented
//!   variant of the upstream's bodies, and keep unknown fields.
//! - [`TaskOutcome`] reduces a record or a callback body to running, succeeded or failed.
//! - [`Error`] is the one error type; its [`ErrorKind`] says what to do next: retry, back off,
//!   look the task up before resubmitting, pause the token, or give up.
//!
//! ```no_run
//! use pixverse::{Client, ClientConfig, GenerateRequest, Quality, SubmitBody, SubmitMode, Token};
//!
//! # async fn run() -> Result<(), pixverse::Error> {
//! let client = Client::new(ClientConfig::new(Token::new("your-token")))?;
//! let mut request = GenerateRequest::new("a lighthouse in a storm");
//! request.quality = Some(Quality::P720);
//!
//! let body = SubmitBody::generate(&request, &SubmitMode::Async);
//! // ... record body.as_str() as "submit starting" ...
//! match client.submit(&body).await {
//!     Ok(submission) => println!("task {:?}", submission.task_id()),
//!     Err(e) if e.is_outcome_unknown() => { /* look the task up by `body` before resubmitting */ }
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod classify;
mod client;
mod config;
mod error;
mod id;
mod number;
pub mod outcome;
mod param;
mod request;
mod response;
mod result;
mod submit;
mod task;
mod token;

pub use client::Client;
pub use config::{
    ClientConfig, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SYNC_TIMEOUT, DEFAULT_USER_AGENT,
};
pub use error::{Endpoint, Error, ErrorKind};
pub use id::{AssetId, ParseIdError, TemplateId, VideoId};
pub use outcome::{TaskOutcome, Video};
pub use param::{AspectRatio, Model, Motion, ParseParamError, Quality, Style, VideoDuration};
pub use request::{ExtendRequest, GenerateRequest};
pub use result::{Character, CharacterData, UpstreamErrorBody, VideoItem, VideoResult};
pub use submit::{Submission, SubmitBody, SubmitMode};
pub use task::{BatchQuery, Deleted, TaskBatch, TaskRecord};
pub use token::{TOKEN_ENV_VAR, Token};
pub use url::Url;
