//! The client commands `submit`, `watch`, `status`, `jobs`, `cancel`, `retry`, `character` and
//! `pipelines`: they talk to a running pixq API over HTTP and turn its answers into plain text
//! and the exit codes of INTERFACE.md. `status`, `watch`, `cancel` and `retry` take a job id
//! (`job_…`) or a batch id (`batch_…`).
//!
//! One module per command, and one per part of `submit` and `watch`: [`prompt_file`] reads
//! the three file formats, [`defaults`] applies the flags and checks each job, [`progress`]
//! draws the bars, [`results`] prints the table and writes `--output`, [`chain`] walks a job's
//! steps. [`watch::Follow`] is the wait that `submit --wait` and `watch` share.
//!
//! # Exit codes
//!
//! Every command builds an [`Outcome`] (stdout, stderr, [`Exit`]) instead of printing, so the
//! text and the code are decided in one place and tests check them without a process.
//! [`ApiError::exit`] maps each failure once:
//!
//! | exit | when |
//! |---|---|
//! | 0 | ok |
//! | 1 | not found (404), conflict (409), `status` of a job or batch that failed, or a waited-for batch or job with a job that failed or was cancelled |
//! | 2 | usage or bad input: a 4xx rejection, or a missing or refused token (401/403) |
//! | 3 | the API is unreachable: refused, timed out, a 5xx or 429, or an answer that is not pixq's |
//! | 130 | Ctrl-C while waiting; the batch or job goes on |
//!
//! A 5xx counts as unreachable because, like a refused connection, it says "try again later",
//! never "your input is wrong" or "that job does not exist".
//!
//! # Secrets
//!
//! The token goes out only in the `Authorization` header, marked sensitive. [`ApiArgs`]'s
//! `Debug` masks it, `--help` hides the value of `PIXQ_API_TOKEN`, and every message that came
//! from the server is scrubbed of it before it is shown.

pub mod cancel;
pub mod character;
pub mod jobs;
pub mod pipelines;
pub mod queue;
pub mod retry;
pub mod status;
pub mod submit;
pub mod watch;

mod api;
mod batch;
mod chain;
mod defaults;
mod error;
mod job;
mod progress;
pub(crate) mod prompt_file;
mod results;

#[cfg(test)]
mod fake_api;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use url::Url;

pub use api::ApiClient;
pub use error::{ApiError, RejectedEntry};

/// Where the client commands find the API when neither `--api` nor `PIXQ_API_URL` is given:
/// the default `api.listen` of `pixq run` and `pixq api`.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8080";

/// How to reach and authenticate to the pixq API; every client command flattens it in, so all
/// of them take the same `--api` and `--token`.
#[derive(Clone, clap::Args)]
pub struct ApiArgs {
    /// Base URL of the pixq API.
    #[arg(
        long = "api",
        value_name = "URL",
        env = "PIXQ_API_URL",
        default_value = DEFAULT_API_URL,
        value_parser = parse_api_url
    )]
    pub api: Url,

    /// Bearer token, needed when the API sets `api.tokens`. Prefer the environment variable: a
    /// flag shows up in `ps`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PIXQ_API_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

impl fmt::Debug for ApiArgs {
    /// Masks the token: `Debug` output ends up in logs and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiArgs")
            .field("api", &self.api.as_str())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Accepts only absolute http(s) URLs, so a typo such as `localhost:8080` (which parses as a URL
/// with scheme `localhost`) fails as a usage error instead of as an unreachable API.
fn parse_api_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|err| format!("{err}: expected e.g. {DEFAULT_API_URL}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(format!("expected an http(s) URL such as {DEFAULT_API_URL}"));
    }
    Ok(url)
}

/// The exit codes of INTERFACE.md, named so no command writes a bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what was asked.
    Ok = 0,
    /// 1: not found, a conflict, or a job that failed or was cancelled.
    Failed = 1,
    /// 2: usage or bad input.
    Usage = 2,
    /// 3: the API is unreachable.
    Unreachable = 3,
    /// 130: interrupted (Ctrl-C) while waiting, as shells report SIGINT.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// What a client command produced. Commands return this instead of printing so that tests can
/// check the text and the exit code together, and `main` still decides the exit in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The command's answer: what scripts read.
    pub stdout: String,
    /// Diagnostics for the human: errors and notes, each line prefixed `pixq <command>:`.
    pub stderr: String,
    /// How the process should exit.
    pub exit: Exit,
}

impl Outcome {
    /// A successful answer with nothing on stderr.
    pub fn ok(stdout: String) -> Self {
        Outcome {
            stdout,
            stderr: String::new(),
            exit: Exit::Ok,
        }
    }

    /// A failure: one line on stderr, `pixq <context>: <error>`, and the error's exit code.
    /// `context` is the command and, when there is one, the id it was about.
    pub fn error(context: &str, err: &ApiError) -> Self {
        Outcome {
            stdout: String::new(),
            stderr: format!("pixq {}: {err}\n", plain(context)),
            exit: err.exit(),
        }
    }

    /// Writes stdout, then stderr, and hands back the exit code.
    ///
    /// A closed stdout (e.g. `pixq jobs | head`) is not an error: the reader has what it wanted.
    ///
    /// # Errors
    ///
    /// Fails when stdout or stderr cannot be written for another reason.
    pub fn emit(self) -> anyhow::Result<ExitCode> {
        let mut out = io::stdout().lock();
        match out
            .write_all(self.stdout.as_bytes())
            .and_then(|()| out.flush())
        {
            Err(err) if err.kind() != io::ErrorKind::BrokenPipe => return Err(err.into()),
            _ => {}
        }
        io::stderr().lock().write_all(self.stderr.as_bytes())?;
        Ok(self.exit.into())
    }
}

/// Replaces control characters in text that came from the server or a user, so a prompt or an
/// error message cannot move the cursor or recolour the terminal of whoever reads it.
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        api: ApiArgs,
    }

    #[test]
    fn debug_of_api_args_masks_the_token() {
        let harness = Harness::try_parse_from(["t", "--token", "s3cret-token"]).unwrap();
        let shown = format!("{:?} {:#?}", harness.api, harness);
        assert!(!shown.contains("s3cret-token"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn help_never_shows_the_token_from_the_environment() {
        let command = Harness::command();
        let token = command
            .get_arguments()
            .find(|arg| arg.get_id() == "token")
            .unwrap();
        assert!(token.is_hide_env_values_set());
    }

    #[test]
    fn api_url_defaults_to_the_local_api() {
        let harness = Harness::try_parse_from(["t"]);
        // PIXQ_API_URL may be set in the developer's shell; only check the default otherwise.
        if std::env::var_os("PIXQ_API_URL").is_none() {
            assert_eq!(harness.unwrap().api.api.as_str(), "http://127.0.0.1:8080/");
        }
    }

    #[test]
    fn api_url_without_scheme_is_a_usage_error() {
        for bad in [
            "localhost:8080",
            "127.0.0.1:8080",
            "ftp://host/",
            "not a url",
        ] {
            let err = Harness::try_parse_from(["t", "--api", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn plain_removes_terminal_escapes() {
        assert_eq!(plain("a\u{1b}[31mb\nc"), "a [31mb c");
    }
}
