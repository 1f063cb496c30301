//! The calls of one look: take with records, commit with effects, a slot taken in turn.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pixq_core::job::JobId;
use pixq_core::state::{JobState, Transition, WaitingReason};
use pixq_core::store::{Effects, Outcome, SharedStore, SlotEffect, SlotRequest, SlotTurn};

use crate::jobs::{apply_ok, extend_step, job_in, new_job, video};

const TTL: Duration = Duration::from_secs(30);
const SLOT_TTL: Duration = Duration::from_secs(60);

fn request(job: &JobId, max: u32) -> SlotRequest {
    SlotRequest {
        alias: "tok".into(),
        job: job.clone(),
        max,
        ttl: SLOT_TTL,
        probe_window: Duration::from_secs(30),
    }
}

pub async fn a_take_hands_out_each_job_with_its_record_and_version(store: &SharedStore) {
    let job = store.jobs().create(new_job(), None).await.unwrap().job;
    let ghost = JobId::from("job_never_created");
    store
        .schedule()
        .ring_many(&[job.id.clone(), ghost.clone()], Utc::now())
        .await
        .unwrap();
    let claims = store.take(Utc::now(), 10, "w", TTL).await.unwrap();
    assert_eq!(claims.len(), 2);
    let mine = claims.iter().find(|c| c.lease.job == job.id).unwrap();
    let basis = mine
        .record
        .as_ref()
        .expect("the record comes with the lease");
    assert_eq!(basis.job, job);
    let ghost = claims.iter().find(|c| c.lease.job == ghost).unwrap();
    assert_eq!(
        ghost.record, None,
        "a job that does not exist has no record"
    );
    assert!(store.schedule().holder(&job.id).await.unwrap().is_some());

    // The version given is the one a write must start from: a commit from it applies, and
    // the next commit starts from the version it answers.
    let begin = Transition::begin_submit(job.id.clone(), "{}".into(), None);
    let first = store
        .commit(begin, Some(basis.clone()), Effects::default())
        .await
        .unwrap();
    let next = first.basis().expect("applied, with a version");
    assert_eq!(next.version, basis.version + 1);
    let submitted = Transition::submitted(job.id.clone(), "t-look-1".into(), None);
    let second = store
        .commit(submitted, Some(next), Effects::default())
        .await
        .unwrap();
    assert_eq!(second.outcome.job().state, JobState::Generating);
}

pub async fn a_commit_from_an_old_version_is_planned_again(store: &SharedStore) {
    let job = job_in(store.jobs(), JobState::Queued).await;
    let basis = {
        store.schedule().ring(&job.id, Utc::now()).await.unwrap();
        let claims = store.take(Utc::now(), 1, "w", TTL).await.unwrap();
        claims[0].record.clone().unwrap()
    };
    // Someone else cancels the job after it was read.
    apply_ok(store.jobs(), Transition::cancel(job.id.clone())).await;
    let lease = store
        .schedule()
        .holder(&job.id)
        .await
        .unwrap()
        .map(|(h, _)| h);
    let begin = Transition::begin_submit(job.id.clone(), "{}".into(), None);
    let committed = store
        .commit(begin, Some(basis), Effects::default())
        .await
        .unwrap();
    match committed.outcome {
        Outcome::Stale { current } => assert_eq!(current.state, JobState::Cancelled),
        other => panic!("a commit planned from an old record must not apply: {other:?}"),
    }
    assert_eq!(committed.version, None);
    assert!(
        lease.is_some(),
        "nothing of the effects ran, the lease is still held"
    );
}

