//! The dashboard's markup. maud escapes every value it is given, so a prompt, an error or a
//! name shows as text whatever it holds; URLs are shown only when they are http(s).
//!
//! Each part that changes while a page is open carries `data-live` and a stable `id`: the
//! live script replaces such a part only when its markup changed, so a video that plays
//! keeps playing.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use pixq_core::batch::{Batch, ChainState, Counts};
use pixq_core::job::{Job, JobResult};
use pixq_core::spec::templates;
use pixq_core::state::JobState;
use serde_json::Value;

use super::pages::{BatchPage, CHAINS_PER_PAGE, OverviewPage, Viewer};
use super::session::CSRF_FIELD;
use crate::chains::Chain;
use crate::overview::TokenLoad;
use crate::routes::pipelines::PipelineView;

/// The document around a page's `<main>`.
pub(super) fn layout(title: &str, viewer: &Viewer, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "pixq" }
                    span #live.live title="Live updates" { "live" }
                    span #flash.flash role="status" {}
                    @if viewer.open {
                        span.open title="Anyone who reaches this address can use the dashboard" {
                            "open: no api.tokens set"
                        }
                    }
                    @if viewer.logged_in {
                        form.inline method="post" action="/logout" {
                            input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                            button.quiet type="submit" { "Log out" }
                        }
                    }
                }
                main { (main) }
            }
        }
    }
}

/// The login form, with a message after a refused token.
pub(super) fn login(refused: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "pixq: log in" }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body {
                main.login {
                    h1 { "pixq" }
                    p { "The dashboard is behind the API's tokens. Enter one of " code { "api.tokens" } "." }
                    @if let Some(message) = refused {
                        p.error-message role="alert" { (message) }
                    }
                    form method="post" action="/login" {
                        label for="token" { "Token" }
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

/// A page that could not be shown, in plain words.
pub(super) fn error_page(status: StatusCode, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "pixq: " (status.as_u16()) }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body {
                main {
                    h1 { (status.canonical_reason().unwrap_or("Error")) }
                    p.error-message { (message) }
                    p { a href="/" { "Back to the dashboard" } }
                }
            }
        }
    }
}

/// The overview's `<main>`.
pub(super) fn overview(page: &OverviewPage, viewer: &Viewer) -> Markup {
    html! {
        section #queue data-live {
            h2 { "Queue" }
            @if page.overview.queue_paused {
                p.paused {
                    "Paused: no worker starts a new look until it is resumed ("
                    code { "pixq queue resume" } "). "
                    (button("/dash/queue/resume", "Resume the queue", "", viewer, "/"))
                }
            } @else {
                p { (button("/dash/queue/pause", "Pause the queue", "danger", viewer, "/")) }
            }
            p.figures {
                span.figure { b { (page.overview.queue_depth.due) } " looks booked" }
                span.figure { b { (page.overview.queue_depth.leased) } " being looked at" }
            }
            (tokens(&page.overview.tokens))
        }
        section #batches {
            h2 { "Batches" }
            @if page.batches.is_empty() {
                p.empty { "No batches yet: " code { "POST /v1/batches" } " or " code { "pixq submit" } "." }
            } @else {
                table.batches {
                    thead { tr { th { "Batch" } th { "Progress" } th { "Counts" } th { "Created" } th {} } }
                    tbody {
                        @for batch in &page.batches {
                            (batch_row(batch, viewer, "/"))
                        }
                    }
                }
            }
        }
        section #jobs {
            h2 { "Recent jobs" }
            @if page.jobs.is_empty() {
                p.empty { "No jobs yet." }
            } @else {
                table.jobs {
                    thead { tr { th { "Job" } th { "State" } th { "Prompt" } th { "Video or error" } th {} } }
                    tbody {
                        @for job in &page.jobs {
                            (job_row(job, viewer, "/"))
                        }
                    }
                }
            }
        }
        section #pipelines data-live {
            h2 { "Pipelines" }
            (pipelines(&page.pipelines))
        }
        section #templates {
            (catalog())
        }
    }
}

