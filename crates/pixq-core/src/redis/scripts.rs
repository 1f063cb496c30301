//! The Lua scripts, each its own `.lua` file, loaded once.
//!
//! The job scripts are prefixed with `prelude.lua` (the key layout, index upkeep, pruning) and
//! called only through the methods here, which name their arguments and read their replies.
//! The scripts that compare times are prefixed with `now.lua` (the server's clock) and called
//! through the typed methods of the part of the store they serve (`schedule.rs`, `slots.rs`,
//! …), each reading its reply in one place.

use redis::Script;
use redis::aio::ConnectionManager;

use super::keys::Keys;
use crate::store::StoreError;

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(include_str!("prelude.lua"), include_str!($file)))
    };
}

macro_rules! timed {
    ($file:literal) => {
        Script::new(concat!(include_str!("now.lua"), include_str!($file)))
    };
}

/// The loaded scripts; cheap to share behind an `Arc`.
#[derive(Debug)]
pub(super) struct Scripts {
    create: Script,
    commit: Script,
    list: Script,
    prune: Script,
    pub(super) take: Script,
    pub(super) renew_lease: Script,
    pub(super) settle: Script,
    pub(super) take_slot: Script,
    pub(super) holder: Script,
    pub(super) slot_acquire: Script,
    pub(super) slot_renew: Script,
    pub(super) slot_release: Script,
    pub(super) slot_held: Script,
    pub(super) slot_holders: Script,
    pub(super) line_park: Script,
    pub(super) line_leave: Script,
    pub(super) batch_begin: Script,
    pub(super) batch_add: Script,
    pub(super) batch_accept: Script,
    pub(super) batch_ring: Script,
    pub(super) batch_discard: Script,
    pub(super) batch_list: Script,
    pub(super) pause: Script,
    pub(super) pause_gate: Script,
    pub(super) poll_gate: Script,
    pub(super) character_begin: Script,
    pub(super) character_finish: Script,
    pub(super) character_abandon: Script,
    pub(super) pipeline_record: Script,
    pub(super) outbox_take: Script,
    pub(super) outbox_record: Script,
    pub(super) outbox_resend: Script,
}

/// One record for `create.lua`.
pub(super) struct NewRecord {
    pub id: String,
    pub state: &'static str,
    pub json: String,
    pub created_ms: i64,
    pub batch: String,
}

/// What `create.lua` answered.
pub(super) enum CreateReply {
    Created,
    Replayed(String),
    Conflict(String),
    Exists(String),
}

