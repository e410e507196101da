//! Every Discord payload the renderer can produce, validated against Discord's own OpenAPI
//! schema (`IncomingWebhookRequestPartial` in contracts/discord-openapi.json) and the limits
//! the schema cannot express (6000 characters across embeds), plus the wording a trader
//! relies on: "Executed" only when filled, the failed stage named, nobody pinged by text.

use std::sync::LazyLock;

use alpaca_lambda_bot::broker::{Account, OrderReport, Side};
use alpaca_lambda_bot::config::Quantity;
use alpaca_lambda_bot::message::{self, Context, Message};
use alpaca_lambda_bot::notify::Mention;
use alpaca_lambda_bot::report::{CycleReport, Kind, Stage};
use alpaca_lambda_bot::strategy::{Action, Decision, SmaReading};
use bot_sandbox::discord::{MAX_EMBED_CHARS, embeds_size};
use chrono::{DateTime, Utc};
use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

const SPEC: &str = include_str!("../contracts/discord-openapi.json");
const TOKEN: &str = "SeCrEtWeBhOoKtOkEn_abc-123";
const ALL_STAGES: [Stage; 10] = [
    Stage::Event,
    Stage::Config,
    Stage::Secrets,
    Stage::Clock,
    Stage::Account,
    Stage::Position,
    Stage::Asset,
    Stage::Bars,
    Stage::Strategy,
    Stage::Order,
];

/// `IncomingWebhookRequestPartial` with the spec's components alongside, so every
/// `#/components/schemas/...` reference resolves inside one document. The spec is OpenAPI
/// 3.1, whose schemas are JSON Schema 2020-12 (`type: [.., "null"]`, `oneOf` with
/// `{"type": "null"}` rather than 3.0's `nullable`).
fn validator(strict: bool) -> Validator {
    let spec: Value = serde_json::from_str(SPEC).expect("the spec is JSON");
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3.1"),
        "the dialect assumptions below are 3.1's"
    );
    let mut components = spec["components"].clone();
    if strict {
        close_objects(&mut components);
    }
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/components/schemas/IncomingWebhookRequestPartial",
        "components": components,
    });
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the wrapper schema compiles")
}

/// The spec leaves objects open (`additionalProperties` unset), so a misspelt key such as
/// `colour` would pass yet be ignored by Discord. The strict variant closes every object
/// that lists its properties.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

static OFFICIAL: LazyLock<Validator> = LazyLock::new(|| validator(false));
static STRICT: LazyLock<Validator> = LazyLock::new(|| validator(true));