pub async fn a_commit_settles_rings_the_next_step_and_gives_the_slot_back_at_once(
    store: &SharedStore,
) {
    // One slot, held by a generating job; another job waits in the line for it.
    let running = job_in(store.jobs(), JobState::Generating).await;
    let waiting = store.jobs().create(new_job(), None).await.unwrap().job;
    assert!(matches!(
        store.take_slot(&request(&running.id, 1)).await.unwrap(),
        SlotTurn::Taken {
            held: 1,
            probe: None
        }
    ));
    assert!(matches!(
        store.take_slot(&request(&waiting.id, 1)).await.unwrap(),
        SlotTurn::Wait {
            held: 1,
            at_head: true,
            ..
        }
    ));
    store
        .schedule()
        .ring(&running.id, Utc::now())
        .await
        .unwrap();
    let claim = store
        .take(Utc::now(), 10, "w", TTL)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(claim.lease.job, running.id);

    let succeed = Transition::succeed(running.id.clone(), video(5), Some(extend_step(5)));
    let effects = Effects {
        settle: Some((claim.lease.clone(), None)),
        ring_now: vec![JobId::for_step(&running.id, 1)],
        slot: Some(SlotEffect {
            alias: "tok".into(),
            max: 1,
            release: true,
            leave_line: true,
        }),
        take_next: None,
    };
    let committed = store.commit(succeed, claim.record, effects).await.unwrap();
    assert!(committed.outcome.is_applied());
    assert_eq!(
        committed.woken,
        vec![waiting.id.clone()],
        "the freed slot woke the line"
    );
    assert_eq!(store.slots().held("tok").await.unwrap(), 0);
    assert!(
        store
            .schedule()
            .holder(&running.id)
            .await
            .unwrap()
            .is_none(),
        "settled"
    );
    assert_eq!(store.schedule().due_at(&running.id).await.unwrap(), None);
    let child = JobId::for_step(&running.id, 1);
    assert!(
        store.schedule().due_at(&child).await.unwrap().is_some(),
        "next step rung"
    );
    assert!(
        store
            .schedule()
            .due_at(&waiting.id)
            .await
            .unwrap()
            .is_some(),
        "waiter rung"
    );
}

pub async fn a_commit_that_does_not_apply_has_no_effects(store: &SharedStore) {
    let done = job_in(store.jobs(), JobState::Succeeded).await;
    store.schedule().ring(&done.id, Utc::now()).await.unwrap();
    let claim = store.take(Utc::now(), 1, "w", TTL).await.unwrap().remove(0);
    let other = JobId::from("job_not_rung");
    let effects = Effects {
        settle: Some((claim.lease.clone(), Some(Utc::now()))),
        ring_now: vec![other.clone()],
        slot: None,
        take_next: Some(TTL),
    };
    let committed = store
        .commit(Transition::cancel(done.id.clone()), claim.record, effects)
        .await
        .unwrap();
    assert!(!committed.outcome.is_applied());
    assert_eq!(
        committed.next, None,
        "a write that did not apply takes nothing"
    );
    assert!(store.schedule().due_at(&other).await.unwrap().is_none());
    assert!(store.schedule().holder(&done.id).await.unwrap().is_some());
}

pub async fn a_requeue_commit_books_the_next_look_at_its_time(store: &SharedStore) {
    let job = store.jobs().create(new_job(), None).await.unwrap().job;
    store.schedule().ring(&job.id, Utc::now()).await.unwrap();
    let claim = store.take(Utc::now(), 1, "w", TTL).await.unwrap().remove(0);
    let at = Utc::now() + TimeDelta::seconds(40);
    let requeue = Transition::requeue(job.id.clone(), WaitingReason::RateLimited, Some(at), false);
    let effects = Effects {
        settle: Some((claim.lease, Some(at))),
        ..Effects::default()
    };
    assert!(
        store
            .commit(requeue, claim.record, effects)
            .await
            .unwrap()
            .outcome
            .is_applied()
    );
    let due = store.schedule().due_at(&job.id).await.unwrap().unwrap();
    assert_eq!(due.timestamp_millis(), at.timestamp_millis());
    assert!(store.schedule().holder(&job.id).await.unwrap().is_none());
}

