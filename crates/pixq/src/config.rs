//! Reading the configuration: the layers of INTERFACE.md ("Configuration") merged with the
//! `config` crate into a [`RawSettings`], then checked by [`Settings::from_raw`].
//!
//! The layers, each overriding the one before:
//! 1. built-in defaults (the `DEFAULT_*` consts of `pixq_core::settings`, applied by
//!    `from_raw`), and `upstream.token` from `ACEDATACLOUD_API_TOKEN`;
//! 2. `pixq.toml` in the working directory if it exists, or `--config FILE`, which must exist;
//! 3. environment variables with the exact, case-sensitive prefix `PIXQ__`, `__` separating
//!    sections (`PIXQ__REDIS__URL` is `redis.url`); `PIXQ_API_URL` and `PIXQ_API_TOKEN` belong
//!    to the client commands and are never read here;
//! 4. command-line overrides, as `(key, value)` pairs.
//!
//! Every error is marked [`InvalidConfiguration`], so `main` can exit 2 on it whatever the
//! command.

use std::fmt;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use config::{Config, Environment, File, FileFormat, Map};
use pixq_core::settings::{LogFormat, RawSettings, Settings, UPSTREAM_TOKEN_ENV};

use crate::prompt_files::PromptFileReader;

/// The file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "pixq.toml";

/// The prefix of the environment variables that are configuration keys. It is matched
/// exactly, so the client's `PIXQ_API_URL` (one underscore) is never taken for a key.
pub const ENV_PREFIX: &str = "PIXQ__";

/// Separates sections in an environment variable's name: `PIXQ__POLL__INTERVAL`.
const ENV_SEPARATOR: &str = "__";

/// Marks an error as a configuration the user must fix, so that `main` exits 2 on it.
#[derive(Debug)]
pub struct InvalidConfiguration;

impl fmt::Display for InvalidConfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration")
    }
}

/// Whether `err` came from [`load`], i.e. the configuration is bad rather than the run.
pub fn is_invalid(err: &anyhow::Error) -> bool {
    err.downcast_ref::<InvalidConfiguration>().is_some()
}

/// Reads the effective configuration from every layer: the defaults, `config_file` (or
/// `pixq.toml` in the working directory), the `PIXQ__*` environment variables and
/// `overrides` (`("poll.interval", "3s")`), each over the one before.
///
/// # Errors
///
/// A missing `config_file`, a file that is not TOML, an unknown key or an unusable value, in
/// any layer. The message names the file or the key and says why; it is marked
/// [`InvalidConfiguration`].
pub fn load(config_file: Option<&Path>, overrides: &[(&str, String)]) -> anyhow::Result<Settings> {
    let cwd = std::env::current_dir()
        .context("cannot read the working directory")
        .context(InvalidConfiguration)?;
    let env = process_env().context(InvalidConfiguration)?;
    load_from(&cwd, config_file, env, overrides)
}

/// The `log.format` the layers set, read before the rest of the configuration so the log is
/// set up before anything logs. A layer that cannot be read, or a bad value, gives the default
/// here; [`load`] then reports it.
pub fn log_format(config_file: Option<&Path>) -> LogFormat {
    let (Ok(cwd), Ok(env)) = (std::env::current_dir(), process_env()) else {
        return LogFormat::default();
    };
    layers(&cwd, config_file, env, &[])
        .ok()
        .and_then(|raw| LogFormat::of(&raw).ok())
        .unwrap_or_default()
}

/// [`load`] with the working directory and the environment passed in, so tests need not
/// change the process's own.
fn load_from(
    cwd: &Path,
    config_file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &[(&str, String)],
) -> anyhow::Result<Settings> {
    let raw = layers(cwd, config_file, env, overrides).context(InvalidConfiguration)?;
    Settings::from_raw_with(raw, &PromptFileReader)
        .map_err(anyhow::Error::new)
        .context(InvalidConfiguration)
}

