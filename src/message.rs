//! The Discord message of a [`CycleReport`]: wording, embeds and Discord's limits. Pure.
//!
//! A plain headline in `content` (what a phone's push notification shows) and one embed with
//! the details. Wording is honest: "Executed" only when Alpaca reports the fill. Every
//! message fits Discord's limits, truncated with a visible marker, and mentions nobody unless
//! an error ping was configured.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::broker::Side;
use crate::notify::Mention;
use crate::report::{CycleReport, Kind};

/// Discord's `SUPPRESS_NOTIFICATIONS` message flag: delivered without a push.
pub const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;

// Discord's limits (discord-openapi.json and the 6000-character rule).
pub const MAX_CONTENT: usize = 2000;
pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELDS: usize = 25;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
pub const MAX_FOOTER: usize = 2048;
pub const MAX_EMBED_TOTAL: usize = 6000;
const CUT: &str = "… [truncated]";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub content: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Embed>,
    pub allowed_mentions: AllowedMentions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Embed {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub color: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<Footer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Footer {
    pub text: String,
}

/// Always `parse: []`: text in a message never pings; only a configured error mention does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowedMentions {
    pub parse: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl AllowedMentions {
    fn none() -> Self {
        Self {
            parse: Vec::new(),
            users: Vec::new(),
            roles: Vec::new(),
        }
    }
}

/// What the message needs besides the report.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub version: &'a str,
    pub now: DateTime<Utc>,
    pub error_mention: Option<&'a Mention>,
}

const GREEN: u32 = 0x2ECC71;
const ORANGE: u32 = 0xE67E22;
const GREY: u32 = 0x95A5A6;
const BLUE: u32 = 0x3498DB;
const RED: u32 = 0xE74C3C;