pub async fn slots_are_taken_in_the_order_of_the_line(store: &SharedStore) {
    let ids: Vec<JobId> = (0..4)
        .map(|i| JobId::from(format!("job_turn_{i}")))
        .collect();
    // Two slots; four jobs ask in order: two get one, two wait in the line.
    let mut turns = Vec::new();
    for id in &ids {
        turns.push(store.take_slot(&request(id, 2)).await.unwrap());
    }
    assert!(matches!(turns[0], SlotTurn::Taken { held: 1, .. }));
    assert!(matches!(turns[1], SlotTurn::Taken { held: 2, .. }));
    for turn in &turns[2..] {
        match turn {
            SlotTurn::Wait {
                held: 2,
                earliest_expiry: Some(at),
                at_head: true,
            } => assert!(*at > Utc::now() + TimeDelta::seconds(50)),
            other => panic!("expected to wait, got {other:?}"),
        }
    }
    // Asking again keeps a job's slot; it does not take a second.
    assert!(matches!(
        store.take_slot(&request(&ids[0], 2)).await.unwrap(),
        SlotTurn::Taken { held: 2, .. }
    ));
    // A slot frees: the first of the line gets it, the last may not jump ahead.
    assert!(store.slots().release("tok", &ids[0]).await.unwrap());
    assert!(matches!(
        store.take_slot(&request(&ids[3], 2)).await.unwrap(),
        SlotTurn::Wait { held: 1, .. }
    ));
    assert!(matches!(
        store.take_slot(&request(&ids[2], 2)).await.unwrap(),
        SlotTurn::Taken {
            held: 2,
            probe: None
        }
    ));
    assert_eq!(
        store.wait_line().first("tok", 10).await.unwrap(),
        vec![ids[3].clone()],
        "the job that got a slot left the line"
    );
}

