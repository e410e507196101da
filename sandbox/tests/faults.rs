//! Faults and latency as a real HTTP client (reqwest) sees them.

mod common;

use std::time::{Duration, Instant};

use bot_sandbox::{Fault, FaultKind, Route, Sandbox, Scenario};
use common::{get, market_order, post};
use serde_json::json;

#[tokio::test]
async fn drop_closes_the_connection_without_a_response() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    sb.inject(Fault::once(Route::Clock, FaultKind::Drop));
    sb.inject(Fault::once(Route::Discord, FaultKind::Drop));
    let client = common::http();
    let started = Instant::now();
    let err = client
        .get(format!("{}/v2/clock", sb.base_url()))
        .header("APCA-API-KEY-ID", "sandbox-key-id")
        .header("APCA-API-SECRET-KEY", "sandbox-secret-key")
        .send()
        .await
        .unwrap_err();
    assert!(
        !err.is_timeout() && started.elapsed() < Duration::from_secs(5),
        "{err:?}"
    );
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let err = client
        .post(sb.webhook_url())
        .json(&json!({"content": "x"}))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(sb.discord_messages()[0].status, 0);
    // The next request is answered normally.
    assert_eq!(get(&sb, "/v2/clock").await.0, 200);
    sb.shutdown().await;
}

#[tokio::test]
async fn hang_never_answers_but_does_not_block_others_and_ends_at_shutdown() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    sb.inject(Fault::once(Route::Account, FaultKind::Hang));
    let url = format!("{}/v2/account", sb.base_url());
    let hung = tokio::spawn(async move {
        reqwest::Client::new()
            .get(url)
            .header("APCA-API-KEY-ID", "sandbox-key-id")
            .header("APCA-API-SECRET-KEY", "sandbox-secret-key")
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!hung.is_finished());
    assert_eq!(
        get(&sb, "/v2/clock").await.0,
        200,
        "other requests are served"
    );
    assert_eq!(
        get(&sb, "/v2/account").await.0,
        200,
        "the fault was used once"
    );
    let short = common::http()
        .get(format!("{}/v2/clock", sb.base_url()))
        .timeout(Duration::from_millis(300));
    sb.inject(Fault::once(Route::Clock, FaultKind::Hang));
    assert!(short.send().await.unwrap_err().is_timeout());
    sb.shutdown().await;
    let result = tokio::time::timeout(Duration::from_secs(5), hung)
        .await
        .unwrap()
        .unwrap();
    assert!(
        result.is_err(),
        "shutdown ends the hung request: {result:?}"
    );
}

#[tokio::test]
async fn status_faults_use_alpaca_bodies_and_rate_limit_headers() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    sb.inject(Fault {
        route: Route::Clock,
        kind: FaultKind::Status(500),
        times: 2,
    });
    sb.inject(Fault::once(
        Route::Bars,
        FaultKind::RateLimited {
            retry_after_secs: 3.0,
        },
    ));
    for _ in 0..2 {
        let (s, v) = get(&sb, "/v2/clock").await;
        assert_eq!(
            (s, v),
            (
                500,
                json!({"code": 50010000, "message": "internal server error"})
            )
        );
    }
    assert_eq!(get(&sb, "/v2/clock").await.0, 200);
    let r = common::http()
        .get(format!(
            "{}/v2/stocks/SPY/bars?timeframe=1Day",
            sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let reset: i64 = r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= chrono::Utc::now().timestamp() + 2);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["code"],
        42910000
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn status_after_record_keeps_the_order() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    sb.inject(Fault::once(
        Route::CreateOrder,
        FaultKind::StatusAfterRecord(504),
    ));
    let (s, _) = post(&sb, "/v2/orders", &market_order("buy", "1", "slot-x")).await;
    assert_eq!(s, 504);
    assert_eq!(sb.orders().len(), 1);
    // A retry with the same id is a duplicate; the lookup finds the first order.
    let (s, v) = post(&sb, "/v2/orders", &market_order("buy", "1", "slot-x")).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (422, Some("client_order_id must be unique"))
    );
    let (s, v) = get(&sb, "/v2/orders:by_client_order_id?client_order_id=slot-x").await;
    assert_eq!((s, v["status"].as_str()), (200, Some("filled")));
    sb.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_emulated_request() {
    let sb = Sandbox::start(Scenario {
        latency: Duration::from_millis(150),
        ..Scenario::default()
    })
    .await
    .unwrap();
    let t = Instant::now();
    assert_eq!(get(&sb, "/v2/clock").await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    let t = Instant::now();
    let r = common::http()
        .post(sb.webhook_url())
        .json(&json!({"content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(t.elapsed() >= Duration::from_millis(150));
    sb.shutdown().await;
}
