//! Fault injection: per-route FIFO queues of faults, and the error answers each service gives.

use std::collections::{HashMap, VecDeque};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One queued fault: the next `times` requests to `route` get `kind` instead of a normal answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Fault {
    pub route: Route,
    pub kind: FaultKind,
    /// How many requests this fault answers (default 1 in JSON).
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault for the next request only.
    pub fn once(route: Route, kind: FaultKind) -> Fault {
        Fault {
            route,
            kind,
            times: 1,
        }
    }
}

/// The emulated endpoints faults can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `GET /v2/clock`
    Clock,
    /// `GET /v2/account`
    Account,
    /// `GET /v2/positions/{symbol}` (and `GET /v2/positions`)
    Position,
    /// `GET /v2/assets/{symbol}`
    Asset,
    /// `GET /v2/stocks/{symbol}/bars` (data API)
    Bars,
    /// `POST /v2/orders`
    CreateOrder,
    /// `GET /v2/orders/{id}`
    GetOrder,
    /// `GET /v2/orders:by_client_order_id`
    OrderByClientId,
    /// `POST /api/webhooks/{id}/{token}` (any API version)
    Discord,
}

impl Route {
    fn service(self) -> Service {
        match self {
            Route::Discord => Service::Discord,
            _ => Service::Alpaca,
        }
    }
}

/// What a faulted request gets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// This HTTP status with the service's error body (Alpaca `{"code","message"}`, Discord
    /// `{"message","code"}`, e.g. 401 `Invalid Webhook Token`).
    Status(u16),
    /// 429 with the service's real rate-limit headers and body.
    RateLimited { retry_after_secs: f64 },
    /// Never answer (the connection stays open until the sandbox shuts down).
    Hang,
    /// Close the TCP connection without any HTTP response.
    Drop,
    /// `CreateOrder` only: accept and record the order (it is then visible to lookups), but
    /// answer with this status. On other routes it behaves like `Status`.
    StatusAfterRecord(u16),
}

/// Marker in a response's extensions: the server closes the connection instead of answering.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropConnection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    Alpaca,
    Discord,
}

/// Per-route fault queues.
#[derive(Debug, Default)]
pub(crate) struct FaultQueues {
    queues: HashMap<Route, VecDeque<Fault>>,
}

impl FaultQueues {
    pub fn push(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.queues.entry(fault.route).or_default().push_back(fault);
        }
    }

    /// Consumes one use of the route's first fault.
    pub fn take(&mut self, route: Route) -> Option<FaultKind> {
        let queue = self.queues.get_mut(&route)?;
        let front = queue.front_mut()?;
        let kind = front.kind.clone();
        front.times -= 1;
        if front.times == 0 {
            queue.pop_front();
        }
        Some(kind)
    }

    pub fn clear(&mut self) {
        self.queues.clear();
    }
}

