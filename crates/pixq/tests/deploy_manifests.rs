//! deploy/ is checked here, with no network and no Docker: every YAML document parses; the
//! Kubernetes manifests are complete and refer to each other correctly; every pixq container,
//! service and unit runs a role (and flags) the binary has; every `PIXQ__…` variable they set
//! is a configuration key the binary accepts, with the value they give it; drain times cover
//! the worker's shutdown timeout; the KEDA query and the Grafana dashboard name only metrics
//! that `crates/pixq-core/src/metrics.rs` exports.
//!
//! The binary itself is the judge of roles and keys: each check runs `pixq … --help` or
//! `pixq config`. `docker compose config`, `kubectl kustomize` and `systemd-analyze verify`
//! run too when they are installed and working; otherwise they are skipped silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// The roles a container, service or unit may run.
const ROLES: &[&str] = &["run", "api", "worker", "sim"];

/// A plausible value for every configuration key, for variables that appear without a literal
/// value (only in a comment, or as `${VAR}` / a systemd specifier). A key missing here makes the
/// test fail, asking for a value.
const PLAUSIBLE: &[(&str, &str)] = &[
    ("data_dir", "/var/lib/pixq"),
    ("redis.url", "redis://127.0.0.1:6379"),
    ("redis.prefix", "pixq"),
    ("api.listen", "0.0.0.0:8080"),
    ("api.tokens", "token-a,token-b"),
    ("api.public_url", "https://pixq.example.com"),
    ("api.max_body", "256KiB"),
    ("api.max_batch_body", "16MiB"),
    (
        "api.webhook_secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    ("upstream.base_url", "https://api.acedata.cloud"),
    ("upstream.token", "a-token"),
    ("upstream.max_in_flight", "5"),
    ("upstream.timeout", "30s"),
    ("worker.concurrency", "64"),
    ("worker.metrics_listen", "0.0.0.0:9100"),
    ("poll.first_after", "60s"),
    ("poll.interval", "10s"),
    ("poll.give_up_after", "15m"),
    ("retry.max_attempts", "10"),
    ("retention.finished", "7d"),
];

// ---- files ------------------------------------------------------------------------------------

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Every document of a YAML file, merge keys (`<<: *anchor`) applied; empty documents skipped.
fn yaml_docs(path: &Path) -> Vec<Yaml> {
    let text = read(path);
    let mut docs = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
        let mut value = serde::Deserialize::deserialize(doc)
            .unwrap_or_else(|e| panic!("{}: document {}: {e}", rel(path), i + 1));
        if let Yaml::Null = value {
            continue;
        }
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{}: document {}: merge keys: {e}", rel(path), i + 1));
        docs.push(value);
    }
    docs
}

fn k8s_docs() -> Vec<(PathBuf, Yaml)> {
    files_under(&deploy().join("k8s"))
        .into_iter()
        .filter(|p| is_yaml(p) && !p.ends_with("kustomization.yaml"))
        .flat_map(|p| yaml_docs(&p).into_iter().map(move |d| (p.clone(), d)))
        .collect()
}

fn compose() -> Yaml {
    let mut docs = yaml_docs(&deploy().join("compose.yaml"));
    assert_eq!(docs.len(), 1, "compose.yaml: one document");
    docs.remove(0)
}

// ---- small YAML helpers ---------------------------------------------------------------------

fn at<'a>(v: &'a Yaml, path: &[&str]) -> Option<&'a Yaml> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn str_at<'a>(v: &'a Yaml, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Yaml::as_str)
}

fn seq(v: Option<&Yaml>) -> &[Yaml] {
    v.and_then(Yaml::as_sequence).map_or(&[], Vec::as_slice)
}

