//! The broker port and its Alpaca adapter.
//!
//! The cycle sees only [`Broker`] and the plain types here. [`Alpaca`] implements it over the
//! function's one `reqwest` client: apca's endpoint definitions (paths, request and response
//! types, status mapping) for the trading API, and a plain request for the market-data API,
//! whose apca calls always go to data.alpaca.markets rather than `APCA_API_DATA_URL`.
//!
//! apca's own `Client` is not used: it brings a second HTTP and TLS stack (hyper-tls and
//! OpenSSL), which reads the system CA bundle each time one is built, a cold-start cost of
//! tens of milliseconds, and keeps a connection pool of its own.

use std::future::Future;

use apca::api::v2::{account, asset, clock, order, position};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use http_endpoint::Endpoint;
use num_decimal::Num;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{Quantity, Symbol};
use crate::http::error_chain;
use crate::message::one_line;
use crate::secrets::AlpacaKeys;

/// The market clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    pub is_open: bool,
    pub now: DateTime<Utc>,
    pub next_open: DateTime<Utc>,
}

/// What the cycle needs of the account.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Alpaca's account status (`ACTIVE` when it can trade).
    pub status: String,
    /// Trading is blocked or suspended, or the whole account is blocked.
    pub blocked: bool,
    pub equity: Num,
    pub buying_power: Num,
}

/// One daily bar: its start (midnight New York time, in UTC) and its close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub time: DateTime<Utc>,
    pub close: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// A market order, day time-in-force, identified by the slot's `client_order_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRequest {
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Quantity,
    pub client_order_id: String,
}

/// An order as Alpaca reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderReport {
    pub id: String,
    pub client_order_id: String,
    pub side: Side,
    pub quantity: Num,
    /// Alpaca's status word: `new`, `accepted`, `partially_filled`, `filled`, `rejected`, …
    pub status: String,
    pub filled_quantity: Num,
    pub filled_avg_price: Option<Num>,
}

impl OrderReport {
    pub fn is_filled(&self) -> bool {
        self.status == "filled"
    }

    /// No further change will come: filled, or ended without a (full) fill.
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "filled" | "canceled" | "expired" | "rejected" | "done_for_day" | "replaced"
        )
    }
}

/// Why a broker call failed. Messages are Alpaca's own; no request carries a secret in its
/// text (the keys travel in headers), so none can appear here.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    #[error("Alpaca refused the API keys (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("Alpaca's rate limit was hit (HTTP 429)")]
    RateLimited,
    #[error("Alpaca rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("Alpaca failed (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    #[error("could not reach Alpaca: {0}")]
    Transport(String),
    #[error("Alpaca's answer could not be read: {0}")]
    Decode(String),
    #[error("the order's client_order_id was already used (HTTP 422)")]
    DuplicateClientOrderId,
}

impl BrokerError {
    /// A 401, or a 403 that is about the keys rather than the order: worth one secret refetch.
    pub fn is_auth(&self) -> bool {
        matches!(self, BrokerError::Unauthorized { .. })
    }

    /// The request may have reached Alpaca and taken effect: an order must be looked up
    /// before it is ever sent again.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            BrokerError::Server { .. } | BrokerError::Transport(_) | BrokerError::Decode(_)
        )
    }

    /// A common order refusal in plain words (Alpaca's own message stays with the error).
    pub fn plain_refusal(&self) -> Option<&'static str> {
        let BrokerError::Rejected { message, .. } = self else {
            return None;
        };
        let message = message.to_ascii_lowercase();
        PLAIN_REFUSALS
            .iter()
            .find(|(words, _)| words.iter().all(|word| message.contains(word)))
            .map(|(_, plain)| *plain)
    }

    fn from_status(status: u16, body: &[u8]) -> Self {
        let message = alpaca_message(body);
        match status {
            401 => BrokerError::Unauthorized { status, message },
            // Alpaca answers 403 both for bad keys and for refused orders; only the order
            // refusals carry one of these words.
            403 if !is_order_refusal(&message) => BrokerError::Unauthorized { status, message },
            422 if message.contains("client_order_id must be unique") => {
                BrokerError::DuplicateClientOrderId
            }
            429 => BrokerError::RateLimited,
            500..=599 => BrokerError::Server { status, message },
            _ => BrokerError::Rejected { status, message },
        }
    }
}

