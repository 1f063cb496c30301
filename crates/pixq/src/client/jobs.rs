//! `pixq jobs`: lists jobs newest first, as a table or one JSON object a line.
//!
//! The API pages its listing and a page may be shorter than asked, so the command follows
//! `next_cursor` until it has `--limit` jobs or the listing ends.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use pixq_core::state::JobState;
use serde_json::Value;

use super::api::JobFilter;
use super::job::{JobView, timestamp};
use super::{ApiArgs, ApiClient, ApiError, Outcome, plain};

/// The most jobs the API sends in one page (its `limit` is at most 500).
pub const MAX_PAGE: u32 = 500;

/// The flags of `pixq jobs`.
#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// Only jobs in this state.
    #[arg(long, value_name = "STATE", value_parser = PossibleValuesParser::new(JobState::ALL.map(JobState::as_str)))]
    pub state: Option<String>,

    /// Only jobs of this batch.
    #[arg(long, value_name = "BATCH_ID")]
    pub batch: Option<String>,

    /// Show at most this many jobs, newest first.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 50,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub limit: u32,

    /// Print one JSON job object per line instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `pixq jobs` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: JobsArgs) -> anyhow::Result<ExitCode> {
    outcome(&args).await.emit()
}

/// What `pixq jobs` prints and how it exits, without printing it.
pub async fn outcome(args: &JobsArgs) -> Outcome {
    match listing(args).await {
        Ok(outcome) => outcome,
        Err(err) => Outcome::error("jobs", &err),
    }
}

async fn listing(args: &JobsArgs) -> Result<Outcome, ApiError> {
    let client = ApiClient::new(&args.api)?;
    let filter = JobFilter {
        state: args.state.clone(),
        batch: args.batch.clone(),
    };
    let listing = collect(&client, &filter, args.limit).await?;
    let stdout = if args.json {
        render_lines(&listing.jobs)
    } else {
        let views = listing
            .jobs
            .iter()
            .map(JobView::from_value)
            .collect::<Result<Vec<_>, _>>()?;
        render_table(&views)
    };
    let stderr = if listing.more {
        format!(
            "pixq jobs: showing the newest {} jobs; more match (raise --limit)\n",
            listing.jobs.len()
        )
    } else if listing.jobs.is_empty() {
        "pixq jobs: no jobs match\n".to_owned()
    } else {
        String::new()
    };
    Ok(Outcome {
        stdout,
        stderr,
        exit: super::Exit::Ok,
    })
}

/// Jobs gathered across pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// The jobs as the API sent them, newest first, at most the limit.
    pub jobs: Vec<Value>,
    /// Whether more jobs match than were gathered.
    pub more: bool,
}

/// Follows `next_cursor` until `limit` jobs are gathered or the listing ends. Each request asks
/// for no more than are still wanted, so the last page does not fetch jobs that are dropped.
///
/// # Errors
///
/// The first [`ApiError`] of any page.
pub async fn collect(
    client: &ApiClient,
    filter: &JobFilter,
    limit: u32,
) -> Result<Listing, ApiError> {
    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut jobs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let remaining = wanted.saturating_sub(jobs.len());
        let ask = u32::try_from(remaining).unwrap_or(u32::MAX).min(MAX_PAGE);
        let page = client.jobs_page(filter, ask, cursor.as_deref()).await?;
        jobs.extend(page.jobs.into_iter().take(remaining));
        match page.next_cursor {
            None => return Ok(Listing { jobs, more: false }),
            Some(_) if jobs.len() >= wanted => return Ok(Listing { jobs, more: true }),
            // A cursor that does not move would loop forever; what was gathered stands.
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                return Ok(Listing { jobs, more: true });
            }
            Some(next) => cursor = Some(next),
        }
    }
}

/// One compact JSON object per line, as the API sent each job: for `jq` and line-based tools.
pub fn render_lines(jobs: &[Value]) -> String {
    let mut out = String::new();
    for job in jobs {
        out.push_str(&job.to_string());
        out.push('\n');
    }
    out
}