/// A scalar as text (strings, numbers and booleans: what an environment value becomes).
fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_map(v: Option<&Yaml>) -> BTreeMap<String, Yaml> {
    v.and_then(Yaml::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn kind(doc: &Yaml) -> &str {
    str_at(doc, &["kind"]).unwrap_or("")
}

fn name(doc: &Yaml) -> &str {
    str_at(doc, &["metadata", "name"]).unwrap_or("")
}

/// The pod template's spec of a workload, if `doc` is one.
fn pod_spec(doc: &Yaml) -> Option<&Yaml> {
    match kind(doc) {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            at(doc, &["spec", "template", "spec"])
        }
        "CronJob" => at(doc, &["spec", "jobTemplate", "spec", "template", "spec"]),
        "Pod" => at(doc, &["spec"]),
        _ => None,
    }
}

fn containers(spec: &Yaml) -> impl Iterator<Item = &Yaml> {
    seq(spec.get("initContainers"))
        .iter()
        .chain(seq(spec.get("containers")))
}

/// Whether an image reference names pixq's image (`pixq`, `…/pixq`, with any tag).
fn is_pixq_image(image: &str) -> bool {
    let without_tag = image.split('@').next().unwrap_or(image);
    let last = without_tag.rsplit('/').next().unwrap_or(without_tag);
    last.split(':').next() == Some("pixq")
}

/// Compose's `${VAR:-default}` and `${VAR-default}` become the default; any other `${…}` makes
/// the value unknown (`None`).
fn interpolate(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let inner = &rest[start + 2..end];
        let name_len = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let operator = &inner[name_len..];
        let default = operator
            .strip_prefix(":-")
            .or_else(|| operator.strip_prefix('-'))?;
        out.push_str(default);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

// ---- the binary -------------------------------------------------------------------------------

/// `pixq` with no configuration of its own: an empty working directory (no ./pixq.toml) and no
/// PIXQ__ or upstream-token variable inherited from the test's environment.
fn pixq() -> Command {
    static EMPTY_DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = EMPTY_DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploy-manifests-cwd");
        fs::create_dir_all(&dir).expect("a temporary directory");
        let _ = fs::remove_file(dir.join("pixq.toml"));
        dir
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixq"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("PIXQ") || key == "ACEDATACLOUD_API_TOKEN" {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether an external tool answers `args` successfully (used to skip checks without it).
fn tool_works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

// ---- the metrics ------------------------------------------------------------------------------

struct Metrics {
    all: BTreeSet<String>,
    histograms: BTreeSet<String>,
}

/// The metric names of `crates/pixq-core/src/metrics.rs`: its `pub const NAME: &str = "…";`
/// lines, histograms told by `describe_histogram!(NAME`.
fn metrics() -> Metrics {
    let path = repo().join("crates/pixq-core/src/metrics.rs");
    let text = read(&path);
    let mut consts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        let Some((ident, value)) = rest.split_once(": &str = ") else {
            continue;
        };
        let value = value.trim().trim_end_matches(';').trim_matches('"');
        if value.starts_with("pixq_") {
            consts.insert(ident.to_owned(), value.to_owned());
        }
    }
    assert!(
        consts.len() >= 8,
        "{}: expected the metric name constants, found {consts:?}",
        rel(&path)
    );
    let mut histograms = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("describe_histogram!(") {
        rest = &rest[i + "describe_histogram!(".len()..];
        let ident = rest
            .trim_start()
            .split(|c: char| c == ',' || c.is_whitespace())
            .next()
            .unwrap_or("");
        if let Some(metric) = consts.get(ident) {
            histograms.insert(metric.clone());
        }
    }
    Metrics {
        all: consts.into_values().collect(),
        histograms,
    }
}

impl Metrics {
    /// The exported metric a series name belongs to (`…_bucket`, `_sum`, `_count` of a
    /// histogram), if any.
    fn resolve(&self, series: &str) -> Option<String> {
        if self.all.contains(series) {
            return Some(series.to_owned());
        }
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = series.strip_suffix(suffix)?;
            self.histograms.contains(base).then(|| base.to_owned())
        })
    }

    fn check_expr(&self, expr: &str, origin: &str) -> BTreeSet<String> {
        let names = metric_names(expr).unwrap_or_else(|e| panic!("{origin}: `{expr}`: {e}"));
        assert!(
            !names.is_empty(),
            "{origin}: `{expr}` names no metric at all"
        );
        names
            .iter()
            .map(|n| {
                self.resolve(n).unwrap_or_else(|| {
                    panic!(
                        "{origin}: `{expr}` names `{n}`, which crates/pixq-core/src/metrics.rs does \
                         not export (it has {:?})",
                        self.all
                    )
                })
            })
            .collect()
    }
}

/// The metric (series) names a PromQL expression reads: every identifier that is not a
/// function or aggregation (followed by `(`), a keyword, a label (inside `{…}` or a `by (…)`
/// list), a string, a range or a Grafana variable (`$x`, `${x}`).
fn metric_names(expr: &str) -> Result<BTreeSet<String>, String> {
    const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan"];
    // Aggregations may put their grouping first: `sum by (le) (…)`.
    const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut depth = 0i32;
    let mut i = 0;
    let skip_to = |i: usize, close: char| -> Result<usize, String> {
        chars[i..]
            .iter()
            .position(|&c| c == close)
            .map(|p| i + p + 1)
            .ok_or_else(|| format!("an unclosed `{close}`"))
    };
    let next_non_space = |i: usize| chars[i..].iter().find(|c| !c.is_whitespace()).copied();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != c {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
                if j >= chars.len() {
                    return Err("an unclosed string".to_owned());
                }
                i = j + 1;
            }
            '{' => i = skip_to(i, '}')?,
            '[' => i = skip_to(i, ']')?,
            '$' => {
                i += 1;
                if chars.get(i) == Some(&'{') {
                    i = skip_to(i, '}')?;
                } else {
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                }
            }
            '(' => {
                depth += 1;
                i += 1;
            }
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("an unmatched `)`".to_owned());
                }
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let ident: String = chars[start..i].iter().collect();
                let followed_by_paren = next_non_space(i) == Some('(');
                if GROUPING.contains(&ident.as_str()) {
                    if followed_by_paren {
                        let open = i + chars[i..].iter().position(|&c| c == '(').unwrap_or(0);
                        i = skip_to(open, ')')?;
                    }
                } else if !followed_by_paren
                    && !KEYWORDS.contains(&ident.as_str())
                    && !AGGREGATIONS.contains(&ident.as_str())
                {
                    names.insert(ident);
                }
            }
            _ => i += 1,
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".to_owned());
    }
    Ok(names)
}

#[test]
fn the_promql_scanner_finds_metrics_and_nothing_else() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le) (rate(pixq_job_duration_seconds_bucket{a="b)"}[$__rate_interval])))
           + on (x) group_left (y) max(pixq_in_flight) * vector($max_in_flight) or sum(x_total) without (z)"#,
    )
    .unwrap();
    let expected: BTreeSet<String> = [
        "pixq_job_duration_seconds_bucket",
        "pixq_in_flight",
        "x_total",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(names, expected);
    assert!(metric_names("sum(rate(x[5m])").is_err());
    let m = metrics();
    assert_eq!(
        m.resolve("pixq_queue_wait_seconds_bucket").as_deref(),
        Some("pixq_queue_wait_seconds")
    );
    assert_eq!(m.resolve("pixq_queue_depth_bucket"), None);
}

