//! The invocation's event (CONTRACT §3) and its schedule slot, the unit of idempotency (§4).
//!
//! Events arrive as `serde_json::Value` and are interpreted here: an EventBridge rule's
//! scheduled event, the Scheduler's default payload, the Scheduler `Input` written in
//! `template.yaml`, or a manual event. Anything else is rejected before any broker call.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{Quantity, Symbol};
use crate::strategy::StrategyKind;

/// Where the event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    EventBridgeRule,
    SchedulerDefault,
    SchedulerInput,
    Manual,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventBridgeRule => "eventbridge_rule",
            Self::SchedulerDefault => "scheduler_default",
            Self::SchedulerInput => "scheduler_input",
            Self::Manual => "manual",
        }
    }
}

/// What an event may override for its own invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub symbol: Option<Symbol>,
    pub quantity: Option<Quantity>,
    pub strategy: Option<StrategyKind>,
    pub dry_run: Option<bool>,
}

/// A parsed event: its source, its scheduled time and schedule, and its overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub source: EventSource,
    /// When the schedule fired, to the second as given; `None` for a manual event.
    pub scheduled_time: Option<DateTime<Utc>>,
    /// The schedule or rule ARN, when given.
    pub schedule: Option<String>,
    pub overrides: Overrides,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    #[error("the event must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("unknown event source {0:?}: expected aws.events, aws.scheduler, or no source")]
    UnknownSource(String),
    #[error("event field {field:?} is invalid: expected {expected}")]
    InvalidField {
        field: &'static str,
        expected: &'static str,
    },
    #[error("event field {0:?} is required for this source")]
    MissingField(&'static str),
    #[error("unknown event field {0:?}: expected only {fields}", fields = INPUT_FIELDS.join(", "))]
    UnknownField(String),
}

/// The fields a direct input event may carry (CONTRACT §3.2).
pub const INPUT_FIELDS: [&str; 6] = [
    "scheduled_time",
    "schedule",
    "symbol",
    "quantity",
    "strategy",
    "dry_run",
];

impl Invocation {
    pub fn parse(event: &Value) -> Result<Self, EventError> {
        let object = event
            .as_object()
            .ok_or_else(|| EventError::NotAnObject(json_kind(event)))?;
        match object.get("source") {
            None => Self::parse_input(object),
            Some(Value::String(source)) if source == "aws.events" => {
                Self::parse_envelope(object, EventSource::EventBridgeRule)
            }
            Some(Value::String(source)) if source == "aws.scheduler" => {
                Self::parse_envelope(object, EventSource::SchedulerDefault)
            }
            Some(Value::String(other)) => Err(EventError::UnknownSource(truncate(other))),
            Some(other) => Err(EventError::UnknownSource(json_kind(other).into())),
        }
    }

    /// An EventBridge envelope: the rule's scheduled event or the Scheduler's default payload.
    fn parse_envelope(
        object: &serde_json::Map<String, Value>,
        source: EventSource,
    ) -> Result<Self, EventError> {
        let time = object.get("time").ok_or(EventError::MissingField("time"))?;
        let scheduled_time = Some(parse_time("time", time)?);
        let schedule = match object.get("resources") {
            None | Some(Value::Null) => None,
            Some(Value::Array(resources)) if resources.first().is_none_or(Value::is_string) => {
                resources.first().and_then(Value::as_str).map(str::to_owned)
            }
            Some(_) => {
                return Err(EventError::InvalidField {
                    field: "resources",
                    expected: "an array of ARN strings",
                });
            }
        };
        Ok(Self {
            source,
            scheduled_time,
            schedule,
            overrides: Overrides::default(),
        })
    }

