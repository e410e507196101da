//! alpaca-lambda-bot: one Alpaca trade cycle per scheduled Lambda invocation, its outcome
//! posted to Discord.
//!
//! Data flows one way, from the event to the outcome:
//!
//! ```text
//! EventBridge Scheduler / rule / cargo lambda invoke
//!         │ serde_json::Value
//!         ▼
//! handler   Lambda edge: event -> Invocation and Slot, cycle, post, outcome or Lambda error
//!         ▼
//! cycle     one trade cycle over the Broker port; no Lambda types, no Discord
//!         ├─ broker    port + Alpaca adapter (apca's endpoint definitions over reqwest)
//!         ├─ strategy  pure: completed daily closes + position -> Decision
//!         └─ report    pure: CycleReport -> Outcome (CONTRACT §5)
//! then:
//!         ├─ message   pure: CycleReport -> Discord message (wording, embeds, limits)
//!         └─ notify    port + Discord webhook adapter (retries within the deadline)
//! ```
//!
//! Where everything lives:
//! - [`config`]: the environment (CONTRACT §2), validated; `Symbol` and `Quantity`.
//! - [`event`]: the event shapes (§3), overrides, and the `Slot` behind every
//!   `client_order_id` (§4).
//! - [`secrets`]: the secret (§1) in redacting types, Secrets Manager, the warm cache.
//! - [`broker`]: the `Broker` port and the `Alpaca` adapter.
//! - [`http`]: the HTTP clients (one TLS stack, compiled-in roots) and `error_chain`.
//! - [`strategy`]: `golden_cross` and `buy_and_hold`.
//! - [`cycle`]: orchestration, timeouts, idempotent order placement, fill polling.
//! - [`report`]: `CycleReport`, `Stage`, and the `Outcome` JSON.
//! - [`message`]: the Discord message of a report.
//! - [`notify`]: `WebhookUrl`, `Mention`, the `Notifier` port and the `Discord` adapter.
//! - [`metrics`]: CloudWatch Embedded Metric Format lines (cycles, orders, skips, errors).
//! - [`handler`]: `Bot`, the state kept across warm invocations, and `Bot::invoke`.

pub mod broker;
pub mod config;
pub mod cycle;
pub mod event;
pub mod handler;
pub mod http;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod report;
pub mod secrets;
pub mod strategy;
