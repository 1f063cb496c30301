//! The dashboard over HTTP: what it shows is escaped, it sits behind the API's tokens with a
//! login that sets an HttpOnly, SameSite=Strict cookie good for the dashboard only, and its
//! buttons need the session's CSRF token. (`crates/pixq/tests/dashboard_browser.rs` drives it
//! in a real browser.) Also `GET /v1/overview`, which the dashboard draws at its top.

use std::time::Duration;

use chrono::Utc;
use pixq_core::state::JobState;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::setup::{Api, Backend, on_each_backend, video};

on_each_backend!(
    the_dashboard_shows_jobs_batches_videos_and_errors_escaped,
    login_sets_an_http_only_cookie_that_opens_the_dashboard_only,
    buttons_cancel_and_retry_only_with_the_csrf_token,
    the_overview_shows_queue_depth_in_flight_per_token_and_pauses,
);

const SCRIPT: &str = "<script>alert(1)</script>";
const TOKEN: &str = "token-one";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

async fn auth_api(backend: Backend) -> Api {
    Api::start_with(
        backend,
        pixq_api::ApiConfig {
            tokens: vec![TOKEN.into(), "token-two".into()],
            max_in_flight: 3,
            ..pixq_api::ApiConfig::default()
        },
    )
    .await
}

/// A page's status, headers and text.
async fn page(api: &Api, path: &str, headers: HeaderMap) -> (StatusCode, HeaderMap, String) {
    let response = no_redirects()
        .get(api.url(path))
        .headers(headers)
        .send()
        .await
        .expect("request");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.expect("a body"))
}

fn with_cookie(cookie: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, cookie.parse().expect("a cookie header"));
    headers
}