// ---- the worker's drain -----------------------------------------------------------------------

/// The worker's shutdown timeout (its drain on SIGTERM), read from pixq-worker's config.
fn worker_shutdown_timeout() -> Duration {
    let path = repo().join("crates/pixq-worker/src/config.rs");
    let text = read(&path);
    let secs = text
        .lines()
        .find_map(|l| {
            let mut rest = l.split("DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(");
            rest.nth(1)?.split(')').next()?.trim().parse::<u64>().ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: cannot find `DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(N)`; \
                 update worker_shutdown_timeout() in this test",
                rel(&path)
            )
        });
    let timeout = Duration::from_secs(secs);
    assert!(
        timeout >= Duration::from_secs(30),
        "the brief's drain is 30 s"
    );
    timeout
}

/// `45`, `45s`, `1m30s`, `2min`, `1h` (compose and systemd durations).
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    let mut unit = String::new();
    let flush = |number: &mut String, unit: &mut String, total: &mut u64| -> Option<()> {
        let n: u64 = number.parse().ok()?;
        let factor = match unit.as_str() {
            "s" | "sec" | "" => 1,
            "m" | "min" => 60,
            "h" => 3600,
            _ => return None,
        };
        *total += n * factor;
        number.clear();
        unit.clear();
        Some(())
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !unit.is_empty() {
                flush(&mut number, &mut unit, &mut total)?;
            }
            number.push(c);
        } else if c.is_ascii_alphabetic() {
            unit.push(c);
        } else if !c.is_whitespace() {
            return None;
        }
    }
    flush(&mut number, &mut unit, &mut total)?;
    Some(Duration::from_secs(total))
}

// ---- systemd and the Dockerfile ---------------------------------------------------------------

fn unit_files() -> Vec<PathBuf> {
    files_under(&deploy().join("systemd"))
        .into_iter()
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("service"))
        .collect()
}

