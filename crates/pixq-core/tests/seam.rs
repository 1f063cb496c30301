//! The seam holds: the API and the worker depend on the store's traits, never on a backend.
//!
//! They name no Redis or SQLite type, and depend on no Redis or SQLite crate: everything of a
//! backend lives in `pixq_core::redis` or `pixq_core::sqlite`. A grep is enough, and is
//! checked on every test run.

use std::path::{Path, PathBuf};

/// Words that only code reaching past the seam would write.
const BACKEND_WORDS: &[&str] = &[
    "redis::",
    "::redis",
    "RedisStore",
    "RedisError",
    "ConnectionManager",
    "apalis_redis",
    "apalis-redis",
    "rusqlite",
    "SqliteStore",
    "pixq_core::sqlite",
];

/// The crates that must stay behind the seam.
const CRATES: &[&str] = &["pixq-api", "pixq-worker"];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/")
        .to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_api_and_the_worker_name_no_backend_type() {
    let mut offences = Vec::new();
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&crates_dir().join(krate).join("src"), &mut files);
        assert!(!files.is_empty(), "no sources found for {krate}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a source file");
            for (n, line) in text.lines().enumerate() {
                for word in BACKEND_WORDS {
                    if line.contains(word) {
                        offences.push(format!("{}:{}: {word}: {line}", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "code past the seam:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_api_and_the_worker_depend_on_no_backend_crate() {
    for krate in CRATES {
        let manifest = crates_dir().join(krate).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("a manifest");
        let dependencies = text
            .split("[dev-dependencies]")
            .next()
            .expect("the manifest's head");
        for name in ["redis", "apalis-redis", "rusqlite", "sqlx", "apalis-sqlite"] {
            let named = dependencies.lines().any(|line| {
                line.trim_start().starts_with(&format!("{name}."))
                    || line.trim_start().starts_with(&format!("{name} "))
            });
            assert!(!named, "{krate} depends on {name}: {}", manifest.display());
        }
    }
}
