//! The upstream's callback into pixq: one route, built in one place, so the URL the workers
//! hand the upstream and the route the API serves cannot drift apart.

use url::Url;

use crate::job::JobId;

/// The API's route for the upstream's callback, as axum spells it.
pub const ROUTE: &str = "/v1/upstream/callback/{job_id}/{secret}";

/// The path prefix of [`ROUTE`], before the job id: what a log line may show of it.
pub const PREFIX: &str = "/v1/upstream/callback/";

/// `<base>/v1/upstream/callback/<job_id>/<secret>`, keeping any path of `base` (a pixq behind
/// a proxy under `/pixq/`) and dropping its query and fragment; `None` when `base` cannot
/// carry a path.
pub fn url(base: &Url, job: &JobId, secret: &str) -> Option<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().ok()?.pop_if_empty().extend([
        "v1",
        "upstream",
        "callback",
        job.as_str(),
        secret,
    ]);
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_keeps_the_public_path_and_matches_the_route() {
        let id = JobId::from("job_1");
        for (base, want) in [
            (
                "https://pixq.example",
                "https://pixq.example/v1/upstream/callback/job_1/abc",
            ),
            (
                "https://pixq.example/",
                "https://pixq.example/v1/upstream/callback/job_1/abc",
            ),
            (
                "https://pixq.example/pixq/?x=1#f",
                "https://pixq.example/pixq/v1/upstream/callback/job_1/abc",
            ),
        ] {
            let url = url(&Url::parse(base).unwrap(), &id, "abc").unwrap();
            assert_eq!(url.as_str(), want, "{base}");
        }
        let route = ROUTE
            .replace("{job_id}", "job_1")
            .replace("{secret}", "abc");
        assert!(route.starts_with(PREFIX));
        assert_eq!(
            url(&Url::parse("http://h").unwrap(), &id, "abc")
                .unwrap()
                .path(),
            route
        );
    }
}
