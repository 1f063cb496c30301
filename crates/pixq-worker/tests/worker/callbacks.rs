//! With a public URL, every submit carries a callback URL unique to its job; when callbacks
//! never come, polling still finishes the job, and a lost answer is found by that URL.

use pixq_core::state::JobState;
use pixverse::Url;
use pixverse_sim::{CallbackMode, Fault};
use serde_json::json;

use crate::support::{Backend, both, setup_with, sim_config};

both!(submits_carry_a_callback_url_per_job_and_polling_finishes_without_callbacks);

async fn submits_carry_a_callback_url_per_job_and_polling_finishes_without_callbacks(
    backend: Backend,
) {
    let sim = sim_config()
        .with_callbacks(CallbackMode::Drop)
        .with_fault(Fault::DropAfterSubmit, 0.3);
    let public = Url::parse("http://127.0.0.1:9/pixq/").unwrap();
    let b = setup_with(backend, sim, |c| c.public_url = Some(public.clone())).await;
    let mut roots = Vec::new();
    for _ in 0..6 {
        // The same request for every job: only the callback URL tells their tasks apart.
        roots.push(
            b.create(json!({"prompt": "the same prompt", "extend": [{"prompt": "again"}]}))
                .await
                .id,
        );
    }
    let chains = b.wait_for_chains(&roots).await;
    let ledger = b.ledger().await;
    let jobs: Vec<_> = chains.iter().flatten().collect();
    assert_eq!(jobs.len(), 12);
    assert_eq!(ledger.len(), 12, "one task per step");
    for job in jobs {
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        let secret = job.upstream.callback_secret.as_deref().expect("a secret");
        assert_eq!(secret.len(), 32);
        let task = job.upstream.task_id.as_deref().unwrap();
        let entry = ledger
            .iter()
            .find(|e| e["task_id"] == task)
            .expect("in the ledger");
        let expected = format!(
            "http://127.0.0.1:9/pixq/v1/upstream/callback/{}/{secret}",
            job.id
        );
        assert_eq!(entry["request"]["callback_url"], json!(expected));
    }
    b.finish().await;
}
