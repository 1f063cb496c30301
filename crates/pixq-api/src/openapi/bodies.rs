//! The request bodies as the OpenAPI document describes them.
//!
//! The API reads bodies by hand ([`pixq_core::spec`] walks the JSON so every error names its
//! field and code), so these types are never built: they exist to derive the schemas. Their
//! fields follow `pixq_core::spec::parse::JOB_FIELDS` and the batch and character readers;
//! the choices come from the `pixverse` enums' `ALL`, so a value added there shows here.
#![expect(
    dead_code,
    reason = "schema-only types: the bodies are read by pixq_core::spec, not by serde"
)]

use pixverse::{AspectRatio, Model, Motion, Quality, Style};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// The body of `POST /v1/jobs`: one video, or a chain of one video and its extends.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobRequest {
    /// `generate` (the default) or `extend` (with `video_id`).
    #[schema(schema_with = action)]
    action: Option<String>,
    /// What the video shows: non-blank, at most 2048 characters.
    #[schema(min_length = 1, max_length = 2048, pattern = r"\S")]
    prompt: String,
    /// The PixVerse model.
    #[schema(schema_with = model)]
    model: Option<String>,
    /// A visual style.
    #[schema(schema_with = style)]
    style: Option<String>,
    /// The motion mode.
    #[schema(schema_with = motion)]
    motion: Option<String>,
    /// The output resolution.
    #[schema(schema_with = quality)]
    quality: Option<String>,
    /// Seconds: 5 or 8.
    #[schema(schema_with = duration)]
    duration: Option<u32>,
    /// The frame shape (a generation only).
    #[schema(schema_with = aspect_ratio)]
    aspect_ratio: Option<String>,
    /// A fixed seed, 0 to 2147483647.
    #[schema(maximum = 2_147_483_647)]
    seed: Option<u32>,
    /// An http(s) image to start from (a generation only).
    #[schema(pattern = r"^https?://[^\s/]+")]
    image_url: Option<String>,
    /// The first and the last frame, two http(s) image URLs (a generation only).
    #[schema(min_items = 2, max_items = 2)]
    frame: Option<Vec<String>>,
    /// An effect template's id, from `GET /v1/templates` (a generation only).
    #[schema(schema_with = template_id)]
    template_id: Option<i64>,
    /// A character: its upstream `asset_id`, or its name (a generation only).
    #[schema(schema_with = asset_id)]
    asset_id: Option<Value>,
    /// The video an `extend` continues.
    video_id: Option<i64>,
    /// Steps run after this one, each off the video the step before made.
    #[schema(max_items = 10)]
    extend: Option<Vec<ExtendStepRequest>>,
    /// Where the job object is POSTed when the job ends (http(s); needs `api.webhook_secret`).
    #[schema(pattern = r"^https?://[^\s/]+")]
    webhook_url: Option<String>,
    /// Free JSON, stored and returned as given (at most 16 KiB).
    metadata: Option<Value>,
}

/// One step of `extend`: what it overrides; the rest is inherited from the step before.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExtendStepRequest {
    /// What this step shows.
    #[schema(min_length = 1, max_length = 2048, pattern = r"\S")]
    prompt: String,
    /// The PixVerse model.
    #[schema(schema_with = model)]
    model: Option<String>,
    /// The output resolution.
    #[schema(schema_with = quality)]
    quality: Option<String>,
    /// Seconds: 5 or 8.
    #[schema(schema_with = duration)]
    duration: Option<u32>,
    /// The motion mode.
    #[schema(schema_with = motion)]
    motion: Option<String>,
    /// A visual style.
    #[schema(schema_with = style)]
    style: Option<String>,
    /// A fixed seed.
    #[schema(maximum = 2_147_483_647)]
    seed: Option<u32>,
}

/// The JSON body of `POST /v1/batches`: `jobs` (job bodies) or `prompts` (texts made jobs
/// from `defaults`). `text/plain` (a prompt a line) and `application/x-ndjson` (a job body a
/// line) are taken too.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest {
    /// Job bodies, as `POST /v1/jobs` takes them; their own fields win over `defaults`.
    jobs: Option<Vec<Value>>,
    /// Prompts, each made a job from `defaults`.
    prompts: Option<Vec<String>>,
    /// Fields every entry starts from.
    defaults: Option<Value>,
    /// The batch's name, at most 200 characters.
    #[schema(max_length = 200)]
    name: Option<String>,
    /// Where the batch object is POSTed when the batch ends (needs `api.webhook_secret`).
    #[schema(pattern = r"^https?://[^\s/]+")]
    webhook_url: Option<String>,
}

/// The body of `POST /v1/characters`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CharacterRequest {
    /// Reference images, http(s) URLs.
    #[schema(min_items = 1)]
    images: Vec<String>,
    /// A unique name that jobs may give as `asset_id`.
    name: Option<String>,
}

fn one_of(values: impl IntoIterator<Item = Value>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

fn action() -> Object {
    one_of(["generate", "extend"].map(Value::from))
}

fn model() -> Object {
    one_of(Model::ALL.iter().map(|m| Value::from(m.as_str())))
}

fn style() -> Object {
    one_of(Style::ALL.iter().map(|s| Value::from(s.as_str())))
}

fn motion() -> Object {
    one_of(Motion::ALL.iter().map(|m| Value::from(m.as_str())))
}

fn quality() -> Object {
    one_of(Quality::ALL.iter().map(|q| Value::from(q.as_str())))
}

fn aspect_ratio() -> Object {
    one_of(AspectRatio::ALL.iter().map(|a| Value::from(a.as_str())))
}

fn template_id() -> Object {
    let ids = pixq_core::spec::templates().iter().map(|t| t.id.get());
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(ids))
        .build()
}

fn duration() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([5, 8]))
        .build()
}

fn asset_id() -> Object {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Integer,
            Type::String,
        ]))
        .build()
}
