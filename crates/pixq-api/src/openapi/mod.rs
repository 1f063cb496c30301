//! `GET /openapi.json`: the OpenAPI 3.1 document of the API, generated from the routes'
//! `#[utoipa::path]` annotations and the types they answer with, never written by hand.
//!
//! The router is built from [`utoipa_axum`]'s `routes!`, which registers a handler and its
//! description together (see `crate::routes`), so a route cannot be served undocumented. This
//! module holds what the routes share: the document's header, the bearer scheme, the error
//! shape, and the request bodies the API reads by hand ([`bodies`]).

pub(crate) mod bodies;

use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{EntryError, ErrorBody, ErrorEnvelope};

/// The name of the bearer security scheme the `/v1` routes require.
pub(crate) const BEARER: &str = "bearer";

/// The errors every `/v1` route may answer besides its own, described once: each route lists
/// this type in its `responses(…)`.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "it only describes responses for the document")]
pub(crate) enum V1Errors {
    #[response(
        status = 401,
        description = "No or a wrong bearer token (when api.tokens is set)"
    )]
    Unauthorized(ErrorEnvelope<'static>),
    #[response(
        status = 500,
        description = "An internal error; the details are in pixq's log"
    )]
    Internal(ErrorEnvelope<'static>),
    #[response(
        status = 503,
        description = "The store is unavailable or slow: try again shortly"
    )]
    Unavailable(ErrorEnvelope<'static>),
}

/// The document's header and shared components; the routes add their paths and schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "pixq",
        description = "Turns prompt lists into finished Pixverse videos: jobs and batches in, \
                       job and batch objects out. Every error is \
                       `{\"error\":{\"code\",\"message\",\"field\"?}}`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&BearerScheme),
    components(schemas(ErrorEnvelope, ErrorBody, EntryError)),
    tags(
        (name = "jobs", description = "One job, or one chain of a video and its extends."),
        (name = "batches", description = "Many chains submitted and controlled at once."),
        (name = "catalog", description = "Characters, effect templates and scheduled pipelines."),
        (name = "upstream", description = "The upstream's callbacks."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    )
)]
pub(crate) struct ApiDoc;

/// Adds the `bearer` scheme: `Authorization: Bearer <token>`, one of `api.tokens`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description =
            Some("One of api.tokens. Needed on every /v1 route when api.tokens is set.".to_owned());
        components.add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// Final touches once every route is in: each operation gets a unique operationId, and an
/// optional parameter is left out when not given,
/// never sent as `null`, so its schema does not admit `null` (utoipa makes every `Option`
/// nullable).
pub(crate) fn finish(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else {
                continue;
            };
            operation.operation_id = Some(operation_id(method, path));
            for parameter in operation.parameters.iter_mut().flatten() {
                parameter.schema = parameter.schema.take().map(not_null);
            }
        }
    }
}

/// A unique operationId from the method and the path (utoipa's default, the handler's name,
/// repeats: `list`, `show`): `get /v1/jobs/{id}/cancel` is `get_jobs_by_id_cancel`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for segment in path.split('/').filter(|s| !s.is_empty() && *s != "v1") {
        id.push('_');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                id.push_str("by_");
                id.push_str(name);
            }
            None => id.push_str(&segment.replace(['.', '-'], "_")),
        }
    }
    id
}

/// `schema` without its `null` alternative.
fn not_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let mut kept: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                object.schema_type = match kept.len() {
                    1 => SchemaType::Type(kept.remove(0)),
                    _ => SchemaType::Array(kept),
                };
            }
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::OneOf(mut one_of)) => {
            one_of.items.retain(|item| {
                !matches!(item, RefOr::T(Schema::Object(o))
                    if o.schema_type == SchemaType::Type(Type::Null))
            });
            if one_of.items.len() == 1 {
                one_of.items.remove(0)
            } else {
                RefOr::T(Schema::OneOf(one_of))
            }
        }
        other => other,
    }
}

/// The document as served, rendered once when the router is built.
#[derive(Clone)]
pub(crate) struct Rendered(pub(crate) Arc<str>);

impl Rendered {
    /// Renders `doc` as JSON. Serializing the document's own types cannot fail; should it,
    /// the route answers an empty object rather than no document at all.
    pub(crate) fn of(doc: &utoipa::openapi::OpenApi) -> Self {
        let json = doc.to_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot render the OpenAPI document");
            "{}".to_owned()
        });
        Rendered(json.into())
    }
}

/// The OpenAPI 3.1 document of every route this API serves.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json",
         body = Object),
    )
)]
pub(crate) async fn document(Extension(doc): Extension<Rendered>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.to_string(),
    )
}
