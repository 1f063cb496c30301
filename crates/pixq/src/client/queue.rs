//! `pixq queue`: whether the queue is paused; `pixq queue pause` and `pixq queue resume` stop
//! and restart every worker at once (`POST /v1/queue/pause`, `/resume`).

use std::process::ExitCode;

use super::{ApiArgs, ApiClient, Outcome};

/// The flags of `pixq queue`.
#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// `pause` or `resume`; without it, shows whether the queue is paused.
    #[arg(value_enum)]
    pub action: Option<QueueAction>,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// What `pixq queue` does to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueAction {
    /// No worker starts a new look (no submit, no poll); looks under way finish.
    Pause,
    /// Every worker takes jobs again, at once.
    Resume,
}

/// Runs `pixq queue` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: QueueArgs) -> anyhow::Result<ExitCode> {
    outcome(&args).await.emit()
}

/// What `pixq queue` prints and how it exits, without printing it.
pub async fn outcome(args: &QueueArgs) -> Outcome {
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error("queue", &err),
    };
    let action = args.action.map(|a| match a {
        QueueAction::Pause => "pause",
        QueueAction::Resume => "resume",
    });
    match client.queue(action).await {
        Ok(true) => Outcome::ok(
            "paused: no worker starts a new look until `pixq queue resume`\n".to_owned(),
        ),
        Ok(false) => Outcome::ok("running\n".to_owned()),
        Err(err) => Outcome::error("queue", &err),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use pixq_api::{ApiConfig, AppState};
    use pixq_core::sqlite::SqliteStore;
    use pixq_core::store::SharedStore;
    use pixq_testkit::data_dir::TempDataDir;
    use tokio_util::sync::CancellationToken;

    use super::*;

    fn args(url: &str, action: Option<QueueAction>) -> QueueArgs {
        QueueArgs {
            action,
            api: ApiArgs {
                api: url.parse().unwrap(),
                token: None,
            },
        }
    }

    #[tokio::test]
    async fn pauses_and_resumes_the_queue_of_a_real_api() {
        let dir = TempDataDir::new("pixq-cli-queue");
        let store: SharedStore = Arc::new(
            SqliteStore::open(dir.path(), Duration::from_secs(3600))
                .await
                .unwrap(),
        );
        let state = AppState::new(
            store.clone(),
            ApiConfig::default(),
            pixq_core::metrics::prometheus_handle(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let server = tokio::spawn(pixq_api::serve(listener, state, stop.clone()));

        let shown = outcome(&args(&url, None)).await;
        assert_eq!(shown.stdout, "running\n", "{}", shown.stderr);
        let paused = outcome(&args(&url, Some(QueueAction::Pause))).await;
        assert!(paused.stdout.starts_with("paused"), "{}", paused.stderr);
        assert!(store.schedule().is_paused().await.unwrap());
        assert!(
            outcome(&args(&url, None))
                .await
                .stdout
                .starts_with("paused")
        );
        let resumed = outcome(&args(&url, Some(QueueAction::Resume))).await;
        assert_eq!(resumed.stdout, "running\n", "{}", resumed.stderr);
        assert!(!store.schedule().is_paused().await.unwrap());

        stop.cancel();
        server.await.unwrap().unwrap();
    }
}
