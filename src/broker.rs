//! The broker port and its Alpaca adapter.
//!
//! The cycle sees only [`Broker`] and the plain types here. [`Alpaca`] implements it with
//! `apca` for the trading API and `reqwest` for the market-data API, because apca's data
//! calls always go to data.alpaca.markets and cannot be pointed at `APCA_API_DATA_URL`.

use std::future::Future;

use apca::api::v2::{account, asset, clock, order, position};
use apca::{ApiInfo, RequestError};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use num_decimal::Num;
use secrecy::ExposeSecret;
use serde::Deserialize;
use url::Url;

use crate::config::{Quantity, Symbol};
use crate::secrets::AlpacaKeys;

/// The market clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    pub is_open: bool,
    pub now: DateTime<Utc>,
    pub next_open: DateTime<Utc>,
    pub next_close: DateTime<Utc>,
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
    pub symbol: String,
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
    let text = if text.is_empty() {
        "no message".to_string()
    } else {
        text
    };
    text.chars().take(300).collect()
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

/// The Alpaca adapter. Built once per secret (its keys) and reused by warm invocations, so
/// its connection pools stay warm.
pub struct Alpaca {
    trading: apca::Client,
    http: reqwest::Client,
    data_url: Url,
    data_feed: String,
    keys: AlpacaKeys,
}

impl Alpaca {
    pub fn new(
        api_url: &Url,
        data_url: Url,
        data_feed: String,
        keys: AlpacaKeys,
        http: reqwest::Client,
    ) -> Result<Self, BrokerError> {
        // ApiInfo's Debug prints the secret: it is built here, moved into the client, and
        // never logged.
        let api_info = ApiInfo::from_parts(
            api_url.as_str(),
            keys.key_id.expose_secret(),
            keys.secret.expose_secret(),
        )
        .map_err(|_| BrokerError::Transport("APCA_API_BASE_URL is not a valid URL".into()))?;
        Ok(Self {
            trading: apca::Client::new(api_info),
            http,
            data_url,
            data_feed,
            keys,
        })
    }
}

impl Broker for Alpaca {
    async fn clock(&self) -> Result<Clock, BrokerError> {
        let clock = self
            .trading
            .issue::<clock::Get>(&())
            .await
            .map_err(from_apca)?;
        Ok(Clock {
            is_open: clock.open,
            now: clock.current,
            next_open: clock.next_open,
            next_close: clock.next_close,
        })
    }

    async fn account(&self) -> Result<Account, BrokerError> {
        let account = self
            .trading
            .issue::<account::Get>(&())
            .await
            .map_err(from_apca)?;
        let status = serde_json::to_value(account.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "UNKNOWN".into());
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
        match self.trading.issue::<position::Get>(&symbol).await {
            Ok(position) => Ok(Some(position.quantity)),
            Err(RequestError::Endpoint(position::GetError::NotFound(_))) => Ok(None),
            Err(err) => Err(from_apca(err)),
        }
    }

    async fn tradable(&self, symbol: &Symbol) -> Result<bool, BrokerError> {
        let symbol = asset::Symbol::Sym(symbol.as_str().to_string());
        match self.trading.issue::<asset::Get>(&symbol).await {
            Ok(asset) => Ok(asset.tradable && asset.status == asset::Status::Active),
            Err(RequestError::Endpoint(asset::GetError::NotFound(_))) => Ok(false),
            Err(err) => Err(from_apca(err)),
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
            .http
            .get(url)
            .header("APCA-API-KEY-ID", self.keys.key_id.expose_secret())
            .header("APCA-API-SECRET-KEY", self.keys.secret.expose_secret())
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
            .trading
            .issue::<order::Create>(&create)
            .await
            .map_err(from_apca)?;
        Ok(report(order))
    }

    async fn order_by_client_id(
        &self,
        client_order_id: &str,
    ) -> Result<Option<OrderReport>, BrokerError> {
        match self
            .trading
            .issue::<order::GetByClientId>(&client_order_id.to_string())
            .await
        {
            Ok(order) => Ok(Some(report(order))),
            Err(RequestError::Endpoint(order::GetByClientIdError::NotFound(_))) => Ok(None),
            Err(err) => Err(from_apca(err)),
        }
    }
}

fn report(order: order::Order) -> OrderReport {
    let quantity = match order.amount {
        order::Amount::Quantity { quantity } => quantity,
        order::Amount::Notional { notional } => notional,
    };
    let status = serde_json::to_value(order.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    OrderReport {
        id: order.id.to_string(),
        client_order_id: order.client_order_id,
        symbol: order.symbol,
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

fn from_apca<E, C>(err: RequestError<E>) -> BrokerError
where
    E: Into<http_endpoint::Error<C>>,
    C: std::error::Error,
{
    match err {
        RequestError::Endpoint(endpoint) => match endpoint.into() {
            http_endpoint::Error::HttpStatus(status, body) => {
                BrokerError::from_status(status.as_u16(), &body)
            }
            http_endpoint::Error::Http(e) => BrokerError::Transport(error_chain(&e)),
            http_endpoint::Error::Conversion(e) => BrokerError::Decode(error_chain(&e)),
        },
        RequestError::Hyper(e) => BrokerError::Transport(error_chain(&e)),
        RequestError::HyperUtil(e) => BrokerError::Transport(error_chain(&e)),
        RequestError::Io(e) => BrokerError::Transport(error_chain(&e)),
    }
}

/// "outer: inner: root", so a log line says why a connection failed.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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
    }
}