/// A batch's `<main>`: its summary, then a page of its chains.
pub(super) fn batch(page: &BatchPage, viewer: &Viewer) -> Markup {
    let batch = &page.batch;
    let here = if page.offset == 0 {
        format!("/batches/{}", batch.id)
    } else {
        format!("/batches/{}?offset={}", batch.id, page.offset)
    };
    let total = usize::try_from(batch.total).unwrap_or(usize::MAX);
    html! {
        p.crumbs { a href="/" { "Dashboard" } " / batch" }
        section #batch-summary.summary data-live {
            h1 { (batch.name.as_deref().unwrap_or(batch.id.as_str())) }
            p.muted { code { (batch.id) } " · created " (when(batch.created_at))
                @if let Some(at) = batch.finished_at { " · finished " (when(at)) } }
            (bar(batch.total, &batch.counts))
            (counts(&batch.counts))
            (batch_buttons(batch, viewer, &here))
        }
        section #chains {
            h2 { "Chains " (page.offset + 1) "–" (page.offset + page.chains.len()) " of " (batch.total) }
            table.chains {
                thead { tr { th { "#" } th { "Prompt" } th { "Steps" } th { "Video or error" } th {} } }
                tbody {
                    @for (i, chain) in page.chains.iter().enumerate() {
                        (chain_row(page.offset + i, chain, viewer, &here))
                    }
                }
            }
            p.pager {
                @if page.offset > 0 {
                    a href=(format!("/batches/{}?offset={}", batch.id, page.offset.saturating_sub(CHAINS_PER_PAGE))) { "← earlier chains" }
                }
                @if page.offset + page.chains.len() < total {
                    " " a href=(format!("/batches/{}?offset={}", batch.id, page.offset + CHAINS_PER_PAGE)) { "later chains →" }
                }
            }
        }
    }
}