fn schema_errors(payload: &Value) -> Vec<String> {
    OFFICIAL
        .iter_errors(payload)
        .chain(STRICT.iter_errors(payload))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// All visible text of a payload, for wording and leak checks.
fn all_text(payload: &Value) -> String {
    let mut out = String::new();
    collect_strings(payload, &mut out);
    out
}

fn collect_strings(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// Every rule a payload must keep, whatever it says.
fn assert_sendable(name: &str, message: &Message) -> Value {
    let payload = serde_json::to_value(message).unwrap();
    let errors = schema_errors(&payload);
    assert!(
        errors.is_empty(),
        "{name}: schema errors {errors:#?}\n{payload:#}"
    );
    let content = payload["content"].as_str().unwrap_or("");
    assert!(content.chars().count() <= 2000, "{name}: content too long");
    assert!(
        !content.trim().is_empty() || payload["embeds"].as_array().is_some_and(|e| !e.is_empty()),
        "{name}: an empty message is a 400"
    );
    assert!(
        embeds_size(&payload) <= MAX_EMBED_CHARS,
        "{name}: {} > {MAX_EMBED_CHARS}",
        embeds_size(&payload)
    );
    assert_eq!(
        payload["allowed_mentions"]["parse"],
        json!([]),
        "{name}: text must never ping"
    );
    let text = all_text(&payload);
    for ping in ["@everyone", "@here"] {
        assert!(!text.contains(ping), "{name}: raw {ping} in {text}");
    }
    assert!(!text.contains(TOKEN), "{name}: the webhook token leaked");
    payload
}

/// `<@123>`, `<@!123>` or `<@&123>`: what Discord renders as a mention.
fn has_mention_syntax(text: &str) -> bool {
    text.match_indices("<@").any(|(at, _)| {
        text[at + 2..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '&' || c == '!')
    })
}

fn context() -> Context<'static> {
    Context {
        version: "0.1.0",
        now: DateTime::parse_from_rfc3339("2026-12-04T14:35:02Z")
            .unwrap()
            .with_timezone(&Utc),
        error_mention: None,
        username: None,
        avatar_url: None,
    }
}

fn order(side: Side, status: &str, filled: &str, price: Option<&str>) -> OrderReport {
    OrderReport {
        id: "61e69015-8549-4bfd-b9c3-01e75843f47d".into(),
        client_order_id: "alb-20261204T1435-spy-buy-3f9a".into(),
        side,
        quantity: "10".parse().unwrap(),
        status: status.into(),
        filled_quantity: filled.parse().unwrap(),
        filled_avg_price: price.map(|p| p.parse().unwrap()),
    }
}

fn decision(action: Action, signal: &'static str) -> Decision {
    Decision {
        action,
        reason: "short SMA 501.20 crossed above long SMA 499.80".into(),
        signal,
        sma: Some(SmaReading {
            short: 501.2,
            long: 499.8,
            previous_short: 498.0,
            previous_long: 499.0,
        }),
        last_close: Some(503.11),
    }
}

fn account() -> Account {
    Account {
        status: "ACTIVE".into(),
        blocked: false,
        equity: "100000.25".parse().unwrap(),
        buying_power: "200000.5".parse().unwrap(),
    }
}

fn full(kind: Kind, reason: &str) -> CycleReport {
    let mut report = CycleReport::new(kind, reason, "SPY", true, "2026-12-04T14:35Z");
    report.strategy = Some("golden_cross");
    report.account = Some(account());
    report.client_order_id = Some("alb-20261204T1435-spy-buy-3f9a".into());
    report
}

fn qty(q: &str) -> Quantity {
    Quantity::parse(q).unwrap()
}

fn bought_filled() -> CycleReport {
    let mut r = full(Kind::Ordered { side: Side::Buy }, "golden cross");
    r.decision = Some(decision(Action::Buy(qty("10")), "golden_cross"));
    r.order = Some(order(Side::Buy, "filled", "10", Some("501.25")));
    r
}

fn bought_submitted(status: &str) -> CycleReport {
    let mut r = full(Kind::Ordered { side: Side::Buy }, "golden cross");
    r.decision = Some(decision(Action::Buy(qty("10")), "golden_cross"));
    let filled = if status == "partially_filled" {
        "4"
    } else {
        "0"
    };
    let price = (status == "partially_filled").then_some("501.1");
    r.order = Some(order(Side::Buy, status, filled, price));
    r
}

fn sold_filled() -> CycleReport {
    let mut r = full(Kind::Ordered { side: Side::Sell }, "death cross");
    r.decision = Some(decision(Action::Sell(qty("10")), "death_cross"));
    r.order = Some(order(Side::Sell, "filled", "10", Some("499.5")));
    r
}

fn held() -> CycleReport {
    let mut r = full(Kind::Held, "no cross: short SMA stays above long SMA");
    r.decision = Some(decision(Action::Hold, "no_cross"));
    r
}

fn dry_run(side: Option<Side>) -> CycleReport {
    let mut r = full(Kind::DryRun { side }, "DRY_RUN is set");
    r.decision = Some(match side {
        Some(Side::Buy) => decision(Action::Buy(qty("10")), "golden_cross"),
        Some(Side::Sell) => decision(Action::Sell(qty("10")), "death_cross"),
        None => decision(Action::Hold, "no_cross"),
    });
    r
}

fn failed(stage: Stage, error: &str) -> CycleReport {
    CycleReport::failed(stage, error.into(), "SPY", true, "2026-12-04T14:35Z")
}

/// Every report shape the cycle can produce, ordinary and extreme.
fn every_report() -> Vec<(String, CycleReport)> {
    let mut all: Vec<(String, CycleReport)> = vec![
        ("buy filled".into(), bought_filled()),
        ("buy accepted".into(), bought_submitted("accepted")),
        ("buy new".into(), bought_submitted("new")),
        (
            "buy partially filled".into(),
            bought_submitted("partially_filled"),
        ),
        ("buy canceled".into(), bought_submitted("canceled")),
        ("sell filled".into(), sold_filled()),
        ("held".into(), held()),
        (
            "market closed".into(),
            full(Kind::MarketClosed, "market closed"),
        ),
        (
            "duplicate".into(),
            full(Kind::Duplicate, "duplicate delivery of this slot"),
        ),
        (
            "skipped".into(),
            full(Kind::Skipped, "trading_enabled is false (kill switch)"),
        ),
        ("dry run buy".into(), dry_run(Some(Side::Buy))),
        ("dry run sell".into(), dry_run(Some(Side::Sell))),
        ("dry run hold".into(), dry_run(None)),
    ];
    let mut ordered_without_order = bought_filled();
    ordered_without_order.order = None;
    all.push(("ordered, order unknown".into(), ordered_without_order));
    for stage in ALL_STAGES {
        all.push((
            format!("failed {}", stage.as_str()),
            failed(
                stage,
                "insufficient buying power (Alpaca: insufficient buying power)",
            ),
        ));
    }

    // Extremes.
    all.push((
        "10 000-char error".into(),
        failed(Stage::Order, &"x".repeat(10_000)),
    ));
    all.push((
        "10 000-char multibyte error".into(),
        failed(Stage::Order, &"é🚀".repeat(5_000)),
    ));
    all.push((
        "markdown and pings in error".into(),
        failed(
            Stage::Order,
            "@everyone @here <@123> <@&456> ```\n# heading\n**bold** [link](https://x.y) ``` `",
        ),
    ));
    all.push((
        "webhook URL in error".into(),
        failed(
            Stage::Secrets,
            &format!("POST https://discord.com/api/v10/webhooks/123/{TOKEN}?wait=true failed"),
        ),
    ));
    let mut long_symbol = bought_filled();
    long_symbol.symbol = "ABCDEFGHIJKLMNO".into();
    all.push(("15-char symbol".into(), long_symbol));
    let mut huge = bought_filled();
    huge.symbol = "@everyone_*`".into();
    huge.reason = "r".repeat(10_000);
    huge.slot = "s".repeat(3_000);
    huge.client_order_id = Some("c".repeat(2_000));
    if let Some(o) = huge.order.as_mut() {
        o.quantity = "123456789012345678901234567890.123456789".parse().unwrap();
        o.filled_quantity = o.quantity.clone();
        o.filled_avg_price = Some("98765432109876543210.987654321".parse().unwrap());
        o.id = "i".repeat(2_000);
        o.status = "filled".into();
    }
    huge.decision = Some(Decision {
        action: Action::Buy(qty("123456789012345678901234567890")),
        reason: "huge".into(),
        signal: "golden_cross",
        sma: Some(SmaReading {
            short: 1e300,
            long: -1e300,
            previous_short: f64::NAN,
            previous_long: f64::INFINITY,
        }),
        last_close: Some(f64::MAX),
    });
    huge.account = Some(Account {
        status: "ACTIVE".into(),
        blocked: false,
        equity: "99999999999999999999999999999999999.99".parse().unwrap(),
        buying_power: "-1".parse().unwrap(),
    });
    all.push(("huge values".into(), huge));
    let mut nan = held();
    nan.decision.as_mut().unwrap().sma = Some(SmaReading {
        short: f64::NAN,
        long: f64::NEG_INFINITY,
        previous_short: 0.0,
        previous_long: 0.0,
    });
    all.push(("NaN SMAs".into(), nan));
    let mut live = bought_filled();
    live.paper = false;
    all.push(("live buy filled".into(), live));
    all
}

#[test]
fn the_schema_rejects_what_discord_would() {
    // The validators must be able to fail, or every other test here proves nothing.
    let good = json!({"content": "hi", "allowed_mentions": {"parse": []}});
    assert!(
        schema_errors(&good).is_empty(),
        "{:?}",
        schema_errors(&good)
    );
    for bad in [
        json!({"content": "x".repeat(2001)}),
        json!({"embeds": [{"title": "t".repeat(257)}]}),
        json!({"embeds": [{"description": "d".repeat(4097)}]}),
        json!({"embeds": [{"fields": [{"name": "n", "value": "v".repeat(1025)}]}]}),
        json!({"embeds": [{"fields": [{"name": "n"}]}]}),
        json!({"embeds": [{"color": 16777216}]}),
        json!({"embeds": [{"timestamp": "yesterday"}]}),
        json!({"embeds": [{"footer": {"text": "f".repeat(2049)}}]}),
        json!({"embeds": vec![json!({"title": "t"}); 11]}),
        json!({"allowed_mentions": {"parse": ["nobody"]}}),
        json!({"allowed_mentions": {"users": ["0123"]}}),
        json!({"username": ""}),
        json!({"avatar_url": "not a uri"}),
        json!({"embeds": [{"colour": 1}]}),
        json!({"flags": "4096"}),
    ] {
        assert!(!schema_errors(&bad).is_empty(), "accepted {bad}");
    }
    let fields = vec![json!({"name": "n", "value": "v"}); 26];
    assert!(!schema_errors(&json!({"embeds": [{"fields": fields}]})).is_empty());
    let over =
        json!({"embeds": [{"description": "d".repeat(4096)}, {"description": "d".repeat(2000)}]});
    assert!(schema_errors(&over).is_empty());
    assert!(
        embeds_size(&over) > MAX_EMBED_CHARS,
        "the 6000 check must see across embeds"
    );
}

#[test]
fn every_report_renders_a_sendable_message() {
    let user = Mention::User("80351110224678912".into());
    let role = Mention::Role("41771983423143936".into());
    let mut count = 0;
    for (name, report) in every_report() {
        for mention in [None, Some(&user), Some(&role)] {
            let context = Context {
                error_mention: mention,
                ..context()
            };
            let payload = assert_sendable(&name, &message::render(&report, &context));
            count += 1;
            let mentions = &payload["allowed_mentions"];
            match (report.is_failure(), mention) {
                (true, Some(Mention::User(id))) => {
                    assert_eq!(mentions["users"], json!([id]), "{name}");
                    assert!(mentions.get("roles").is_none(), "{name}");
                    assert!(
                        payload["content"]
                            .as_str()
                            .unwrap()
                            .starts_with(&format!("<@{id}>"))
                    );
                }
                (true, Some(Mention::Role(id))) => {
                    assert_eq!(mentions["roles"], json!([id]), "{name}");
                    assert!(mentions.get("users").is_none(), "{name}");
                    assert!(
                        payload["content"]
                            .as_str()
                            .unwrap()
                            .starts_with(&format!("<@&{id}>"))
                    );
                }
                _ => {
                    assert!(mentions.get("users").is_none(), "{name}: {mentions}");
                    assert!(mentions.get("roles").is_none(), "{name}: {mentions}");
                    let content = payload["content"].as_str().unwrap();
                    assert!(!has_mention_syntax(content), "{name}: {content}");
                }
            }
        }
    }
    assert!(count >= 3 * 30, "only {count} payloads checked");
}

#[test]
fn lifecycle_and_identity_messages_are_sendable() {
    let long = "L".repeat(5_000);
    for (name, message) in [
        ("started", message::lifecycle(true, "SPY")),
        (
            "started, 15-char symbol",
            message::lifecycle(true, "ABCDEFGHIJKLMNO"),
        ),
        ("started, absurd symbol", message::lifecycle(true, &long)),
        (
            "started, ping symbol",
            message::lifecycle(true, "@everyone"),
        ),
        ("finished", message::lifecycle(false, "SPY")),
    ] {
        let payload = assert_sendable(name, &message);
        assert_eq!(
            payload["flags"],
            json!(4096),
            "{name}: lifecycle notes are silent"
        );
    }

    let named = Context {
        username: Some("Golden Cross Bot"),
        avatar_url: Some("https://example.com/bot.png"),
        ..context()
    };
    let payload = assert_sendable("identity", &message::render(&bought_filled(), &named));
    assert_eq!(payload["username"], "Golden Cross Bot");
    assert_eq!(payload["avatar_url"], "https://example.com/bot.png");

    let no_identity = assert_sendable(
        "no identity",
        &message::render(&bought_filled(), &context()),
    );
    assert!(no_identity.get("username").is_none());
    assert!(no_identity.get("avatar_url").is_none());

    // What Discord answers 400 to is dropped, not sent.
    let too_long = "n".repeat(81);
    for (username, avatar) in [
        ("My Discord Bot", "javascript:alert(1)"),
        ("clyde", "not a url"),
        ("", "ftp://example.com/a.png"),
        ("   ", "https://"),
        (
            too_long.as_str(),
            &*format!("https://example.com/{}", "a".repeat(2100)),
        ),
        ("everyone", "https://example.com/a b.png"),
    ] {
        let context = Context {
            username: Some(username),
            avatar_url: Some(avatar),
            ..context()
        };
        let payload = assert_sendable(username, &message::render(&held(), &context));
        assert!(payload.get("username").is_none(), "{username:?} kept");
        if avatar != "https://example.com/a b.png" {
            assert!(payload.get("avatar_url").is_none(), "{avatar:?} kept");
        }
    }
    let lifecycle = message::lifecycle(true, "SPY").with_identity(Some("Bot"), None);
    assert_eq!(
        assert_sendable("lifecycle identity", &lifecycle)["username"],
        "Bot"
    );
}

fn headline(report: &CycleReport) -> String {
    message::render(report, &context()).content
}

fn embed(report: &CycleReport) -> Value {
    serde_json::to_value(message::render(report, &context())).unwrap()["embeds"][0].clone()
}

fn field<'a>(embed: &'a Value, name: &str) -> Option<&'a str> {
    embed["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["value"].as_str())
}