/// `Key=value` lines of a unit's sections (comments skipped).
fn unit_settings(path: &Path) -> Vec<(String, String)> {
    read(path)
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The Dockerfile's instructions, continuation lines joined: (INSTRUCTION, arguments).
fn dockerfile() -> Vec<(String, String)> {
    let text = read(&deploy().join("Dockerfile"));
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (instruction, args) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((instruction.to_ascii_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    out
}

fn dockerfile_json_array(instruction: &str) -> Vec<String> {
    let args = dockerfile()
        .into_iter()
        .rev()
        .find(|(i, _)| i == instruction)
        .map(|(_, a)| a)
        .unwrap_or_else(|| panic!("deploy/Dockerfile has no {instruction}"));
    serde_json::from_str(&args).unwrap_or_else(|e| {
        panic!("deploy/Dockerfile: {instruction} {args}: use the JSON (exec) form: {e}")
    })
}

// ---- the tests --------------------------------------------------------------------------------

#[test]
fn every_yaml_file_under_deploy_parses() {
    let yaml: Vec<PathBuf> = files_under(&deploy())
        .into_iter()
        .filter(|p| is_yaml(p))
        .collect();
    assert!(
        yaml.len() >= 8,
        "expected the deploy/ manifests, found {yaml:?}"
    );
    for path in yaml {
        let docs = yaml_docs(&path);
        assert!(!docs.is_empty(), "{}: no YAML document", rel(&path));
        for doc in docs {
            assert!(
                doc.as_mapping().is_some(),
                "{}: a document that is not a mapping",
                rel(&path)
            );
        }
    }
}

#[test]
fn kubernetes_manifests_are_complete_and_refer_to_each_other() {
    let docs = k8s_docs();
    let mut seen = BTreeSet::new();
    for (path, doc) in &docs {
        let origin = rel(path);
        for field in [&["apiVersion"][..], &["kind"], &["metadata", "name"]] {
            assert!(
                str_at(doc, field).is_some_and(|s| !s.is_empty()),
                "{origin}: a document without {}",
                field.join(".")
            );
        }
        assert!(
            at(doc, &["metadata", "namespace"]).is_none(),
            "{origin}: {} {} names a namespace; the manifests are namespace-free",
            kind(doc),
            name(doc)
        );
        assert!(
            seen.insert((kind(doc).to_owned(), name(doc).to_owned())),
            "{origin}: {} {} is defined twice",
            kind(doc),
            name(doc)
        );
    }
    let find = |k: &str, n: &str| docs.iter().find(|(_, d)| kind(d) == k && name(d) == n);

    // The kustomization lists exactly the manifests of the folder.
    let kustomization = yaml_docs(&deploy().join("k8s/kustomization.yaml")).remove(0);
    let listed: BTreeSet<String> = seq(kustomization.get("resources"))
        .iter()
        .map(|r| r.as_str().expect("a resource path").to_owned())
        .collect();
    let present: BTreeSet<String> = files_under(&deploy().join("k8s"))
        .into_iter()
        .filter(|p| is_yaml(p) && !p.ends_with("kustomization.yaml"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        listed, present,
        "deploy/k8s/kustomization.yaml's resources must list every manifest of deploy/k8s"
    );
    assert!(
        deploy().join("k8s/redis.md").is_file(),
        "deploy/k8s/redis.md is missing"
    );

    // Workloads: selectors match their pods, and what their pods refer to exists.
    let mut pod_labels: Vec<(String, BTreeMap<String, Yaml>)> = Vec::new();
    for (path, doc) in &docs {
        let Some(spec) = pod_spec(doc) else { continue };
        let origin = format!("{}: {} {}", rel(path), kind(doc), name(doc));
        let labels = string_map(at(doc, &["spec", "template", "metadata", "labels"]));
        let selector = string_map(at(doc, &["spec", "selector", "matchLabels"]));
        assert!(!selector.is_empty(), "{origin}: no selector.matchLabels");
        for (k, v) in &selector {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{origin}: the selector's {k} is not on the pod template"
            );
        }
        pod_labels.push((name(doc).to_owned(), labels));
        for container in containers(spec) {
            let cname = str_at(container, &["name"]).unwrap_or("?");
            assert!(
                str_at(container, &["image"]).is_some(),
                "{origin}: container {cname} has no image"
            );
            let ports: BTreeSet<String> = seq(container.get("ports"))
                .iter()
                .flat_map(|p| {
                    [
                        str_at(p, &["name"]).map(str::to_owned),
                        p.get("containerPort").and_then(scalar),
                    ]
                })
                .flatten()
                .collect();
            for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
                if let Some(port) = at(container, &[probe, "httpGet", "port"]).and_then(scalar) {
                    assert!(
                        ports.contains(&port),
                        "{origin}: {cname}'s {probe} uses port {port}, which it does not declare"
                    );
                }
            }
            for from in seq(container.get("envFrom")) {
                if let Some(cm) = str_at(from, &["configMapRef", "name"]) {
                    assert!(
                        find("ConfigMap", cm).is_some(),
                        "{origin}: ConfigMap {cm} is not defined"
                    );
                }
                if let Some(secret) = str_at(from, &["secretRef", "name"]) {
                    assert!(
                        find("Secret", secret).is_some(),
                        "{origin}: Secret {secret} is not defined"
                    );
                }
            }
            for env in seq(container.get("env")) {
                if let Some(r) = at(env, &["valueFrom", "secretKeyRef"]) {
                    let (sname, key) = (str_at(r, &["name"]), str_at(r, &["key"]));
                    let secret = find("Secret", sname.unwrap_or(""))
                        .unwrap_or_else(|| panic!("{origin}: Secret {sname:?} is not defined"));
                    let has_key = ["stringData", "data"]
                        .iter()
                        .any(|d| at(&secret.1, &[d, key.unwrap_or("")]).is_some());
                    assert!(has_key, "{origin}: Secret {sname:?} has no key {key:?}");
                }
                if let Some(r) = at(env, &["valueFrom", "configMapKeyRef"]) {
                    let (cname, key) = (str_at(r, &["name"]), str_at(r, &["key"]));
                    let cm = find("ConfigMap", cname.unwrap_or(""))
                        .unwrap_or_else(|| panic!("{origin}: ConfigMap {cname:?} is not defined"));
                    assert!(
                        at(&cm.1, &["data", key.unwrap_or("")]).is_some(),
                        "{origin}: ConfigMap {cname:?} has no key {key:?}"
                    );
                }
            }
        }
    }

    // Services and PodDisruptionBudgets select some workload's pods.
    for (path, doc) in &docs {
        let selector = match kind(doc) {
            "Service" => string_map(at(doc, &["spec", "selector"])),
            "PodDisruptionBudget" => string_map(at(doc, &["spec", "selector", "matchLabels"])),
            _ => continue,
        };
        let origin = format!("{}: {} {}", rel(path), kind(doc), name(doc));
        assert!(!selector.is_empty(), "{origin}: an empty selector");
        assert!(
            pod_labels
                .iter()
                .any(|(_, labels)| selector.iter().all(|(k, v)| labels.get(k) == Some(v))),
            "{origin}: its selector matches no workload's pods"
        );
    }

    // What the brief asks for by name.
    for (k, n) in [
        ("ConfigMap", "pixq-config"),
        ("Secret", "pixq-secrets"),
        ("Deployment", "pixq-api"),
        ("Deployment", "pixq-worker"),
        ("Service", "pixq-api"),
        ("PodDisruptionBudget", "pixq-api"),
        ("PodDisruptionBudget", "pixq-worker"),
        ("ScaledObject", "pixq-worker"),
        ("StatefulSet", "pixq-redis"),
    ] {
        assert!(find(k, n).is_some(), "deploy/k8s: no {k} {n}");
    }
    let api = &find("Deployment", "pixq-api").unwrap().1;
    let api_container = containers(pod_spec(api).unwrap()).next().unwrap();
    assert_eq!(
        str_at(api_container, &["readinessProbe", "httpGet", "path"]),
        Some("/readyz")
    );
    assert_eq!(
        str_at(api_container, &["livenessProbe", "httpGet", "path"]),
        Some("/healthz")
    );
    let worker = &find("Deployment", "pixq-worker").unwrap().1;
    let worker_container = containers(pod_spec(worker).unwrap()).next().unwrap();
    assert_eq!(
        str_at(worker_container, &["livenessProbe", "httpGet", "path"]),
        Some("/healthz")
    );
    for (_, doc) in docs.iter().filter(|(_, d)| pod_spec(d).is_some()) {
        for c in containers(pod_spec(doc).unwrap()) {
            assert!(
                at(c, &["resources", "requests"]).is_some()
                    && at(c, &["resources", "limits", "memory"]).is_some(),
                "{} {}: every container sets resource requests and a memory limit",
                kind(doc),
                name(doc)
            );
        }
    }

    // Redis, when run here: AOF on, no eviction.
    let redis = &find("StatefulSet", "pixq-redis").unwrap().1;
    let redis_args: Vec<String> = containers(pod_spec(redis).unwrap())
        .flat_map(|c| seq(c.get("args")).iter().chain(seq(c.get("command"))))
        .filter_map(scalar)
        .collect();
    let joined = redis_args.join(" ");
    for needle in ["--appendonly yes", "--maxmemory-policy noeviction"] {
        assert!(
            joined.contains(needle),
            "redis-statefulset.yaml: no `{needle}`"
        );
    }
    assert!(
        !seq(at(redis, &["spec", "volumeClaimTemplates"])).is_empty(),
        "redis-statefulset.yaml: no PersistentVolumeClaim"
    );
}

/// Every command line that runs pixq, with where it comes from: compose services, Kubernetes
/// containers, the Dockerfile's CMD and the systemd units' ExecStart.
fn pixq_command_lines() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();

    let image_cmd = dockerfile_json_array("CMD");
    let compose = compose();
    for (service, def) in string_map(compose.get("services")) {
        let Some(image) = str_at(&def, &["image"]).and_then(interpolate) else {
            continue;
        };
        if !is_pixq_image(&image) {
            continue;
        }
        let args = match def.get("command") {
            Some(Yaml::Sequence(items)) => items
                .iter()
                .map(|i| {
                    scalar(i)
                        .and_then(|s| interpolate(&s))
                        .unwrap_or_else(|| panic!("compose.yaml: {service}: command {i:?}"))
                })
                .collect(),
            Some(Yaml::String(s)) => interpolate(s)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            _ => image_cmd.clone(),
        };
        out.push((format!("deploy/compose.yaml: service {service}"), args));
    }

    for (path, doc) in k8s_docs() {
        let Some(spec) = pod_spec(&doc) else { continue };
        for c in containers(spec) {
            if !str_at(c, &["image"]).is_some_and(is_pixq_image) {
                continue;
            }
            let mut command: Vec<String> =
                seq(c.get("command")).iter().filter_map(scalar).collect();
            if let Some(first) = command.first() {
                assert!(
                    first == "pixq" || first.ends_with("/pixq"),
                    "{}: a pixq container's command must run pixq, not {first}",
                    rel(&path)
                );
                command.remove(0);
            }
            let args: Vec<String> = seq(c.get("args")).iter().filter_map(scalar).collect();
            let line = if command.is_empty() && args.is_empty() {
                image_cmd.clone()
            } else {
                command.into_iter().chain(args).collect()
            };
            out.push((
                format!(
                    "{}: {} {} container {}",
                    rel(&path),
                    kind(&doc),
                    name(&doc),
                    str_at(c, &["name"]).unwrap_or("?")
                ),
                line,
            ));
        }
    }

    out.push(("deploy/Dockerfile: CMD".to_owned(), image_cmd));

    for unit in unit_files() {
        for (key, value) in unit_settings(&unit) {
            if key != "ExecStart" {
                continue;
            }
            let mut words = value.split_whitespace().map(str::to_owned);
            let program = words.next().unwrap_or_default();
            assert!(
                program.ends_with("/pixq"),
                "{}: ExecStart runs {program}, not pixq (by its absolute path)",
                rel(&unit)
            );
            out.push((format!("{}: ExecStart", rel(&unit)), words.collect()));
        }
    }
    out
}

#[test]
fn every_pixq_command_line_runs_a_role_the_binary_has_with_flags_it_knows() {
    let lines = pixq_command_lines();
    let mut roles_by_source: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (origin, args) in &lines {
        let role = args.first().map_or("", String::as_str);
        assert!(
            ROLES.contains(&role),
            "{origin}: `pixq {}` does not start with a role ({ROLES:?})",
            args.join(" ")
        );
        // `--help` last: clap still rejects any flag the role does not have.
        let out = output(pixq().args(args).arg("--help"));
        assert!(
            out.status.success(),
            "{origin}: `pixq {} --help` fails: the binary has no such role or flag\n{}",
            args.join(" "),
            describe(&out)
        );
        let source = origin.split(':').next().unwrap_or("");
        let source = if source.starts_with("deploy/k8s") {
            "deploy/k8s"
        } else if source.starts_with("deploy/systemd") {
            "deploy/systemd"
        } else {
            source
        };
        let sources = roles_by_source.entry(source).or_default();
        sources.insert(role.to_owned());
    }
    for (source, expected) in [
        ("deploy/compose.yaml", &["api", "worker", "sim"][..]),
        ("deploy/k8s", &["api", "worker"]),
        ("deploy/systemd", &["run", "api", "worker"]),
        ("deploy/Dockerfile", &["run"]),
    ] {
        let found = roles_by_source.get(source).cloned().unwrap_or_default();
        for role in expected {
            assert!(
                found.contains(*role),
                "{source}: nothing runs `pixq {role}` (found {found:?})"
            );
        }
    }
    // And a role the binary does not have is refused, so the check above means something.
    assert!(
        !output(pixq().args(["no-such-role", "--help"]))
            .status
            .success()
    );
}

/// Every `PIXQ__…` name in `text`.
fn pixq_variable_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("PIXQ__") {
        let tail = &rest[i + "PIXQ__".len()..];
        let len = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let body = &tail[..len];
        if !body.is_empty() && body.split("__").all(|part| !part.is_empty()) {
            names.insert(format!("PIXQ__{body}"));
        }
        rest = &tail[len..];
    }
    names
}

