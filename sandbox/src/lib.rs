//! `bot-sandbox`: local, in-process stand-ins for the services the trading bot talks to, for
//! development and tests only (never part of the Lambda package).
//!
//! One HTTP server on `127.0.0.1` answers, with the real paths, status codes and bodies:
//!
//! | module | emulates |
//! | --- | --- |
//! | [`alpaca`] | the Alpaca paper trading API (`/v2/clock`, `/v2/account`, `/v2/positions/{symbol}`, `/v2/assets/{symbol}`, `/v2/orders`, `/v2/orders/{id}`, `/v2/orders:by_client_order_id`) and the market-data API (`/v2/stocks/{symbol}/bars`), both on [`Sandbox::base_url`] |
//! | [`discord`] | Discord's execute-webhook endpoint (`/api/webhooks/{id}/{token}`, `/api/v10/...`), validated against Discord's own OpenAPI schema |
//! | [`control`] | the scenario ([`Scenario`], [`FillMode`]) and the `/_sandbox/` control API used by the binary and end-to-end tests |
//! | [`faults`] | injected failures ([`Fault`], [`Route`], [`FaultKind`]): statuses, 429s, hangs, dropped connections |
//! | [`render`] | a terminal rendering of a webhook post |
//! | [`moto`] | a real `moto_server` process for Secrets Manager ([`MotoServer`]) |
//!
//! # In-process use
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use bot_sandbox::{Fault, FaultKind, Route, Sandbox, Scenario};
//! let sandbox = Sandbox::start(Scenario {
//!     closes: Scenario::golden_cross(40, 100),
//!     ..Scenario::default()
//! })
//! .await?;
//! // APCA_API_BASE_URL = APCA_API_DATA_URL = sandbox.base_url()
//! // discord_webhook_url = sandbox.webhook_url()
//! sandbox.inject(Fault::once(Route::Discord, FaultKind::RateLimited { retry_after_secs: 0.5 }));
//! // ... run the bot ...
//! assert_eq!(sandbox.orders().len(), 1);
//! let posts = sandbox.discord_messages();
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Every Alpaca request needs the scenario's `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers
//! (defaults `sandbox-key-id` / `sandbox-secret-key`), else 401.
//!
//! # Control API (JSON, under `/_sandbox/`)
//!
//! `POST scenario` (a partial [`Scenario`]: missing fields take defaults; resets positions and
//! orders), `GET scenario`, `POST faults` (a [`Fault`] or an array), `GET orders`, `GET requests`,
//! `GET discord`, `POST reset` (scenario state, orders, logs and faults), `GET health`.

pub mod alpaca;
pub mod control;
pub mod discord;
pub mod faults;
pub mod market;
pub mod moto;
pub mod render;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

pub use control::scenario::{FillMode, Scenario};
pub use faults::{Fault, FaultKind, Route};
pub use moto::MotoServer;

/// The webhook id in [`Sandbox::webhook_url`].
pub const WEBHOOK_ID: &str = "123456789012345678";

/// One request the sandbox received (Alpaca, data or Discord; control requests are not logged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?` (empty when none).
    pub query: String,
    /// Header names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body as UTF-8 (lossy).
    pub body: String,
    pub received_at: DateTime<Utc>,
}

impl LoggedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One post to a webhook path, whatever the answer was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscordPost {
    /// The request path, e.g. `/api/webhooks/123456789012345678/sandbox-webhook-token`.
    pub path: String,
    /// Query parameters (`wait`, `thread_id`, ...).
    pub query: std::collections::BTreeMap<String, String>,
    /// The JSON body (a JSON string holding the raw text when it was not JSON).
    pub body: serde_json::Value,
    /// The HTTP status answered; 0 when no answer was sent (`Hang`, `Drop` faults).
    pub status: u16,
    /// Whether Discord would have posted the message (2xx).
    pub accepted: bool,
    pub received_at: DateTime<Utc>,
}

/// The state shared by the server and the [`Sandbox`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    pub(crate) discord_tx: broadcast::Sender<DiscordPost>,
    pub(crate) base_url: String,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub scenario: Scenario,
    pub broker: alpaca::Broker,
    pub faults: faults::FaultQueues,
    pub requests: Vec<LoggedRequest>,
    pub discord: Vec<DiscordPost>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_scenario(&self, scenario: Scenario) {
        let mut inner = self.lock();
        inner.broker = alpaca::Broker::new(&scenario);
        inner.scenario = scenario;
    }

    pub(crate) fn reset(&self) {
        let mut inner = self.lock();
        inner.broker = alpaca::Broker::new(&inner.scenario);
        inner.faults.clear();
        inner.requests.clear();
        inner.discord.clear();
    }

    pub(crate) fn record_discord(&self, post: DiscordPost) {
        self.lock().discord.push(post.clone());
        let _ = self.discord_tx.send(post);
    }

    pub(crate) fn webhook_url(&self) -> String {
        let token = self.lock().scenario.discord_webhook_token.clone();
        format!("{}/api/webhooks/{WEBHOOK_ID}/{token}", self.base_url)
    }
}

/// A running sandbox server. Dropping it stops the server too; [`Sandbox::shutdown`] also waits.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts on `127.0.0.1` on a free port.
    pub async fn start(scenario: Scenario) -> std::io::Result<Sandbox> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), scenario).await
    }

    /// Starts on `addr` (port 0: a free port).
    pub async fn start_on(addr: SocketAddr, scenario: Scenario) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (discord_tx, _) = broadcast::channel(256);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                broker: alpaca::Broker::new(&scenario),
                scenario,
                faults: Default::default(),
                requests: Vec::new(),
                discord: Vec::new(),
            }),
            discord_tx,
            base_url: format!("http://{addr}"),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, shared.clone(), stop_rx));
        Ok(Sandbox {
            shared,
            stop,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: both the trading API and the market-data API.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `http://127.0.0.1:PORT/api/webhooks/123456789012345678/<scenario token>` (the form Discord's
    /// "Copy Webhook URL" gives, without `/v10`).
    pub fn webhook_url(&self) -> String {
        self.shared.webhook_url()
    }

    /// The current scenario.
    pub fn scenario(&self) -> Scenario {
        self.shared.lock().scenario.clone()
    }

    /// Replaces the scenario; position, buying power and orders restart from it. Logs, posts and
    /// queued faults are kept.
    pub fn set_scenario(&self, s: Scenario) {
        self.shared.set_scenario(s);
    }

    /// Queues a fault (consumed in order, per route).
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Restarts from the current scenario and clears orders, logs, posts and faults.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Every order accepted so far, as Alpaca JSON in its current state.
    pub fn orders(&self) -> Vec<serde_json::Value> {
        self.shared.lock().broker.orders_json()
    }

    /// The request log (Alpaca, data and Discord requests, oldest first).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Every post to a webhook path, oldest first.
    pub fn discord_messages(&self) -> Vec<DiscordPost> {
        self.shared.lock().discord.clone()
    }

    /// Posts as they arrive (the binary prints them).
    pub fn subscribe_discord(&self) -> broadcast::Receiver<DiscordPost> {
        self.shared.discord_tx.subscribe()
    }

    /// Stops the server, ends every open connection (including hung ones) and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
