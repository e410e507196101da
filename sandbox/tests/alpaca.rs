//! The trading and data API, checked with raw HTTP and with the `apca` crate's own types and
//! client (the bot's), so the emulator is proven wire-compatible.

mod common;

use apca::api::v2::{account, asset, clock, order, position};
use apca::data::v2::bars;
use apca::{ApiInfo, Client, RequestError};
use bot_sandbox::{FillMode, Sandbox, Scenario};
use common::{get, market_order, post};
use serde_json::{Value, json};

/// Through text, as apca parses responses (its `order_class` field borrows from the input).
fn de<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_str(&v.to_string()).unwrap()
}

fn apca_client(sb: &Sandbox) -> Client {
    let sc = sb.scenario();
    let mut info = ApiInfo::from_parts(sb.base_url(), sc.api_key, sc.api_secret).unwrap();
    info.data_base_url = sb.base_url().parse().unwrap();
    Client::new(info)
}

#[tokio::test]
async fn every_trading_response_deserializes_with_apca_types() {
    // Filled at once, so the filled order's shape is read here too.
    let sb = Sandbox::start(
        Scenario::default()
            .with_position("10")
            .with_fill(FillMode::Immediate),
    )
    .await
    .unwrap();
    let (s, v) = get(&sb, "/v2/clock").await;
    assert_eq!(s, 200);
    let c: clock::Clock = de(&v);
    assert!(c.open);
    assert!(c.next_close > c.current);
    let ts = v["timestamp"].as_str().unwrap();
    assert!(ts.ends_with("-05:00") || ts.ends_with("-04:00"), "{ts}");

    let (s, v) = get(&sb, "/v2/account").await;
    assert_eq!(s, 200);
    let a: account::Account = de(&v);
    assert_eq!(a.status, account::Status::Active);
    assert_eq!(a.currency, "USD");
    assert!(v["buying_power"].is_string() && v["equity"].is_string());

    let (s, v) = get(&sb, "/v2/positions/SPY").await;
    assert_eq!(s, 200);
    let p: position::Position = de(&v);
    assert_eq!(p.quantity, 10.into());
    assert_eq!(v["qty"], "10");
    assert_eq!(v["side"], "long");

    let (s, v) = get(&sb, "/v2/assets/SPY").await;
    assert_eq!(s, 200);
    let a: asset::Asset = de(&v);
    assert!(a.tradable);
    assert_eq!(a.symbol, "SPY");

    let (s, v) = post(&sb, "/v2/orders", &market_order("buy", "1", "slot-1-buy")).await;
    assert_eq!(s, 200, "{v}");
    let o: order::Order = de(&v);
    assert_eq!(o.status, order::Status::Filled);
    assert_eq!(o.client_order_id, "slot-1-buy");
    assert_eq!(v["filled_avg_price"], "500");
    assert_eq!(v["order_class"], "");
    for (path, route) in [
        (format!("/v2/orders/{}", v["id"].as_str().unwrap()), "id"),
        (
            "/v2/orders:by_client_order_id?client_order_id=slot-1-buy".to_string(),
            "cid",
        ),
    ] {
        let (s, v) = get(&sb, &path).await;
        assert_eq!(s, 200, "{route}");
        let again: order::Order = de(&v);
        assert_eq!(again.id, o.id);
    }
    let (_, v) = get(&sb, "/v2/positions/SPY").await;
    assert_eq!(v["qty"], "11");
    sb.shutdown().await;
}

