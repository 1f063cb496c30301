//! [`Characters`] on SQLite: the tables `characters`, `character_names`,
//! `character_idempotency` and `character_reservations`. Each of begin, finish and abandon is
//! one write on the store's thread, so two requests with one key or one name cannot both
//! pass.

use std::time::Duration;

use async_trait::async_trait;
use pixverse::AssetId;
use rusqlite::{Connection, params};

use super::{Cached, SqliteStore, from_millis, millis, now_ms, optional};
use crate::character::{
    self, Begin, Character, CharacterId, Characters, NewCharacter, Reservation,
};
use crate::store::StoreError;

/// The character `id`, as stored.
fn read(conn: &Connection, id: &str) -> Result<Option<Character>, StoreError> {
    let json: Option<String> = optional(conn.row(
        "SELECT json FROM characters WHERE id = ?1",
        [id],
        |row| row.get(0),
    ))?;
    json.map(|json| character::decode(&format!("character {id}"), &json))
        .transpose()
}

/// When the reservation `id` started, if it is under way.
fn started(conn: &Connection, id: &str) -> Result<Option<i64>, StoreError> {
    optional(conn.row(
        "SELECT started_ms FROM character_reservations WHERE id = ?1",
        [id],
        |row| row.get(0),
    ))
}

/// Who holds `name`: a character or a reservation id.
fn holder(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    optional(conn.row(
        "SELECT id FROM character_names WHERE name = ?1",
        [name],
        |row| row.get(0),
    ))
}

/// [`Characters::begin`] inside one write; see `character_begin.lua` for the same steps.
fn begin(
    tx: &Connection,
    id: CharacterId,
    request: &NewCharacter,
    stale_ms: i64,
) -> Result<Begin, StoreError> {
    let now = now_ms();
    let what = format!("character reservation {id}");
    if let Some(k) = &request.idempotency {
        let bound: Option<(String, String)> = optional(tx.row(
            "SELECT id, fingerprint FROM character_idempotency WHERE key = ?1",
            [&k.key],
            |row| Ok((row.get(0)?, row.get(1)?)),
        ))?;
        if let Some((bound, fingerprint)) = bound {
            if fingerprint != k.fingerprint {
                return Ok(Begin::Conflict { key: k.key.clone() });
            }
            if let Some(found) = read(tx, &bound)? {
                return Ok(Begin::Replay(found));
            }
            if let Some(since) = started(tx, &bound)? {
                return Ok(Begin::InProgress {
                    key: k.key.clone(),
                    since: from_millis(since, &what)?,
                });
            }
        }
    }
    if let Some(name) = &request.name
        && let Some(held_by) = holder(tx, name)?
    {
        if read(tx, &held_by)?.is_some() {
            return Ok(Begin::NameTaken { name: name.clone() });
        }
        if let Some(since) = started(tx, &held_by)? {
            if now.saturating_sub(since) < stale_ms {
                return Ok(Begin::NameTaken { name: name.clone() });
            }
            // A reservation that never finished keeps its key, and loses its name.
            tx.exec(
                "UPDATE character_reservations SET name = '' WHERE id = ?1",
                [&held_by],
            )?;
        }
    }
    let (key, fingerprint) = request
        .idempotency
        .as_ref()
        .map_or(("", ""), |k| (k.key.as_str(), k.fingerprint.as_str()));
    let name = request.name.as_deref().unwrap_or("");
    tx.exec(
        "INSERT INTO character_reservations (id, key, fingerprint, name, started_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id.as_str(), key, fingerprint, name, now],
    )?;
    if !key.is_empty() {
        tx.exec(
            "INSERT OR REPLACE INTO character_idempotency (key, id, fingerprint)
             VALUES (?1, ?2, ?3)",
            params![key, id.as_str(), fingerprint],
        )?;
    }
    if !name.is_empty() {
        tx.exec(
            "INSERT OR REPLACE INTO character_names (name, id) VALUES (?1, ?2)",
            params![name, id.as_str()],
        )?;
    }
    Ok(Begin::Reserved(Reservation {
        started_at: from_millis(now, &what)?,
        id,
        key: request.idempotency.as_ref().map(|k| k.key.clone()),
        name: request.name.clone(),
    }))
}

/// [`Characters::finish`] inside one write.
fn finish(tx: &Connection, named: Character) -> Result<Character, StoreError> {
    let id = named.id.as_str().to_owned();
    if let Some(found) = read(tx, &id)? {
        return Ok(found);
    }
    let name: Option<String> = optional(tx.row(
        "SELECT name FROM character_reservations WHERE id = ?1",
        [&id],
        |row| row.get(0),
    ))?;
    let keeps_name = match name.as_deref() {
        Some(name) if !name.is_empty() => holder(tx, name)?.as_deref() == Some(id.as_str()),
        _ => false,
    };
    let stored = if keeps_name {
        named
    } else {
        Character {
            name: None,
            ..named
        }
    };
    tx.exec(
        "INSERT INTO characters (id, json, created_ms) VALUES (?1, ?2, ?3)",
        params![
            &id,
            character::encode(&stored)?,
            stored.created_at.timestamp_millis()
        ],
    )?;
    tx.exec("DELETE FROM character_reservations WHERE id = ?1", [&id])?;
    Ok(stored)
}

/// [`Characters::abandon`] inside one write.
fn abandon(tx: &Connection, id: &str) -> Result<bool, StoreError> {
    let held: Option<(String, String)> = optional(tx.row(
        "SELECT key, name FROM character_reservations WHERE id = ?1",
        [id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    ))?;
    let Some((key, name)) = held else {
        return Ok(false);
    };
    tx.exec(
        "DELETE FROM character_idempotency WHERE key = ?1 AND id = ?2",
        params![key, id],
    )?;
    tx.exec(
        "DELETE FROM character_names WHERE name = ?1 AND id = ?2",
        params![name, id],
    )?;
    tx.exec("DELETE FROM character_reservations WHERE id = ?1", [id])?;
    Ok(true)
}

#[async_trait]
impl Characters for SqliteStore {
    async fn begin(
        &self,
        request: &NewCharacter,
        stale_after: Duration,
    ) -> Result<Begin, StoreError> {
        let request = request.clone();
        let stale_ms = millis(stale_after);
        let id = CharacterId::generate();
        self.write(move |tx| begin(tx, id, &request, stale_ms))
            .await
    }

    async fn finish(
        &self,
        reservation: &Reservation,
        asset_id: AssetId,
        images: Vec<String>,
    ) -> Result<Character, StoreError> {
        let named = character::recorded(reservation, asset_id, images, true);
        self.write(move |tx| finish(tx, named)).await
    }

    async fn abandon(&self, reservation: &Reservation) -> Result<bool, StoreError> {
        let id = reservation.id.as_str().to_owned();
        self.write(move |tx| abandon(tx, &id)).await
    }

    async fn list(&self, limit: usize) -> Result<Vec<Character>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let rows: Vec<(String, String)> = conn
                .prepare_cached(
                    "SELECT id, json FROM characters ORDER BY created_ms DESC, id DESC LIMIT ?1",
                )?
                .query_map([limit], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?;
            rows.iter()
                .map(|(id, json)| character::decode(&format!("character {id}"), json))
                .collect()
        })
        .await
    }

    async fn find_by_name(&self, name: &str) -> Result<Option<Character>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| match holder(conn, &name)? {
            Some(id) => read(conn, &id),
            None => Ok(None),
        })
        .await
    }

    async fn get(&self, id: &CharacterId) -> Result<Option<Character>, StoreError> {
        let id = id.as_str().to_owned();
        self.read(move |conn| read(conn, &id)).await
    }
}
