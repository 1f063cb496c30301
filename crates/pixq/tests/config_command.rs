//! `pixq config` run as a user runs it: the built binary, a fresh working directory and an
//! environment holding only what each test sets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A working directory under the system's temp dir, removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> WorkDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pixq-config-cli-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create work dir");
        WorkDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// Runs `pixq ARGS` here with exactly the environment `env`.
    fn pixq(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_pixq"))
            .args(args)
            .current_dir(&self.0)
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .expect("run pixq");
        Run::from(output)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a run printed and how it exited.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

#[test]
fn config_masks_secrets_and_shows_env_values() {
    let dir = WorkDir::new();
    let run = dir.pixq(
        &["config"],
        &[
            ("ACEDATACLOUD_API_TOKEN", "secret123"),
            ("PIXQ__POLL__INTERVAL", "3s"),
            ("PIXQ__API__TOKENS", "tok-alpha,tok-beta"),
            ("PIXQ__REDIS__URL", "redis://:redispw@db:6379"),
        ],
    );
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert!(run.stdout.contains("interval = \"3s\""), "{}", run.stdout);
    assert!(run.stdout.contains("token = \"***\""), "{}", run.stdout);
    assert!(
        run.stdout.contains("tokens = [\"***\", \"***\"]"),
        "{}",
        run.stdout
    );
    for secret in ["secret123", "tok-alpha", "tok-beta", "redispw"] {
        assert!(
            !run.stdout.contains(secret),
            "{secret} in stdout:\n{}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(secret),
            "{secret} in stderr:\n{}",
            run.stderr
        );
    }
}

#[test]
fn client_variables_are_not_config_keys() {
    let dir = WorkDir::new();
    let plain = dir.pixq(&["config"], &[]);
    let with_client_vars = dir.pixq(
        &["config"],
        &[
            ("PIXQ_API_URL", "http://10.0.0.1:9999"),
            ("PIXQ_API_TOKEN", "client-token"),
        ],
    );
    assert_eq!(
        with_client_vars.code,
        Some(0),
        "{}",
        with_client_vars.stderr
    );
    assert_eq!(with_client_vars.stdout, plain.stdout);
}

#[test]
fn unknown_key_in_file_exits_2_naming_it() {
    let dir = WorkDir::new();
    let file = dir.write("custom.toml", "[poll]\nintervall = \"3s\"\n");
    let run = dir.pixq(&["config", "--config", path_arg(&file)], &[]);
    assert_eq!(run.code, Some(2), "stdout: {}", run.stdout);
    assert!(run.stderr.contains("intervall"), "{}", run.stderr);
    assert!(run.stderr.contains("poll"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn bad_value_in_pixq_toml_exits_2_naming_the_key() {
    let dir = WorkDir::new();
    dir.write("pixq.toml", "[poll]\ninterval = \"500ms\"\n");
    let run = dir.pixq(&["config"], &[]);
    assert_eq!(run.code, Some(2), "stdout: {}", run.stdout);
    assert!(run.stderr.contains("poll.interval:"), "{}", run.stderr);
}

#[test]
fn config_flag_is_accepted_before_and_after_the_command() {
    let dir = WorkDir::new();
    let file = dir.write("custom.toml", "[retry]\nmax_attempts = 3\n");
    let before = dir.pixq(&["--config", path_arg(&file), "config"], &[]);
    let after = dir.pixq(&["config", "--config", path_arg(&file)], &[]);
    assert_eq!(before.code, Some(0), "{}", before.stderr);
    assert!(
        before.stdout.contains("max_attempts = 3"),
        "{}",
        before.stdout
    );
    assert_eq!(before.stdout, after.stdout);
}

#[test]
fn missing_config_file_exits_2() {
    let dir = WorkDir::new();
    let run = dir.pixq(&["config", "--config", "absent.toml"], &[]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("absent.toml"), "{}", run.stderr);
}

#[test]
fn example_file_prints_the_same_as_no_file() {
    let dir = WorkDir::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/pixq.example.toml");
    let with_example = dir.pixq(&["config", "--config", path_arg(&example)], &[]);
    let defaults = dir.pixq(&["config"], &[]);
    assert_eq!(with_example.code, Some(0), "{}", with_example.stderr);
    assert_eq!(with_example.stdout, defaults.stdout);
}