/// Alpaca's words for common order refusals (all must appear), and what they mean.
const PLAIN_REFUSALS: [(&[&str], &str); 6] = [
    (&["buying power"], "not enough buying power for this order"),
    (
        &["wash trade"],
        "Alpaca refused a potential wash trade (an opposite order is open)",
    ),
    (&["not tradable"], "this asset is not tradable on Alpaca"),
    (
        &["market", "closed"],
        "the market is closed for this order type",
    ),
    (
        &["insufficient qty"],
        "the position is smaller than the quantity to sell",
    ),
    (
        &["pattern day"],
        "pattern day trader protection refused the order",
    ),
];

fn is_order_refusal(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "buying power",
        "insufficient",
        "qty",
        "wash",
        "tradable",
        "market",
        "pattern day",
    ]
    .iter()
    .any(|word| message.contains(word))
}

/// Alpaca's `{"code": …, "message": …}` body, or the raw text, kept short.
fn alpaca_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ApiError {
        message: String,
    }
    let text = serde_json::from_slice::<ApiError>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).trim().to_string());
    if text.is_empty() {
        "no message".to_string()
    } else {
        one_line(&text, 300)
    }
}

/// The broker port: what one trade cycle asks of Alpaca.
pub trait Broker: Send + Sync {
    fn clock(&self) -> impl Future<Output = Result<Clock, BrokerError>> + Send;
    fn account(&self) -> impl Future<Output = Result<Account, BrokerError>> + Send;
    /// The long position held, `None` when there is none (Alpaca's 404).
    fn position(
        &self,
        symbol: &Symbol,
    ) -> impl Future<Output = Result<Option<Num>, BrokerError>> + Send;
    /// Whether Alpaca lets this symbol trade (`false` also for an unknown symbol).
    fn tradable(&self, symbol: &Symbol) -> impl Future<Output = Result<bool, BrokerError>> + Send;
    /// The most recent `count` daily bars up to `now`, oldest first; may include today's
    /// unfinished bar, which the cycle drops.
    fn daily_bars(
        &self,
        symbol: &Symbol,
        count: usize,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Bar>, BrokerError>> + Send;
    fn submit_order(
        &self,
        request: &OrderRequest,
    ) -> impl Future<Output = Result<OrderReport, BrokerError>> + Send;
    /// The order with this `client_order_id`, `None` when Alpaca has none.
    fn order_by_client_id(
        &self,
        client_order_id: &str,
    ) -> impl Future<Output = Result<Option<OrderReport>, BrokerError>> + Send;
}

/// The Alpaca adapter: cheap to build (the keys and a handle on the shared client), so one is
/// made per cycle while connections are reused across warm invocations.
pub struct Alpaca {
    http: reqwest::Client,
    api_url: Url,
    data_url: Url,
    data_feed: String,
    keys: AlpacaKeys,
}

/// A trading call's failure: the endpoint's own error (a status apca maps, such as a 404),
/// or one that never got an answer to map.
enum CallError<E> {
    Endpoint(E),
    Broker(BrokerError),
}

impl Alpaca {
    pub fn new(
        http: reqwest::Client,
        api_url: Url,
        data_url: Url,
        data_feed: String,
        keys: AlpacaKeys,
    ) -> Self {
        Self {
            http,
            api_url,
            data_url,
            data_feed,
            keys,
        }
    }

    /// The keys travel in headers marked sensitive, so no debug output of a request shows
    /// them.
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let sensitive = |value: &SecretString| {
            let mut header = HeaderValue::from_str(value.expose_secret()).ok()?;
            header.set_sensitive(true);
            Some(header)
        };
        match (sensitive(&self.keys.key_id), sensitive(&self.keys.secret)) {
            (Some(key_id), Some(secret)) => request
                .header("APCA-API-KEY-ID", key_id)
                .header("APCA-API-SECRET-KEY", secret),
            // The secret's parser admits only header-safe keys; were one to slip through, it
            // is left out, and Alpaca's 401 says the keys are wrong without echoing them.
            _ => request,
        }
    }