#[tokio::test]
async fn the_apca_client_itself_works_against_the_sandbox() {
    let sb = Sandbox::start(Scenario::default().with_fill(FillMode::Immediate))
        .await
        .unwrap();
    let client = apca_client(&sb);
    let c = client.issue::<clock::Get>(&()).await.unwrap();
    assert!(c.open);
    let a = client.issue::<account::Get>(&()).await.unwrap();
    assert_eq!(a.buying_power, 100000.into());
    match client.issue::<position::Get>(&"SPY".parse().unwrap()).await {
        Err(RequestError::Endpoint(position::GetError::NotFound(_))) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    let req = order::CreateReqInit {
        client_order_id: Some("apca-1".into()),
        ..Default::default()
    }
    .init("SPY", order::Side::Buy, order::Amount::quantity(2));
    let o = client.issue::<order::Create>(&req).await.unwrap();
    assert_eq!(o.status, order::Status::Filled);
    assert_eq!(o.filled_quantity, 2.into());
    let dup = client.issue::<order::Create>(&req).await;
    assert!(
        matches!(
            dup,
            Err(RequestError::Endpoint(order::CreateError::InvalidInput(_)))
        ),
        "{dup:?}"
    );
    let found = client
        .issue::<order::GetByClientId>(&"apca-1".to_string())
        .await
        .unwrap();
    assert_eq!(found.id, o.id);
    let p = client
        .issue::<position::Get>(&"SPY".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(p.quantity, 2.into());

    // apca 0.31's bars endpoint ignores `ApiInfo::data_base_url` (it hard-codes
    // data.alpaca.markets), so bars are fetched over HTTP and parsed with apca's type.
    let mut all: Vec<bars::Bar> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = "/v2/stocks/SPY/bars?timeframe=1Day&limit=50&start=2020-01-01".to_string();
        if let Some(t) = &token {
            path.push_str(&format!("&page_token={t}"));
        }
        let (s, v) = get(&sb, &path).await;
        assert_eq!(s, 200);
        let page: bars::Bars = de(&v);
        all.extend(page.bars);
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all.len(), 120);
    assert!(all.windows(2).all(|w| w[0].time < w[1].time));
    sb.shutdown().await;
}

#[tokio::test]
async fn auth_is_required_and_unknown_routes_are_alpaca_404s() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    let r = common::http()
        .get(format!("{}/v2/account", sb.base_url()))
        .header("APCA-API-KEY-ID", "sandbox-key-id")
        .header("APCA-API-SECRET-KEY", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 40110000, "message": "request is not authorized"})
    );
    let (s, v) = get(&sb, "/v2/nope").await;
    assert_eq!(
        (s, v),
        (
            404,
            json!({"code": 40410000, "message": "endpoint not found"})
        )
    );
    let (s, v) = get(&sb, "/v2/assets/NOPE").await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = get(&sb, "/v2/orders/8c2b5e6a-0000-4000-8000-000000000000").await;
    assert_eq!(
        (s, v),
        (404, json!({"code": 40410000, "message": "order not found"}))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn missing_position_is_404() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    let (s, v) = get(&sb, "/v2/positions/SPY").await;
    assert_eq!(
        (s, v),
        (
            404,
            json!({"code": 40410000, "message": "position does not exist"})
        )
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn order_rules_duplicate_funds_qty_tradable() {
    // Filled at once: the buy's quantity is in the position the sell is checked against.
    let sb = Sandbox::start(Scenario {
        buying_power: "1000".into(),
        ..Scenario::default()
            .with_position("3")
            .with_fill(FillMode::Immediate)
    })
    .await
    .unwrap();
    let (s, _) = post(&sb, "/v2/orders", &market_order("buy", "1", "a")).await;
    assert_eq!(s, 200);
    let (s, v) = post(&sb, "/v2/orders", &market_order("buy", "1", "a")).await;
    assert_eq!(
        (s, v),
        (
            422,
            json!({"code": 40010001, "message": "client_order_id must be unique"})
        )
    );
    let (s, v) = post(&sb, "/v2/orders", &market_order("buy", "2", "b")).await;
    assert_eq!(
        (s, v),
        (
            403,
            json!({"code": 40310000, "message": "insufficient buying power"})
        )
    );
    let (s, v) = post(&sb, "/v2/orders", &market_order("sell", "5", "c")).await;
    assert_eq!(s, 403);
    assert_eq!(
        v["message"],
        "insufficient qty available for order (requested: 5, available: 4)"
    );
    let (s, v) = post(&sb, "/v2/orders", &market_order("sell", "4", "d")).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = get(&sb, "/v2/positions/SPY").await;
    assert_eq!(s, 404, "selling everything closes the position");
    assert_eq!(sb.orders().len(), 2);

    sb.set_scenario(Scenario {
        asset_tradable: false,
        ..Scenario::default()
    });
    assert!(sb.orders().is_empty());
    let (s, v) = post(&sb, "/v2/orders", &market_order("buy", "1", "e")).await;
    assert_eq!(
        (s, v),
        (
            422,
            json!({"code": 42210000, "message": "asset SPY is not tradable"})
        )
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn fill_modes_and_closed_market() {
    let sb = Sandbox::start(Scenario::default().with_fill(FillMode::AfterPolls(2)))
        .await
        .unwrap();
    let (_, o) = post(&sb, "/v2/orders", &market_order("buy", "1", "p")).await;
    assert_eq!(o["status"], "new");
    assert_eq!(o["filled_at"], Value::Null);
    let path = format!("/v2/orders/{}", o["id"].as_str().unwrap());
    assert_eq!(get(&sb, &path).await.1["status"], "new");
    assert_eq!(get(&sb, "/v2/positions/SPY").await.0, 404);
    let (_, filled) = get(&sb, "/v2/orders:by_client_order_id?client_order_id=p").await;
    assert_eq!(filled["status"], "filled");
    assert_eq!(filled["filled_qty"], "1");
    assert_eq!(get(&sb, "/v2/positions/SPY").await.1["qty"], "1");

    sb.set_scenario(Scenario::default().with_fill(FillMode::Never));
    let (_, o) = post(&sb, "/v2/orders", &market_order("buy", "1", "n")).await;
    let path = format!("/v2/orders/{}", o["id"].as_str().unwrap());
    for _ in 0..5 {
        assert_eq!(get(&sb, &path).await.1["status"], "new");
    }

    sb.set_scenario(Scenario::default().with_market_open(false));
    let (_, c) = get(&sb, "/v2/clock").await;
    assert_eq!(c["is_open"], false);
    let (s, o) = post(&sb, "/v2/orders", &market_order("buy", "1", "closed")).await;
    assert_eq!((s, o["status"].as_str()), (200, Some("accepted")));
    let o: order::Order = de(&o);
    assert_eq!(o.status, order::Status::Accepted);
    sb.shutdown().await;
}

#[tokio::test]
async fn bars_are_numbers_paginated_and_sorted() {
    let closes = Scenario::golden_cross(40, 100);
    let sb = Sandbox::start(Scenario::default().with_closes(closes.clone()))
        .await
        .unwrap();
    let (s, v) = get(
        &sb,
        "/v2/stocks/SPY/bars?timeframe=1Day&limit=100&feed=iex&adjustment=raw",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let bars = v["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 100);
    for key in ["o", "h", "l", "c", "v", "n", "vw"] {
        assert!(bars[0][key].is_number(), "{key}: {}", bars[0][key]);
    }
    assert!(
        bars[0]["t"].as_str().unwrap().ends_with("T05:00:00Z")
            || bars[0]["t"].as_str().unwrap().ends_with("T04:00:00Z")
    );
    assert_eq!(bars[0]["c"].as_f64(), Some(closes[0]));
    let token = v["next_page_token"].as_str().unwrap().to_string();
    let (_, v2) = get(
        &sb,
        &format!("/v2/stocks/SPY/bars?timeframe=1Day&limit=100&page_token={token}"),
    )
    .await;
    let rest = v2["bars"].as_array().unwrap();
    assert_eq!(rest.len(), closes.len() - 100);
    assert_eq!(v2["next_page_token"], Value::Null);
    assert_eq!(rest.last().unwrap()["c"].as_f64(), closes.last().copied());
    let parsed: bars::Bars = de(&v2);
    assert_eq!(parsed.bars.len(), 30);

    // The last completed weekday is the newest bar; `start` filters; `sort=desc` reverses.
    let (_, d) = get(&sb, "/v2/stocks/SPY/bars?timeframe=1Day&limit=2&sort=desc").await;
    let d = d["bars"].as_array().unwrap().clone();
    assert_eq!(d[0]["c"].as_f64(), closes.last().copied());
    assert!(d[0]["t"].as_str() > d[1]["t"].as_str());
    let start = &d[1]["t"].as_str().unwrap()[..10];
    let (_, f) = get(
        &sb,
        &format!("/v2/stocks/SPY/bars?timeframe=1Day&start={start}"),
    )
    .await;
    assert_eq!(f["bars"].as_array().unwrap().len(), 2);
    let (_, none) = get(&sb, "/v2/stocks/QQQ/bars?timeframe=1Day").await;
    assert_eq!(none["bars"], Value::Null);
    let (s, _) = get(&sb, "/v2/stocks/SPY/bars?timeframe=1Day&limit=0").await;
    assert_eq!(s, 422);
    sb.shutdown().await;
}

#[tokio::test]
async fn requests_are_logged() {
    let sb = Sandbox::start(Scenario::default()).await.unwrap();
    get(&sb, "/v2/clock?x=1").await;
    let log = sb.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/v2/clock");
    assert_eq!(log[0].query, "x=1");
    assert_eq!(log[0].header("apca-api-key-id"), Some("sandbox-key-id"));
    sb.shutdown().await;
}