#[test]
fn executed_only_when_alpaca_reports_the_fill() {
    let filled = headline(&bought_filled());
    assert!(filled.contains("Executed"), "{filled}");
    assert!(!filled.contains("Submitted"), "{filled}");
    assert!(
        filled.contains("501.25") && filled.contains("BUY"),
        "{filled}"
    );
    let sold = headline(&sold_filled());
    assert!(sold.contains("SELL Order Executed"), "{sold}");

    for status in [
        "new",
        "accepted",
        "pending_new",
        "partially_filled",
        "canceled",
    ] {
        let text = headline(&bought_submitted(status));
        assert!(text.contains("Submitted"), "{status}: {text}");
        assert!(!text.contains("Executed"), "{status}: {text}");
        assert!(
            text.contains(&status.replace('_', "\\_")),
            "{status}: {text}"
        );
    }
    let mut unknown = bought_filled();
    unknown.order = None;
    let text = headline(&unknown);
    assert!(
        text.contains("Submitted") && !text.contains("Executed"),
        "{text}"
    );
    // Dry runs never claim an order.
    for side in [Some(Side::Buy), Some(Side::Sell), None] {
        let text = headline(&dry_run(side));
        assert!(
            text.contains("DRY RUN") && text.contains("no order sent"),
            "{text}"
        );
        assert!(
            !text.contains("Executed") && !text.contains("Submitted"),
            "{text}"
        );
    }
    assert!(headline(&dry_run(Some(Side::Buy))).contains("would BUY 10"));
}

