//! The documented catalog of effect templates (`templates.json`, a copy of the upstream
//! fixture): a result echoes a template's name, and a template refuses qualities it lacks.

use std::{collections::HashMap, sync::OnceLock};

use serde::Deserialize;

const CATALOG: &str = include_str!("../templates.json");

/// One effect template as the catalog lists it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Template {
    /// The id passed as `template_id`.
    pub(crate) template_id: i64,
    /// The name a result echoes as `template_name`.
    pub(crate) display_name: String,
    /// The qualities the template can render.
    pub(crate) qualities: Vec<String>,
}

fn catalog() -> &'static HashMap<i64, Template> {
    static BY_ID: OnceLock<HashMap<i64, Template>> = OnceLock::new();
    BY_ID.get_or_init(|| {
        // The file is compiled in and checked by a unit test, so a parse failure cannot ship;
        // an empty catalog (every id accepted) is the harmless fallback.
        let templates: Vec<Template> = serde_json::from_str(CATALOG).unwrap_or_default();
        templates.into_iter().map(|t| (t.template_id, t)).collect()
    })
}

/// The template with this id, if the catalog knows it. The catalog changes over time, so an
/// unknown id is accepted by the caller, not refused.
pub(crate) fn lookup(template_id: i64) -> Option<&'static Template> {
    catalog().get(&template_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_with_all_29_templates() {
        assert_eq!(catalog().len(), 29);
        let zombie = lookup(302_325_299_651_648).unwrap();
        assert_eq!(zombie.display_name, "Zombie Mode");
        let limited = catalog()
            .values()
            .filter(|t| t.qualities.len() == 2)
            .count();
        assert_eq!(limited, 6);
    }
}