/// One record for `commit.lua`.
pub(super) struct Write {
    /// `true`: create unless it exists (a chain's next step); `false`: update only if the
    /// record still has `from`.
    pub ensure: bool,
    pub id: String,
    /// The state and version the plan was made from (ignored when `ensure`).
    pub from: (&'static str, i64),
    pub state: &'static str,
    pub json: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub batch: String,
    /// When a finished record expires (ms since the epoch); 0 while unfinished.
    pub expire_at_ms: i64,
    /// The batch counts the write moves its chain between, if any.
    pub moved: Option<(&'static str, &'static str)>,
}

/// What `commit.lua` does besides the writes, when they apply; see its header.
#[derive(Default)]
pub(super) struct After {
    pub settle: Option<(String, Option<i64>)>,
    pub now_ms: i64,
    pub ring_now: Vec<String>,
    pub slot: Option<(String, u32, bool, bool)>,
}

/// The webhook events a `commit.lua` call writes with its records.
#[derive(Default)]
pub(super) struct Events {
    /// The id of the `batch.finished` event, should a write finish a batch with a webhook.
    pub batch_event: Option<String>,
    /// The events of the jobs the writes end, with when each was made (ms).
    pub jobs: Vec<(crate::outbox::NewEvent, i64)>,
}

/// What `commit.lua` answered.
pub(super) enum CommitReply {
    /// Applied: the first record's new version, and the jobs the freed slot woke.
    Ok(u64, Vec<String>),
    /// A record changed since it was read: plan again.
    Moved,
    /// A record disappeared.
    Gone(String),
    /// The task id is held by this job.
    Taken(String),
}

/// One page from `list.lua`: the records as JSON, and where the next page starts.
pub(super) struct ListReply {
    pub next: Option<(String, String)>,
    pub records: Vec<String>,
}

fn reply_error(script: &str, reply: &[String]) -> StoreError {
    StoreError::Corrupt {
        what: format!("the reply of {script}.lua"),
        detail: format!("unexpected {reply:?}"),
    }
}

impl Scripts {
    pub(super) fn new() -> Self {
        Scripts {
            create: script!("create.lua"),
            commit: script!("commit.lua"),
            list: script!("list.lua"),
            prune: script!("prune.lua"),
            take: script!("take.lua"),
            renew_lease: timed!("renew_lease.lua"),
            settle: script!("settle.lua"),
            take_slot: script!("take_slot.lua"),
            holder: timed!("holder.lua"),
            slot_acquire: timed!("slot_acquire.lua"),
            slot_renew: timed!("slot_renew.lua"),
            slot_release: timed!("slot_release.lua"),
            slot_held: timed!("slot_held.lua"),
            slot_holders: timed!("slot_holders.lua"),
            line_park: script!("line_park.lua"),
            line_leave: script!("line_leave.lua"),
            batch_begin: script!("batch_begin.lua"),
            batch_add: script!("batch_add.lua"),
            batch_accept: script!("batch_accept.lua"),
            batch_ring: script!("batch_ring.lua"),
            batch_discard: script!("batch_discard.lua"),
            batch_list: script!("batch_list.lua"),
            pause: timed!("pause.lua"),
            pause_gate: timed!("pause_gate.lua"),
            poll_gate: Script::new(include_str!("poll_gate.lua")),
            character_begin: Script::new(include_str!("character_begin.lua")),
            character_finish: Script::new(include_str!("character_finish.lua")),
            character_abandon: Script::new(include_str!("character_abandon.lua")),
            pipeline_record: Script::new(include_str!("pipeline_record.lua")),
            outbox_take: timed!("outbox_take.lua"),
            outbox_record: timed!("outbox_record.lua"),
            outbox_resend: timed!("outbox_resend.lua"),
        }
    }

    /// Creates `records` (all or none), the first under `idem` (key, fingerprint) if given.
    pub(super) async fn create(
        &self,
        conn: &mut ConnectionManager,
        keys: &Keys,
        idem: Option<(String, &str)>,
        records: &[NewRecord],
    ) -> Result<CreateReply, StoreError> {
        let mut call = self.create.prepare_invoke();
        call.arg(&keys.layout()[..]);
        match idem {
            Some((key, fingerprint)) => call.arg(key).arg(fingerprint),
            None => call.arg("").arg(""),
        };
        call.arg(records.len());
        for r in records {
            call.arg(&r.id)
                .arg(r.state)
                .arg(&r.json)
                .arg(r.created_ms)
                .arg(&r.batch);
        }
        let reply: Vec<String> = call.invoke_async(conn).await?;
        match reply.as_slice() {
            [tag] if tag == "created" => Ok(CreateReply::Created),
            [tag, json] if tag == "replayed" => Ok(CreateReply::Replayed(json.clone())),
            [tag, id] if tag == "conflict" => Ok(CreateReply::Conflict(id.clone())),
            [tag, id] if tag == "exists" => Ok(CreateReply::Exists(id.clone())),
            _ => Err(reply_error("create", &reply)),
        }
    }