/// The literal values deploy/ gives `PIXQ__…` variables, by name (`None`: a value that depends
/// on the environment, such as `${VAR}` or a systemd specifier).
fn pixq_variable_values() -> BTreeMap<String, BTreeSet<Option<String>>> {
    let mut values: BTreeMap<String, BTreeSet<Option<String>>> = BTreeMap::new();
    let mut add = |name: &str, value: Option<String>| {
        if name.starts_with("PIXQ__") {
            values.entry(name.to_owned()).or_default().insert(value);
        }
    };

    for (_, def) in string_map(compose().get("services")) {
        match def.get("environment") {
            Some(Yaml::Mapping(m)) => {
                for (k, v) in m {
                    if let Some(k) = k.as_str() {
                        add(k, scalar(v).and_then(|s| interpolate(&s)));
                    }
                }
            }
            Some(Yaml::Sequence(items)) => {
                for item in items.iter().filter_map(Yaml::as_str) {
                    let (k, v) = item.split_once('=').unwrap_or((item, ""));
                    add(k, interpolate(v));
                }
            }
            _ => {}
        }
    }

    for (_, doc) in k8s_docs() {
        if matches!(kind(&doc), "ConfigMap" | "Secret") {
            for section in ["data", "stringData"] {
                for (k, v) in string_map(doc.get(section)) {
                    add(&k, scalar(&v));
                }
            }
        }
        if let Some(spec) = pod_spec(&doc) {
            for c in containers(spec) {
                for env in seq(c.get("env")) {
                    if let (Some(k), Some(v)) = (str_at(env, &["name"]), env.get("value")) {
                        add(k, scalar(v));
                    }
                }
            }
        }
    }

    let literal = |v: &str| (!v.contains('%') && !v.contains('$')).then(|| v.to_owned());
    for unit in unit_files() {
        for (key, value) in unit_settings(&unit) {
            if key == "Environment" {
                for pair in value.split_whitespace() {
                    let pair = pair.trim_matches('"');
                    if let Some((k, v)) = pair.split_once('=') {
                        add(k, literal(v));
                    }
                }
            }
        }
    }
    for env_file in files_under(&deploy())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".env") || p.ends_with("pixq.env.example"))
    {
        for line in read(&env_file).lines().map(str::trim) {
            if let Some((k, v)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
                add(k.trim(), literal(v.trim()));
            }
        }
    }

    for (instruction, args) in dockerfile() {
        if instruction == "ENV" {
            for pair in args.split_whitespace() {
                if let Some((k, v)) = pair.split_once('=') {
                    add(k, literal(v.trim_matches('"')));
                }
            }
        }
    }
    values
}

