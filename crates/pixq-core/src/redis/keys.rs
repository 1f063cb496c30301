//! Every Redis key pixq writes, built in one place. All start with `{prefix}:`.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}:job:{id}` | hash | `json` (the [`Job`](crate::job::Job)), `state`, `version`, `batch`, `created` (ms), and the companion keys `idem` and `tasks` that expire with it |
//! | `{p}:jobs` | zset | every job id, scored by creation (ms) |
//! | `{p}:state:{state}` | zset | the ids in one state, scored by creation (ms) |
//! | `{p}:batch:{batch_id}` | zset | the ids of one batch, scored by creation (ms) |
//! | `{p}:unfinished` | zset | ids of non-terminal jobs, scored by last change (ms): the rescuer's view |
//! | `{p}:expiring` | zset | `id\nstate\nbatch` of finished jobs, scored by when they expire (ms) |
//! | `{p}:task:{task_id}` | string | the job id holding an upstream task id |
//! | `{p}:idem:{key}` | hash | `job` and `fingerprint` of an idempotency key |
//! | `{p}:due` | zset | job ids with a look booked, scored by due time (ms) |
//! | `{p}:leased` | zset | job ids a worker holds, scored by lease expiry (server ms) |
//! | `{p}:holders` | hash | job id → holder of its lease |
//! | `{p}:rung` | hash | job id → earliest look asked for while it was leased (ms) |
//! | `{p}:slots:{alias}` | zset | jobs holding a generation slot on a token, scored by lease expiry (server ms) |
//! | `{p}:slot_aliases` | set | every token alias that took a slot |
//! | `{p}:waiting:{alias}` | zset | jobs waiting for a slot, scored by turn: a batch's k-th job waiting gets turn k (or the line's first turn, if later), so batches take turns |
//! | `{p}:waiting-lanes:{alias}` | hash | batch id (`''` for jobs without one) → the last turn it was given in that line |
//! | `{p}:batchrec:{batch_id}` | hash | a batch: `status` (`writing`, `accepted`), `total`, the counts by chain state, `name`, `webhook`, `begun`, `created`, `finished` (ms), `idem` |
//! | `{p}:batch-roots:{batch_id}` | list | the batch's chains' first steps, in the order submitted |
//! | `{p}:batches-writing` | zset | batches being written, scored by when they were begun (ms): what the sweep of abandoned ones reads |
//! | `{p}:batches` | zset | accepted batches, scored by when they were accepted (ms): what the listing reads; a member whose record expired is dropped by the listing and by the sweep of abandoned batches |
//! | `{p}:batch-idem:{key}` | hash | `batch` and `fingerprint` of an idempotency key of `POST /v1/batches` |
//! | `{p}:paused` | hash | token alias → its pause as JSON |
//! | `{p}:queue-paused` | string | set (to when, in ms) while the queue is paused: takes lease nothing |
//! | `{p}:polled:{task_id}` | string | set while a task may not be polled again (1.1 s) |
//! | `{p}:dead_letters` | list | schedule entries set aside, newest first |
//! | `{p}:characters` | hash | character id → the [`Character`](crate::character::Character) as JSON |
//! | `{p}:characters-by-time` | zset | character ids, scored by creation (ms) |
//! | `{p}:character-names` | hash | name → the id of the character, or of the creation under way, that holds it |
//! | `{p}:character-idem:{key}` | hash | `id` and `fingerprint` of an idempotency key of `POST /v1/characters` |
//! | `{p}:character-pending:{id}` | hash | a creation under way: `key`, `fingerprint`, `name` (`''` for none), `started` (server ms) |
//! | `{p}:rung-now` | channel | a message when a look is booked for now, to wake idle workers |
//! | `{p}:pipeline:{name}` | hash | a scheduled pipeline's last run: `tick` (ms) and `batch` |
//! | `{p}:event:{id}` | hash | a webhook event: `kind`, `subject`, `url`, `body` (frozen; a batch's event carries a `snapshot` of its record until its first take), `state`, `attempts`, `last_error`, `created`, `since`, `ended` (ms), `holder` while leased |
//! | `{p}:events-due` | zset | pending event ids, scored by their next attempt, or by the end of the lease while one is being attempted (server ms) |
//! | `{p}:events-dead` | zset | dead event ids (given up or refused), scored by when they died (ms) |
//! | `{p}:webhook-of:{subject}` | string | the latest event id of a job or a batch |
//!
//! Scripts get the fixed names and the prefixes of the per-id families from [`Keys::layout`]
//! and append ids (or aliases) to them, so the layout is written down only here.

use crate::job::{BatchId, JobId};
use crate::state::JobState;