/// Merges the layers into the raw settings; nothing is checked beyond the keys' names.
fn layers(
    cwd: &Path,
    config_file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &[(&str, String)],
) -> anyhow::Result<RawSettings> {
    let mut keys = Map::new();
    let mut upstream_token = None;
    for (name, value) in env {
        if name.starts_with(ENV_PREFIX) {
            keys.insert(name, value);
        } else if name == UPSTREAM_TOKEN_ENV && !value.trim().is_empty() {
            upstream_token = Some(value);
        }
    }

    let mut builder = Config::builder();
    if let Some(token) = upstream_token {
        builder = builder.set_default("upstream.token", token)?;
    }

    match config_file {
        Some(path) => {
            let path = cwd.join(path);
            if !path.is_file() {
                bail!(
                    "the config file {} does not exist or is not a file",
                    path.display()
                );
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        None => {
            let path = cwd.join(DEFAULT_CONFIG_FILE);
            if path.exists() {
                builder = builder.add_source(File::from(path).format(FileFormat::Toml));
            }
        }
    }

    builder = builder.add_source(
        Environment::with_prefix(ENV_PREFIX.trim_end_matches(ENV_SEPARATOR))
            .prefix_separator(ENV_SEPARATOR)
            .separator(ENV_SEPARATOR)
            .source(Some(keys)),
    );

    for (key, value) in overrides {
        // The value is not repeated: it may be a token.
        builder = builder
            .set_override(*key, value.as_str())
            .with_context(|| format!("the command-line setting of {key:?}"))?;
    }

    let merged = builder.build()?;
    Ok(merged.try_deserialize::<RawSettings>()?)
}

/// The process environment as text. A variable pixq reads whose value is not UTF-8 is an
/// error; any other one is skipped, since it is none of pixq's business.
fn process_env() -> anyhow::Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Ok(name) = name.into_string() else {
            continue;
        };
        let ours = name.starts_with(ENV_PREFIX) || name == UPSTREAM_TOKEN_ENV;
        match value.into_string() {
            Ok(value) => env.push((name, value)),
            Err(_) if ours => return Err(not_unicode(&name)),
            Err(_) => {}
        }
    }
    Ok(env)
}

