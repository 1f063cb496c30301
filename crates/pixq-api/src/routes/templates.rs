//! `GET /v1/templates`: the effect-template catalog pixq knows
//! ([`pixq_core::spec::templates`]), with every field it has.

use axum::Json;
use pixq_core::spec::{Template, templates};
use serde::Serialize;

use crate::openapi::V1Errors;

/// `{"templates": [...]}`, in the catalog's published order.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = TemplateCatalog)]
pub(super) struct Catalog {
    templates: Vec<TemplateView>,
}

/// One template as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Template)]
struct TemplateView {
    /// The id to pass as `template_id`.
    id: i64,
    /// The name results echo as `template_name`.
    name: &'static str,
    /// The suggested prompt, with placeholders such as `[OBJECT]`.
    prompt: &'static str,
    /// The upstream's internal tag.
    workflow_tag: &'static str,
    /// The catalog's badge: `hot`, `new`, `default`, …
    marker: &'static str,
    /// A preview animation's URL.
    thumbnail: &'static str,
    /// The qualities it renders at, e.g. `["360p", "540p"]`.
    qualities: Vec<&'static str>,
}

impl From<&'static Template> for TemplateView {
    fn from(t: &'static Template) -> Self {
        TemplateView {
            id: t.id.get(),
            name: &t.name,
            prompt: &t.prompt,
            workflow_tag: &t.workflow_tag,
            marker: &t.marker,
            thumbnail: &t.thumbnail,
            qualities: t.qualities.iter().map(|q| q.as_str()).collect(),
        }
    }
}

/// The whole catalog: it is embedded in pixq, so this never fails.
#[utoipa::path(
    get,
    path = "/v1/templates",
    tag = "catalog",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The effect-template catalog", body = Catalog),
        V1Errors,
    )
)]
pub(super) async fn list() -> Json<Catalog> {
    Json(Catalog {
        templates: templates().iter().map(TemplateView::from).collect(),
    })
}