/// The key builder for one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    base: String,
}

impl Keys {
    /// Keys under `{prefix}:`.
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            base: format!("{prefix}:"),
        }
    }

    /// The job record of `id`.
    pub(crate) fn job(&self, id: &JobId) -> String {
        format!("{}{}", self.job_prefix(), id)
    }

    fn job_prefix(&self) -> String {
        format!("{}job:", self.base)
    }

    /// Every job, newest last by score.
    pub(crate) fn jobs(&self) -> String {
        format!("{}jobs", self.base)
    }

    /// The jobs in `state`.
    pub(crate) fn state(&self, state: JobState) -> String {
        format!("{}{}", self.state_prefix(), state.as_str())
    }

    fn state_prefix(&self) -> String {
        format!("{}state:", self.base)
    }

    /// The jobs of a batch.
    pub(crate) fn batch(&self, batch: &BatchId) -> String {
        format!("{}{}", self.batch_prefix(), batch)
    }

    fn batch_prefix(&self) -> String {
        format!("{}batch:", self.base)
    }

    /// Non-terminal jobs by last change.
    pub(crate) fn unfinished(&self) -> String {
        format!("{}unfinished", self.base)
    }

    /// Finished jobs by expiry.
    pub(crate) fn expiring(&self) -> String {
        format!("{}expiring", self.base)
    }

    /// The owner of an upstream task id.
    pub(crate) fn task(&self, task_id: &str) -> String {
        format!("{}task:{task_id}", self.base)
    }

    /// An idempotency key.
    pub(crate) fn idempotency(&self, key: &str) -> String {
        format!("{}idem:{key}", self.base)
    }

    /// Job ids with a look booked, by due time.
    pub(crate) fn due(&self) -> String {
        format!("{}due", self.base)
    }

    /// Job ids a worker holds, by lease expiry.
    pub(crate) fn leased(&self) -> String {
        format!("{}leased", self.base)
    }

    /// The holder of each lease.
    pub(crate) fn holders(&self) -> String {
        format!("{}holders", self.base)
    }

    /// Looks asked for while a job was leased.
    pub(crate) fn rung(&self) -> String {
        format!("{}rung", self.base)
    }

    /// The pub/sub channel on which a ring for now is announced to every process.
    pub(crate) fn rung_channel(&self) -> String {
        format!("{}rung-now", self.base)
    }

    /// The generation slots of a token alias.
    pub(crate) fn slots(&self, alias: &str) -> String {
        format!("{}slots:{alias}", self.base)
    }

    /// Every alias that took a slot.
    pub(crate) fn slot_aliases(&self) -> String {
        format!("{}slot_aliases", self.base)
    }

    /// The line of jobs waiting for a slot on a token alias.
    pub(crate) fn waiting(&self, alias: &str) -> String {
        format!("{}waiting:{alias}", self.base)
    }

    /// The last turn given to each batch in `alias`'s wait line.
    pub(crate) fn waiting_lanes(&self, alias: &str) -> String {
        format!("{}waiting-lanes:{alias}", self.base)
    }

    /// A batch's record.
    pub(crate) fn batch_record(&self, batch: &BatchId) -> String {
        format!("{}batchrec:{batch}", self.base)
    }

    /// A batch's chains' first steps, in order.
    pub(crate) fn batch_roots(&self, batch: &BatchId) -> String {
        format!("{}batch-roots:{batch}", self.base)
    }

    /// Batches being written, by when they were begun.
    pub(crate) fn batches_writing(&self) -> String {
        format!("{}batches-writing", self.base)
    }

    /// Accepted batches by acceptance time: the listing's index.
    pub(crate) fn batches(&self) -> String {
        format!("{}batches", self.base)
    }

    /// An idempotency key of a batch.
    pub(crate) fn batch_idempotency(&self, key: &str) -> String {
        format!("{}batch-idem:{key}", self.base)
    }

    /// Paused token aliases.
    pub(crate) fn paused(&self) -> String {
        format!("{}paused", self.base)
    }

    /// Set while the queue is paused.
    pub(crate) fn queue_paused(&self) -> String {
        format!("{}queue-paused", self.base)
    }

    /// The poll gate of an upstream task.
    pub(crate) fn polled(&self, task_id: &str) -> String {
        format!("{}polled:{task_id}", self.base)
    }

    /// Schedule entries set aside.
    pub(crate) fn dead_letters(&self) -> String {
        format!("{}dead_letters", self.base)
    }

    /// Characters by id.
    pub(crate) fn characters(&self) -> String {
        format!("{}characters", self.base)
    }

    /// Character ids by creation.
    pub(crate) fn characters_by_time(&self) -> String {
        format!("{}characters-by-time", self.base)
    }

    /// Character names and who holds each.
    pub(crate) fn character_names(&self) -> String {
        format!("{}character-names", self.base)
    }

    /// An idempotency key of a character creation.
    pub(crate) fn character_idempotency(&self, key: &str) -> String {
        format!("{}character-idem:{key}", self.base)
    }

    /// A character creation under way.
    pub(crate) fn character_pending(&self, id: &str) -> String {
        format!("{}character-pending:{id}", self.base)
    }

    /// A scheduled pipeline's last run.
    pub(crate) fn pipeline(&self, name: &str) -> String {
        format!("{}pipeline:{name}", self.base)
    }

    /// A webhook event.
    pub(crate) fn event(&self, id: &str) -> String {
        format!("{}event:{id}", self.base)
    }

    /// Pending webhook events, by next attempt or lease end.
    pub(crate) fn events_due(&self) -> String {
        format!("{}events-due", self.base)
    }

    /// Dead webhook events, by when they died.
    pub(crate) fn events_dead(&self) -> String {
        format!("{}events-dead", self.base)
    }

    /// The latest webhook event of a job or a batch.
    pub(crate) fn webhook_of(&self, subject: &str) -> String {
        format!("{}webhook-of:{subject}", self.base)
    }

    /// The first arguments of the outbox scripts, in the order they read them.
    pub(crate) fn outbox_layout(&self) -> [String; 4] {
        [
            self.event(""),
            self.events_due(),
            self.events_dead(),
            self.webhook_of(""),
        ]
    }

    /// The first arguments of the character scripts, in the order they read them.
    pub(crate) fn character_layout(&self) -> [String; 5] {
        [
            self.characters(),
            self.characters_by_time(),
            self.character_names(),
            self.character_idempotency(""),
            self.character_pending(""),
        ]
    }

    /// The prefix, without its colon.
    pub(crate) fn prefix(&self) -> &str {
        self.base.trim_end_matches(':')
    }

    /// The first arguments of every script, in the order the Lua prelude reads them.
    pub(crate) fn layout(&self) -> [String; 21] {
        [
            self.job_prefix(),
            self.jobs(),
            self.state_prefix(),
            self.batch_prefix(),
            self.unfinished(),
            self.expiring(),
            self.due(),
            self.leased(),
            self.holders(),
            self.rung(),
            self.slots(""),
            self.waiting(""),
            self.waiting_lanes(""),
            self.paused(),
            self.slot_aliases(),
            self.batch_record(&BatchId::from("")),
            self.batch_roots(&BatchId::from("")),
            self.event(""),
            self.events_due(),
            self.webhook_of(""),
            self.queue_paused(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_and_family_starts_with_the_prefix() {
        let keys = Keys::new("p-1");
        let id = JobId::from("job_x");
        let all = [
            keys.job(&id),
            keys.jobs(),
            keys.state(JobState::Failed),
            keys.batch(&BatchId::from("batch_y")),
            keys.unfinished(),
            keys.expiring(),
            keys.task("t"),
            keys.idempotency("k"),
            keys.due(),
            keys.leased(),
            keys.holders(),
            keys.rung(),
            keys.slots("a"),
            keys.slot_aliases(),
            keys.waiting("a"),
            keys.waiting_lanes("a"),
            keys.batch_record(&BatchId::from("batch_y")),
            keys.batch_roots(&BatchId::from("batch_y")),
            keys.batches_writing(),
            keys.batch_idempotency("k"),
            keys.batches(),
            keys.paused(),
            keys.queue_paused(),
            keys.polled("t"),
            keys.dead_letters(),
            keys.characters(),
            keys.characters_by_time(),
            keys.character_names(),
            keys.character_idempotency("k"),
            keys.character_pending("chr_x"),
            keys.rung_channel(),
            keys.pipeline("daily"),
            keys.event("evt_x"),
            keys.events_due(),
            keys.events_dead(),
            keys.webhook_of("job_x"),
        ];
        for key in all.iter().chain(keys.layout().iter()) {
            assert!(key.starts_with("p-1:"), "{key}");
        }
        for key in &keys.outbox_layout() {
            assert!(key.starts_with("p-1:"), "{key}");
        }
        for key in &keys.character_layout() {
            assert!(key.starts_with("p-1:"), "{key}");
        }
        assert_eq!(keys.job(&id), format!("{}job_x", keys.layout()[0]));
        assert_eq!(
            keys.state(JobState::Failed),
            format!("{}failed", keys.layout()[2])
        );
    }
}
