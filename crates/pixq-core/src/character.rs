//! Characters: a person or creature the upstream made from reference images
//! (`POST /pixverse/character`), kept under pixq's own id and an optional unique name, so a job
//! can name it instead of repeating a 15-digit `asset_id`.
//!
//! Making one is paid upstream work with no way to look it up afterwards, so the store guards
//! it in three steps, and a crash anywhere never pays twice for one `Idempotency-Key`:
//!
//! 1. [`Characters::begin`] reserves the idempotency key and the name *before* the upstream
//!    is called. It answers an earlier character for the same key and body
//!    ([`Begin::Replay`]), refuses another body ([`Begin::Conflict`]), a key whose creation
//!    has not finished ([`Begin::InProgress`]), or a name in use ([`Begin::NameTaken`]).
//! 2. The caller calls the upstream.
//! 3. [`Characters::finish`] records the character and binds the key to it, in one write; or
//!    [`Characters::abandon`] releases the reservation when the upstream proved that it made
//!    nothing (it refused, or could not be reached).
//!
//! A process that dies between 1 and 3 leaves its reservation behind, and its key answers
//! [`Begin::InProgress`] for ever after: whether the upstream made (and billed) a character
//! cannot be known, so the key is never spent again; the client uses a new key. The
//! reservation's *name* is freed once the reservation is older than the `stale_after` given
//! to `begin` (see [`RESERVATION_STALE_AFTER`]), so a crash cannot take a name for ever.
//!
//! Names are 1 to [`MAX_NAME_CHARS`] characters after trimming, and never all digits, so a
//! name can never be mistaken for an `asset_id` ([`normalize_name`]).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pixverse::AssetId;
use serde::{Deserialize, Serialize};

use crate::store::{IdempotencyKey, StoreError};

/// The longest name, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 64;

/// How old a reservation must be before another creation may take its name: far longer
/// than any upstream call may take (`upstream.timeout` is 30 s by default), so a creation
/// still under way never loses its name, yet a crash does not hold a name for ever.
pub const RESERVATION_STALE_AFTER: Duration = Duration::from_secs(3600);

/// A character's id in pixq: `chr_<uuidv7>`. UUIDv7 ids sort by creation time.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct CharacterId(String);

impl CharacterId {
    /// A fresh id.
    pub fn generate() -> Self {
        CharacterId(format!("chr_{}", uuid::Uuid::now_v7().simple()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for CharacterId {
    /// Wraps an id as given (e.g. from a URL path); an unknown id is simply not found.
    fn from(id: String) -> Self {
        CharacterId(id)
    }
}

impl From<&str> for CharacterId {
    fn from(id: &str) -> Self {
        CharacterId(id.to_owned())
    }
}

impl fmt::Display for CharacterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A character the upstream made, as pixq keeps it and the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Character {
    /// pixq's id.
    pub id: CharacterId,
    /// The upstream's id, to pass as `asset_id` to a generation.
    #[schema(value_type = i64)]
    pub asset_id: AssetId,
    /// The unique name a job may use instead of `asset_id`.
    #[schema(required = true)]
    pub name: Option<String>,
    /// The reference images it was made from, as sent.
    pub images: Vec<String>,
    /// When pixq recorded it.
    pub created_at: DateTime<Utc>,
}

/// Why a text is not a character name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("the name is blank: give at least one character, or leave the name out")]
    Blank,
    /// Longer than [`MAX_NAME_CHARS`].
    #[error("the name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed")]
    TooLong {
        /// Its length after trimming, in characters.
        chars: usize,
    },
    /// Only digits: it would read as an `asset_id`.
    #[error("the name is all digits, which would read as an asset_id: add a letter")]
    AllDigits,
    /// A control character (a newline, a tab, …).
    #[error("the name has a control character: use printable text")]
    Control,
}

/// The name as stored: `text` trimmed, checked against the rules in the
/// [module docs](self).
///
/// # Errors
///
/// [`NameError`] saying which rule it breaks.
pub fn normalize_name(text: &str) -> Result<String, NameError> {
    let name = text.trim();
    if name.is_empty() {
        return Err(NameError::Blank);
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong { chars });
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameError::AllDigits);
    }
    Ok(name.to_owned())
}

/// What [`Characters::begin`] reserves: the request's idempotency key (with the fingerprint
/// of its body) and its name, both optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCharacter {
    /// The `Idempotency-Key` and the fingerprint of the body it came with.
    pub idempotency: Option<IdempotencyKey>,
    /// The name, already [normalized](normalize_name).
    pub name: Option<String>,
}

/// A creation under way: what [`Characters::begin`] holds until
/// [`finish`](Characters::finish) or [`abandon`](Characters::abandon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The id the character will have.
    pub id: CharacterId,
    /// The idempotency key it holds.
    pub key: Option<String>,
    /// The name it holds.
    pub name: Option<String>,
    /// When it was made, by the store's clock.
    pub started_at: DateTime<Utc>,
}