    /// One call to an apca endpoint, on the trading API's base URL: the request apca would
    /// build, answered through apca's own status mapping and types.
    async fn call<E: Endpoint>(&self, input: &E::Input) -> Result<E::Output, CallError<E::Error>> {
        let endpoint_error = |e: E::ConversionError| CallError::Endpoint(E::Error::from(e));
        let mut url = self.api_url.clone();
        url.set_path(&E::path(input));
        url.set_query(E::query(input).map_err(endpoint_error)?.as_deref());
        let mut request = self.authorized(self.http.request(E::method(), url));
        if let Some(headers) = E::headers(input).map_err(endpoint_error)? {
            request = request.headers(headers);
        }
        if let Some(body) = E::body(input).map_err(endpoint_error)? {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.into_owned());
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        E::evaluate(status, &body).map_err(CallError::Endpoint)
    }
}

/// The request's URL is dropped: the error text then names the cause, not the address.
fn transport<E>(err: reqwest::Error) -> CallError<E> {
    CallError::Broker(BrokerError::Transport(error_chain(&err.without_url())))
}

impl Broker for Alpaca {
    async fn clock(&self) -> Result<Clock, BrokerError> {
        let clock = self.call::<clock::Get>(&()).await.map_err(from_call)?;
        Ok(Clock {
            is_open: clock.open,
            now: clock.current,
            next_open: clock.next_open,
        })
    }

    async fn account(&self) -> Result<Account, BrokerError> {
        let account = self.call::<account::Get>(&()).await.map_err(from_call)?;
        let status = wire_word(account.status).unwrap_or_else(|| "UNKNOWN".into());
        Ok(Account {
            blocked: account.trading_blocked
                || account.trading_suspended
                || account.account_blocked
                || status != "ACTIVE",
            status,
            equity: account.equity,
            buying_power: account.buying_power,
        })
    }

    async fn position(&self, symbol: &Symbol) -> Result<Option<Num>, BrokerError> {
        let symbol = asset::Symbol::Sym(symbol.as_str().to_string());
        match self.call::<position::Get>(&symbol).await {
            Ok(position) => Ok(Some(position.quantity)),
            Err(CallError::Endpoint(position::GetError::NotFound(_))) => Ok(None),
            Err(err) => Err(from_call(err)),
        }
    }

    async fn tradable(&self, symbol: &Symbol) -> Result<bool, BrokerError> {
        let symbol = asset::Symbol::Sym(symbol.as_str().to_string());
        match self.call::<asset::Get>(&symbol).await {
            Ok(asset) => Ok(asset.tradable && asset.status == asset::Status::Active),
            Err(CallError::Endpoint(asset::GetError::NotFound(_))) => Ok(false),
            Err(err) => Err(from_call(err)),
        }
    }

    async fn daily_bars(
        &self,
        symbol: &Symbol,
        count: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Bar>, BrokerError> {
        #[derive(Deserialize)]
        struct Page {
            bars: Option<Vec<WireBar>>,
        }
        #[derive(Deserialize)]
        struct WireBar {
            t: DateTime<Utc>,
            c: f64,
        }
        // Weekends and holidays: 7 calendar days hold 5 sessions; 10 more days of margin.
        let days = (count as i64 * 7 + 4) / 5 + 10;
        let start = (now - ChronoDuration::days(days)).format("%Y-%m-%dT00:00:00Z");
        let mut url = self.data_url.clone();
        // As for the trading calls (and in apca), the endpoint's path replaces any path the
        // base URL has, so `…/v2` on either base URL means the same.
        url.set_path("");
        url.path_segments_mut()
            .map_err(|_| BrokerError::Transport("APCA_API_DATA_URL cannot be a base".into()))?
            .pop_if_empty()
            .extend(["v2", "stocks", symbol.as_str(), "bars"]);
        // Newest first with a limit: one page holds exactly what is needed.
        url.query_pairs_mut()
            .append_pair("timeframe", "1Day")
            .append_pair("start", &start.to_string())
            .append_pair("limit", &count.to_string())
            .append_pair("adjustment", "all")
            .append_pair("feed", &self.data_feed)
            .append_pair("sort", "desc");
        let response = self
            .authorized(self.http.get(url))
            .send()
            .await
            .map_err(|e| BrokerError::Transport(error_chain(&e.without_url())))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| BrokerError::Transport(error_chain(&e.without_url())))?;
        if status != 200 {
            return Err(BrokerError::from_status(status, &body));
        }
        let page: Page =
            serde_json::from_slice(&body).map_err(|e| BrokerError::Decode(e.to_string()))?;
        let mut bars: Vec<Bar> = page
            .bars
            .unwrap_or_default()
            .into_iter()
            .map(|b| Bar {
                time: b.t,
                close: b.c,
            })
            .collect();
        bars.sort_by_key(|b| b.time);
        Ok(bars)
    }