pub async fn a_paused_token_parks_jobs_and_lets_one_probe_after_its_until(store: &SharedStore) {
    let (a, b, c) = (
        JobId::from("job_probe_a"),
        JobId::from("job_probe_b"),
        JobId::from("job_probe_c"),
    );
    let until = Utc::now() + TimeDelta::milliseconds(300);
    store.pauses().pause("tok", "used_up", until).await.unwrap();
    match store.take_slot(&request(&a, 5)).await.unwrap() {
        SlotTurn::Paused { pause, at_head } => {
            assert_eq!(pause.reason, "used_up");
            assert!(at_head);
        }
        other => panic!("expected paused, got {other:?}"),
    }
    assert!(matches!(
        store.take_slot(&request(&b, 5)).await.unwrap(),
        SlotTurn::Paused { .. }
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Past `until`: exactly one job probes, out of turn, and holds a slot to do it.
    match store.take_slot(&request(&c, 5)).await.unwrap() {
        SlotTurn::Taken {
            probe: Some(pause), ..
        } => assert_eq!(pause.reason, "used_up"),
        other => panic!("expected the probe, got {other:?}"),
    }
    assert!(matches!(
        store.take_slot(&request(&a, 5)).await.unwrap(),
        SlotTurn::Paused { .. }
    ));
    // The probe succeeded: the pause is lifted and the line goes on.
    assert!(store.pauses().clear("tok").await.unwrap());
    assert!(matches!(
        store.take_slot(&request(&a, 5)).await.unwrap(),
        SlotTurn::Taken { probe: None, .. }
    ));
}

pub async fn a_probe_without_a_free_slot_hands_the_probe_back(store: &SharedStore) {
    let (holder, prober, next) = (
        JobId::from("job_holder"),
        JobId::from("job_prober"),
        JobId::from("job_next"),
    );
    assert!(matches!(
        store.take_slot(&request(&holder, 1)).await.unwrap(),
        SlotTurn::Taken { .. }
    ));
    store
        .pauses()
        .pause("tok", "used_up", Utc::now() - TimeDelta::seconds(1))
        .await
        .unwrap();
    assert!(matches!(
        store.take_slot(&request(&prober, 1)).await.unwrap(),
        SlotTurn::Wait { .. }
    ));
    let pause = store.pauses().status("tok").await.unwrap().unwrap();
    assert!(
        pause.probe_due(Utc::now()),
        "handed back: the next job may probe"
    );
    assert!(store.slots().release("tok", &holder).await.unwrap());
    assert!(matches!(
        store.take_slot(&request(&next, 1)).await.unwrap(),
        SlotTurn::Taken { probe: Some(_), .. }
    ));
}

pub async fn a_batch_arriving_late_takes_a_free_slot_in_its_turn(store: &SharedStore) {
    let (_, large) = crate::batches::accepted(
        store,
        vec![(0..6).map(|_| crate::jobs::new_job()).collect()],
    )
    .await;
    let (_, small) = crate::batches::accepted(store, vec![vec![crate::jobs::new_job()]]).await;
    // Two slots: the large batch's first two take them, its other four wait, turns 1 to 4.
    for (i, id) in large.iter().enumerate() {
        let turn = store.take_slot(&request(id, 2)).await.unwrap();
        assert_eq!(
            matches!(turn, SlotTurn::Taken { .. }),
            i < 2,
            "{i}: {turn:?}"
        );
    }
    assert!(store.slots().release("tok", &large[0]).await.unwrap());
    assert!(store.slots().release("tok", &large[1]).await.unwrap());
    // Two slots are free. The small batch's job has had no turn yet: it waits beside the
    // large batch's next job, not behind all four, so it is in turn at once.
    assert!(matches!(
        store.take_slot(&request(&small[0], 2)).await.unwrap(),
        SlotTurn::Taken { held: 1, .. }
    ));
    assert!(matches!(
        store.take_slot(&request(&large[3], 2)).await.unwrap(),
        SlotTurn::Wait { held: 1, .. }
    ));
    assert!(matches!(
        store.take_slot(&request(&large[2], 2)).await.unwrap(),
        SlotTurn::Taken { held: 2, .. }
    ));
    assert_eq!(
        store.wait_line().first("tok", 10).await.unwrap(),
        large[3..].to_vec(),
    );
}

pub async fn a_settling_commit_may_take_the_next_due_job_for_the_same_holder(store: &SharedStore) {
    let first = store.jobs().create(new_job(), None).await.unwrap().job;
    let second = store.jobs().create(new_job(), None).await.unwrap().job;
    store.schedule().ring(&first.id, Utc::now()).await.unwrap();
    let claim = store.take(Utc::now(), 1, "w", TTL).await.unwrap().remove(0);
    assert_eq!(claim.lease.job, first.id);
    store.schedule().ring(&second.id, Utc::now()).await.unwrap();

    let at = Utc::now() + TimeDelta::seconds(40);
    let requeue = Transition::requeue(
        first.id.clone(),
        WaitingReason::RateLimited,
        Some(at),
        false,
    );
    let effects = Effects {
        settle: Some((claim.lease.clone(), Some(at))),
        take_next: Some(TTL),
        ..Effects::default()
    };
    let committed = store.commit(requeue, claim.record, effects).await.unwrap();
    assert!(committed.outcome.is_applied());
    match committed.next {
        // A home that takes with the write: the due job, leased to the same holder, with
        // its record; nobody else can take it now.
        Some(next) => {
            assert_eq!(next.lease.job, second.id);
            assert_eq!(next.lease.holder, claim.lease.holder);
            assert_eq!(next.record.map(|b| b.job), Some(second.clone()));
            let (holder, _) = store.schedule().holder(&second.id).await.unwrap().unwrap();
            assert_eq!(holder, claim.lease.holder);
            assert!(
                store
                    .take(Utc::now(), 10, "w2", TTL)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        // A home that does not: the job is still due, for the doorbell.
        None => {
            let taken = store.take(Utc::now(), 10, "w2", TTL).await.unwrap();
            assert_eq!(taken.len(), 1);
            assert_eq!(taken[0].lease.job, second.id);
        }
    }
    // The settled job is booked for its time, not taken.
    assert_eq!(
        store
            .schedule()
            .due_at(&first.id)
            .await
            .unwrap()
            .map(|t| t.timestamp_millis()),
        Some(at.timestamp_millis())
    );
}
