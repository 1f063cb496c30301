//! A batch's chains, a page at a time: each chain's steps read in two round trips per page
//! (the first steps, then every later step that can exist), for the results stream, cancel
//! and retry.

use pixq_core::batch::{ChainState, current_step};
use pixq_core::job::{Job, JobId};
use pixq_core::store::{SharedStore, StoreError};

/// One chain as read: its first step's id, and its steps in order (`None` for a step not
/// created yet, or expired).
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// The chain's first step.
    pub root: JobId,
    /// Its steps, the first one first.
    pub steps: Vec<Option<Job>>,
}

impl Chain {
    /// The step that decides the chain's state: the last one that exists.
    pub(crate) fn current(&self) -> Option<&Job> {
        current_step(&self.steps)
    }

    /// The chain's state; `None` when none of its steps is left (expired).
    pub(crate) fn state(&self) -> Option<ChainState> {
        self.current().map(ChainState::of)
    }

    /// The chain's first step, when it is still stored.
    pub(crate) fn first(&self) -> Option<&Job> {
        self.steps.first().and_then(Option::as_ref)
    }
}

/// The chains rooted at `roots`, in the same order.
///
/// # Errors
///
/// Store failures.
pub(crate) async fn read(store: &SharedStore, roots: &[JobId]) -> Result<Vec<Chain>, StoreError> {
    let firsts = store.jobs().get_many(roots).await?;
    let mut later = Vec::new();
    for (root, first) in roots.iter().zip(&firsts) {
        let len = first.as_ref().map_or(1, |job| job.chain_len);
        later.extend((1..len).map(|step| JobId::for_step(root, step)));
    }
    let mut later = store.jobs().get_many(&later).await?.into_iter();
    Ok(roots
        .iter()
        .zip(firsts)
        .map(|(root, first)| {
            let rest = first
                .as_ref()
                .map_or(0, |job| job.chain_len.saturating_sub(1));
            let mut steps = vec![first];
            steps.extend(later.by_ref().take(usize::try_from(rest).unwrap_or(0)));
            Chain {
                root: root.clone(),
                steps,
            }
        })
        .collect())
}
