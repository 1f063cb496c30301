//! `pixq submit FILE`: sends a prompt file to the API as one batch, and with `--wait` follows it
//! to the end (see [`watch`](super::watch)).
//!
//! Everything that can be checked here is checked before anything is sent: the flags, the
//! file's format and encoding, and every job against the API's own rules. A bad file exits 2,
//! naming the file, each bad line and its field, and sends nothing. When the API still refuses
//! entries (422), their indexes are mapped back to the file's lines the same way.
//!
//! Without `--wait` it prints the batch id (with `--json`, the batch object) and exits 0.

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value};

use super::defaults::JobDefaults;
use super::progress::Mode;
use super::prompt_file::{self, Format, LineError, MAX_ERRORS, STDIN_NAME};
use super::watch::{Follow, PollArgs, prepare_output};
use super::{ApiArgs, ApiClient, ApiError, Exit, Outcome, RejectedEntry, plain};

/// The flags of `pixq submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The prompt file: .txt (a prompt a line), .jsonl (a job object a line) or .csv (a
    /// `prompt` column and parameter columns); `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Read FILE as this format, whatever its extension. Stdin is txt unless this says
    /// otherwise.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Fields for every job that its line does not set.
    #[command(flatten)]
    pub defaults: JobDefaults,

    /// Makes the submit safe to repeat: the same key with the same jobs returns the first
    /// batch instead of making a second.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// Show progress until every job has ended, then print the results. Exits 0 when every
    /// job succeeded, 1 when any failed or was cancelled.
    #[arg(long)]
    pub wait: bool,

    /// With --wait, also write one result line per job to FILE, as JSON lines.
    #[arg(long, value_name = "FILE", requires = "wait")]
    pub output: Option<PathBuf>,

    /// Print the batch object (with --wait, the results as JSON lines) instead of text.
    #[arg(long)]
    pub json: bool,

    /// How often --wait asks the API.
    #[command(flatten)]
    pub poll: PollArgs,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `pixq submit` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let mode = if args.json {
        Mode::Hidden
    } else {
        Mode::detect()
    };
    let stdin = io::stdin();
    if args.file.as_os_str() == "-" && stdin.is_terminal() {
        eprintln!("pixq submit: reading prompts from the terminal, one a line; end with Ctrl-D");
    }
    outcome(&args, mode, &mut stdin.lock()).await.emit()
}

/// What `pixq submit` prints and how it exits, without printing it (progress aside). `stdin`
/// is read when FILE is `-`.
pub async fn outcome(args: &SubmitArgs, mode: Mode, stdin: &mut dyn Read) -> Outcome {
    let from_stdin = args.file.as_os_str() == "-";
    let name = if from_stdin {
        STDIN_NAME.to_owned()
    } else {
        args.file.display().to_string()
    };
    // The file is named in each message that is about it, so the context is the command alone.
    let context = "submit".to_owned();
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error(&context, &err),
    };
    if let Err(message) = args.defaults.check_flags() {
        return usage(&context, &message);
    }
    let jobs = match read_jobs(args, from_stdin, stdin) {
        Ok(jobs) => jobs,
        Err(Bad::Usage(message)) => return usage(&context, &message),
        Err(Bad::Lines(errors)) => return bad_lines(&context, &name, &errors, "nothing was sent"),
    };
    let output = match prepare_output(&context, args.output.as_deref()) {
        Ok(output) => output,
        Err(outcome) => return outcome,
    };
    let mut body = Map::new();
    body.insert("jobs".to_owned(), Value::Array(jobs.bodies));
    let body = Value::Object(body);
    let batch = match client
        .submit_batch(&body, args.idempotency_key.as_deref())
        .await
    {
        Ok(batch) => batch,
        Err(ApiError::Rejected {
            entries, message, ..
        }) if !entries.is_empty() => {
            let errors = refused(&entries, &jobs.lines, &message);
            return bad_lines(&context, &name, &errors, "the API queued nothing");
        }
        Err(err) => {
            let mut outcome = Outcome::error(&context, &err);
            if let ApiError::Rejected { status: 413, .. } = err {
                outcome.stderr.push_str(&format!(
                    "pixq {}: split the file into smaller batches\n",
                    plain(&context)
                ));
            }
            return outcome;
        }
    };
    let id = batch.batch.id.clone();
    if !args.wait {
        let stdout = if args.json {
            format!("{}\n", batch.text.trim_end())
        } else {
            format!("{}\n", plain(&id))
        };
        let stderr = format!(
            "pixq {}: {} jobs from {} queued as {id}; follow them with `pixq watch {id}`\n",
            plain(&context),
            batch.batch.total,
            plain(&name),
            id = plain(&id)
        );
        return Outcome {
            stdout,
            stderr,
            exit: Exit::Ok,
        };
    }
    let follow = Follow {
        client: &client,
        context,
        interval: args.poll.poll_interval,
        mode,
        output,
        json: args.json,
    };
    follow.batch(&id).await
}