/// `PIXQ__API__MAX_BODY` → `api.max_body`.
fn config_key(variable: &str) -> String {
    variable
        .trim_start_matches("PIXQ__")
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join(".")
}

#[test]
fn every_pixq_variable_in_deploy_is_a_configuration_key_with_a_valid_value() {
    // Names: wherever they appear under deploy/, comments included (a typo in a comment is
    // copied into a deployment). Values: the literal ones the manifests give.
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files_under(&deploy()) {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for name in pixq_variable_names(&text) {
            names.entry(name).or_default().insert(rel(&path));
        }
    }
    for required in [
        "PIXQ__REDIS__URL",
        "PIXQ__API__LISTEN",
        "PIXQ__API__TOKENS",
        "PIXQ__WORKER__METRICS_LISTEN",
        "PIXQ__UPSTREAM__BASE_URL",
    ] {
        assert!(
            names.contains_key(required),
            "deploy/ never sets {required}"
        );
    }
    let values = pixq_variable_values();
    for name in values.keys() {
        assert!(names.contains_key(name), "the scan missed {name}");
    }

    for (name, files) in &names {
        let key = config_key(name);
        let mut candidates: BTreeSet<String> = values
            .get(name)
            .into_iter()
            .flatten()
            .flatten()
            .cloned()
            .collect();
        if candidates.is_empty() {
            let plausible = PLAUSIBLE
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_else(|| {
                    let out = output(pixq().arg("config").env(name, "1"));
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    assert!(
                        !stderr.contains("unknown field"),
                        "{name} (in {files:?}): {key} is not a configuration key\n{}",
                        describe(&out)
                    );
                    panic!(
                        "{name} (in {files:?}) has no literal value in deploy/, and {key} has none \
                         in PLAUSIBLE: add a plausible value for it to this test"
                    )
                });
            candidates.insert(plausible);
        }
        for value in candidates {
            let out = output(pixq().arg("config").env(name, &value));
            assert!(
                out.status.success(),
                "{name}={value:?} (in {files:?}): `pixq config` refuses it, so {key} is not a \
                 configuration key or the value is invalid\n{}",
                describe(&out)
            );
        }
    }

    // And a key the binary does not have is refused, so the check above means something.
    let out = output(pixq().arg("config").env("PIXQ__REDIS__NO_SUCH_KEY", "1"));
    assert!(!out.status.success(), "pixq config accepts an unknown key");
}

