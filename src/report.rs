//! What a cycle did, as data: the [`CycleReport`] the cycle produces, the [`Outcome`] JSON
//! the handler returns (CONTRACT §5). Pure code; `message` turns a report into Discord's
//! words.

use serde::Serialize;

use crate::broker::{Account, OrderReport, Side};
use crate::strategy::Decision;

/// The cycle stage that failed, named in errors, logs and Discord posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Event,
    Config,
    Secrets,
    Clock,
    Account,
    Position,
    Asset,
    Bars,
    Strategy,
    Order,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Event => "event",
            Stage::Config => "config",
            Stage::Secrets => "secrets",
            Stage::Clock => "clock",
            Stage::Account => "account",
            Stage::Position => "position",
            Stage::Asset => "asset",
            Stage::Bars => "bars",
            Stage::Strategy => "strategy",
            Stage::Order => "order",
        }
    }
}

/// How the cycle ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// An order was placed (or found, for a retried request) this cycle.
    Ordered {
        side: Side,
    },
    /// The strategy said hold.
    Held,
    MarketClosed,
    /// A second delivery of a slot whose order exists.
    Duplicate,
    /// Any other deliberate non-trade: kill switch, stale event, guard.
    Skipped,
    /// `DRY_RUN`: the decision, and no broker write.
    DryRun {
        side: Option<Side>,
    },
    /// A real failure: the invocation returns a Lambda error after the post.
    Failed {
        stage: Stage,
        error: String,
    },
}

/// Everything a cycle learnt, for the outcome, the log and the Discord message.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleReport {
    pub kind: Kind,
    /// Human-readable why.
    pub reason: String,
    pub symbol: String,
    pub paper: bool,
    /// The slot label (scheduled minute, or "manual …").
    pub slot: String,
    pub strategy: Option<&'static str>,
    pub decision: Option<Decision>,
    /// The order placed or found; for a dry run, none.
    pub order: Option<OrderReport>,
    /// The `client_order_id` the cycle would use or used.
    pub client_order_id: Option<String>,
    pub account: Option<Account>,
}

impl CycleReport {
    /// A bare report for a cycle that ended before it learnt much.
    pub fn new(
        kind: Kind,
        reason: impl Into<String>,
        symbol: &str,
        paper: bool,
        slot: &str,
    ) -> Self {
        Self {
            kind,
            reason: reason.into(),
            symbol: symbol.to_string(),
            paper,
            slot: slot.to_string(),
            strategy: None,
            decision: None,
            order: None,
            client_order_id: None,
            account: None,
        }
    }

    pub fn failed(stage: Stage, error: String, symbol: &str, paper: bool, slot: &str) -> Self {
        let reason = format!("{} failed: {error}", stage.as_str());
        Self::new(Kind::Failed { stage, error }, reason, symbol, paper, slot)
    }

    pub fn is_failure(&self) -> bool {
        matches!(self.kind, Kind::Failed { .. })
    }

    /// The outcome's `status` (CONTRACT §5); a failure is `skipped` there too, and the
    /// handler returns it as a Lambda error instead.
    pub fn status(&self) -> OutcomeStatus {
        match self.kind {
            Kind::Ordered { .. } => OutcomeStatus::Ordered,
            Kind::DryRun { .. } => OutcomeStatus::DryRun,
            _ => OutcomeStatus::Skipped,
        }
    }

    /// The handler's response (CONTRACT §5).
    pub fn outcome(&self, notified: bool) -> Outcome {
        Outcome {
            status: self.status(),
            reason: self.reason.clone(),
            symbol: self.symbol.clone(),
            paper: self.paper,
            order: self.order.as_ref().map(OrderSummary::from),
            notified,
        }
    }
}

/// The handler's JSON response (CONTRACT §5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub status: OutcomeStatus,
    pub reason: String,
    pub symbol: String,
    pub paper: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderSummary>,
    pub notified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    Ordered,
    Skipped,
    DryRun,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderSummary {
    pub client_order_id: String,
    pub id: String,
    pub side: &'static str,
    pub quantity: String,
    pub status: String,
    pub filled_quantity: String,
    pub filled_avg_price: Option<String>,
}

impl From<&OrderReport> for OrderSummary {
    fn from(order: &OrderReport) -> Self {
        Self {
            client_order_id: order.client_order_id.clone(),
            id: order.id.clone(),
            side: order.side.as_str(),
            quantity: order.quantity.to_string(),
            status: order.status.clone(),
            filled_quantity: order.filled_quantity.to_string(),
            filled_avg_price: order.filled_avg_price.as_ref().map(|p| p.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcome_json_follows_the_contract() {
        let mut report = CycleReport::new(
            Kind::Ordered { side: Side::Buy },
            "golden cross",
            "SPY",
            true,
            "2026-12-04T14:35:00Z",
        );
        report.order = Some(OrderReport {
            id: "o-1".into(),
            client_order_id: "alb-1".into(),
            side: Side::Buy,
            quantity: "10".parse().unwrap(),
            status: "filled".into(),
            filled_quantity: "10".parse().unwrap(),
            filled_avg_price: Some("501.25".parse().unwrap()),
        });
        assert_eq!(
            serde_json::to_value(report.outcome(true)).unwrap(),
            json!({
                "status": "ordered", "reason": "golden cross", "symbol": "SPY", "paper": true,
                "order": {"client_order_id": "alb-1", "id": "o-1", "side": "buy", "quantity": "10",
                          "status": "filled", "filled_quantity": "10", "filled_avg_price": "501.25"},
                "notified": true
            })
        );
        let skipped = CycleReport::new(Kind::MarketClosed, "market closed", "SPY", false, "s");
        assert_eq!(
            serde_json::to_value(skipped.outcome(false)).unwrap(),
            json!({"status": "skipped", "reason": "market closed", "symbol": "SPY", "paper": false, "notified": false})
        );
    }
}
