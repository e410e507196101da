//! The webhook endpoint: schema validation, the 6000-character rule, answers, rate limits.

mod common;

use bot_sandbox::{Fault, FaultKind, Route, Sandbox, Scenario};
use serde_json::{Value, json};

async fn send(url: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = common::http().post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn embed_post() -> Value {
    json!({
        "content": "Cycle done",
        "embeds": [{
            "title": "BUY 1 SPY", "description": "golden cross", "color": 0x2ECC71,
            "fields": [{"name": "status", "value": "filled", "inline": true}],
            "footer": {"text": "paper"}, "timestamp": "2026-12-04T14:35:00Z"
        }],
        "flags": 4096,
        "allowed_mentions": {"parse": []}
    })
}

#[tokio::test]
async fn valid_posts_answer_204_or_a_message_with_wait() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    assert!(
        sb.webhook_url()
            .ends_with("/api/webhooks/123456789012345678/sandbox-webhook-token")
    );
    let (s, h, _) = send(&sb.webhook_url(), &embed_post()).await;
    assert_eq!(s, 204);
    assert!(h.contains_key("x-ratelimit-bucket"));
    let v10 = sb
        .webhook_url()
        .replace("/api/webhooks/", "/api/v10/webhooks/");
    let (s, _, m) = send(&format!("{v10}?wait=true"), &embed_post()).await;
    assert_eq!(s, 200);
    assert_eq!(m["type"], 0);
    assert_eq!(m["content"], "Cycle done");
    assert_eq!(m["webhook_id"], "123456789012345678");
    assert_eq!(m["author"]["bot"], true);
    assert_eq!(m["flags"], 4096);
    assert_eq!(m["embeds"][0]["type"], "rich");
    assert!(m["id"].as_str().unwrap().parse::<u64>().unwrap() > 1 << 22);
    let posts = sb.discord_messages();
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|p| p.accepted));
    assert_eq!(posts[1].query.get("wait").map(String::as_str), Some("true"));
    assert_eq!(posts[0].body, embed_post());
    sb.shutdown().await;
}

#[tokio::test]
async fn invalid_bodies_are_400_invalid_form_body() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    let url = sb.webhook_url();
    let (s, _, v) = send(&url, &json!({"content": "x".repeat(2001)})).await;
    assert_eq!(s, 400);
    assert_eq!(v["code"], 50035);
    assert_eq!(v["message"], "Invalid Form Body");
    assert_eq!(
        v["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    let (s, _, v) = send(&url, &json!({"embeds": [{"title": 7}]})).await;
    assert_eq!((s, v["code"].as_u64()), (400, Some(50035)));
    assert!(v["errors"]["embeds"]["0"]["title"].is_object(), "{v}");
    let (s, _, v) = send(&url, &json!({"embeds": [{"fields": [{"name": "n"}]}]})).await;
    assert_eq!(
        (s, v["code"].as_u64()),
        (400, Some(50035)),
        "a field needs a value: {v}"
    );
    let (s, _, v) = send(&url, &json!({"content": ""})).await;
    assert_eq!(
        (s, v),
        (
            400,
            json!({"code": 50006, "message": "Cannot send an empty message"})
        )
    );
    let r = common::http()
        .post(&url)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        sb.discord_messages().iter().filter(|p| p.accepted).count(),
        0
    );
    assert_eq!(sb.discord_messages().len(), 5);
    sb.shutdown().await;
}

#[tokio::test]
async fn all_embeds_together_hold_at_most_6000_characters() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    let body = |extra: usize| {
        json!({"embeds": [
            {"title": "t".repeat(256), "description": "d".repeat(4096)},
            {"description": "d".repeat(1000), "footer": {"text": "f".repeat(600 + extra)},
             "author": {"name": "a".repeat(48)}}
        ]})
    };
    let (s, _, _) = send(&sb.webhook_url(), &body(0)).await;
    assert_eq!(s, 204);
    let (s, _, v) = send(&sb.webhook_url(), &body(1)).await;
    assert_eq!(s, 400);
    assert_eq!(v["code"], 50035);
    assert_eq!(
        v["errors"]["embeds"]["_errors"][0]["code"],
        "MAX_EMBED_SIZE_EXCEEDED"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn unknown_webhook_is_404_and_a_wrong_token_401() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    let wrong = sb
        .webhook_url()
        .replace("sandbox-webhook-token", "other-token");
    let (s, _, v) = send(&wrong, &embed_post()).await;
    assert_eq!(
        (s, v),
        (
            401,
            json!({"message": "Invalid Webhook Token", "code": 50027})
        )
    );
    let wrong_id = sb
        .webhook_url()
        .replace("123456789012345678", "123456789012345679");
    let (s, _, v) = send(&wrong_id, &embed_post()).await;
    assert_eq!(
        (s, v),
        (404, json!({"message": "Unknown Webhook", "code": 10015}))
    );
    let p = &sb.discord_messages()[0];
    assert_eq!((p.status, p.accepted), (401, false));
    sb.shutdown().await;
}

#[tokio::test]
async fn rate_limit_and_status_faults_use_discord_headers_and_bodies() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    sb.inject(Fault::once(
        Route::Discord,
        FaultKind::RateLimited {
            retry_after_secs: 0.5,
        },
    ));
    sb.inject(Fault::once(Route::Discord, FaultKind::Status(401)));
    let (s, h, v) = send(&sb.webhook_url(), &embed_post()).await;
    assert_eq!(s, 429);
    assert_eq!(
        v,
        json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false})
    );
    assert_eq!(h["retry-after"], "1");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-reset-after"], "0.500");
    for k in [
        "x-ratelimit-limit",
        "x-ratelimit-reset",
        "x-ratelimit-bucket",
        "x-ratelimit-scope",
    ] {
        assert!(h.contains_key(k), "{k}");
    }
    let (s, _, v) = send(&sb.webhook_url(), &embed_post()).await;
    assert_eq!(
        (s, v),
        (
            401,
            json!({"message": "Invalid Webhook Token", "code": 50027})
        )
    );
    let (s, _, _) = send(&sb.webhook_url(), &embed_post()).await;
    assert_eq!(s, 204, "faults are consumed");
    let statuses: Vec<u16> = sb.discord_messages().iter().map(|p| p.status).collect();
    assert_eq!(statuses, vec![429, 401, 204]);
    sb.shutdown().await;
}
