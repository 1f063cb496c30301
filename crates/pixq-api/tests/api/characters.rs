//! `POST /v1/characters` against the simulator over loopback, `GET /v1/characters`, and jobs
//! naming a character by its pixq name. The simulator's request counters are the upstream's
//! bill: a character creation is one `POST /pixverse/character` answered 200.

use pixq_api::ApiConfig;
use pixq_testkit::sim::SimAdmin;
use pixverse::{Client, ClientConfig, Token};
use pixverse_sim::{SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, code_and_field, on_each_backend, read};

on_each_backend!(
    a_character_is_made_once_and_replayed_for_the_same_key,
    a_key_reused_with_another_body_is_409_and_pays_nothing,
    concurrent_requests_under_one_key_pay_once,
    a_taken_name_is_409_before_the_upstream_is_called,
    characters_are_listed_newest_first,
    a_job_naming_a_character_gets_its_numeric_asset_id,
    a_job_naming_no_character_is_422_on_asset_id,
    a_used_up_account_is_402_and_frees_the_key,
    an_unreachable_upstream_is_503_and_frees_the_key,
    without_an_upstream_client_creation_is_503,
    bad_bodies_are_refused_naming_the_field_and_pay_nothing,
);

const TOKEN: &str = "sim-token";

/// An API whose upstream is a fresh simulator, and the simulator's admin side.
struct World {
    api: Api,
    admin: SimAdmin,
    _sim: SimHandle,
}

fn client(base_url: &str) -> Client {
    let base = url::Url::parse(base_url).expect("a base URL");
    Client::new(ClientConfig::new(Token::new(TOKEN)).with_base_url(base)).expect("a client")
}

async fn setup(backend: Backend) -> World {
    let sim = pixverse_sim::spawn(SimConfig::default().with_tokens([TOKEN]))
        .await
        .expect("the simulator starts");
    let api =
        Api::start_upstream(backend, ApiConfig::default(), Some(client(&sim.base_url()))).await;
    World {
        admin: SimAdmin::new(&sim.base_url()),
        api,
        _sim: sim,
    }
}

impl World {
    /// How many character creations the upstream answered 200: what it billed.
    async fn characters_made(&self) -> u64 {
        self.upstream_calls("200").await
    }

    /// How many `POST /pixverse/character` the upstream answered with `status`.
    async fn upstream_calls(&self, status: &str) -> u64 {
        let stats = self.admin.stats().await;
        stats["requests"]["character"][status].as_u64().unwrap_or(0)
    }
}

async fn post_character(api: &Api, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request = api.http.post(api.url("/v1/characters")).json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    read(request.send().await.expect("request")).await
}

fn face(n: u32) -> String {
    format!("https://img.example/faces/{n}.png")
}

async fn a_character_is_made_once_and_replayed_for_the_same_key(backend: Backend) {
    let w = setup(backend).await;
    let body = json!({"images": [face(1), face(2)], "name": "alice"});
    let (status, made) = post_character(&w.api, Some("chr-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert!(
        made["id"].as_str().is_some_and(|id| id.starts_with("chr_")),
        "{made}"
    );
    assert!(made["asset_id"].as_i64().is_some_and(|id| id > 0), "{made}");
    assert_eq!(made["name"], "alice");
    assert_eq!(made["images"], json!([face(1), face(2)]));
    assert!(made["created_at"].is_string(), "{made}");
    // The same request again, keys reordered and the name padded: the first character.
    let again = json!({"name": " alice ", "images": [face(1), face(2)]});
    let (status, replayed) = post_character(&w.api, Some("chr-1"), &again).await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed, made);
    assert_eq!(
        w.characters_made().await,
        1,
        "the upstream made ONE character"
    );
}

async fn a_key_reused_with_another_body_is_409_and_pays_nothing(backend: Backend) {
    let w = setup(backend).await;
    let (status, made) = post_character(&w.api, Some("k"), &json!({"images": [face(1)]})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, body) = post_character(&w.api, Some("k"), &json!({"images": [face(2)]})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        code_and_field(&body),
        (
            "idempotency_conflict".to_owned(),
            Some("Idempotency-Key".to_owned())
        )
    );
    assert_eq!(w.characters_made().await, 1);
}

async fn concurrent_requests_under_one_key_pay_once(backend: Backend) {
    let w = setup(backend).await;
    let body = json!({"images": [face(3)], "name": "bob"});
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = w
            .api
            .http
            .post(w.api.url("/v1/characters"))
            .header("idempotency-key", "same")
            .json(&body);
        requests.spawn(async move { read(request.send().await.expect("request")).await });
    }
    let answers = requests.join_all().await;
    let mut made = None;
    for (status, answer) in &answers {
        match *status {
            StatusCode::CREATED | StatusCode::OK => {
                let id = answer["id"].clone();
                assert!(
                    made.get_or_insert(id.clone()) == &id,
                    "one character: {answers:?}"
                );
            }
            StatusCode::CONFLICT => assert_eq!(code_and_field(answer).0, "in_progress"),
            other => panic!("unexpected {other}: {answer}"),
        }
    }
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    assert_eq!(w.characters_made().await, 1);
    // Once made, the key answers the character.
    let (status, again) = post_character(&w.api, Some("same"), &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(Some(again["id"].clone()), made);
}