/// The answer for a fault, `None` for `StatusAfterRecord` on `CreateOrder` (the caller records the
/// order first). `Hang` never returns.
pub(crate) async fn fault_response(route: Route, kind: &FaultKind) -> Option<Response> {
    match kind {
        FaultKind::Status(code) => Some(error_for(route.service(), *code)),
        FaultKind::StatusAfterRecord(code) => {
            if route == Route::CreateOrder {
                None
            } else {
                Some(error_for(route.service(), *code))
            }
        }
        FaultKind::RateLimited { retry_after_secs } => {
            Some(rate_limited(route.service(), *retry_after_secs))
        }
        FaultKind::Hang => std::future::pending().await,
        FaultKind::Drop => {
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.extensions_mut().insert(DropConnection);
            Some(r)
        }
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An Alpaca-style error: `{"code": 40410000, "message": "..."}`.
pub(crate) fn alpaca_error(http: u16, code: u64, message: &str) -> Response {
    (
        status(http),
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

/// A Discord-style error: `{"message": "...", "code": 10015}`.
pub(crate) fn discord_error(http: u16, code: u64, message: &str) -> Response {
    (
        status(http),
        axum::Json(json!({"message": message, "code": code})),
    )
        .into_response()
}

/// The service's usual body for an HTTP status.
pub(crate) fn error_for(service: Service, code: u16) -> Response {
    match service {
        Service::Alpaca => {
            let message = match code {
                400 => "request body format is invalid",
                401 => "request is not authorized",
                403 => "forbidden",
                404 => "not found",
                422 => "unprocessable entity",
                500 => "internal server error",
                502 => "bad gateway",
                503 => "service unavailable",
                504 => "gateway timeout",
                _ => status(code).canonical_reason().unwrap_or("error"),
            };
            if code == 429 {
                // With the rate-limit headers, as Alpaca sends them.
                return rate_limited(Service::Alpaca, 1.0);
            }
            // Alpaca's codes are the status followed by 10000: 404 → 40410000.
            alpaca_error(code, u64::from(code) * 100_000 + 10_000, message)
        }
        Service::Discord => match code {
            400 => (
                status(400),
                axum::Json(json!({"code": 50035, "errors": {}, "message": "Invalid Form Body"})),
            )
                .into_response(),
            401 => discord_error(401, 50027, "Invalid Webhook Token"),
            403 => discord_error(403, 50013, "Missing Permissions"),
            404 => discord_error(404, 10015, "Unknown Webhook"),
            429 => rate_limited(Service::Discord, 1.0),
            _ => discord_error(
                code,
                0,
                &format!(
                    "{code}: {}",
                    status(code).canonical_reason().unwrap_or("Error")
                ),
            ),
        },
    }
}

/// 429 with the real headers: Alpaca sends `X-RateLimit-{Limit,Remaining,Reset}` (reset: Unix
/// seconds) and `{"code":42910000,"message":"rate limit exceeded"}`; Discord sends `Retry-After`
/// (whole seconds) and `X-RateLimit-*` (including `Reset-After`, `Bucket`, `Scope`) with
/// `{"message":"You are being rate limited.","retry_after":0.5,"global":false}`.
pub(crate) fn rate_limited(service: Service, retry_after_secs: f64) -> Response {
    let retry_after_secs = retry_after_secs.max(0.0);
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let mut r = match service {
        Service::Alpaca => {
            let mut r = alpaca_error(429, 42910000, "rate limit exceeded");
            let h = r.headers_mut();
            h.insert("x-ratelimit-limit", HeaderValue::from_static("200"));
            h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            h.insert(
                "x-ratelimit-reset",
                hv(&format!("{}", (now + retry_after_secs).ceil() as i64)),
            );
            r
        }
        Service::Discord => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "message": "You are being rate limited.",
                    "retry_after": retry_after_secs,
                    "global": false
                })),
            )
                .into_response();
            let h = r.headers_mut();
            h.insert(
                "retry-after",
                hv(&format!("{}", retry_after_secs.ceil() as u64)),
            );
            h.insert("x-ratelimit-limit", HeaderValue::from_static("5"));
            h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            h.insert(
                "x-ratelimit-reset",
                hv(&format!("{:.3}", now + retry_after_secs)),
            );
            h.insert(
                "x-ratelimit-reset-after",
                hv(&format!("{retry_after_secs:.3}")),
            );
            h.insert(
                "x-ratelimit-bucket",
                HeaderValue::from_static(crate::discord::RATE_LIMIT_BUCKET),
            );
            h.insert("x-ratelimit-scope", HeaderValue::from_static("user"));
            r
        }
    };
    r.headers_mut()
        .insert("via", HeaderValue::from_static("1.1 bot-sandbox"));
    r
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_per_route() {
        let mut q = FaultQueues::default();
        q.push(Fault {
            route: Route::Clock,
            kind: FaultKind::Status(500),
            times: 2,
        });
        q.push(Fault::once(Route::Clock, FaultKind::Hang));
        q.push(Fault::once(Route::Discord, FaultKind::Drop));
        assert_eq!(q.take(Route::Account), None);
        assert_eq!(q.take(Route::Clock), Some(FaultKind::Status(500)));
        assert_eq!(q.take(Route::Clock), Some(FaultKind::Status(500)));
        assert_eq!(q.take(Route::Clock), Some(FaultKind::Hang));
        assert_eq!(q.take(Route::Clock), None);
        assert_eq!(q.take(Route::Discord), Some(FaultKind::Drop));
    }

    #[test]
    fn fault_json_is_snake_case() {
        let f: Fault = serde_json::from_str(
            r#"{"route":"create_order","kind":{"rate_limited":{"retry_after_secs":0.5}}}"#,
        )
        .unwrap();
        assert_eq!(f.times, 1);
        assert_eq!(f.route, Route::CreateOrder);
        assert_eq!(
            f.kind,
            FaultKind::RateLimited {
                retry_after_secs: 0.5
            }
        );
        let f: Fault =
            serde_json::from_str(r#"{"route":"order_by_client_id","kind":"drop","times":3}"#)
                .unwrap();
        assert_eq!(f.kind, FaultKind::Drop);
        let f: Fault =
            serde_json::from_str(r#"{"route":"create_order","kind":{"status_after_record":504}}"#)
                .unwrap();
        assert_eq!(f.kind, FaultKind::StatusAfterRecord(504));
    }
}