/// The outcome message of one cycle.
pub fn render(report: &CycleReport, context: &Context<'_>) -> Message {
    let mode = if report.paper { "PAPER" } else { "LIVE" };
    let symbol = clean(&report.symbol);
    let filled = report.order.as_ref().is_some_and(|o| o.is_filled());
    let (headline, title, color, silent) = match &report.kind {
        Kind::Ordered { side } => {
            let (icon, word) = match side {
                Side::Buy => ("🚀", "BUY"),
                Side::Sell => ("💸", "SELL"),
            };
            let state = if filled { "Executed" } else { "Submitted" };
            let detail = match &report.order {
                Some(o) if filled => format!(
                    "{} {symbol} @ {}",
                    o.filled_quantity,
                    o.filled_avg_price
                        .as_ref()
                        .map_or("?".to_string(), |p| p.to_string())
                ),
                Some(o) => format!(
                    "{} {symbol}, status {}, fill not confirmed yet",
                    o.quantity,
                    clean(&o.status)
                ),
                None => symbol.clone(),
            };
            let color = if *side == Side::Buy { GREEN } else { ORANGE };
            (
                format!("{icon} **{word} Order {state}** [{mode}] {detail}"),
                format!("{word} {symbol} {state}"),
                color,
                false,
            )
        }
        Kind::Held => (
            format!("⏸️ **No Signal** [{mode}] {symbol}: holding"),
            format!("{symbol}: no trade"),
            GREY,
            true,
        ),
        Kind::MarketClosed => (
            format!("⏸️ **Market Closed** [{mode}] {symbol}: cycle skipped"),
            format!("{symbol}: market closed"),
            GREY,
            true,
        ),
        Kind::Duplicate => (
            format!(
                "🔁 **Duplicate Delivery** [{mode}] {symbol}: order already placed for this slot"
            ),
            format!("{symbol}: duplicate delivery"),
            GREY,
            true,
        ),
        Kind::Skipped => (
            format!("⏭️ **Skipped** [{mode}] {symbol}"),
            format!("{symbol}: skipped"),
            GREY,
            true,
        ),
        Kind::DryRun { side } => {
            let would = match side {
                Some(side) => format!("would {}", side.as_str().to_uppercase()),
                None => "would hold".to_string(),
            };
            (
                format!("🧪 **DRY RUN** [{mode}] {symbol}: {would}, no order sent"),
                format!("Dry run: {symbol} {would}"),
                BLUE,
                false,
            )
        }
        Kind::Failed { stage, .. } => (
            format!("❌ **ERROR** [{mode}] {symbol}: {} failed", stage.as_str()),
            format!("Error in stage: {}", stage.as_str()),
            RED,
            false,
        ),
    };

    let description = match &report.kind {
        Kind::Failed { error, .. } => format!("```\n{}\n```", code_safe(&fit(error, 3500))),
        _ => clean(&report.reason),
    };

    let mut fields = vec![field("Symbol", &symbol), field("Mode", mode)];
    if let Some(strategy) = report.strategy {
        fields.push(field("Strategy", strategy));
    }
    if let Some(decision) = &report.decision {
        fields.push(field("Signal", decision.signal));
        if let Some(sma) = decision.sma {
            fields.push(field("Short SMA", &format!("{:.2}", sma.short)));
            fields.push(field("Long SMA", &format!("{:.2}", sma.long)));
        }
        if let Some(close) = decision.last_close {
            fields.push(field("Last close", &format!("{close:.2}")));
        }
    }
    if let Some(order) = &report.order {
        fields.push(field("Side", order.side.as_str()));
        fields.push(field("Quantity", &order.quantity.to_string()));
        fields.push(field("Order status", &clean(&order.status)));
        fields.push(field("Filled qty", &order.filled_quantity.to_string()));
        if let Some(price) = &order.filled_avg_price {
            fields.push(field("Fill price", &price.to_string()));
        }
        fields.push(wide_field("Order id", &clean(&order.id)));
    }
    if let Some(id) = &report.client_order_id {
        fields.push(wide_field("client_order_id", &clean(id)));
    }
    if let Some(account) = &report.account {
        fields.push(field("Equity", &account.equity.to_string()));
        fields.push(field("Buying power", &account.buying_power.to_string()));
    }

    let mut allowed_mentions = AllowedMentions::none();
    let mut content = headline;
    if report.is_failure()
        && let Some(mention) = context.error_mention
    {
        match mention {
            Mention::User(id) => {
                content = format!("<@{id}> {content}");
                allowed_mentions.users.push(id.clone());
            }
            Mention::Role(id) => {
                content = format!("<@&{id}> {content}");
                allowed_mentions.roles.push(id.clone());
            }
        }
    }

    let embed = Embed {
        title,
        description: Some(description),
        color,
        fields,
        footer: Some(Footer {
            text: format!(
                "slot {} · alpaca-lambda-bot {}",
                clean(&report.slot),
                context.version
            ),
        }),
        timestamp: Some(context.now.to_rfc3339_opts(SecondsFormat::Secs, true)),
    };
    let mut message = Message {
        content,
        embeds: vec![embed],
        allowed_mentions,
        flags: silent.then_some(SUPPRESS_NOTIFICATIONS),
    };
    fit_limits(&mut message);
    message
}

/// The lesson's lifecycle notes, for `NOTIFY_VERBOSITY=lesson`.
pub fn lifecycle(started: bool, symbol: &str) -> Message {
    let content = if started {
        format!(
            "✅ **Bot Started Up** - Beginning cycle for {}.",
            clean(symbol)
        )
    } else {
        "⏹️ **Bot Cycle Finished**.".to_string()
    };
    let mut message = Message {
        content,
        embeds: Vec::new(),
        allowed_mentions: AllowedMentions::none(),
        flags: Some(SUPPRESS_NOTIFICATIONS),
    };
    fit_limits(&mut message);
    message
}

fn field(name: &str, value: &str) -> Field {
    Field {
        name: name.to_string(),
        value: if value.is_empty() {
            "—".into()
        } else {
            value.to_string()
        },
        inline: true,
    }
}