fn not_unicode(name: &str) -> anyhow::Error {
    anyhow!("the environment variable {name} is not valid UTF-8")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use pixq_core::settings::{RawSettings, Secret};

    use super::*;

    /// A directory under the system's temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("pixq-config-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).expect("write file");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load_in(
        dir: &TempDir,
        file: Option<&str>,
        vars: &[(&str, &str)],
    ) -> anyhow::Result<Settings> {
        load_from(&dir.0, file.map(Path::new), env(vars), &[])
    }

    fn defaults() -> Settings {
        Settings::from_raw(RawSettings::default()).expect("defaults")
    }

    fn exposed(tokens: &[Secret]) -> Vec<&str> {
        tokens.iter().map(Secret::expose).collect()
    }

    #[test]
    fn nothing_configured_gives_the_defaults() {
        let dir = TempDir::new();
        let settings = load_in(&dir, None, &[]).expect("load");
        assert_eq!(settings.to_masked_toml(), defaults().to_masked_toml());
    }

    #[test]
    fn pixq_toml_in_the_working_directory_is_read() {
        let dir = TempDir::new();
        dir.write(DEFAULT_CONFIG_FILE, "[poll]\ninterval = \"4s\"\n");
        let settings = load_in(&dir, None, &[]).expect("load");
        assert_eq!(settings.poll.interval, Duration::from_secs(4));
    }

    #[test]
    fn config_flag_replaces_pixq_toml() {
        let dir = TempDir::new();
        dir.write(DEFAULT_CONFIG_FILE, "[poll]\ninterval = \"4s\"\n");
        dir.write("other.conf", "[retry]\nmax_attempts = 3\n");
        let settings = load_in(&dir, Some("other.conf"), &[]).expect("load");
        assert_eq!(settings.retry.max_attempts, 3);
        assert_eq!(settings.poll.interval, Duration::from_secs(10));
    }

    #[test]
    fn a_missing_config_file_is_an_error_naming_it() {
        let dir = TempDir::new();
        let err = load_in(&dir, Some("absent.toml"), &[]).expect_err("missing file");
        assert!(is_invalid(&err));
        assert!(format!("{err:#}").contains("absent.toml"), "{err:#}");
    }

    #[test]
    fn env_overrides_the_file_and_splits_lists_on_commas() {
        let dir = TempDir::new();
        dir.write(
            DEFAULT_CONFIG_FILE,
            "[poll]\ninterval = \"4s\"\nfirst_after = \"20s\"\n[api]\ntokens = [\"file\"]\n",
        );
        let settings = load_in(
            &dir,
            None,
            &[
                ("PIXQ__POLL__INTERVAL", "3s"),
                ("PIXQ__API__TOKENS", "a,b"),
                ("PIXQ__REDIS__URL", "redis://db:6379"),
                ("PIXQ__API__MAX_BODY", "1MiB"),
            ],
        )
        .expect("load");
        assert_eq!(settings.poll.interval, Duration::from_secs(3));
        assert_eq!(settings.poll.first_after, Duration::from_secs(20));
        assert_eq!(exposed(&settings.api.tokens), ["a", "b"]);
        assert_eq!(settings.redis.url_or_local(), "redis://db:6379");
        assert_eq!(settings.api.max_body.as_u64(), 1 << 20);
    }

    #[test]
    fn an_empty_env_var_unsets_what_the_file_set() {
        let dir = TempDir::new();
        dir.write(DEFAULT_CONFIG_FILE, "[redis]\nurl = \"redis://db:6379\"\n");
        let settings = load_in(&dir, None, &[("PIXQ__REDIS__URL", "")]).expect("load");
        assert!(settings.redis.url.is_none());
    }

    #[test]
    fn client_variables_and_other_prefixes_are_not_config_keys() {
        let dir = TempDir::new();
        let settings = load_in(
            &dir,
            None,
            &[
                ("PIXQ_API_URL", "http://example.com"),
                ("PIXQ_API_TOKEN", "client-token"),
                ("pixq__poll__interval", "3s"),
                ("PIXQ_POLL__INTERVAL", "3s"),
                ("XPIXQ__POLL__INTERVAL", "3s"),
            ],
        )
        .expect("load");
        assert_eq!(settings.to_masked_toml(), defaults().to_masked_toml());
    }

    #[test]
    fn overrides_beat_env_and_file() {
        let dir = TempDir::new();
        dir.write(DEFAULT_CONFIG_FILE, "[worker]\nconcurrency = 2\n");
        let settings = load_from(
            &dir.0,
            None,
            env(&[("PIXQ__WORKER__CONCURRENCY", "3")]),
            &[
                ("worker.concurrency", "4".to_owned()),
                ("api.tokens", "x,y".to_owned()),
            ],
        )
        .expect("load");
        assert_eq!(settings.worker.concurrency, 4);
        assert_eq!(exposed(&settings.api.tokens), ["x", "y"]);
    }

    #[test]
    fn upstream_token_falls_back_to_acedatacloud_api_token() {
        let dir = TempDir::new();
        let fallback = [(UPSTREAM_TOKEN_ENV, "sk-env")];
        let settings = load_in(&dir, None, &fallback).expect("load");
        assert_eq!(
            settings.upstream.token.as_ref().map(Secret::expose),
            Some("sk-env")
        );

        dir.write(DEFAULT_CONFIG_FILE, "[upstream]\ntoken = \"sk-file\"\n");
        let settings = load_in(&dir, None, &fallback).expect("load");
        assert_eq!(
            settings.upstream.token.as_ref().map(Secret::expose),
            Some("sk-file")
        );

        let settings = load_in(
            &dir,
            None,
            &[
                (UPSTREAM_TOKEN_ENV, "sk-env"),
                ("PIXQ__UPSTREAM__TOKEN", "sk-pixq"),
            ],
        )
        .expect("load");
        assert_eq!(
            settings.upstream.token.as_ref().map(Secret::expose),
            Some("sk-pixq")
        );
    }

    #[test]
    fn a_bad_value_fails_naming_the_key() {
        let dir = TempDir::new();
        dir.write(DEFAULT_CONFIG_FILE, "[poll]\ninterval = \"500ms\"\n");
        let err = load_in(&dir, None, &[]).expect_err("too short");
        assert!(is_invalid(&err));
        let message = format!("{err:#}");
        assert!(
            message.contains("poll.interval: \"500ms\" is too short"),
            "{message}"
        );

        let err = load_in(
            &TempDir::new(),
            None,
            &[("PIXQ__WORKER__CONCURRENCY", "many")],
        )
        .expect_err("not a number");
        assert!(
            format!("{err:#}").contains("worker.concurrency: "),
            "{err:#}"
        );
    }

    #[test]
    fn an_unknown_key_fails_naming_it_in_a_file_or_the_env() {
        let dir = TempDir::new();
        dir.write(DEFAULT_CONFIG_FILE, "[poll]\nintervall = \"3s\"\n");
        let err = load_in(&dir, None, &[]).expect_err("unknown key in file");
        assert!(is_invalid(&err));
        let message = format!("{err:#}");
        assert!(
            message.contains("intervall") && message.contains("poll"),
            "{message}"
        );

        let err = load_in(&TempDir::new(), None, &[("PIXQ__RETRY__MAX", "3")])
            .expect_err("unknown key in env");
        assert!(format!("{err:#}").contains("`max`"), "{err:#}");
    }

    #[test]
    fn a_file_that_is_not_toml_fails_naming_the_file() {
        let dir = TempDir::new();
        dir.write("broken.toml", "[poll\n");
        let err = load_in(&dir, Some("broken.toml"), &[]).expect_err("not TOML");
        assert!(is_invalid(&err));
        assert!(format!("{err:#}").contains("broken.toml"), "{err:#}");
    }

    #[test]
    fn masked_output_loads_back_to_the_same_settings() {
        let dir = TempDir::new();
        let first = load_in(
            &dir,
            None,
            &[
                ("PIXQ__POLL__INTERVAL", "1500ms"),
                ("PIXQ__API__MAX_BATCH_BODY", "1000000"),
                ("PIXQ__WORKER__METRICS_LISTEN", "127.0.0.1:9100"),
                ("PIXQ__API__PUBLIC_URL", "https://pixq.example.com/hooks"),
            ],
        )
        .expect("load")
        .to_masked_toml();
        dir.write(DEFAULT_CONFIG_FILE, &first);
        let second = load_in(&dir, None, &[]).expect("reload").to_masked_toml();
        assert_eq!(first, second);
    }

    /// The path of `deploy/pixq.example.toml`.
    fn example_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/pixq.example.toml")
    }

    #[test]
    fn example_config_parses_and_shows_the_defaults() {
        let dir = TempDir::new();
        let settings = load_from(&dir.0, Some(&example_path()), Vec::new(), &[]).expect("example");
        assert_eq!(settings.to_masked_toml(), defaults().to_masked_toml());
    }

    #[test]
    fn example_config_shows_every_key_and_its_commented_examples_are_valid() {
        let text = std::fs::read_to_string(example_path()).expect("read example");
        // Uncommenting every `# key = value` line must still give a valid configuration.
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if is_assignment(rest) => rest,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let dir = TempDir::new();
        let path = dir.write("uncommented.toml", &uncommented);
        let all = load_from(&dir.0, Some(&path), Vec::new(), &[]).expect("uncommented example");
        // Every key pixq config prints is set in the uncommented example.
        for line in all.to_masked_toml().lines() {
            assert!(
                !line.contains(" is unset"),
                "the example does not show {line:?}"
            );
        }
        for key in keys(&defaults().to_masked_toml()) {
            assert!(
                keys(&uncommented).contains(&key),
                "the example does not show {key}"
            );
        }
    }

    /// Whether `line` is `key = value`.
    fn is_assignment(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
    }

    /// The dotted keys a TOML text sets or mentions as unset, by table.
    fn keys(text: &str) -> Vec<String> {
        let mut table = String::new();
        let mut keys = Vec::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                table = format!("{name}.");
            } else if let Some((key, _)) = line.split_once(" = ").filter(|_| is_assignment(line)) {
                keys.push(format!("{table}{key}"));
            } else if let Some((key, _)) = line
                .strip_prefix("# ")
                .and_then(|l| l.split_once(" is unset"))
            {
                keys.push(format!("{table}{key}"));
            }
        }
        keys
    }
}
