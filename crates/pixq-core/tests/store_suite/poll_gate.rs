//! The poll gate: one poll a second per upstream task, whoever asks.

use std::time::Duration;

use pixq_core::limits::POLL_WINDOW;
use pixq_core::store::SharedStore;

pub async fn a_task_is_polled_at_most_once_a_window(store: &SharedStore) {
    let gate = store.poll_gate();
    assert_eq!(gate.enter("task-a").await.unwrap(), None, "first poll");
    let wait = gate.enter("task-a").await.unwrap().expect("too soon");
    assert!(
        wait <= POLL_WINDOW && wait >= Duration::from_millis(50),
        "{wait:?}"
    );
    assert_eq!(gate.enter("task-b").await.unwrap(), None, "per task");

    // Many pollers at once: exactly one gets through.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.poll_gate().enter("task-c").await.unwrap().is_none()
        }));
    }
    let mut through = 0;
    for t in tasks {
        through += u32::from(t.await.unwrap());
    }
    assert_eq!(through, 1);

    tokio::time::sleep(POLL_WINDOW + Duration::from_millis(100)).await;
    assert_eq!(gate.enter("task-a").await.unwrap(), None, "a window later");
}