    /// The Scheduler `Input` of template.yaml, or a manual event: the same optional fields.
    fn parse_input(object: &serde_json::Map<String, Value>) -> Result<Self, EventError> {
        if let Some(unknown) = object.keys().find(|k| !INPUT_FIELDS.contains(&k.as_str())) {
            // A typo such as "dryrun" must not silently trade for real.
            return Err(EventError::UnknownField(truncate(unknown)));
        }
        let scheduled_time = object
            .get("scheduled_time")
            .map(|v| parse_time("scheduled_time", v))
            .transpose()?;
        let schedule = optional_string(object, "schedule", "a schedule ARN or name")?;
        let symbol = optional_string(object, "symbol", "a ticker symbol")?
            .map(|raw| {
                Symbol::parse(&raw).map_err(|_| EventError::InvalidField {
                    field: "symbol",
                    expected: "a ticker symbol of 1 to 15 letters, digits, '.' or '/'",
                })
            })
            .transpose()?;
        let quantity = object.get("quantity").map(parse_quantity).transpose()?;
        let strategy = optional_string(object, "strategy", "golden_cross or buy_and_hold")?
            .map(|raw| {
                StrategyKind::parse(&raw).map_err(|_| EventError::InvalidField {
                    field: "strategy",
                    expected: "golden_cross or buy_and_hold",
                })
            })
            .transpose()?;
        let dry_run = match object.get("dry_run") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(EventError::InvalidField {
                    field: "dry_run",
                    expected: "true or false",
                });
            }
        };
        let source = if scheduled_time.is_some() {
            EventSource::SchedulerInput
        } else {
            EventSource::Manual
        };
        Ok(Self {
            source,
            scheduled_time,
            schedule,
            overrides: Overrides {
                symbol,
                quantity,
                strategy,
                dry_run,
            },
        })
    }

    /// The schedule slot: what makes two deliveries "the same" (CONTRACT §4).
    pub fn slot(&self, request_id: &str) -> Slot {
        match self.scheduled_time {
            Some(time) => Slot::Scheduled {
                minute: truncate_to_minute(time),
                schedule: self.schedule.clone(),
            },
            None => Slot::Manual {
                request_id: request_id.to_string(),
            },
        }
    }
}

/// The idempotency unit. Every order of a slot carries a `client_order_id` derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Scheduled {
        minute: DateTime<Utc>,
        schedule: Option<String>,
    },
    /// A manual event without `scheduled_time` is its own slot. The Lambda request id is
    /// kept across Lambda's own retries of an asynchronous invocation.
    Manual { request_id: String },
}

impl Slot {
    /// A short label for logs, the outcome and Discord footers.
    pub fn label(&self) -> String {
        match self {
            Slot::Scheduled { minute, .. } => minute.to_rfc3339_opts(SecondsFormat::Secs, true),
            Slot::Manual { request_id } => format!("manual {}", truncate(request_id)),
        }
    }

    /// Deterministic, at most 48 characters (Alpaca allows 128): readable parts first,
    /// then a hash of everything that identifies the slot, the symbol and the side.
    pub fn client_order_id(&self, symbol: &Symbol, side: &str) -> String {
        let mut hasher = Sha256::new();
        let readable = match self {
            Slot::Scheduled { minute, schedule } => {
                hasher.update(b"scheduled\0");
                hasher.update(minute.to_rfc3339().as_bytes());
                hasher.update(b"\0");
                hasher.update(schedule.as_deref().unwrap_or("").as_bytes());
                minute.format("%Y%m%dT%H%M").to_string()
            }
            Slot::Manual { request_id } => {
                hasher.update(b"manual\0");
                hasher.update(request_id.as_bytes());
                "manual".to_string()
            }
        };
        hasher.update(b"\0");
        hasher.update(symbol.as_str().as_bytes());
        hasher.update(b"\0");
        hasher.update(side.as_bytes());
        let digest = hasher.finalize();
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let short_symbol: String = symbol
            .as_str()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(8)
            .collect();
        format!("alb-{readable}-{short_symbol}-{side}-{hash}")
    }
}

fn truncate_to_minute(time: DateTime<Utc>) -> DateTime<Utc> {
    time.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(time)
}

fn parse_time(field: &'static str, value: &Value) -> Result<DateTime<Utc>, EventError> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or(EventError::InvalidField {
            field,
            expected: "an RFC 3339 time such as 2026-12-04T14:35:00Z",
        })
}

fn parse_quantity(value: &Value) -> Result<Quantity, EventError> {
    let invalid = EventError::InvalidField {
        field: "quantity",
        expected: "a positive number of shares, as a number or a string",
    };
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(invalid),
    };
    Quantity::parse(&raw).map_err(|_| invalid)
}

