#![allow(dead_code)]

use bot_sandbox::Sandbox;
use serde_json::Value;

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

fn auth(sb: &Sandbox, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let sc = sb.scenario();
    rb.header("APCA-API-KEY-ID", sc.api_key)
        .header("APCA-API-SECRET-KEY", sc.api_secret)
}

/// Authenticated GET: (status, JSON body).
pub async fn get(sb: &Sandbox, path: &str) -> (u16, Value) {
    let r = auth(sb, http().get(format!("{}{path}", sb.base_url())))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Authenticated POST of JSON: (status, JSON body).
pub async fn post(sb: &Sandbox, path: &str, body: &Value) -> (u16, Value) {
    let r = auth(sb, http().post(format!("{}{path}", sb.base_url())))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub fn market_order(side: &str, qty: &str, client_order_id: &str) -> Value {
    serde_json::json!({
        "symbol": "SPY", "qty": qty, "side": side, "type": "market",
        "time_in_force": "day", "client_order_id": client_order_id
    })
}