#[test]
fn errors_name_the_stage_and_alpacas_message() {
    for stage in ALL_STAGES {
        let report = failed(
            stage,
            "insufficient buying power (Alpaca: insufficient buying power)",
        );
        let message = message::render(&report, &context());
        assert!(message.content.contains("ERROR"), "{}", message.content);
        assert!(
            message
                .content
                .contains(&format!("{} stage failed", stage.as_str())),
            "{}",
            message.content
        );
        assert!(message.content.contains("insufficient buying power"));
        let embed = serde_json::to_value(&message.embeds[0]).unwrap();
        assert!(embed["title"].as_str().unwrap().contains(stage.as_str()));
        assert_eq!(field(&embed, "Failed stage"), Some(stage.as_str()));
        assert!(
            embed["description"]
                .as_str()
                .unwrap()
                .contains("Alpaca: insufficient buying power")
        );
        assert_eq!(message.flags, None, "errors must push");
    }
    let long = message::render(&failed(Stage::Order, &"x".repeat(10_000)), &context());
    assert!(
        long.embeds[0]
            .description
            .as_deref()
            .unwrap()
            .contains("[truncated]")
    );
    assert!(long.content.contains("[truncated]"), "{}", long.content);
    let leaky = failed(
        Stage::Secrets,
        &format!("https://discord.com/api/webhooks/123/{TOKEN} refused"),
    );
    let text = all_text(&serde_json::to_value(message::render(&leaky, &context())).unwrap());
    assert!(
        !text.contains(TOKEN) && text.contains("[REDACTED]"),
        "{text}"
    );
}

