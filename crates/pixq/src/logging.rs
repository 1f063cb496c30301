//! Log set-up: lines on stderr filtered by `RUST_LOG` (default [`DEFAULT_FILTER`],
//! [`DEMO_FILTER`] for `pixq demo`), as readable text (coloured only on a terminal) or, with
//! `log.format = "json"`, one JSON object a line carrying every open span and its fields
//! (`job_id`, `batch_id`, `task_id`…).
//!
//! Built with the `otel` feature, spans are also exported over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (see the `otel` module).

use pixq_core::settings::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What is logged without `RUST_LOG`: pixq at `info`. apalis's own lines are left out: pixq
/// logs every stop and restart of an apalis worker itself, once per Redis outage, where apalis
/// would add three lines per worker per failure. `RUST_LOG=info` shows them again.
pub const DEFAULT_FILTER: &str = "info,apalis_core=off";

/// What `pixq demo` logs without `RUST_LOG`: warnings only, since the worker's lines for
/// every job would bury its progress bars and table. `RUST_LOG=info` shows them.
pub const DEMO_FILTER: &str = "warn,apalis_core=off";

/// Keeps what must outlive the run: with the `otel` feature, the exporter, flushed when this
/// drops. Hold it until the command has returned.
#[must_use = "dropping the guard stops the span export"]
pub struct Guard {
    #[cfg(feature = "otel")]
    _otel: Option<crate::otel::Exporter>,
}

/// Installs the global subscriber, filtered by `RUST_LOG` or else `default_filter`, writing
/// `format`. Only the first call in a process installs anything.
pub fn init(default_filter: &str, format: LogFormat) -> Guard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let text = (format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
    });
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json);
    #[cfg(feature = "otel")]
    {
        let (layer, exporter) = crate::otel::layer();
        let _ = registry.with(layer).try_init();
        Guard { _otel: exporter }
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = registry.try_init();
        Guard {}
    }
}
