//! `pixq pipelines`: the scheduled pipelines the API knows, with their next and last runs,
//! as a table or (`--json`) the API's answer as is.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{ApiArgs, ApiClient, Outcome, plain};

/// The flags of `pixq pipelines`.
#[derive(Debug, clap::Args)]
pub struct PipelinesArgs {
    /// Print `{"pipelines": [...]}` as the API answers it, instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `pixq pipelines` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: PipelinesArgs) -> anyhow::Result<ExitCode> {
    outcome(&args).await.emit()
}

/// What `pixq pipelines` prints and how it exits, without printing it.
pub async fn outcome(args: &PipelinesArgs) -> Outcome {
    let context = "pipelines";
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error(context, &err),
    };
    match client.pipelines().await {
        Ok(pipelines) if args.json => Outcome::ok(format!("{}\n", json!({"pipelines": pipelines}))),
        Ok(pipelines) if pipelines.is_empty() => Outcome {
            stderr: "pixq pipelines: the API has no scheduled pipelines ([[pipelines]] in its configuration)\n".to_owned(),
            ..Outcome::ok(table(&pipelines))
        },
        Ok(pipelines) => Outcome::ok(table(&pipelines)),
        Err(err) => Outcome::error(context, &err),
    }
}

/// The pipelines as a table, one a line: name, schedule, time zone, next run, last run, last
/// batch, catch-up policy and prompts a tick.
fn table(pipelines: &[Value]) -> String {
    let text = |v: &Value| plain(v.as_str().unwrap_or("-"));
    let mut out = format!(
        "{:<20}  {:<16}  {:<14}  {:<20}  {:<20}  {:<38}  {:<8}  PROMPTS\n",
        "NAME", "SCHEDULE", "TIMEZONE", "NEXT RUN", "LAST RUN", "LAST BATCH", "CATCH-UP"
    );
    for p in pipelines {
        out.push_str(&format!(
            "{:<20}  {:<16}  {:<14}  {:<20}  {:<20}  {:<38}  {:<8}  {}\n",
            text(&p["name"]),
            text(&p["schedule"]),
            text(&p["timezone"]),
            text(&p["next_run"]),
            text(&p["last_run"]),
            text(&p["last_batch_id"]),
            text(&p["catch_up"]),
            p["prompts"].as_u64().unwrap_or(0),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pipeline_is_one_line_with_its_next_and_last_runs() {
        let rows = table(&[
            json!({"name": "daily", "schedule": "0 0 9 * * *", "timezone": "Europe/Berlin",
                "next_run": "2030-01-02T08:00:00Z", "last_run": "2030-01-01T08:00:00Z",
                "last_batch_id": "batch_1", "catch_up": "once", "prompts": 12}),
            json!({"name": "fresh", "schedule": "* * * * * *", "timezone": "UTC",
                "next_run": "2030-01-02T08:00:00Z", "last_run": null, "last_batch_id": null,
                "catch_up": "skip", "prompts": 1}),
        ]);
        let lines: Vec<&str> = rows.lines().collect();
        assert_eq!(lines.len(), 3, "{rows}");
        assert!(lines[0].starts_with("NAME"), "{rows}");
        for field in [
            "daily",
            "Europe/Berlin",
            "2030-01-02T08:00:00Z",
            "2030-01-01T08:00:00Z",
            "batch_1",
            "once",
            "12",
        ] {
            assert!(lines[1].contains(field), "{field} in {rows}");
        }
        assert!(
            lines[2].contains(" - "),
            "a pipeline that never ran: {rows}"
        );
    }
}