/// The jobs of a file, ready to send, with the line each came from.
struct Jobs {
    bodies: Vec<Value>,
    lines: Vec<u64>,
}

/// Why a file cannot be sent.
enum Bad {
    /// The file as a whole: unreadable, or of an unknown format.
    Usage(String),
    /// Some of its lines.
    Lines(Vec<LineError>),
}

/// Reads, parses and checks every job of the file.
fn read_jobs(args: &SubmitArgs, from_stdin: bool, stdin: &mut dyn Read) -> Result<Jobs, Bad> {
    let format = match args.format {
        Some(format) => format,
        None if from_stdin => Format::Txt,
        None => Format::from_path(&args.file).map_err(Bad::Usage)?,
    };
    let bytes = read(&args.file, from_stdin, stdin).map_err(Bad::Usage)?;
    let text = prompt_file::decode(bytes).map_err(|err| Bad::Lines(vec![err]))?;
    let entries = prompt_file::parse(format, &text).map_err(Bad::Lines)?;
    let mut jobs = Jobs {
        bodies: Vec::with_capacity(entries.len()),
        lines: Vec::with_capacity(entries.len()),
    };
    let mut errors = Vec::new();
    for entry in entries {
        let line = entry.line;
        match args.defaults.job(entry) {
            Ok(body) => {
                jobs.bodies.push(body);
                jobs.lines.push(line);
            }
            Err(err) if errors.len() < MAX_ERRORS => errors.push(err),
            Err(_) => break,
        }
    }
    if errors.is_empty() {
        Ok(jobs)
    } else {
        Err(Bad::Lines(errors))
    }
}

fn read(path: &Path, from_stdin: bool, stdin: &mut dyn Read) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    if from_stdin {
        stdin
            .read_to_end(&mut bytes)
            .map_err(|err| format!("cannot read stdin: {err}"))?;
    } else {
        bytes =
            std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    }
    Ok(bytes)
}

/// The API's refused entries as errors on the lines they came from.
fn refused(entries: &[RejectedEntry], lines: &[u64], message: &str) -> Vec<LineError> {
    let mut errors: Vec<LineError> = entries
        .iter()
        .map(|entry| LineError {
            line: entry.index.and_then(|index| lines.get(index).copied()),
            field: entry.field.clone(),
            message: format!("{} ({})", entry.message, entry.code),
        })
        .collect();
    errors.sort_by_key(|error| error.line);
    errors.push(LineError {
        line: None,
        field: None,
        message: format!("the API refused the batch: {message}"),
    });
    errors
}

/// A usage error: one line, exit 2.
fn usage(context: &str, message: &str) -> Outcome {
    Outcome {
        stdout: String::new(),
        stderr: format!("pixq {}: {}\n", plain(context), plain(message)),
        exit: Exit::Usage,
    }
}

/// Every bad line, one a line, then what happened; exit 2.
fn bad_lines(context: &str, file: &str, errors: &[LineError], what: &str) -> Outcome {
    let context = plain(context);
    let mut stderr = String::new();
    for error in errors {
        stderr.push_str(&format!("pixq {context}: {}\n", error.in_file(file)));
    }
    let lines = errors.iter().filter(|error| error.line.is_some()).count();
    let more = if lines >= MAX_ERRORS {
        format!(" (showing the first {MAX_ERRORS})")
    } else {
        String::new()
    };
    let count = match lines {
        0 => String::new(),
        1 => "1 bad line; ".to_owned(),
        n => format!("{n} bad lines{more}; "),
    };
    stderr.push_str(&format!("pixq {context}: {count}{what}\n"));
    Outcome {
        stdout: String::new(),
        stderr,
        exit: Exit::Usage,
    }
}

#[cfg(test)]
mod tests;
