//! OpenTelemetry export, built only with the cargo feature `otel`: every span (the API's
//! `request`, the worker's `job` with its `submit`, `lookup`, `poll` and `commit` steps, and
//! their `job_id`, `batch_id` and `task_id` fields) goes to an OTLP/HTTP collector.
//!
//! It is configured the standard way, by the OpenTelemetry environment variables:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) switches it on,
//! `OTEL_SERVICE_NAME` names the service (`pixq` otherwise), `OTEL_EXPORTER_OTLP_HEADERS`
//! and the others as the exporter documents them. Without an endpoint nothing is exported.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// The variables that switch the export on.
const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// The running exporter; dropping it flushes the spans still queued and stops it.
pub struct Exporter(SdkTracerProvider);

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Err(e) = self.0.shutdown() {
            eprintln!("pixq: the OpenTelemetry export did not shut down cleanly: {e}");
        }
    }
}

/// The layer that exports spans, and its exporter, when an endpoint is configured; `None`s
/// otherwise, or when the exporter cannot be built (said on stderr: logging is not up yet).
pub fn layer<S>() -> (Option<OpenTelemetryLayer<S, SdkTracer>>, Option<Exporter>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let configured = ENDPOINT_VARS
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty()));
    if !configured {
        return (None, None);
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("pixq: OpenTelemetry export is off: cannot build the OTLP exporter: {e}");
            return (None, None);
        }
    };
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "pixq".to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let tracer = provider.tracer("pixq");
    (
        Some(tracing_opentelemetry::layer().with_tracer(tracer)),
        Some(Exporter(provider)),
    )
}
