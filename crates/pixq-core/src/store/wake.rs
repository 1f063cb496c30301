//! [`Wake`]: tells a worker in this process that a look may be due before its next poll of the
//! schedule.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

/// Looks booked this soon after now get a timer of their own; later ones are found by the
/// worker's regular poll of the schedule.
const SOON: Duration = Duration::from_millis(250);

/// Wakes a worker waiting on [`Store::rung`](super::Store::rung): at once for a look due now,
/// and at its time for a look due within [`SOON`], so a job's next look (a first poll a few
/// milliseconds after its submit) is not left to the next poll of the schedule.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    notify: Notify,
}

impl Wake {
    /// A look is booked at `at`.
    pub(crate) fn at(self: &Arc<Self>, at: DateTime<Utc>) {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        if wait.is_zero() {
            self.now();
        } else if wait <= SOON && tokio::runtime::Handle::try_current().is_ok() {
            let wake = Arc::downgrade(self);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                if let Some(wake) = wake.upgrade() {
                    wake.now();
                }
            });
        }
    }

    /// A look is due now.
    pub(crate) fn now(&self) {
        self.notify.notify_one();
    }

    /// Resolves at the next wake.
    pub(crate) async fn wait(&self) {
        self.notify.notified().await;
    }
}