#[test]
fn drain_times_exceed_the_worker_shutdown_timeout() {
    let drain = worker_shutdown_timeout();

    let (path, worker) = k8s_docs()
        .into_iter()
        .find(|(_, d)| kind(d) == "Deployment" && name(d) == "pixq-worker")
        .expect("the pixq-worker Deployment");
    let grace = at(
        &worker,
        &["spec", "template", "spec", "terminationGracePeriodSeconds"],
    )
    .and_then(Yaml::as_u64)
    .unwrap_or(30);
    assert!(
        Duration::from_secs(grace) > drain,
        "{}: terminationGracePeriodSeconds {grace} must exceed the worker's {drain:?} drain",
        rel(&path)
    );
    // A preStop hook's time counts against the grace period.
    for c in containers(pod_spec(&worker).unwrap()) {
        assert!(
            at(c, &["lifecycle", "preStop"]).is_none(),
            "{}: a worker preStop hook delays SIGTERM and eats into the drain; if one is \
             needed, raise terminationGracePeriodSeconds by its length and update this test",
            rel(&path)
        );
    }

    let compose = compose();
    let stop = str_at(&compose, &["services", "worker", "stop_grace_period"])
        .and_then(parse_duration)
        .unwrap_or(Duration::from_secs(10));
    assert!(
        stop > drain,
        "deploy/compose.yaml: the worker's stop_grace_period {stop:?} must exceed {drain:?}"
    );

    for unit in unit_files() {
        let settings = unit_settings(&unit);
        let runs_a_worker = settings
            .iter()
            .any(|(k, v)| k == "ExecStart" && (v.ends_with(" worker") || v.ends_with(" run")));
        if !runs_a_worker {
            continue;
        }
        let timeout = settings
            .iter()
            .rev()
            .find(|(k, _)| k == "TimeoutStopSec")
            .and_then(|(_, v)| parse_duration(v))
            .unwrap_or(Duration::from_secs(90));
        assert!(
            timeout > drain,
            "{}: TimeoutStopSec {timeout:?} must exceed {drain:?}",
            rel(&unit)
        );
    }
}

#[test]
fn compose_scales_workers_and_keeps_the_simulator_behind_a_profile() {
    let compose = compose();
    let services = string_map(compose.get("services"));
    for needed in ["redis", "api", "worker", "sim"] {
        assert!(
            services.contains_key(needed),
            "compose.yaml: no {needed} service"
        );
    }
    let worker = &services["worker"];
    assert!(
        worker.get("container_name").is_none() && worker.get("ports").is_none(),
        "compose.yaml: the worker has a container_name or host ports, so it cannot be scaled"
    );
    let profiles: Vec<&str> = seq(services["sim"].get("profiles"))
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(profiles, ["sim"], "compose.yaml: the simulator's profiles");
    let redis_command: Vec<String> = seq(services["redis"].get("command"))
        .iter()
        .filter_map(scalar)
        .collect();
    assert!(
        redis_command.join(" ").contains("--appendonly yes"),
        "compose.yaml: Redis without AOF"
    );
    assert!(
        seq(services["redis"].get("volumes")).len() == 1,
        "compose.yaml: Redis's data needs a volume"
    );
    for (name, def) in &services {
        assert!(
            def.get("healthcheck").is_some(),
            "compose.yaml: {name} has no healthcheck"
        );
        for (dep, how) in string_map(def.get("depends_on")) {
            assert!(
                services.contains_key(&dep),
                "compose.yaml: {name} depends on an unknown service {dep}"
            );
            assert_eq!(
                str_at(&how, &["condition"]),
                Some("service_healthy"),
                "compose.yaml: {name} should wait for {dep} to be healthy"
            );
        }
    }
}

#[test]
fn the_dockerfile_copies_every_crate_and_runs_pixq_unprivileged() {
    let instructions = dockerfile();
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(
        froms.len() >= 2 && froms[0].starts_with("rust:"),
        "deploy/Dockerfile: a multi-stage build from rust:… (found {froms:?})"
    );
    let copies: BTreeSet<&str> = instructions
        .iter()
        .filter(|(i, _)| i == "COPY")
        .flat_map(|(_, a)| a.split_whitespace())
        .collect();
    // The dependency layer builds from the manifests alone: a member missing there breaks it.
    for member in fs::read_dir(repo().join("crates")).expect("crates/") {
        let member = member.expect("an entry").path();
        if member.join("Cargo.toml").is_file() {
            let manifest = format!("{}/Cargo.toml", rel(&member));
            assert!(
                copies.contains(manifest.as_str()),
                "deploy/Dockerfile: the dependency layer does not COPY {manifest}"
            );
        }
    }
    assert_eq!(dockerfile_json_array("ENTRYPOINT"), ["pixq"]);
    let user = instructions
        .iter()
        .rev()
        .find(|(i, _)| i == "USER")
        .map(|(_, a)| a.as_str())
        .unwrap_or("root");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "deploy/Dockerfile: the image runs as root"
    );
    for needed in ["HEALTHCHECK", "EXPOSE"] {
        assert!(
            instructions.iter().any(|(i, _)| i == needed),
            "deploy/Dockerfile: no {needed}"
        );
    }
}