/// A table of id, state, step, attempts, created_at and video_url, columns separated by two
/// spaces, with no trailing blanks. Values contain no spaces (unset ones show `-`), so
/// `awk '{print $1}'` picks out the ids.
pub fn render_table(jobs: &[JobView]) -> String {
    let header = ["ID", "STATE", "STEP", "ATTEMPTS", "CREATED_AT", "VIDEO_URL"].map(str::to_owned);
    let number = |value: Option<u64>| value.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let rows: Vec<[String; 6]> = jobs
        .iter()
        .map(|job| {
            [
                plain(&job.id),
                plain(&job.state),
                number(job.step),
                number(job.attempts),
                timestamp(job.created_at),
                job.video_url().map_or_else(|| "-".to_owned(), plain),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|cell| cell.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            // Writing to a String cannot fail.
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::Exit;
    use super::super::fake_api::{self, FakeApi, PAGE_SIZE};
    use super::*;

    fn args(url: &str, limit: u32, json: bool) -> JobsArgs {
        JobsArgs {
            state: None,
            batch: None,
            limit,
            json,
            api: ApiArgs {
                api: url.parse().unwrap(),
                token: None,
            },
        }
    }

    fn five_jobs() -> Vec<Value> {
        (1..=5)
            .rev()
            .map(|n| fake_api::job(&format!("job_{n}"), "queued"))
            .collect()
    }

    fn ids_in_table(table: &str) -> Vec<String> {
        table
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .collect()
    }

    #[tokio::test]
    async fn follows_next_cursor_until_the_listing_ends() {
        let api = FakeApi::start(None, five_jobs()).await;
        let outcome = outcome(&args(&api.url, 50, false)).await;
        assert_eq!(outcome.exit, Exit::Ok, "{outcome:?}");
        assert_eq!(
            ids_in_table(&outcome.stdout),
            ["job_5", "job_4", "job_3", "job_2", "job_1"]
        );
        assert_eq!(api.seen().len(), 5_usize.div_ceil(PAGE_SIZE));
        assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    }

    #[tokio::test]
    async fn stops_at_the_limit_and_says_more_match() {
        let api = FakeApi::start(None, five_jobs()).await;
        let outcome = outcome(&args(&api.url, 3, false)).await;
        assert_eq!(ids_in_table(&outcome.stdout), ["job_5", "job_4", "job_3"]);
        assert_eq!(
            api.seen(),
            ["GET /v1/jobs?limit=3", "GET /v1/jobs?limit=1&cursor=2"]
        );
        assert!(outcome.stderr.contains("more match"), "{}", outcome.stderr);
    }

    #[tokio::test]
    async fn json_prints_one_object_per_line() {
        let jobs = five_jobs();
        let api = FakeApi::start(None, jobs.clone()).await;
        let outcome = outcome(&args(&api.url, 50, true)).await;
        let printed: Vec<Value> = outcome
            .stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(printed, jobs);
    }

    #[tokio::test]
    async fn filters_go_to_the_api() {
        let mut done = fake_api::job("job_9", "succeeded");
        done["result"] = json!({"video_id": 1, "video_url": "https://cdn.example/9.mp4"});
        let mut jobs = five_jobs();
        jobs.insert(0, done);
        let api = FakeApi::start(None, jobs).await;
        let mut wanted = args(&api.url, 10, false);
        wanted.state = Some("succeeded".into());
        wanted.batch = Some("batch_0001".into());
        let outcome = outcome(&wanted).await;
        assert_eq!(
            api.seen(),
            ["GET /v1/jobs?limit=10&state=succeeded&batch=batch_0001"]
        );
        assert_eq!(
            outcome.stdout,
            "ID     STATE      STEP  ATTEMPTS  CREATED_AT            VIDEO_URL\n\
             job_9  succeeded  0     0         2025-01-02T03:04:05Z  https://cdn.example/9.mp4\n"
        );
    }

    #[tokio::test]
    async fn empty_listing_prints_the_header_and_a_note() {
        let api = FakeApi::start(None, vec![]).await;
        let outcome = outcome(&args(&api.url, 50, false)).await;
        assert_eq!(outcome.exit, Exit::Ok);
        assert_eq!(ids_in_table(&outcome.stdout), Vec::<String>::new());
        assert!(outcome.stdout.starts_with("ID"));
        assert_eq!(outcome.stderr, "pixq jobs: no jobs match\n");
    }

    #[tokio::test]
    async fn missing_token_exits_2() {
        let api = FakeApi::start(Some("tok"), five_jobs()).await;
        let outcome = outcome(&args(&api.url, 50, false)).await;
        assert_eq!(outcome.exit, Exit::Usage, "{outcome:?}");
    }

    #[tokio::test]
    async fn unreachable_api_exits_3() {
        let url = fake_api::unreachable_url().await;
        let outcome = outcome(&args(&url, 50, false)).await;
        assert_eq!(outcome.exit, Exit::Unreachable, "{outcome:?}");
    }

    #[test]
    fn state_flag_rejects_unknown_states() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Harness {
            #[command(flatten)]
            jobs: JobsArgs,
        }
        let err = Harness::try_parse_from(["t", "--state", "done"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Harness::try_parse_from(["t", "--limit", "0"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