/// The answer of [`Characters::begin`]. Only [`Begin::Reserved`] lets the caller pay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "only Reserved allows calling the upstream"]
pub enum Begin {
    /// Reserved: call the upstream, then finish or abandon.
    Reserved(Reservation),
    /// The key was used with the same body and made this character: answer it again.
    Replay(Character),
    /// The key was used with another body; nothing was reserved.
    Conflict {
        /// The key.
        key: String,
    },
    /// The key's creation, with the same body, has not finished: it is under way, or its
    /// process died before it knew the outcome (then it never finishes: use a new key).
    InProgress {
        /// The key.
        key: String,
        /// When that creation started; long ago means it will never finish.
        since: DateTime<Utc>,
    },
    /// Another character (or a creation under way) has the name; nothing was reserved.
    NameTaken {
        /// The name.
        name: String,
    },
}

/// Characters and the creations under way. See the [module docs](self) for how a creation
/// survives a crash without paying twice.
#[async_trait]
pub trait Characters: Send + Sync {
    /// Reserves `request`'s idempotency key and name in one atomic step, before the upstream
    /// is paid. The key is looked at first, so a replay is answered even though its name is
    /// taken (by the character it made). A name held by a reservation older than
    /// `stale_after` is taken over: that reservation keeps its key, loses its name.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a stored record that does not read.
    async fn begin(
        &self,
        request: &NewCharacter,
        stale_after: Duration,
    ) -> Result<Begin, StoreError>;

    /// Records the character the upstream made for `reservation`, binds the key to it and
    /// ends the reservation, in one write; answers the character as stored. It keeps its
    /// name unless the name was taken over meanwhile. Finishing again answers the character
    /// already recorded; finishing a reservation that was abandoned still records the paid
    /// character, without a name.
    ///
    /// # Errors
    ///
    /// Backend failures (retry: the upstream has been paid, and the reservation holds).
    async fn finish(
        &self,
        reservation: &Reservation,
        asset_id: AssetId,
        images: Vec<String>,
    ) -> Result<Character, StoreError>;

    /// Releases `reservation`'s key and name: the upstream made nothing. `false` when there
    /// was no such reservation (already finished or abandoned).
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn abandon(&self, reservation: &Reservation) -> Result<bool, StoreError>;

    /// The newest `limit` characters, newest first.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a record that does not read.
    async fn list(&self, limit: usize) -> Result<Vec<Character>, StoreError>;

    /// The character named exactly `name`; `None` when no finished character has it.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a record that does not read.
    async fn find_by_name(&self, name: &str) -> Result<Option<Character>, StoreError>;

    /// The character with this id.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a record that does not read.
    async fn get(&self, id: &CharacterId) -> Result<Option<Character>, StoreError>;
}

/// The character `reservation` makes with `asset_id`, recorded now, with or without its name.
pub(crate) fn recorded(
    reservation: &Reservation,
    asset_id: AssetId,
    images: Vec<String>,
    named: bool,
) -> Character {
    Character {
        id: reservation.id.clone(),
        asset_id,
        name: if named {
            reservation.name.clone()
        } else {
            None
        },
        images,
        created_at: Utc::now(),
    }
}

/// A stored character, read back; `what` names the record for the error.
pub(crate) fn decode(what: &str, json: &str) -> Result<Character, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt(what, e.to_string()))
}

/// A character as stored.
pub(crate) fn encode(character: &Character) -> Result<String, StoreError> {
    serde_json::to_string(character)
        .map_err(|e| StoreError::corrupt(character.id.as_str(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_never_all_digits() {
        assert_eq!(normalize_name("  alice ").unwrap(), "alice");
        assert_eq!(normalize_name("007 agent").unwrap(), "007 agent");
        assert_eq!(normalize_name("12345"), Err(NameError::AllDigits));
        assert_eq!(normalize_name("   "), Err(NameError::Blank));
        assert_eq!(normalize_name("a\nb"), Err(NameError::Control));
        assert!(normalize_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
        assert_eq!(
            normalize_name(&"é".repeat(MAX_NAME_CHARS + 1)),
            Err(NameError::TooLong {
                chars: MAX_NAME_CHARS + 1
            })
        );
    }

    #[test]
    fn ids_are_prefixed_and_sort_by_creation() {
        let a = CharacterId::generate();
        let b = CharacterId::generate();
        assert!(a.as_str().starts_with("chr_"), "{a}");
        assert_eq!(a.as_str().len(), 4 + 32);
        assert!(a < b);
    }

    #[test]
    fn a_character_round_trips_with_its_asset_id_as_a_number() {
        let c = Character {
            id: CharacterId::from("chr_1"),
            asset_id: AssetId(317383895242880),
            name: Some("alice".into()),
            images: vec!["https://a.test/1.png".into()],
            created_at: Utc::now(),
        };
        let json = encode(&c).unwrap();
        assert!(json.contains("\"asset_id\":317383895242880"), "{json}");
        assert_eq!(decode("x", &json).unwrap(), c);
    }
}
