//! Dead letters keep what was set aside, newest first.

use pixq_core::job::JobId;
use pixq_core::queue::check_job_id;
use pixq_core::store::SharedStore;
use serde_json::json;

pub async fn dead_letters_keep_the_payload_and_the_reason(store: &SharedStore) {
    let letters = store.dead_letters();
    assert!(letters.is_empty().await.unwrap());
    let err = check_job_id(&JobId::from("not a job")).unwrap_err();
    let first = json!({"job_id": "not a job"});
    letters.put(first.clone(), &err.to_string()).await.unwrap();
    let second = json!({"what": [1, 2]});
    letters.put(second.clone(), "another reason").await.unwrap();
    assert_eq!(letters.len().await.unwrap(), 2);
    let got = letters.newest(10).await.unwrap();
    assert_eq!(got[0].payload, second, "newest first");
    assert_eq!(got[1].payload, first);
    assert!(got[1].error.contains("job id"), "{}", got[1].error);
    assert_eq!(letters.newest(1).await.unwrap().len(), 1);
}
