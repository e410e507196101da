//! Property tests of the three parsers that see outside input: the event, the secret and the
//! environment. None may panic on any input; their errors stay short, name what is wrong, and
//! never repeat a secret value (CONTRACT §6).

use alpaca_lambda_bot::config::Config;
use alpaca_lambda_bot::event::Invocation;
use alpaca_lambda_bot::secrets::Secrets;
use proptest::prelude::*;
use serde_json::{Map, Value};

const CASES: u32 = 256;

/// Field names the parsers look for, mixed with noise, so objects often hit the real paths.
const EVENT_FIELDS: &[&str] = &[
    "source",
    "detail-type",
    "detail",
    "id",
    "time",
    "resources",
    "scheduled_time",
    "schedule",
    "symbol",
    "quantity",
    "strategy",
    "dry_run",
];

/// Values the parsers recognise, so the strategies also reach past the first check.
const EVENT_STRINGS: &[&str] = &[
    "aws.events",
    "aws.scheduler",
    "Scheduled Event",
    "2026-12-04T14:35:00Z",
    "2026-12-04T14:35:00+01:00",
    "arn:aws:scheduler:us-east-1:123456789012:schedule/default/alpaca-bot",
    "SPY",
    "BRK.B",
    "golden_cross",
    "buy_and_hold",
    "1",
    "0.5",
    "-3",
    "{}",
    "",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(EVENT_STRINGS).prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        // Long strings: error messages must not grow with them.
        "[a-z.]{200,2000}".prop_map(Value::String),
    ]
}

fn key(fields: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(fields).prop_map(str::to_string),
        1 => ".{0,20}",
        1 => "[a-z_]{300,1000}",
    ]
}

fn json(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(fields), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An object built mostly from the real fields, the shape events actually have.
fn event_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(EVENT_FIELDS), json(EVENT_FIELDS)), 0..8)
        .prop_map(|entries| Value::Object(entries.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_event_parses_or_fails_briefly(event in prop_oneof![json(EVENT_FIELDS), event_object()]) {
        if let Err(err) = Invocation::parse(&event) {
            let text = err.to_string();
            prop_assert!(!text.trim().is_empty(), "empty error for {event}");
            prop_assert!(text.chars().count() < 300, "{} chars: {text}", text.chars().count());
        }
    }
}

const SECRET_FIELDS: &[&str] = &[
    "api_key",
    "api_secret",
    "discord_webhook_url",
    "trading_enabled",
    "discord_error_mention",
];

/// A recognisable secret value: long enough that finding it in an error is a leak, not chance.
fn secret_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]{8,40}",
        "[A-Za-z0-9]{8,20}[ !\"#%&'()*+,:;<=>?@{}]{1,4}[A-Za-z0-9]{0,10}",
        "https://[a-z]{8,12}\\.com/api/webhooks/[0-9]{17,19}/[A-Za-z0-9_-]{8,68}",
        "https://discord\\.com/api/webhooks/[0-9]{17,19}/[A-Za-z0-9_-]{60,68}x",
    ]
}

fn check_no_leak(secret: &str, values: &[String]) -> Result<(), TestCaseError> {
    match Secrets::parse(secret) {
        Ok(_) => {}
        Err(problem) => {
            let shown = problem.error.to_string();
            let debug = format!("{:?} {problem:?}", problem.error);
            prop_assert!(!shown.trim().is_empty());
            for value in values {
                // A trimmed value is what the parser keeps; look for both.
                for v in [value.as_str(), value.trim()] {
                    if v.len() >= 8 {
                        prop_assert!(!shown.contains(v), "error {shown:?} shows {v:?}");
                        prop_assert!(!debug.contains(v), "Debug {debug:?} shows {v:?}");
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_secret_string_parses_or_fails(raw in prop_oneof![".{0,200}", "\\{.{0,200}"]) {
        if let Err(problem) = Secrets::parse(&raw) {
            prop_assert!(!problem.error.to_string().trim().is_empty());
        }
    }

    #[test]
    fn secret_errors_never_show_secret_values(
        api_key in prop::option::of(secret_value()),
        api_secret in prop::option::of(secret_value()),
        webhook in prop::option::of(secret_value()),
        extra in prop::collection::vec((key(SECRET_FIELDS), json(SECRET_FIELDS)), 0..4),
        wrong_type in prop::option::of(prop::sample::select(SECRET_FIELDS)),
    ) {
        let mut object: Map<String, Value> = extra.into_iter().collect();
        let mut values = Vec::new();
        for (name, value) in [("api_key", api_key), ("api_secret", api_secret), ("discord_webhook_url", webhook)] {
            if let Some(value) = value {
                object.insert(name.into(), Value::String(value.clone()));
                values.push(value);
            }
        }
        if let Some(name) = wrong_type {
            object.insert(name.into(), Value::from(12345));
        }
        let secret = Value::Object(object).to_string();
        check_no_leak(&secret, &values)?;
        // The same values in a secret that is not quite JSON.
        check_no_leak(&secret[..secret.len() - 1], &values)?;
    }
}

const VARIABLES: &[&str] = &[
    "BOT_SECRET_ID",
    "TRADE_SYMBOL",
    "TRADE_QUANTITY",
    "PAPER_TRADING",
    "ALLOW_LIVE_TRADING",
    "STRATEGY",
    "SMA_SHORT_WINDOW",
    "SMA_LONG_WINDOW",
    "DRY_RUN",
    "TRADING_ENABLED",
    "APCA_API_BASE_URL",
    "APCA_API_DATA_URL",
    "APCA_DATA_FEED",
    "NOTIFY_VERBOSITY",
    "DISCORD_USERNAME",
    "DISCORD_AVATAR_URL",
    "MAX_EVENT_AGE_SECONDS",
    "SECRET_TTL_SECONDS",
];

fn env_value() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just(String::new()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("maybe".to_string()),
        Just("-3".to_string()),
        Just("40".to_string()),
        Just("100".to_string()),
        Just("0".to_string()),
        Just("SPY".to_string()),
        Just("buy_and_hold".to_string()),
        Just("http://127.0.0.1:1".to_string()),
        "[0-9]{1,22}",
        "[0-9.]{1,8}",
        ".{0,40}",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_environment_loads_or_names_a_variable(
        values in prop::collection::vec(env_value(), VARIABLES.len()),
    ) {
        let lookup = |name: &str| {
            VARIABLES
                .iter()
                .position(|v| *v == name)
                .and_then(|i| values[i].clone())
        };
        if let Err(err) = Config::from_lookup(lookup) {
            let text = err.to_string();
            prop_assert!(
                VARIABLES.iter().any(|v| text.contains(v)),
                "the error names no variable: {text}"
            );
        }
    }
}
