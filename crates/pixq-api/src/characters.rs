//! Characters named in job bodies: a job, a batch's defaults or a batch entry may give
//! `asset_id` as a character's pixq name instead of its number. [`NameResolver`] swaps the
//! name for the number before the body is validated, so everything downstream (the spec, the
//! fingerprint, the stored `params`) sees the upstream's numeric id only.
//!
//! A name is never all digits ([`pixq_core::character::normalize_name`]), so a string of
//! digits is always an id and is left to the spec to read.

use std::collections::HashMap;

use axum::http::StatusCode;
use pixq_core::spec::SpecErrorCode;
use pixq_core::store::SharedStore;
use pixverse::AssetId;
use serde_json::Value;

use crate::error::ApiError;

/// The body field that may name a character.
const FIELD: &str = "asset_id";

/// Replaces character names in `asset_id` fields with their numeric ids, remembering each
/// name it looked up for the life of one request, so a batch of thousands of entries naming
/// one character costs one store read.
pub(crate) struct NameResolver {
    store: SharedStore,
    known: HashMap<String, AssetId>,
}

impl NameResolver {
    /// A resolver reading characters from `store`.
    pub(crate) fn new(store: &SharedStore) -> Self {
        NameResolver {
            store: SharedStore::clone(store),
            known: HashMap::new(),
        }
    }

    /// Resolves the `asset_id` of `body` (a job body, or a batch's defaults); errors name
    /// `asset_id`.
    ///
    /// # Errors
    ///
    /// 422 `invalid_value` on `asset_id` when no character has the name; 503 when the store
    /// fails.
    pub(crate) async fn resolve(&mut self, body: &mut Value) -> Result<(), ApiError> {
        self.resolve_at(body, "").await
    }

    /// Resolves the `asset_id` of `body`, an object found at the JSON path `path` of the
    /// request (e.g. `jobs[3]`; `""` for the body itself), so an error names `jobs[3].asset_id`.
    /// Anything that is not a non-digit string is left as it is, for the spec to judge.
    ///
    /// # Errors
    ///
    /// As [`NameResolver::resolve`], naming the field at `path`.
    pub(crate) async fn resolve_at(
        &mut self,
        body: &mut Value,
        path: &str,
    ) -> Result<(), ApiError> {
        let Some(slot) = body.as_object_mut().and_then(|o| o.get_mut(FIELD)) else {
            return Ok(());
        };
        let Some(text) = slot.as_str() else {
            return Ok(());
        };
        if text.is_empty() || text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(());
        }
        let name = text.trim().to_owned();
        let asset_id = match self.known.get(&name) {
            Some(id) => *id,
            None => {
                let found = self.store.characters().find_by_name(&name).await?;
                let Some(character) = found else {
                    return Err(unknown(&name, path));
                };
                self.known.insert(name, character.asset_id);
                character.asset_id
            }
        };
        *slot = Value::from(asset_id.get());
        Ok(())
    }
}

/// Resolves the character named in `body`'s `asset_id`, once: a job body.
///
/// # Errors
///
/// As [`NameResolver::resolve`].
pub(crate) async fn resolve_asset_names(
    store: &SharedStore,
    body: &mut Value,
) -> Result<(), ApiError> {
    NameResolver::new(store).resolve(body).await
}

fn unknown(name: &str, path: &str) -> ApiError {
    let field = if path.is_empty() {
        FIELD.to_owned()
    } else {
        format!("{path}.{FIELD}")
    };
    let shown: String = name
        .chars()
        .take(pixq_core::character::MAX_NAME_CHARS)
        .collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        SpecErrorCode::InvalidValue.as_str(),
        format!(
            "no character is named {shown:?}: give a name from GET /v1/characters, a numeric \
             asset_id, or make the character with POST /v1/characters"
        ),
    )
    .with_field(field)
}