fn wide_field(name: &str, value: &str) -> Field {
    Field {
        inline: false,
        ..field(name, value)
    }
}

/// Text from outside (Alpaca's messages, symbols) shown as plain text: markdown specials
/// escaped and `@` defused, so it can neither format nor look like a ping.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@\u{200B}"),
            _ => out.push(c),
        }
    }
    out
}

/// Text inside a code block: only the fence could break out of it.
fn code_safe(text: &str) -> String {
    text.replace("```", "`\u{200B}`\u{200B}`")
        .replace('@', "@\u{200B}")
}

/// Cuts `text` to at most `max` characters, with a visible marker when it did.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(CUT.chars().count());
    let mut cut: String = text.chars().take(keep).collect();
    cut.push_str(CUT);
    cut
}

fn embed_chars(embed: &Embed) -> usize {
    embed.title.chars().count()
        + embed
            .description
            .as_deref()
            .map_or(0, |d| d.chars().count())
        + embed
            .fields
            .iter()
            .map(|f| f.name.chars().count() + f.value.chars().count())
            .sum::<usize>()
        + embed.footer.as_ref().map_or(0, |f| f.text.chars().count())
}

/// Enforces every Discord limit; never leaves a message Discord would answer 400 to.
pub fn fit_limits(message: &mut Message) {
    if message.content.trim().is_empty() && message.embeds.is_empty() {
        message.content = "(empty)".into();
    }
    message.content = fit(&message.content, MAX_CONTENT);
    message.embeds.truncate(10);
    for embed in &mut message.embeds {
        embed.title = fit(&embed.title, MAX_TITLE);
        if let Some(d) = embed.description.as_mut() {
            *d = fit(d, MAX_DESCRIPTION);
        }
        embed.fields.truncate(MAX_FIELDS);
        for f in &mut embed.fields {
            f.name = fit(&f.name, MAX_FIELD_NAME);
            f.value = fit(&f.value, MAX_FIELD_VALUE);
        }
        if let Some(footer) = embed.footer.as_mut() {
            footer.text = fit(&footer.text, MAX_FOOTER);
        }
    }
    // The 6000 rule spans all embeds: shorten the description first, then drop fields.
    let total = |m: &Message| m.embeds.iter().map(embed_chars).sum::<usize>();
    while total(message) > MAX_EMBED_TOTAL {
        let excess = total(message) - MAX_EMBED_TOTAL;
        let Some(embed) = message.embeds.last_mut() else {
            break;
        };
        match embed.description.as_mut() {
            Some(d) if d.chars().count() > CUT.chars().count() + excess => {
                let keep = d.chars().count() - excess;
                *d = fit(d, keep);
            }
            _ if !embed.fields.is_empty() => {
                embed.fields.pop();
            }
            _ => {
                message.embeds.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Stage;

    fn context() -> Context<'static> {
        Context {
            version: "0.1.0",
            now: DateTime::parse_from_rfc3339("2026-12-04T14:35:02Z")
                .unwrap()
                .with_timezone(&Utc),
            error_mention: None,
        }
    }

    #[test]
    fn error_text_cannot_ping_or_break_out() {
        let report = CycleReport::failed(
            Stage::Order,
            "@everyone ```boom``` **bold**".into(),
            "SPY",
            true,
            "s",
        );
        let message = render(&report, &context());
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
        let description = json["embeds"][0]["description"].as_str().unwrap();
        assert!(!description.contains("@everyone"));
        assert_eq!(description.matches("```").count(), 2, "{description}");
    }

    #[test]
    fn long_text_is_cut_with_a_marker() {
        let report = CycleReport::failed(Stage::Order, "x".repeat(10_000), "SPY", true, "s");
        let message = render(&report, &context());
        let description = message.embeds[0].description.as_deref().unwrap();
        assert!(description.chars().count() <= MAX_DESCRIPTION);
        assert!(description.contains(CUT));
        assert!(message.embeds.iter().map(embed_chars).sum::<usize>() <= MAX_EMBED_TOTAL);
    }
}
