//! What a schedule entry may name: a job id pixq could have written. Anything else in the
//! schedule (a hand edit, another program's key) is set aside, never handed to a worker step.

use crate::job::JobId;

/// Why a schedule entry is not a job pixq could have written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The id is empty, too long, or holds whitespace or control characters.
    #[error("the schedule names no usable job id: {0:?}; expected an id like \"job_…\"")]
    JobId(String),
}

/// Longest job id the schedule may name; pixq's ids are about 40 bytes.
pub const MAX_JOB_ID_LEN: usize = 200;

/// Checks that `id` could be one of pixq's job ids before a worker acts on it.
///
/// # Errors
///
/// [`PayloadError::JobId`], with the id cut to 64 characters.
pub fn check_job_id(id: &JobId) -> Result<(), PayloadError> {
    let text = id.as_str();
    if text.is_empty()
        || text.len() > MAX_JOB_ID_LEN
        || text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(PayloadError::JobId(text.chars().take(64).collect()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixq_ids_pass_and_strangers_do_not() {
        for good in ["job_0190f7a1b2c3", "job_1.s3"] {
            assert!(check_job_id(&JobId::from(good)).is_ok(), "{good}");
        }
        let long = "x".repeat(500);
        for bad in ["", "a b", "tab\there", "nl\n", long.as_str()] {
            assert!(check_job_id(&JobId::from(bad)).is_err(), "{bad:?}");
        }
    }
}