    async fn submit_order(&self, request: &OrderRequest) -> Result<OrderReport, BrokerError> {
        let side = match request.side {
            Side::Buy => order::Side::Buy,
            Side::Sell => order::Side::Sell,
        };
        let create = order::CreateReqInit {
            type_: order::Type::Market,
            time_in_force: order::TimeInForce::Day,
            client_order_id: Some(request.client_order_id.clone()),
            ..Default::default()
        }
        .init(
            request.symbol.as_str(),
            side,
            order::Amount::quantity(request.quantity.as_num().clone()),
        );
        let order = self
            .call::<order::Create>(&create)
            .await
            .map_err(from_call)?;
        Ok(report(order))
    }

    async fn order_by_client_id(
        &self,
        client_order_id: &str,
    ) -> Result<Option<OrderReport>, BrokerError> {
        match self
            .call::<order::GetByClientId>(&client_order_id.to_string())
            .await
        {
            Ok(order) => Ok(Some(report(order))),
            Err(CallError::Endpoint(order::GetByClientIdError::NotFound(_))) => Ok(None),
            Err(err) => Err(from_call(err)),
        }
    }
}

fn report(order: order::Order) -> OrderReport {
    let quantity = match order.amount {
        order::Amount::Quantity { quantity } => quantity,
        order::Amount::Notional { notional } => notional,
    };
    let status = wire_word(order.status).unwrap_or_else(|| "unknown".into());
    OrderReport {
        id: order.id.to_string(),
        client_order_id: order.client_order_id,
        side: match order.side {
            order::Side::Buy => Side::Buy,
            order::Side::Sell => Side::Sell,
        },
        quantity,
        status,
        filled_quantity: order.filled_quantity,
        filled_avg_price: order.average_fill_price,
    }
}

/// An apca enum as Alpaca spells it on the wire (`ACTIVE`, `partially_filled`).
fn wire_word(value: impl Serialize) -> Option<String> {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

fn from_call<E, C>(err: CallError<E>) -> BrokerError
where
    E: Into<http_endpoint::Error<C>>,
    C: std::error::Error,
{
    match err {
        CallError::Endpoint(endpoint) => match endpoint.into() {
            http_endpoint::Error::HttpStatus(status, body) => {
                BrokerError::from_status(status.as_u16(), &body)
            }
            http_endpoint::Error::Http(e) => BrokerError::Transport(error_chain(&e)),
            http_endpoint::Error::Conversion(e) => BrokerError::Decode(error_chain(&e)),
        },
        CallError::Broker(err) => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_the_cycle_must_do() {
        let body = br#"{"code":40010001,"message":"client_order_id must be unique"}"#;
        assert_eq!(
            BrokerError::from_status(422, body),
            BrokerError::DuplicateClientOrderId
        );
        assert!(BrokerError::from_status(401, b"{\"message\":\"unauthorized\"}").is_auth());
        assert!(BrokerError::from_status(403, b"{\"message\":\"forbidden.\"}").is_auth());
        let refusal = BrokerError::from_status(
            403,
            br#"{"code":40310000,"message":"insufficient buying power"}"#,
        );
        assert!(!refusal.is_auth());
        assert!(refusal.to_string().contains("insufficient buying power"));
        assert!(BrokerError::from_status(503, b"<html>down</html>").is_ambiguous());
        assert_eq!(BrokerError::from_status(429, b""), BrokerError::RateLimited);
        assert!(!BrokerError::from_status(422, br#"{"message":"qty must be > 0"}"#).is_ambiguous());
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "x".repeat(10_000);
        let err = BrokerError::from_status(500, long.as_bytes());
        assert!(err.to_string().len() < 400);
        // A proxy's HTML page becomes one line, fit for a log line or a Discord field.
        let page = BrokerError::from_status(502, b"<html>\n  <h1>502 Bad Gateway</h1>\n</html>");
        assert_eq!(
            page.to_string(),
            "Alpaca failed (HTTP 502): <html> <h1>502 Bad Gateway</h1> </html>"
        );
    }
}
