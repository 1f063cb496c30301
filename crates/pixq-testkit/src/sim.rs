//! The simulator's admin endpoints, which need no token: what a test reads to see what the
//! upstream was asked and what it billed.

use serde_json::Value;

/// The admin side of a simulator at `base` (e.g. `http://127.0.0.1:18080`).
#[derive(Debug, Clone)]
pub struct SimAdmin {
    base: String,
    http: reqwest::Client,
}

impl SimAdmin {
    /// The admin endpoints of the simulator at `base`.
    pub fn new(base: &str) -> SimAdmin {
        SimAdmin {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// `GET /_sim/<what>` as JSON.
    pub async fn get(&self, what: &str) -> Value {
        self.http
            .get(format!("{}/_sim/{what}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("the simulator's {what}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("the simulator's {what} as JSON: {e}"))
    }

    /// Every task the simulator created (and would bill), oldest first.
    pub async fn ledger(&self) -> Vec<Value> {
        match self.get("ledger").await {
            Value::Array(entries) => entries,
            other => panic!("the ledger is not a list: {other}"),
        }
    }

    /// The request counters and in-flight figures.
    pub async fn stats(&self) -> Value {
        self.get("stats").await
    }

    /// `POST /_sim/<what>` with `body`, which must be accepted.
    pub async fn post(&self, what: &str, body: &Value) {
        let response = self
            .http
            .post(format!("{}/_sim/{what}", self.base))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the simulator's {what}: {e}"));
        assert!(response.status().is_success(), "{what}: {response:?}");
    }
}

/// The task ids of a ledger, checking that none appears twice.
pub fn ledger_task_ids(ledger: &[Value]) -> std::collections::HashSet<String> {
    let ids: Vec<String> = ledger
        .iter()
        .map(|entry| entry["task_id"].as_str().expect("a task id").to_owned())
        .collect();
    let set: std::collections::HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        set.len(),
        ids.len(),
        "a task id appears twice in the ledger"
    );
    set
}