#[test]
fn embeds_carry_the_details_a_trader_checks() {
    let e = embed(&bought_filled());
    for (name, want) in [
        ("Symbol", "SPY"),
        ("Side", "BUY"),
        ("Quantity", "10"),
        ("Mode", "PAPER"),
        ("Strategy", "golden\\_cross"),
        ("Signal", "golden\\_cross"),
        ("Short SMA", "501.20"),
        ("Long SMA", "499.80"),
        ("Last close", "503.11"),
        ("Order status", "filled"),
        ("Filled qty", "10"),
        ("Fill price", "501.25"),
        ("Order id", "`61e69015-8549-4bfd-b9c3-01e75843f47d`"),
        ("client_order_id", "`alb-20261204T1435-spy-buy-3f9a`"),
        ("Equity", "100000.25"),
        ("Buying power", "200000.5"),
    ] {
        assert_eq!(field(&e, name), Some(want), "{name} in {e:#}");
    }
    let footer = e["footer"]["text"].as_str().unwrap();
    assert!(
        footer.contains("2026-12-04T14:35Z") && footer.contains("0.1.0"),
        "{footer}"
    );
    assert_eq!(e["timestamp"], "2026-12-04T14:35:02Z");

    let dry = embed(&dry_run(Some(Side::Sell)));
    assert_eq!(field(&dry, "Side"), Some("SELL"));
    assert_eq!(field(&dry, "Quantity"), Some("10"));
    assert_eq!(field(&dry, "Order id"), None);

    let mut live = bought_filled();
    live.paper = false;
    let live_message = message::render(&live, &context());
    assert!(
        live_message.content.contains("[LIVE]"),
        "{}",
        live_message.content
    );
    assert!(field(&embed(&live), "Mode").unwrap().contains("LIVE"));
    assert!(headline(&bought_filled()).contains("[PAPER]"));
}

