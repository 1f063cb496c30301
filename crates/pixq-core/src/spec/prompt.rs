//! The prompt: what the video shows, as text the upstream will take.
//!
//! A [`Prompt`] is trimmed of leading and trailing whitespace (Unicode `White_Space`), is
//! never blank, and is at most [`MAX_PROMPT_CHARS`] characters long. Characters are Unicode
//! scalar values (Rust `char`s), not bytes: 2048 emoji are fine. The trimmed text is what
//! pixq stores and sends, so the upstream sees the same length that was checked.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The most characters a prompt may have (PixVerse's own cap).
pub const MAX_PROMPT_CHARS: usize = 2048;

/// A trimmed, non-blank prompt of at most [`MAX_PROMPT_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prompt(String);

/// Why a text is not a [`Prompt`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    /// Empty or only whitespace.
    #[error("the prompt is blank: describe what the video should show")]
    Blank,
    /// Longer than [`MAX_PROMPT_CHARS`] after trimming.
    #[error(
        "the prompt is {chars} characters long; at most {MAX_PROMPT_CHARS} are allowed: shorten it"
    )]
    TooLong {
        /// The length found, in characters, after trimming.
        chars: usize,
    },
}

impl Prompt {
    /// Trims `text` and checks it.
    ///
    /// # Errors
    ///
    /// [`PromptError::Blank`] when nothing but whitespace is left, [`PromptError::TooLong`]
    /// when more than [`MAX_PROMPT_CHARS`] characters are.
    pub fn new(text: &str) -> Result<Prompt, PromptError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PromptError::Blank);
        }
        let chars = text.chars().count();
        if chars > MAX_PROMPT_CHARS {
            return Err(PromptError::TooLong { chars });
        }
        Ok(Prompt(text.to_owned()))
    }

    /// The prompt text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prompt text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for Prompt {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Prompt {
    type Err = PromptError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Prompt::new(s)
    }
}

impl Serialize for Prompt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Prompt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Prompt::new(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_inner_whitespace() {
        let p = Prompt::new("  a cat\tsurfing \n").unwrap();
        assert_eq!(p.as_str(), "a cat\tsurfing");
    }

    #[test]
    fn blank_after_trimming_is_rejected() {
        assert_eq!(Prompt::new(""), Err(PromptError::Blank));
        assert_eq!(Prompt::new(" \t\n\u{3000}"), Err(PromptError::Blank));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let ok = "é".repeat(MAX_PROMPT_CHARS);
        assert_eq!(
            Prompt::new(&ok).unwrap().as_str().len(),
            2 * MAX_PROMPT_CHARS
        );
        let long = "é".repeat(MAX_PROMPT_CHARS + 1);
        assert_eq!(
            Prompt::new(&long),
            Err(PromptError::TooLong {
                chars: MAX_PROMPT_CHARS + 1
            })
        );
    }

    #[test]
    fn padding_does_not_count_towards_the_limit() {
        let padded = format!("  {}  ", "x".repeat(MAX_PROMPT_CHARS));
        assert!(Prompt::new(&padded).is_ok());
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<Prompt>("\"  \"").is_err());
        let p: Prompt = serde_json::from_str("\" dawn \"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"dawn\"");
    }
}