/// Logs in with `token`: the `name=value` part of the session cookie.
async fn log_in(api: &Api, token: &str) -> String {
    let response = no_redirects()
        .post(api.url("/login"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/");
    let set = response.headers()[SET_COOKIE]
        .to_str()
        .expect("ASCII")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    assert!(
        !set.contains(token),
        "the cookie does not show the token as is: {set}"
    );
    set.split(';').next().expect("name=value").to_owned()
}

/// The CSRF token in a page's forms.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with the CSRF token") + marker.len();
    let end = start + html[start..].find('"').expect("the value ends");
    html[start..end].to_owned()
}

async fn the_dashboard_shows_jobs_batches_videos_and_errors_escaped(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, batch) = api
        .post(
            "/v1/batches",
            &json!({"name": "<img src=x onerror=alert(2)>", "jobs": [
                {"prompt": SCRIPT, "extend": [{"prompt": "then \"more\" & more"}]},
                {"prompt": "a plain prompt"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{batch}");
    let batch_id = batch["id"].as_str().expect("an id").to_owned();
    let done = api.create_id("a finished one").await;
    api.to_generating(&done, None).await;
    let mut result = video(11);
    result.first_frame = Some("https://cdn.example/11.svg".into());
    api.apply(pixq_core::state::Transition::succeed(
        done.clone(),
        result,
        None,
    ))
    .await;
    let failed = api.create_id("a failed one").await;
    api.to_failed(&failed).await;

    for path in ["/".to_owned(), format!("/batches/{batch_id}")] {
        let (status, headers, html) = page(&api, &path, HeaderMap::new()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}: the prompt shows as text"
        );
        assert!(!html.contains(SCRIPT), "{path}: no script from a prompt");
        assert!(
            !html.contains("<img src=x"),
            "{path}: no markup from a name"
        );
        assert!(
            html.contains("<script src=\"/assets/dashboard.js\" defer>"),
            "{path}"
        );
        assert!(
            !html.contains("<script src=\"http") && !html.contains("stylesheet\" href=\"http"),
            "{path}: the script and the stylesheet are the server's own, no CDN"
        );
    }
    let (_, _, overview) = page(&api, "/", HeaderMap::new()).await;
    assert!(
        overview.contains("open: no api.tokens set"),
        "an open dashboard says so"
    );
    assert!(
        overview.contains(&format!("id=\"batch-{batch_id}\"")),
        "the batch is listed"
    );
    assert!(
        overview.contains("data-done=\"0\" data-total=\"2\""),
        "its bar"
    );
    assert!(
        overview.contains("src=\"https://cdn.example/11.mp4\"")
            && overview.contains("poster=\"https://cdn.example/11.svg\""),
        "the finished video with its first frame as the poster"
    );
    assert!(
        overview.contains("upstream failure") && overview.contains(">api_error</code>"),
        "the error in words with its code beside it"
    );
    assert!(overview.contains("Template catalog"), "the catalog");
    let (_, _, chains) = page(&api, &format!("/batches/{batch_id}"), HeaderMap::new()).await;
    assert_eq!(
        chains.matches("class=\"step ").count(),
        3,
        "the chains' steps, the extend still to come drawn too: {chains}"
    );
    assert_eq!(chains.matches("step state-pending").count(), 1, "{chains}");

    // The first chain's generation succeeds: its step links to its video, the row plays it,
    // and the extend is drawn queued.
    let roots = api
        .store
        .batches()
        .roots(&pixq_core::job::BatchId::from(batch_id.as_str()), 0, 10)
        .await
        .unwrap();
    api.succeed_with_child(&roots[0]).await;
    let (_, _, chains) = page(&api, &format!("/batches/{batch_id}"), HeaderMap::new()).await;
    assert!(
        chains.contains("<a href=\"https://cdn.example/11.mp4\" target=\"_blank\""),
        "the finished step links to its video: {chains}"
    );
    assert!(chains.contains("<video controls muted loop playsinline preload=\"metadata\" src=\"https://cdn.example/11.mp4\""));
    assert_eq!(chains.matches("step state-pending").count(), 0, "{chains}");
    assert!(
        chains.contains("class=\"step state-queued\" title=\"step 1, extend: queued\""),
        "{chains}"
    );

    let (_, _, fragment) = page(&api, "/", {
        let mut h = HeaderMap::new();
        h.insert("x-pixq-live", "1".parse().unwrap());
        h
    })
    .await;
    assert!(
        !fragment.contains("<html"),
        "the live answer is <main>'s part only"
    );
    assert!(fragment.contains("id=\"queue\""));

    let (status, headers, script) = page(&api, "/assets/dashboard.js", HeaderMap::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.contains("X-Pixq-Live"));
    let (status, _, _) = page(&api, "/batches/batch_nope", HeaderMap::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn login_sets_an_http_only_cookie_that_opens_the_dashboard_only(backend: Backend) {
    let api = auth_api(backend).await;
    let (status, headers, _) = page(&api, "/", HeaderMap::new()).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "no session: to the login form"
    );
    assert_eq!(headers[LOCATION], "/login");
    let mut live = HeaderMap::new();
    live.insert("x-pixq-live", "1".parse().unwrap());
    let (status, _, _) = page(&api, "/", live).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the live script is told, not redirected"
    );
    let (status, _, form) = page(&api, "/login", HeaderMap::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("name=\"token\""), "{form}");

    for wrong in ["", "token-on", "wrong"] {
        let response = no_redirects()
            .post(api.url("/login"))
            .form(&[("token", wrong)])
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(response.headers().get(SET_COOKIE).is_none());
    }
    let cookie = log_in(&api, TOKEN).await;
    let (status, _, html) = page(&api, "/", with_cookie(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Log out"));
    assert!(!html.contains("open: no api.tokens set"));
    let (status, _, _) = page(&api, "/login", with_cookie(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "logged in already");

    // The cookie is the dashboard's: the API itself still wants the bearer header.
    let response = api
        .http
        .get(api.url("/v1/jobs"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let mut bearer = HeaderMap::new();
    bearer.insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (status, _, _) = page(&api, "/", bearer).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a bearer header opens the dashboard too"
    );
    let forged = format!("pixq_session={}", "746f6b656e2d6f6e65ff");
    let (status, _, _) = page(&api, "/", with_cookie(&forged)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "a cookie of another token is no session"
    );

    // Logging out needs the CSRF token too, and clears the cookie.
    let response = no_redirects()
        .post(api.url("/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

async fn buttons_cancel_and_retry_only_with_the_csrf_token(backend: Backend) {
    let api = auth_api(backend).await;
    let cookie = log_in(&api, TOKEN).await;
    let (_, _, html) = page(&api, "/", with_cookie(&cookie)).await;
    let csrf = csrf_of(&html);
    let queued = api.create_id_with_token("to be cancelled", TOKEN).await;
    let post = |path: String, fields: Vec<(&'static str, String)>, live: bool| {
        let mut request = no_redirects()
            .post(api.url(&path))
            .header(COOKIE, &cookie)
            .form(&fields);
        if live {
            request = request.header("x-pixq-live", "1");
        }
        async move { request.send().await.expect("request") }
    };
    let cancel = format!("/dash/jobs/{queued}/cancel");
    for fields in [
        vec![],
        vec![("csrf", "00".repeat(32))],
        vec![("csrf", "not hex".to_owned())],
    ] {
        let response = post(cancel.clone(), fields, false).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            api.job(&queued).await.state,
            JobState::Queued,
            "nothing changed"
        );
    }
    let other = csrf_of(
        &page(&api, "/", {
            let mut h = HeaderMap::new();
            h.insert("authorization", "Bearer token-two".parse().unwrap());
            h
        })
        .await
        .2,
    );
    assert_ne!(other, csrf, "each token has its own CSRF token");
    let response = post(cancel.clone(), vec![("csrf", other)], false).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "another session's token"
    );

    // Without a session at all: 401, not a redirect.
    let response = no_redirects()
        .post(api.url(&cancel))
        .form(&[("csrf", csrf.clone())])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = post(
        cancel.clone(),
        vec![("csrf", csrf.clone()), ("back", "//evil.example/".into())],
        false,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/", "never to another host");
    assert_eq!(api.job(&queued).await.state, JobState::Cancelled);

    // The live script's post is answered in words; a second cancel is a conflict.
    let response = post(cancel, vec![("csrf", csrf.clone())], true).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("already cancelled"));

    let failed = api.create_id_with_token("to be retried", TOKEN).await;
    api.to_failed(&failed).await;
    let response = post(
        format!("/dash/jobs/{failed}/retry"),
        vec![("csrf", csrf.clone()), ("back", "/batches/b1".into())],
        false,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/batches/b1");
    assert_eq!(api.job(&failed).await.state, JobState::Queued);

    // The queue's buttons, with the token only.
    let response = post("/dash/queue/pause".into(), vec![], false).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!api.store.schedule().is_paused().await.unwrap());
    let response = post(
        "/dash/queue/pause".into(),
        vec![("csrf", csrf.clone())],
        false,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(api.store.schedule().is_paused().await.unwrap());
    let (_, _, html) = page(&api, "/", with_cookie(&cookie)).await;
    assert!(
        html.contains("/dash/queue/resume"),
        "a paused queue offers resume"
    );
    let response = post(
        "/dash/queue/resume".into(),
        vec![("csrf", csrf.clone())],
        true,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().starts_with("resumed"));
    assert!(!api.store.schedule().is_paused().await.unwrap());
    let response = post(
        "/dash/queue/sideways".into(),
        vec![("csrf", csrf.clone())],
        false,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = api
        .http
        .post(api.url("/v1/batches"))
        .bearer_auth(TOKEN)
        .json(&json!({"prompts": ["a", "b", "c"]}))
        .send()
        .await
        .expect("request");
    let batch: serde_json::Value = response.json().await.unwrap();
    let id = batch["id"].as_str().unwrap();
    let response = post(
        format!("/dash/batches/{id}/cancel"),
        vec![("csrf", csrf.clone())],
        true,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let roots = api
        .store
        .batches()
        .roots(&pixq_core::job::BatchId::from(id), 0, 10)
        .await
        .unwrap();
    for root in &roots {
        assert_eq!(api.job(root).await.state, JobState::Cancelled);
    }
}

async fn the_overview_shows_queue_depth_in_flight_per_token_and_pauses(backend: Backend) {
    let api = auth_api(backend).await;
    let overview = |authorized: bool| {
        let mut request = api.http.get(api.url("/v1/overview"));
        if authorized {
            request = request.bearer_auth(TOKEN);
        }
        async move { request.send().await.expect("request") }
    };
    assert_eq!(overview(false).await.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = overview(true).await.json().await.unwrap();
    assert_eq!(
        body,
        json!({"queue_depth": {"due": 0, "leased": 0}, "queue_paused": false, "tokens": []})
    );

    let a = api.create_id_with_token("a", TOKEN).await;
    api.create_id_with_token("b", TOKEN).await;
    let slot = api
        .store
        .slots()
        .acquire("alias-one", &a, 3, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(slot.is_acquired());
    let until = Utc::now() + chrono::Duration::minutes(5);
    api.store
        .pauses()
        .pause("alias-two", "used_up", until)
        .await
        .unwrap();
    let body: serde_json::Value = overview(true).await.json().await.unwrap();
    assert_eq!(
        body["queue_depth"],
        json!({"due": 2, "leased": 0}),
        "{body}"
    );
    let tokens = body["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 2, "{body}");
    assert_eq!(
        (
            &tokens[0]["token"],
            &tokens[0]["in_flight"],
            &tokens[0]["max_in_flight"]
        ),
        (&json!("alias-one"), &json!(1), &json!(3))
    );
    assert_eq!(tokens[0]["paused"], json!(null));
    assert_eq!(tokens[1]["token"], "alias-two");
    assert_eq!(tokens[1]["paused"]["reason"], "used_up", "{body}");

    let mut bearer = HeaderMap::new();
    bearer.insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (_, _, html) = page(&api, "/", bearer).await;
    assert!(
        html.contains("alias-one") && html.contains("1 / 3"),
        "in flight against the cap"
    );
    assert!(html.contains("used_up"), "the pause and its reason");
    assert!(!html.contains("pixq queue resume"), "the queue runs");

    api.store.schedule().set_paused(true).await.unwrap();
    let body: serde_json::Value = overview(true).await.json().await.unwrap();
    assert_eq!(body["queue_paused"], json!(true), "{body}");
    let mut bearer = HeaderMap::new();
    bearer.insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (_, _, html) = page(&api, "/", bearer).await;
    assert!(
        html.contains("pixq queue resume"),
        "the queue's pause is shown"
    );
}