fn tokens(tokens: &[TokenLoad]) -> Markup {
    html! {
        @if tokens.is_empty() {
            p.empty { "No upstream token has taken a slot yet." }
        } @else {
            table.tokens {
                thead { tr { th { "Token" } th { "In flight" } th { "Paused" } } }
                tbody {
                    @for token in tokens {
                        tr {
                            td { code { (token.token) } }
                            td {
                                meter min="0" max=(token.max_in_flight) value=(token.in_flight) {}
                                " " (token.in_flight) " / " (token.max_in_flight)
                            }
                            td {
                                @if let Some(pause) = &token.paused {
                                    span.state.state-failed { "paused" }
                                    " " code { (pause.reason) }
                                    " since " (when(pause.since)) ", next try " (when(pause.until))
                                } @else {
                                    span.muted { "no" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn batch_row(batch: &Batch, viewer: &Viewer, here: &str) -> Markup {
    html! {
        tr id=(format!("batch-{}", batch.id)) data-live {
            td {
                a href=(format!("/batches/{}", batch.id)) { (batch.name.as_deref().unwrap_or(batch.id.as_str())) }
                br; code.muted { (batch.id) }
            }
            td.progress { (bar(batch.total, &batch.counts)) }
            td { (counts(&batch.counts)) }
            td.muted { (when(batch.created_at)) }
            td.actions { (batch_buttons(batch, viewer, here)) }
        }
    }
}

/// A stacked bar of the chains by state: finished states first, then running, then queued.
/// `data-done` and `aria-valuenow` hold how many chains have ended.
fn bar(total: u64, counts: &Counts) -> Markup {
    const WIDTH: f64 = 1000.0;
    let done = counts.succeeded + counts.failed + counts.cancelled;
    let order = [
        ChainState::Succeeded,
        ChainState::Failed,
        ChainState::Cancelled,
        ChainState::Running,
        ChainState::Queued,
    ];
    let mut x = 0.0;
    let mut segments = Vec::new();
    for state in order {
        let n = counts.get(state);
        if n == 0 || total == 0 {
            continue;
        }
        #[allow(clippy::cast_precision_loss)]
        let width = WIDTH * n as f64 / total as f64;
        segments.push((state.as_str(), x, width));
        x += width;
    }
    html! {
        div.bar role="progressbar" aria-valuemin="0" aria-valuemax=(total) aria-valuenow=(done)
            aria-label=(format!("{done} of {total} chains ended")) data-done=(done) data-total=(total) {
            svg viewBox="0 0 1000 14" preserveAspectRatio="none" {
                @for (state, x, width) in &segments {
                    rect class=(format!("seg state-{state}")) x=(format!("{x:.1}")) y="0"
                        width=(format!("{width:.1}")) height="14" {}
                }
            }
        }
    }
}

fn counts(counts: &Counts) -> Markup {
    html! {
        span.counts {
            @for state in ChainState::ALL {
                span class=(format!("count state-{}", state.as_str())) data-state=(state.as_str()) {
                    (state.as_str()) " " b { (counts.get(state)) }
                }
            }
        }
    }
}

fn batch_buttons(batch: &Batch, viewer: &Viewer, here: &str) -> Markup {
    html! {
        @if batch.counts.unfinished() > 0 {
            (button(&format!("/dash/batches/{}/cancel", batch.id), "Cancel batch", "danger", viewer, here))
        }
        @if batch.counts.failed > 0 {
            (button(&format!("/dash/batches/{}/retry", batch.id), "Retry failed", "", viewer, here))
        }
    }
}

fn job_buttons(job: &Job, viewer: &Viewer, here: &str) -> Markup {
    html! {
        @if !job.is_terminal() {
            (button(&format!("/dash/jobs/{}/cancel", job.id), "Cancel", "danger", viewer, here))
        }
        @if job.state == JobState::Failed {
            (button(&format!("/dash/jobs/{}/retry", job.id), "Retry", "", viewer, here))
        }
    }
}

/// A button that posts to `action` with the CSRF token, coming back to `here`.
fn button(action: &str, label: &str, class: &str, viewer: &Viewer, here: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) data-action {
            input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
            input type="hidden" name="back" value=(here);
            button class=(class) type="submit" { (label) }
        }
    }
}

fn job_row(job: &Job, viewer: &Viewer, here: &str) -> Markup {
    html! {
        tr id=(format!("job-{}", job.id)) data-live data-state=(job.state.as_str()) {
            td {
                code { (job.id) }
                @if let Some(batch) = &job.batch_id {
                    br; a.muted href=(format!("/batches/{batch}")) { "batch" }
                }
                @if job.step > 0 { br; span.muted { "step " (job.step) } }
            }
            td { (state_badge(job)) }
            td.prompt { (prompt(job)) }
            td.media {
                @if let Some(result) = &job.result { (video(result)) }
                (error(job))
            }
            td.actions { (job_buttons(job, viewer, here)) }
        }
    }
}

fn chain_row(index: usize, chain: &Chain, viewer: &Viewer, here: &str) -> Markup {
    let current = chain.current();
    let latest_video = chain
        .steps
        .iter()
        .rev()
        .flatten()
        .find_map(|job| job.result.as_ref());
    html! {
        tr id=(format!("chain-{}", chain.root)) data-live
            data-state=(current.map_or("expired", |job| job.state.as_str()))
            data-job=(current.map_or_else(String::new, |job| job.id.to_string())) {
            td.muted { (index) }
            td.prompt {
                @if let Some(first) = chain.first() { (prompt(first)) } @else { span.muted { "expired" } }
            }
            td {
                ol.steps {
                    @for (step, job) in chain.steps.iter().enumerate() {
                        @if let Some(job) = job {
                            li class=(format!("step state-{}", job.state.as_str()))
                                title=(format!("step {step}, {}: {}", job.action.as_str(), job.state.as_str())) {
                                @match job.result.as_ref().filter(|r| is_web_url(&r.video_url)) {
                                    Some(result) => a href=(result.video_url) target="_blank" rel="noopener" {
                                        (job.action.as_str()) " " span.state-name { (job.state.as_str()) }
                                    },
                                    None => { (job.action.as_str()) " " span.state-name { (job.state.as_str()) } },
                                }
                            }
                        } @else {
                            li.step.state-pending title=(format!("step {step}: not made yet")) {
                                "extend " span.state-name { "to come" }
                            }
                        }
                    }
                }
            }
            td.media {
                @if let Some(result) = latest_video { (video(result)) }
                @if let Some(job) = current { (error(job)) }
            }
            td.actions {
                @if let Some(job) = current { (job_buttons(job, viewer, here)) }
            }
        }
    }
}

fn state_badge(job: &Job) -> Markup {
    html! {
        span class=(format!("state state-{}", job.state.as_str())) { (job.state.as_str()) }
        @if let Some(reason) = job.waiting_reason {
            br; span.muted { "waiting: " (reason.as_str()) }
        }
    }
}

fn prompt(job: &Job) -> Markup {
    let text = job.params.get("prompt").and_then(Value::as_str);
    html! {
        @if let Some(text) = text { span.prompt-text { (text) } } @else { span.muted { "—" } }
    }
}

/// The video inline, with its first frame as the poster; nothing for a URL that is not
/// http(s).
fn video(result: &JobResult) -> Markup {
    let poster = result.first_frame.as_deref().filter(|u| is_web_url(u));
    html! {
        @if is_web_url(&result.video_url) {
            video controls muted loop playsinline preload="metadata" src=(result.video_url) poster=[poster] {
                a href=(result.video_url) { "video" }
            }
        }
    }
}

/// Why the job failed or was cancelled: the message in plain words, the code beside it.
fn error(job: &Job) -> Markup {
    html! {
        @if let Some(e) = &job.error {
            @if job.state != JobState::Succeeded {
                p.error {
                    span.error-message { (e.message) }
                    " " code.error-code title="the upstream's code" { (e.code) }
                }
            }
        }
    }
}

fn pipelines(pipelines: &[PipelineView]) -> Markup {
    html! {
        @if pipelines.is_empty() {
            p.empty { "No scheduled pipelines (" code { "[[pipelines]]" } " in pixq.toml)." }
        } @else {
            table.pipelines {
                thead { tr { th { "Pipeline" } th { "Schedule" } th { "Next run" } th { "Last run" } th { "Prompts" } } }
                tbody {
                    @for p in pipelines {
                        tr {
                            td { (p.name) }
                            td { code { (p.schedule) } " " span.muted { (p.timezone) } }
                            td { @if let Some(at) = p.next_run { (when(at)) } @else { span.muted { "none" } } }
                            td {
                                @if let Some(at) = p.last_run { (when(at)) } @else { span.muted { "never" } }
                                @if let Some(batch) = &p.last_batch_id {
                                    " " a href=(format!("/batches/{batch}")) { "batch" }
                                }
                            }
                            td { (p.prompts) @if let Some(file) = &p.prompts_file { " from " code { (file) } } }
                        }
                    }
                }
            }
        }
    }
}

fn catalog() -> Markup {
    let all = templates();
    html! {
        details {
            summary { h2.inline { "Template catalog (" (all.len()) ")" } }
            table.templates {
                thead { tr { th { "Id" } th { "Name" } th { "Qualities" } th { "Prompt" } } }
                tbody {
                    @for t in all {
                        tr {
                            td { code { (t.id.get()) } }
                            td { (t.name) @if !t.marker.is_empty() { " " span.marker { (t.marker) } } }
                            td { @for q in &t.qualities { span.quality { (q.as_str()) } " " } }
                            td.prompt { (t.prompt) }
                        }
                    }
                }
            }
        }
    }
}

fn is_web_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

fn when(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) }
    }
}
