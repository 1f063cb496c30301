//! Rules across fields: which motion, duration and quality go together, and which qualities a
//! catalog template renders at.
//!
//! PixVerse offers `fast` motion only for 5-second videos, and 1080p with neither 8 s nor
//! `fast`. The rules apply to the values in effect, after the upstream's defaults (`normal`,
//! 5 s, 540p) and, for an extend step, after inheriting from the job. The error names the field
//! that the checked level (the job, or the step) set itself; when it set both fields of a
//! clashing pair, it names the first one of the rule: `motion` for fast with 8 s, `quality`
//! for 1080p with 8 s or with fast.

use pixverse::{Motion, Quality, TemplateId, VideoDuration};

use super::catalog::Template;
use super::error::{SpecError, SpecErrorCode, key_path};

/// The motion, duration and quality a step runs with, and which of them it set itself
/// (the rest are inherited from the job or left to the upstream's defaults).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Effective {
    pub(crate) motion: Setting<Motion>,
    pub(crate) duration: Setting<VideoDuration>,
    pub(crate) quality: Setting<Quality>,
}

/// A value in effect and whether the level being checked set it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting<T> {
    pub(crate) value: T,
    pub(crate) own: bool,
}

impl<T: Copy> Setting<T> {
    /// The level's own value if it has one, else the inherited one, else `default`.
    pub(crate) fn resolve(own: Option<T>, inherited: Option<T>, default: T) -> Self {
        Setting {
            value: own.or(inherited).unwrap_or(default),
            own: own.is_some(),
        }
    }
}

/// The upstream's defaults, which never clash with each other.
pub(crate) const DEFAULT_MOTION: Motion = Motion::Normal;
/// See [`DEFAULT_MOTION`].
pub(crate) const DEFAULT_DURATION: VideoDuration = VideoDuration::Five;
/// See [`DEFAULT_MOTION`].
pub(crate) const DEFAULT_QUALITY: Quality = Quality::P540;

/// Checks the motion, duration and quality rules; `at` is the path of the object checked
/// (`""` for the job, `extend[2]` for a step).
pub(crate) fn check_combination(at: &str, e: &Effective) -> Result<(), SpecError> {
    let fast = e.motion.value == Motion::Fast;
    let eight = e.duration.value == VideoDuration::Eight;
    let full_hd = e.quality.value == Quality::P1080;
    let (first, second, message) = if fast && eight {
        (
            ("motion", e.motion.own),
            ("duration", e.duration.own),
            "fast motion is only offered for 5-second videos: use motion \"normal\" or duration 5",
        )
    } else if full_hd && eight {
        (
            ("quality", e.quality.own),
            ("duration", e.duration.own),
            "1080p is only offered for 5-second videos: use duration 5 or a lower quality",
        )
    } else if full_hd && fast {
        (
            ("quality", e.quality.own),
            ("motion", e.motion.own),
            "fast motion is not offered at 1080p: use motion \"normal\" or a lower quality",
        )
    } else {
        return Ok(());
    };
    // Name what this level set; a clash needs at least one of the pair set here, because
    // defaults never clash and an inherited pair was already checked on the job.
    let (named, other) = if second.1 && !first.1 {
        (second, first)
    } else {
        (first, second)
    };
    let mut message = message.to_owned();
    if !at.is_empty() && !other.1 {
        message.push_str(&format!(" (this step inherits {} from the job)", other.0));
    }
    Err(SpecError::at(
        key_path(at, named.0),
        SpecErrorCode::InvalidValue,
        message,
    ))
}

/// Checks that a catalog template renders at the quality in effect; ids outside the catalog
/// pass, since the catalog changes.
pub(crate) fn check_template(
    template_id: Option<TemplateId>,
    quality: Option<Quality>,
) -> Result<(), SpecError> {
    let Some(template) = template_id.and_then(Template::lookup) else {
        return Ok(());
    };
    let effective = quality.unwrap_or(DEFAULT_QUALITY);
    if template.supports(effective) {
        return Ok(());
    }
    let given = if quality.is_some() {
        format!("quality {effective}")
    } else {
        format!("the default quality {effective}")
    };
    Err(SpecError::at(
        "quality".to_owned(),
        SpecErrorCode::InvalidValue,
        format!(
            "template {} ({:?}) renders only at {}, not at {given}: pick one of those",
            template.id,
            template.name,
            template.qualities_text()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effective(
        motion: (Motion, bool),
        duration: (VideoDuration, bool),
        quality: (Quality, bool),
    ) -> Effective {
        Effective {
            motion: Setting {
                value: motion.0,
                own: motion.1,
            },
            duration: Setting {
                value: duration.0,
                own: duration.1,
            },
            quality: Setting {
                value: quality.0,
                own: quality.1,
            },
        }
    }

    fn named(at: &str, e: Effective) -> Option<String> {
        check_combination(at, &e).err().and_then(|e| e.field)
    }

    #[test]
    fn defaults_pass() {
        let e = effective(
            (DEFAULT_MOTION, false),
            (DEFAULT_DURATION, false),
            (DEFAULT_QUALITY, false),
        );
        assert!(check_combination("", &e).is_ok());
    }

    #[test]
    fn every_clash_is_caught_and_named_by_the_level_that_set_it() {
        use Motion::*;
        use Quality::*;
        use VideoDuration::*;
        let cases = [
            ((Fast, true), (Eight, true), (P540, false), "motion"),
            ((Fast, false), (Eight, true), (P540, false), "duration"),
            ((Normal, false), (Eight, true), (P1080, true), "quality"),
            ((Normal, false), (Eight, true), (P1080, false), "duration"),
            ((Fast, true), (Five, false), (P1080, true), "quality"),
            ((Fast, true), (Five, false), (P1080, false), "motion"),
        ];
        for (m, d, q, field) in cases {
            assert_eq!(
                named("extend[1]", effective(m, d, q)).as_deref(),
                Some(format!("extend[1].{field}").as_str())
            );
            assert_eq!(named("", effective(m, d, q)).as_deref(), Some(field));
        }
    }

    #[test]
    fn allowed_pairs_pass() {
        use Motion::*;
        use Quality::*;
        use VideoDuration::*;
        for (m, d, q) in [
            (Fast, Five, P720),
            (Normal, Eight, P720),
            (Normal, Five, P1080),
        ] {
            assert!(check_combination("", &effective((m, true), (d, true), (q, true))).is_ok());
        }
    }

    #[test]
    fn a_step_message_says_what_it_inherited() {
        let e = effective(
            (Motion::Fast, false),
            (VideoDuration::Eight, true),
            (Quality::P540, false),
        );
        let err = check_combination("extend[0]", &e).unwrap_err();
        assert!(err.message.contains("inherits motion"), "{}", err.message);
    }

    #[test]
    fn low_resolution_templates_refuse_720p_and_outside_ids_pass() {
        let limited = Some(TemplateId(303624537709312));
        assert!(check_template(limited, None).is_ok());
        assert!(check_template(limited, Some(Quality::P360)).is_ok());
        let e = check_template(limited, Some(Quality::P720)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("quality"));
        assert!(check_template(Some(TemplateId(42)), Some(Quality::P1080)).is_ok());
    }
}