fn optional_string(
    object: &serde_json::Map<String, Value>,
    field: &'static str,
    expected: &'static str,
) -> Result<Option<String>, EventError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EventError::InvalidField { field, expected }),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Keeps error messages bounded whatever the caller sent.
fn truncate(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spy() -> Symbol {
        Symbol::parse("SPY").unwrap()
    }

    #[test]
    fn rule_event_uses_time_and_rule() {
        let inv = Invocation::parse(&json!({
            "version": "0", "id": "x", "source": "aws.events", "detail-type": "Scheduled Event",
            "account": "1", "time": "2026-12-04T14:35:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:1:rule/bot"], "detail": {}
        }))
        .unwrap();
        assert_eq!(inv.source, EventSource::EventBridgeRule);
        assert_eq!(
            inv.schedule.as_deref(),
            Some("arn:aws:events:us-east-1:1:rule/bot")
        );
        assert_eq!(
            inv.slot("req").label(),
            "2026-12-04T14:35:00Z",
            "slot is the scheduled minute"
        );
    }

    #[test]
    fn scheduler_default_payload_has_a_string_detail() {
        let inv = Invocation::parse(&json!({
            "version": "0", "id": "x", "source": "aws.scheduler", "detail-type": "Scheduled Event",
            "time": "2026-12-04T14:35:00Z", "resources": ["arn:aws:scheduler:us-east-1:1:schedule/default/bot"],
            "detail": "{}"
        }))
        .unwrap();
        assert_eq!(inv.source, EventSource::SchedulerDefault);
    }

    #[test]
    fn scheduler_input_carries_overrides() {
        let inv = Invocation::parse(&json!({
            "scheduled_time": "2026-12-04T14:35:07Z", "schedule": "arn:s",
            "symbol": "qqq", "quantity": 2.5, "strategy": "buy_and_hold", "dry_run": true
        }))
        .unwrap();
        assert_eq!(inv.source, EventSource::SchedulerInput);
        assert_eq!(inv.overrides.symbol.unwrap().as_str(), "QQQ");
        assert_eq!(inv.overrides.quantity.unwrap().to_string(), "2.5");
        assert_eq!(inv.overrides.strategy, Some(StrategyKind::BuyAndHold));
        assert_eq!(inv.overrides.dry_run, Some(true));
    }

    #[test]
    fn empty_object_is_a_manual_event() {
        let inv = Invocation::parse(&json!({})).unwrap();
        assert_eq!(inv.source, EventSource::Manual);
        assert_eq!(
            inv.slot("abc-123"),
            Slot::Manual {
                request_id: "abc-123".into()
            }
        );
    }

    #[test]
    fn bad_events_are_rejected_with_a_named_reason() {
        for (event, needle) in [
            (json!([]), "an array"),
            (json!("tick"), "a string"),
            (json!(null), "null"),
            (json!({"source": "aws.s3"}), "aws.s3"),
            (json!({"source": "aws.events"}), "time"),
            (json!({"source": "aws.events", "time": "yesterday"}), "time"),
            (json!({"dryrun": true}), "dryrun"),
            (json!({"quantity": -1}), "quantity"),
            (json!({"quantity": "1e3"}), "quantity"),
            (json!({"dry_run": "yes"}), "dry_run"),
            (json!({"strategy": "yolo"}), "strategy"),
            (json!({"symbol": ""}), "symbol"),
            (json!({"scheduled_time": 5}), "scheduled_time"),
        ] {
            let err = Invocation::parse(&event).unwrap_err().to_string();
            assert!(err.contains(needle), "{event}: {err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn client_order_id_depends_only_on_the_slot_symbol_and_side() {
        let a =
            Invocation::parse(&json!({"scheduled_time": "2026-12-04T14:35:00Z", "schedule": "s1"}))
                .unwrap();
        let a_later_second = Invocation::parse(
            &json!({"scheduled_time": "2026-12-04T14:35:59.9Z", "schedule": "s1"}),
        )
        .unwrap();
        let other_schedule =
            Invocation::parse(&json!({"scheduled_time": "2026-12-04T14:35:00Z", "schedule": "s2"}))
                .unwrap();
        let next_minute =
            Invocation::parse(&json!({"scheduled_time": "2026-12-04T14:36:00Z", "schedule": "s1"}))
                .unwrap();

        let id = a.slot("r1").client_order_id(&spy(), "buy");
        assert_eq!(
            id,
            a.slot("r2").client_order_id(&spy(), "buy"),
            "request id must not matter"
        );
        assert_eq!(id, a_later_second.slot("r").client_order_id(&spy(), "buy"));
        assert!(id.starts_with("alb-20261204T1435-SPY-buy-"), "{id}");
        assert!(id.len() <= 48);
        for other in [
            other_schedule.slot("r1").client_order_id(&spy(), "buy"),
            next_minute.slot("r1").client_order_id(&spy(), "buy"),
            a.slot("r1").client_order_id(&spy(), "sell"),
            a.slot("r1")
                .client_order_id(&Symbol::parse("QQQ").unwrap(), "buy"),
        ] {
            assert_ne!(id, other);
        }
    }

    #[test]
    fn manual_slots_differ_by_request() {
        let manual = Invocation::parse(&json!({})).unwrap();
        assert_ne!(
            manual.slot("r1").client_order_id(&spy(), "buy"),
            manual.slot("r2").client_order_id(&spy(), "buy")
        );
    }
}