#[test]
fn keda_scales_the_workers_on_a_metric_pixq_exports() {
    let metrics = metrics();
    let scaled: Vec<(PathBuf, Yaml)> = k8s_docs()
        .into_iter()
        .filter(|(_, d)| kind(d) == "ScaledObject")
        .collect();
    assert!(!scaled.is_empty(), "deploy/k8s: no KEDA ScaledObject");
    for (path, doc) in &scaled {
        let origin = rel(path);
        let target = str_at(doc, &["spec", "scaleTargetRef", "name"]);
        assert!(
            k8s_docs()
                .iter()
                .any(|(_, d)| kind(d) == "Deployment" && Some(name(d)) == target),
            "{origin}: scaleTargetRef {target:?} is no Deployment of deploy/k8s"
        );
        let mut queries = 0;
        for trigger in seq(at(doc, &["spec", "triggers"])) {
            if str_at(trigger, &["type"]) != Some("prometheus") {
                continue;
            }
            let query = str_at(trigger, &["metadata", "query"])
                .unwrap_or_else(|| panic!("{origin}: a prometheus trigger without a query"));
            let used = metrics.check_expr(query, &origin);
            assert!(
                used.contains("pixq_queue_depth") && query.contains(r#"queue="due""#),
                "{origin}: the workers scale on pixq_queue_depth{{queue=\"due\"}}, not `{query}`"
            );
            let threshold =
                str_at(trigger, &["metadata", "threshold"]).and_then(|t| t.parse::<f64>().ok());
            assert!(
                threshold.is_some_and(|t| t > 0.0),
                "{origin}: the threshold must be a positive number, quoted"
            );
            queries += 1;
        }
        assert!(queries > 0, "{origin}: no prometheus trigger");
    }
}

#[test]
fn the_grafana_dashboard_names_only_exported_metrics() {
    let metrics = metrics();
    let path = deploy().join("grafana/pixq.json");
    let dashboard: Json = serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", rel(&path)));
    assert!(
        dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "the dashboard's schemaVersion"
    );
    assert!(
        dashboard["__inputs"]
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i["name"] == "DS_PROMETHEUS")),
        "the dashboard takes its datasource as the DS_PROMETHEUS input"
    );

    let mut panels: Vec<&Json> = Vec::new();
    let mut stack: Vec<&Json> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    while let Some(panel) = stack.pop() {
        stack.extend(panel["panels"].as_array().into_iter().flatten());
        panels.push(panel);
    }
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    for panel in &panels {
        let title = panel["title"].as_str().unwrap_or("?");
        assert!(
            ids.insert(
                panel["id"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("panel {title}: no id"))
            ),
            "panel {title}: its id is not unique"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${DS_PROMETHEUS}",
            "panel {title}: the datasource is the DS_PROMETHEUS input"
        );
        let targets = panel["targets"].as_array().map_or(&[][..], Vec::as_slice);
        assert!(!targets.is_empty(), "panel {title}: no query");
        for target in targets {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title}: a target without expr"));
            let origin = format!("{}: panel {title}", rel(&path));
            // `vector($var)` draws a constant (a cap) and names no metric.
            if metric_names(expr).is_ok_and(|n| n.is_empty()) && expr.starts_with("vector(") {
                continue;
            }
            used.extend(metrics.check_expr(expr, &origin));
        }
    }
    let unused: Vec<&String> = metrics.all.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "the dashboard shows no panel for {unused:?}"
    );
}

#[test]
fn external_validators_agree_when_they_are_installed() {
    // docker compose: only when a working one is present (the CI machine has no Docker).
    if tool_works("docker", &["compose", "version"]) {
        let out = output(
            Command::new("docker")
                .current_dir(repo())
                .args(["compose", "-f", "deploy/compose.yaml"])
                .args(["--env-file", "deploy/sim.env", "--profile", "sim"])
                .args(["config", "--quiet"]),
        );
        assert!(
            out.status.success(),
            "docker compose config\n{}",
            describe(&out)
        );
    }

    // kubectl kustomize builds offline: the kustomization resolves, and renders.
    if tool_works("kubectl", &["version", "--client"]) {
        let out = output(
            Command::new("kubectl")
                .arg("kustomize")
                .arg(deploy().join("k8s")),
        );
        assert!(
            out.status.success(),
            "kubectl kustomize\n{}",
            describe(&out)
        );
        let rendered = String::from_utf8_lossy(&out.stdout);
        let docs = serde_norway::Deserializer::from_str(&rendered).count();
        assert!(docs >= 10, "kubectl kustomize rendered {docs} documents");
    }

    // systemd-analyze verify, with ExecStart pointed at the built binary (it must exist).
    if tool_works("systemd-analyze", &["--version"]) {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploy-manifests-units");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("a temporary directory");
        let mut units = Vec::new();
        for unit in unit_files() {
            let text = read(&unit).replace("/usr/local/bin/pixq", env!("CARGO_BIN_EXE_pixq"));
            let copy = dir.join(unit.file_name().unwrap());
            fs::write(&copy, text).expect("a unit copy");
            units.push(copy);
        }
        let out = output(Command::new("systemd-analyze").arg("verify").args(&units));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let about_ours: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("pixq-") && l.contains(".service"))
            .collect();
        // A failure that names none of the units is the machine's (no systemd to ask), not ours.
        assert!(
            about_ours.is_empty(),
            "systemd-analyze verify complains about deploy/systemd:\n{}",
            about_ours.join("\n")
        );
    }
}