    /// Applies `writes` (all or none); `claim` is the task key to claim for the first one;
    /// `events` go to the outbox in the same call, only if the writes apply.
    pub(super) async fn commit(
        &self,
        conn: &mut ConnectionManager,
        keys: &Keys,
        claim: Option<String>,
        writes: &[Write],
        after: &After,
        events: &Events,
    ) -> Result<CommitReply, StoreError> {
        let mut call = self.commit.prepare_invoke();
        call.arg(&keys.layout()[..])
            .arg(claim.unwrap_or_default())
            .arg(writes.len());
        for w in writes {
            call.arg(if w.ensure { "ensure" } else { "update" })
                .arg(&w.id)
                .arg(w.from.0)
                .arg(w.from.1)
                .arg(w.state)
                .arg(&w.json)
                .arg(w.created_ms)
                .arg(w.updated_ms)
                .arg(&w.batch)
                .arg(w.expire_at_ms)
                .arg(w.moved.map_or("", |(from, _)| from))
                .arg(w.moved.map_or("", |(_, to)| to));
        }
        match &after.settle {
            Some((holder, next)) => call
                .arg(holder)
                .arg(next.map(|ms| ms.to_string()).unwrap_or_default()),
            None => call.arg("").arg(""),
        };
        call.arg(after.now_ms).arg(after.ring_now.len());
        for id in &after.ring_now {
            call.arg(id);
        }
        match &after.slot {
            Some((alias, max, release, leave)) => call
                .arg(alias)
                .arg(max)
                .arg(if *release { "1" } else { "0" })
                .arg(if *leave { "1" } else { "0" }),
            None => call.arg("").arg(0).arg("0").arg("0"),
        };
        call.arg(events.batch_event.as_deref().unwrap_or(""))
            .arg(events.jobs.len());
        for (event, created_ms) in &events.jobs {
            call.arg(event.id.as_str())
                .arg(event.kind.as_str())
                .arg(&event.subject)
                .arg(&event.url)
                .arg(&event.body)
                .arg(*created_ms);
        }
        let mut reply: Vec<String> = call.invoke_async(conn).await?;
        match reply.as_slice() {
            [tag, version, ..] if tag == "ok" => {
                let version = version
                    .parse::<u64>()
                    .map_err(|_| reply_error("commit", &reply))?;
                Ok(CommitReply::Ok(version, reply.split_off(2)))
            }
            [tag, _] if tag == "moved" => Ok(CommitReply::Moved),
            [tag, id] if tag == "gone" => Ok(CommitReply::Gone(id.clone())),
            [tag, owner] if tag == "taken" => Ok(CommitReply::Taken(owner.clone())),
            _ => Err(reply_error("commit", &reply)),
        }
    }

    /// One page of `index`, examining at most `budget` entries.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn list(
        &self,
        conn: &mut ConnectionManager,
        keys: &Keys,
        index: String,
        state: Option<&'static str>,
        cursor: Option<(String, String)>,
        limit: usize,
        budget: usize,
    ) -> Result<ListReply, StoreError> {
        let (score, id) = cursor.unwrap_or_default();
        let mut reply: Vec<String> = self
            .list
            .prepare_invoke()
            .arg(&keys.layout()[..])
            .arg(index)
            .arg(state.unwrap_or(""))
            .arg(score)
            .arg(id)
            .arg(limit)
            .arg(budget)
            .invoke_async(conn)
            .await?;
        if reply.len() < 2 {
            return Err(reply_error("list", &reply));
        }
        let records = reply.split_off(2);
        let next_id = reply.pop().unwrap_or_default();
        let next_score = reply.pop().unwrap_or_default();
        Ok(ListReply {
            next: (!next_score.is_empty()).then_some((next_score, next_id)),
            records,
        })
    }

    /// Sweeps up to `limit` expired jobs out of the indexes; answers how many.
    pub(super) async fn prune(
        &self,
        conn: &mut ConnectionManager,
        keys: &Keys,
        limit: usize,
    ) -> Result<usize, StoreError> {
        Ok(self
            .prune
            .prepare_invoke()
            .arg(&keys.layout()[..])
            .arg(limit)
            .invoke_async(conn)
            .await?)
    }
}
