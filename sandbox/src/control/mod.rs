//! The scenario and the `/_sandbox/` control API (JSON in, JSON out), used by the binary's `ctl`
//! mode and by end-to-end tests that run the bot as a separate process.
//!
//! | request | effect |
//! | --- | --- |
//! | `POST /_sandbox/scenario` + partial [`Scenario`] JSON | replace the scenario (state restarts) |
//! | `GET /_sandbox/scenario` | the current scenario |
//! | `POST /_sandbox/faults` + [`crate::Fault`] JSON, or an array | queue faults |
//! | `GET /_sandbox/orders` | orders, Alpaca JSON |
//! | `GET /_sandbox/requests` | [`crate::LoggedRequest`]s |
//! | `GET /_sandbox/discord` | [`crate::DiscordPost`]s |
//! | `POST /_sandbox/reset` | restart from the scenario, clear logs, posts and faults |
//! | `GET /_sandbox/health` | `{"base_url", "webhook_url"}` |

pub mod scenario;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::{Fault, Shared};
pub use scenario::{FillMode, Scenario};

type St = State<Arc<Shared>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/scenario", get(get_scenario).post(post_scenario))
        .route("/_sandbox/faults", axum::routing::post(post_faults))
        .route("/_sandbox/orders", get(orders))
        .route("/_sandbox/requests", get(requests))
        .route("/_sandbox/discord", get(discord))
        .route("/_sandbox/reset", axum::routing::post(reset))
        .route("/_sandbox/health", get(health))
}

fn bad(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": e.to_string()})),
    )
        .into_response()
}

fn ok() -> Response {
    axum::Json(json!({"ok": true})).into_response()
}

async fn get_scenario(State(s): St) -> Response {
    axum::Json(s.lock().scenario.clone()).into_response()
}

async fn post_scenario(State(s): St, body: Bytes) -> Response {
    match serde_json::from_slice::<Scenario>(&body) {
        Ok(sc) => {
            s.set_scenario(sc);
            ok()
        }
        Err(e) => bad(e),
    }
}

async fn post_faults(State(s): St, body: Bytes) -> Response {
    let faults = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(serde_json::from_value::<Fault>)
            .collect::<Result<Vec<_>, _>>(),
        Ok(v) => serde_json::from_value::<Fault>(v).map(|f| vec![f]),
        Err(e) => Err(e),
    };
    match faults {
        Ok(faults) => {
            let mut inner = s.lock();
            for f in faults {
                inner.faults.push(f);
            }
            ok()
        }
        Err(e) => bad(e),
    }
}

async fn orders(State(s): St) -> Response {
    axum::Json(s.lock().broker.orders_json()).into_response()
}

async fn requests(State(s): St) -> Response {
    axum::Json(s.lock().requests.clone()).into_response()
}

async fn discord(State(s): St) -> Response {
    axum::Json(s.lock().discord.clone()).into_response()
}

async fn reset(State(s): St) -> Response {
    s.reset();
    ok()
}

async fn health(State(s): St) -> Response {
    axum::Json(json!({"base_url": s.base_url, "webhook_url": s.webhook_url()})).into_response()
}
