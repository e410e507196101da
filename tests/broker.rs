//! The Alpaca adapter on the wire, against wiremock: the requests it builds from apca's
//! endpoint definitions (method, path, query, headers, JSON body) and how it reads Alpaca's
//! answers, including the statuses the cycle depends on (404 and 422).

use alpaca_lambda_bot::broker::{Alpaca, Broker, BrokerError, OrderRequest, Side};
use alpaca_lambda_bot::config::{Quantity, Symbol};
use alpaca_lambda_bot::secrets::AlpacaKeys;
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY_ID: &str = "PKWIRETEST";
const SECRET: &str = "wire-secret";

fn alpaca(server: &MockServer) -> Alpaca {
    let url = Url::parse(&server.uri()).unwrap();
    Alpaca::new(
        alpaca_lambda_bot::http::client().unwrap(),
        url.clone(),
        url,
        "iex".into(),
        AlpacaKeys {
            key_id: SecretString::from(KEY_ID),
            secret: SecretString::from(SECRET),
        },
    )
}

/// An order as Alpaca's trading API returns it: numbers as strings.
fn order_json(client_order_id: &str, status: &str, filled_qty: &str, price: Value) -> Value {
    json!({
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": client_order_id,
        "created_at": "2026-12-04T14:35:00.5Z",
        "updated_at": "2026-12-04T14:35:00.6Z",
        "submitted_at": "2026-12-04T14:35:00.5Z",
        "filled_at": null, "expired_at": null, "canceled_at": null, "failed_at": null,
        "replaced_at": null, "replaced_by": null, "replaces": null,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": "SPY", "asset_class": "us_equity",
        "notional": null, "qty": "2", "filled_qty": filled_qty, "filled_avg_price": price,
        "order_class": "", "order_type": "market", "type": "market", "side": "buy",
        "position_intent": "buy_to_open", "time_in_force": "day",
        "limit_price": null, "stop_price": null, "status": status, "extended_hours": false,
        "legs": null, "trail_percent": null, "trail_price": null, "hwm": null,
        "subtag": null, "source": null, "expires_at": null
    })
}

/// The JSON body holds these fields with these values (apca may send more, such as nulls).
fn body_has(expected: Value) -> impl Fn(&Request) -> bool {
    move |request: &Request| {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return false;
        };
        let expected = expected.as_object().expect("an object");
        expected
            .iter()
            .all(|(key, value)| body.get(key) == Some(value))
    }
}

fn order_request() -> OrderRequest {
    OrderRequest {
        symbol: Symbol::parse("SPY").unwrap(),
        side: Side::Buy,
        quantity: Quantity::parse("2").unwrap(),
        client_order_id: "alb-20261204T1435-spy-buy-0123456789abcdef".into(),
    }
}

#[tokio::test]
async fn an_order_is_one_authenticated_json_post() {
    let server = MockServer::start().await;
    let cid = order_request().client_order_id;
    Mock::given(method("POST"))
        .and(path("/v2/orders"))
        .and(header("APCA-API-KEY-ID", KEY_ID))
        .and(header("APCA-API-SECRET-KEY", SECRET))
        .and(header("content-type", "application/json"))
        .and(body_has(json!({
            "symbol": "SPY", "qty": "2", "side": "buy", "type": "market",
            "time_in_force": "day", "client_order_id": cid
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(order_json(
            &cid,
            "filled",
            "2",
            json!("601.25"),
        )))
        .expect(1)
        .mount(&server)
        .await;

    let report = alpaca(&server)
        .submit_order(&order_request())
        .await
        .unwrap();
    assert_eq!(report.client_order_id, cid);
    assert!(report.is_filled());
    assert_eq!(report.filled_quantity.to_string(), "2");
    assert_eq!(report.filled_avg_price.unwrap().to_string(), "601.25");
}

#[tokio::test]
async fn a_reused_client_order_id_is_recognised() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/orders"))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(
                json!({"code": 40010001, "message": "client_order_id must be unique"}),
            ),
        )
        .mount(&server)
        .await;

    let err = alpaca(&server)
        .submit_order(&order_request())
        .await
        .unwrap_err();
    assert_eq!(err, BrokerError::DuplicateClientOrderId);
}

#[tokio::test]
async fn lookups_by_client_order_id_and_absent_things_are_none() {
    let server = MockServer::start().await;
    let cid = "alb-20261204T1435-spy-buy-0123456789abcdef";
    Mock::given(method("GET"))
        .and(path("/v2/orders:by_client_order_id"))
        .and(query_param("client_order_id", cid))
        .respond_with(ResponseTemplate::new(200).set_body_json(order_json(
            cid,
            "new",
            "0",
            Value::Null,
        )))
        .mount(&server)
        .await;
    let not_found = || {
        ResponseTemplate::new(404).set_body_json(json!({"code": 40410000, "message": "not found"}))
    };
    // No position in SPY; an asset Alpaca does not know.
    for not_there in [
        "/v2/orders:by_client_order_id",
        "/v2/positions/SPY",
        "/v2/assets/ZZZZ",
    ] {
        Mock::given(path(not_there))
            .respond_with(not_found())
            .with_priority(10)
            .mount(&server)
            .await;
    }
    let alpaca = alpaca(&server);
    let symbol = Symbol::parse("SPY").unwrap();

    let found = alpaca.order_by_client_id(cid).await.unwrap().unwrap();
    assert_eq!((found.status.as_str(), found.is_final()), ("new", false));
    assert_eq!(alpaca.order_by_client_id("alb-other").await.unwrap(), None);
    assert_eq!(alpaca.position(&symbol).await.unwrap(), None);
    let unknown = Symbol::parse("ZZZZ").unwrap();
    assert!(!alpaca.tradable(&unknown).await.unwrap());
}

#[tokio::test]
async fn refusals_are_told_apart_and_the_keys_never_appear() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/clock"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "request is not authorized"})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/account"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"not\": \"an account\"}"))
        .mount(&server)
        .await;
    let alpaca = alpaca(&server);

    let unauthorized = alpaca.clock().await.unwrap_err();
    assert!(unauthorized.is_auth(), "{unauthorized}");
    let undecodable = alpaca.account().await.unwrap_err();
    assert!(
        matches!(undecodable, BrokerError::Decode(_)),
        "{undecodable:?}"
    );
    assert!(undecodable.is_ambiguous());
    for err in [unauthorized, undecodable] {
        let text = format!("{err} {err:?}");
        assert!(!text.contains(SECRET) && !text.contains(KEY_ID), "{text}");
    }
}
