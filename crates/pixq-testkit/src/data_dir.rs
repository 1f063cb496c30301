//! A temporary `data_dir` for the embedded backend, deleted when dropped.

use std::path::Path;

/// A fresh, empty directory under the system's temp dir, deleted with everything in it when
/// dropped.
#[derive(Debug)]
pub struct TempDataDir {
    dir: tempfile::TempDir,
}

impl TempDataDir {
    /// A fresh directory named `pixq-test-<family>-…`.
    pub fn new(family: &str) -> TempDataDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("pixq-test-{family}-"))
            .tempdir()
            .expect("a temporary directory");
        TempDataDir { dir }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