#[test]
fn colours_and_push_by_outcome() {
    let colour = |r: &CycleReport| embed(r)["color"].as_u64().unwrap();
    let bought = colour(&bought_filled());
    let sold = colour(&sold_filled());
    let quiet = colour(&held());
    let dry = colour(&dry_run(Some(Side::Buy)));
    let error = colour(&failed(Stage::Bars, "boom"));
    let distinct: std::collections::HashSet<_> = [bought, sold, quiet, dry, error].into();
    assert_eq!(distinct.len(), 5, "each outcome has its own colour");
    assert_eq!(colour(&full(Kind::MarketClosed, "closed")), quiet);

    let silent = |r: &CycleReport| message::render(r, &context()).flags == Some(4096);
    assert!(silent(&held()));
    assert!(silent(&full(Kind::MarketClosed, "closed")));
    assert!(silent(&full(Kind::Duplicate, "dup")));
    assert!(silent(&full(Kind::Skipped, "kill switch")));
    assert!(!silent(&bought_filled()));
    assert!(!silent(&sold_filled()));
    assert!(!silent(&dry_run(None)));
    assert!(!silent(&failed(Stage::Order, "boom")));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Arbitrary outside text (Alpaca's messages, symbols, reasons, slots, ids) never makes
    /// a payload Discord would refuse, nor one that pings.
    #[test]
    fn any_text_renders_sendable(
        error in ".{0,6000}",
        symbol in ".{0,40}",
        reason in ".{0,5000}",
        slot in ".{0,3000}",
        id in ".{0,1500}",
        stage in 0..ALL_STAGES.len(),
        failure in proptest::bool::ANY,
    ) {
        let mut report = if failure {
            failed(ALL_STAGES[stage], &error)
        } else {
            bought_filled()
        };
        report.symbol = symbol;
        report.reason = reason;
        report.slot = slot;
        report.client_order_id = Some(id);
        let user = Mention::User("80351110224678912".into());
        let context = Context { error_mention: Some(&user), ..context() };
        assert_sendable("proptest", &message::render(&report, &context));
    }
}
