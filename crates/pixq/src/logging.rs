//! Log set-up: human-readable lines on stderr, filtered by `RUST_LOG` (default
//! [`DEFAULT_FILTER`], [`DEMO_FILTER`] for `pixq demo`), coloured only when stderr is a
//! terminal.

use tracing_subscriber::EnvFilter;

/// What is logged without `RUST_LOG`: pixq at `info`. apalis's own lines are left out: pixq
/// logs every stop and restart of an apalis worker itself, once per Redis outage, where apalis
/// would add three lines per worker per failure. `RUST_LOG=info` shows them again.
pub const DEFAULT_FILTER: &str = "info,apalis_core=off";

/// What `pixq demo` logs without `RUST_LOG`: warnings only, since the worker's lines for
/// every job would bury its progress bars and table. `RUST_LOG=info` shows them.
pub const DEMO_FILTER: &str = "warn,apalis_core=off";

/// Installs the global subscriber, filtered by `RUST_LOG` or else `default_filter`. Safe to
/// call once per process.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