async fn a_taken_name_is_409_before_the_upstream_is_called(backend: Backend) {
    let w = setup(backend).await;
    let (status, _) =
        post_character(&w.api, None, &json!({"images": [face(1)], "name": "carol"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = post_character(
        &w.api,
        Some("other"),
        &json!({"images": [face(2)], "name": "carol"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        code_and_field(&body),
        ("name_taken".to_owned(), Some("name".to_owned()))
    );
    assert_eq!(
        w.upstream_calls("200").await,
        1,
        "the second never reached it"
    );
}

async fn characters_are_listed_newest_first(backend: Backend) {
    let w = setup(backend).await;
    let (status, empty) = w.api.get("/v1/characters").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, json!({"characters": []}));
    let mut made = Vec::new();
    for (i, name) in [Some("dora"), None, Some("emil")].into_iter().enumerate() {
        let n = u32::try_from(i).unwrap_or(0);
        let (status, c) =
            post_character(&w.api, None, &json!({"images": [face(n)], "name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        made.push(c);
    }
    made.reverse();
    let (status, listed) = w.api.get("/v1/characters").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!({"characters": made}));
    assert_eq!(listed["characters"][1]["name"], Value::Null);
}

async fn a_job_naming_a_character_gets_its_numeric_asset_id(backend: Backend) {
    let w = setup(backend).await;
    let (_, made) =
        post_character(&w.api, None, &json!({"images": [face(1)], "name": "Zed 7"})).await;
    let asset_id = made["asset_id"].as_i64().expect("an asset id");
    let job = w
        .api
        .create(json!({"prompt": "a walk on the beach", "asset_id": "Zed 7"}))
        .await;
    assert_eq!(job["params"]["asset_id"], json!(asset_id), "{job}");
    // The digits of an id are still an id, and a number still a number.
    let by_digits = w
        .api
        .create(json!({"prompt": "again", "asset_id": asset_id.to_string()}))
        .await;
    assert_eq!(by_digits["params"]["asset_id"], json!(asset_id));
    // An Idempotency-Key compares the resolved body: the name and the number are one request.
    let keyed = |body: Value| {
        w.api
            .http
            .post(w.api.url("/v1/jobs"))
            .header("idempotency-key", "job-key")
            .json(&body)
            .send()
    };
    let (status, first) = read(
        keyed(json!({"prompt": "p", "asset_id": "Zed 7"}))
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, second) = read(
        keyed(json!({"prompt": "p", "asset_id": asset_id}))
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["id"], first["id"]);
}

async fn a_job_naming_no_character_is_422_on_asset_id(backend: Backend) {
    let w = setup(backend).await;
    let (status, body) = w
        .api
        .post("/v1/jobs", &json!({"prompt": "p", "asset_id": "nobody"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        code_and_field(&body),
        ("invalid_value".to_owned(), Some("asset_id".to_owned()))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nobody")),
        "{body}"
    );
    // Malformed JSON still gets the spec's own error, line and column included.
    let (status, body) = w
        .api
        .post_raw(
            "/v1/jobs",
            Some("application/json"),
            b"{\"prompt\": ".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code_and_field(&body), ("invalid_json".to_owned(), None));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 1")),
        "{body}"
    );
}

async fn a_used_up_account_is_402_and_frees_the_key(backend: Backend) {
    let w = setup(backend).await;
    w.admin
        .post("tokens", &json!({"token": TOKEN, "state": "used_up"}))
        .await;
    let body = json!({"images": [face(1)], "name": "fay"});
    let (status, refused) = post_character(&w.api, Some("k"), &body).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{refused}");
    assert_eq!(code_and_field(&refused).0, "used_up");
    assert!(!refused.to_string().contains(TOKEN), "{refused}");
    // Topped up: the same key and name make the character, since nothing was made before.
    w.admin
        .post("tokens", &json!({"token": TOKEN, "state": "ok"}))
        .await;
    let (status, made) = post_character(&w.api, Some("k"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["name"], "fay");
    assert_eq!(w.characters_made().await, 1);
}

async fn an_unreachable_upstream_is_503_and_frees_the_key(backend: Backend) {
    // A port that was free a moment ago: nothing listens, the connection is refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let api = Api::start_upstream(
        backend,
        ApiConfig::default(),
        Some(client(&format!("http://{closed}"))),
    )
    .await;
    let body = json!({"images": [face(1)], "name": "gil"});
    for _ in 0..2 {
        // The second time the same key and name are free again: nothing was sent.
        let (status, refused) = post_character(&api, Some("k"), &body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
        assert_eq!(code_and_field(&refused).0, "upstream_unavailable");
    }
    let (_, listed) = api.get("/v1/characters").await;
    assert_eq!(listed, json!({"characters": []}));
}

async fn without_an_upstream_client_creation_is_503(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, body) = post_character(&api, None, &json!({"images": [face(1)]})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code_and_field(&body).0, "upstream_not_configured");
    // Listing needs no upstream.
    let (status, listed) = api.get("/v1/characters").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!({"characters": []}));
}

async fn bad_bodies_are_refused_naming_the_field_and_pay_nothing(backend: Backend) {
    let w = setup(backend).await;
    let cases = [
        (json!({}), "missing_field", Some("images")),
        (json!({"images": []}), "invalid_value", Some("images")),
        (
            json!({"images": ["data:image/png;base64,AA"]}),
            "invalid_value",
            Some("images[0]"),
        ),
        (
            json!({"images": [face(1)], "name": "2024"}),
            "invalid_value",
            Some("name"),
        ),
        (
            json!({"images": [face(1)], "name": "x".repeat(65)}),
            "invalid_value",
            Some("name"),
        ),
        (
            json!({"images": [face(1)], "extra": 1}),
            "unknown_field",
            Some("extra"),
        ),
    ];
    for (body, code, field) in cases {
        let (status, answer) = post_character(&w.api, None, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(
            code_and_field(&answer),
            (code.to_owned(), field.map(str::to_owned)),
            "{body}"
        );
    }
    let (status, answer) = w
        .api
        .post_raw("/v1/characters", Some("application/json"), b"{".to_vec())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let stats = w.admin.stats().await;
    assert!(stats["requests"]["character"].is_null(), "{stats}");
}
