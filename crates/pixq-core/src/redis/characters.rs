//! [`Characters`] on Redis: records in the hash `{p}:characters`, ordered by
//! `{p}:characters-by-time`, names in `{p}:character-names`, and each creation under way in
//! `{p}:character-pending:{id}` with its key bound in `{p}:character-idem:{key}`.
//!
//! Reserving, finishing and abandoning are each one Lua script (`character_begin.lua`,
//! `character_finish.lua`, `character_abandon.lua`), so two requests with one key or one name
//! cannot both pass. Reservation times are the Redis server's clock.

use std::time::Duration;

use ::redis::AsyncCommands;
use async_trait::async_trait;
use pixverse::AssetId;

use super::{RedisStore, from_millis, millis};
use crate::character::{
    self, Begin, Character, CharacterId, Characters, NewCharacter, Reservation,
};
use crate::store::StoreError;

impl RedisStore {
    fn decode_character(&self, json: &str) -> Result<Character, StoreError> {
        character::decode(&self.keys.characters(), json)
    }

    fn reply_error(&self, script: &str, reply: &[String]) -> StoreError {
        StoreError::corrupt(
            format!("the reply of {script}.lua"),
            format!("unexpected {reply:?}"),
        )
    }
}

#[async_trait]
impl Characters for RedisStore {
    async fn begin(
        &self,
        request: &NewCharacter,
        stale_after: Duration,
    ) -> Result<Begin, StoreError> {
        let id = CharacterId::generate();
        let (key, fingerprint) = request
            .idempotency
            .as_ref()
            .map_or(("", ""), |k| (k.key.as_str(), k.fingerprint.as_str()));
        let name = request.name.as_deref().unwrap_or("");
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .scripts
            .character_begin
            .prepare_invoke()
            .arg(&self.keys.character_layout()[..])
            .arg(id.as_str())
            .arg(key)
            .arg(fingerprint)
            .arg(name)
            .arg(millis(stale_after))
            .invoke_async(&mut conn)
            .await?;
        let what = self.keys.character_pending(id.as_str());
        let at = |ms: &str| {
            let ms = ms
                .parse::<i64>()
                .map_err(|_| self.reply_error("character_begin", &reply))?;
            from_millis(ms, &what)
        };
        match reply.as_slice() {
            [tag, started] if tag == "reserved" => Ok(Begin::Reserved(Reservation {
                id,
                key: request.idempotency.as_ref().map(|k| k.key.clone()),
                name: request.name.clone(),
                started_at: at(started)?,
            })),
            [tag, json] if tag == "replay" => Ok(Begin::Replay(self.decode_character(json)?)),
            [tag] if tag == "conflict" => Ok(Begin::Conflict {
                key: key.to_owned(),
            }),
            [tag, started] if tag == "in_progress" => Ok(Begin::InProgress {
                key: key.to_owned(),
                since: at(started)?,
            }),
            [tag] if tag == "name_taken" => Ok(Begin::NameTaken {
                name: name.to_owned(),
            }),
            _ => Err(self.reply_error("character_begin", &reply)),
        }
    }

    async fn finish(
        &self,
        reservation: &Reservation,
        asset_id: AssetId,
        images: Vec<String>,
    ) -> Result<Character, StoreError> {
        let named = character::recorded(reservation, asset_id, images, true);
        let unnamed = Character {
            name: None,
            ..named.clone()
        };
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .scripts
            .character_finish
            .prepare_invoke()
            .arg(&self.keys.character_layout()[..])
            .arg(reservation.id.as_str())
            .arg(character::encode(&named)?)
            .arg(character::encode(&unnamed)?)
            .arg(named.created_at.timestamp_millis())
            .invoke_async(&mut conn)
            .await?;
        match reply.as_slice() {
            [tag, _] if tag == "named" => Ok(named),
            [tag, _] if tag == "unnamed" => Ok(unnamed),
            [tag, json] if tag == "exists" => self.decode_character(json),
            _ => Err(self.reply_error("character_finish", &reply)),
        }
    }

    async fn abandon(&self, reservation: &Reservation) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let released: i64 = self
            .scripts
            .character_abandon
            .prepare_invoke()
            .arg(&self.keys.character_layout()[..])
            .arg(reservation.id.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(released == 1)
    }

    async fn list(&self, limit: usize) -> Result<Vec<Character>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let last = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let mut conn = self.conn();
        let ids: Vec<String> = conn
            .zrevrange(self.keys.characters_by_time(), 0, last)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<Option<String>> = ::redis::cmd("HMGET")
            .arg(self.keys.characters())
            .arg(&ids)
            .query_async(&mut conn)
            .await?;
        records
            .iter()
            .flatten()
            .map(|json| self.decode_character(json))
            .collect()
    }

    async fn find_by_name(&self, name: &str) -> Result<Option<Character>, StoreError> {
        let mut conn = self.conn();
        let holder: Option<String> = conn.hget(self.keys.character_names(), name).await?;
        match holder {
            Some(id) => self.get(&CharacterId::from(id)).await,
            None => Ok(None),
        }
    }

    async fn get(&self, id: &CharacterId) -> Result<Option<Character>, StoreError> {
        let mut conn = self.conn();
        let json: Option<String> = conn.hget(self.keys.characters(), id.as_str()).await?;
        json.map(|json| self.decode_character(&json)).transpose()
    }
}
