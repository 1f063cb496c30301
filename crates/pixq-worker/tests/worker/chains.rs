//! Chains: every step runs once, off the video the step before returned.

use std::collections::{HashMap, HashSet};

use pixq_core::job::JobId;
use pixq_core::state::JobState;
use serde_json::{Value, json};

use pixq_testkit::sim::ledger_task_ids;

use crate::support::{Backend, both, setup};

both!(thirty_chains_of_three_steps_pay_once_per_step_and_extend_their_parents);

async fn thirty_chains_of_three_steps_pay_once_per_step_and_extend_their_parents(backend: Backend) {
    let b = setup(backend).await;
    let mut roots = Vec::new();
    for i in 0..30 {
        let body = json!({
            "prompt": format!("a lighthouse, take {i}"),
            "extend": [{"prompt": "the storm breaks"}, {"prompt": "the sea calms"}]
        });
        roots.push(b.create(body).await.id);
    }
    let chains = b.wait_for_chains(&roots).await;

    let jobs: Vec<_> = chains.iter().flatten().collect();
    assert_eq!(jobs.len(), 90, "every chain has three steps");
    for job in &jobs {
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    }

    let ledger = b.ledger().await;
    assert_eq!(ledger.len(), 90, "exactly one task per step");
    let task_ids = ledger_task_ids(&ledger);
    let requests: HashSet<String> = ledger.iter().map(|e| e["request"].to_string()).collect();
    assert_eq!(requests.len(), 90, "no request was sent twice");
    let by_task: HashMap<&str, &Value> = ledger
        .iter()
        .map(|e| (e["task_id"].as_str().unwrap(), &e["request"]))
        .collect();

    for chain in &chains {
        for pair in chain.windows(2) {
            let (parent, child) = (&pair[0], &pair[1]);
            assert_eq!(child.parent_id.as_ref(), Some(&parent.id));
            assert_eq!(child.id, JobId::for_step(&parent.root_id, parent.step + 1));
            let task = child.upstream.task_id.as_deref().expect("a task id");
            let request = by_task[task];
            let parent_video = parent.result.as_ref().expect("a result").video_id;
            assert_eq!(request["video_id"], json!(parent_video.get()), "{request}");
            assert_eq!(request["action"], "extend");
        }
        for job in chain {
            let task = job.upstream.task_id.as_ref().expect("a task id");
            assert!(task_ids.contains(task), "{task} is not in the ledger");
            assert_eq!(job.attempts, 0);
        }
    }
    let stats = b.admin.stats().await;
    let polls = stats["requests"]["tasks"]
        .as_object()
        .expect("polls were made");
    assert!(
        !polls.contains_key("429"),
        "a task was polled twice within a second: {stats}"
    );
    b.finish().await;
}
