//! The catalog of effect templates that Ace Data Cloud publishes, embedded from
//! `crates/pixq-core/templates.json` and parsed once.
//!
//! The catalog changes over time, so an id outside it is not an error: only a template pixq
//! knows is checked (its `qualities`). If the embedded file ever failed to parse, the catalog
//! would be empty and every template id would be accepted unchecked; a unit test pins the file
//! to 29 templates so that cannot ship.

use std::sync::LazyLock;

use pixverse::{Quality, TemplateId};
use serde::Deserialize;

static CATALOG: LazyLock<Vec<Template>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../templates.json")).unwrap_or_default()
});

/// Every template in the embedded catalog, in its published order.
pub fn templates() -> &'static [Template] {
    &CATALOG
}

/// One effect template of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Template {
    /// The id to pass as `template_id`.
    #[serde(rename = "template_id")]
    pub id: TemplateId,
    /// The name the upstream echoes as `template_name`, e.g. `Zombie Mode`.
    #[serde(rename = "display_name", default)]
    pub name: String,
    /// The suggested prompt; it may carry placeholders such as `[OBJECT]` or `[SCENE]`.
    #[serde(rename = "display_prompt", default)]
    pub prompt: String,
    /// The upstream's internal tag for the effect.
    #[serde(default)]
    pub workflow_tag: String,
    /// The catalog's badge: `hot`, `new`, `default`, …
    #[serde(default)]
    pub marker: String,
    /// A preview animation.
    #[serde(rename = "thumbnail_path", default)]
    pub thumbnail: String,
    /// The resolutions the template renders at.
    pub qualities: Vec<Quality>,
}

impl Template {
    /// The catalog's template with this id, if pixq knows it.
    pub fn lookup(id: TemplateId) -> Option<&'static Template> {
        templates().iter().find(|t| t.id == id)
    }

    /// Whether the template renders at `quality`.
    pub fn supports(&self, quality: Quality) -> bool {
        self.qualities.contains(&quality)
    }

    /// The supported qualities as text, e.g. `360p, 540p`.
    pub(crate) fn qualities_text(&self) -> String {
        let names: Vec<&str> = self.qualities.iter().map(|q| q.as_str()).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_has_29_templates_6_of_them_low_resolution_only() {
        assert_eq!(templates().len(), 29);
        let limited: Vec<_> = templates()
            .iter()
            .filter(|t| !t.supports(Quality::P720))
            .collect();
        assert_eq!(limited.len(), 6);
        for t in limited {
            assert_eq!(t.qualities, [Quality::P360, Quality::P540], "{}", t.name);
        }
    }

    #[test]
    fn lookup_finds_by_id_and_reports_names() {
        let t = Template::lookup(TemplateId(303624537709312)).unwrap();
        assert!(!t.name.is_empty());
        assert!(!t.supports(Quality::P1080));
        assert_eq!(t.qualities_text(), "360p, 540p");
        assert!(Template::lookup(TemplateId(1)).is_none());
    }

    #[test]
    fn every_template_supports_the_default_quality() {
        assert!(templates().iter().all(|t| t.supports(Quality::P540)));
    }
}
