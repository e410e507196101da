//! The Discord message of a [`CycleReport`]: wording, embeds and Discord's limits. Pure.
//!
//! A plain headline in `content` (what a phone's push notification shows) and one embed with
//! the details. Wording is honest: "Executed" only when Alpaca reports the fill. Every
//! message fits Discord's limits, truncated with a visible marker, and mentions nobody unless
//! an error ping was configured.

use chrono::{DateTime, SecondsFormat, Utc};
use num_decimal::Num;
use serde::Serialize;

use crate::broker::{OrderReport, Side};
use crate::notify::Mention;
use crate::report::{CycleReport, Kind};
use crate::strategy::Action;

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
    /// Overrides the webhook's own name (Discord: 1 to 80 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Overrides the webhook's own avatar (an http(s) URL, at most 2048 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

impl Message {
    /// The same message posted under another name and avatar. Values Discord would refuse
    /// with a 400 (an empty or over-long name, one containing "discord" or "clyde", an
    /// avatar that is not an http(s) URL) are dropped, so the webhook's own are used.
    pub fn with_identity(mut self, username: Option<&str>, avatar_url: Option<&str>) -> Self {
        self.username = username.and_then(valid_username);
        self.avatar_url = avatar_url.and_then(valid_avatar_url);
        self
    }
}

/// Discord's username rules for webhooks: 1 to 80 characters after trimming, and none of
/// the words it reserves.
pub fn valid_username(raw: &str) -> Option<String> {
    let name = raw.trim();
    let lower = name.to_lowercase();
    let count = name.chars().count();
    let reserved = ["discord", "clyde", "@", "#", ":", "```"]
        .iter()
        .any(|word| lower.contains(word));
    let keyword = lower == "everyone" || lower == "here";
    ((1..=80).contains(&count) && !reserved && !keyword).then(|| name.to_string())
}

/// An http(s) URL of at most 2048 characters, as Discord accepts for `avatar_url`.
pub fn valid_avatar_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let url = url::Url::parse(raw).ok()?;
    let ok = matches!(url.scheme(), "http" | "https") && url.host_str().is_some();
    (ok && raw.len() <= 2048)
        .then(|| url.to_string())
        .filter(|u| u.len() <= 2048)
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
    /// The function's version, shown in the footer.
    pub version: &'a str,
    /// The embed's timestamp.
    pub now: DateTime<Utc>,
    /// Pinged on failures only (the secret's `discord_error_mention`).
    pub error_mention: Option<&'a Mention>,
    /// Post under this name instead of the webhook's (`DISCORD_USERNAME`); see
    /// [`Message::with_identity`] for what is accepted.
    pub username: Option<&'a str>,
    /// Post with this avatar instead of the webhook's (`DISCORD_AVATAR_URL`).
    pub avatar_url: Option<&'a str>,
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
    let order = report.order.as_ref();
    let filled = order.is_some_and(|o| o.is_filled());
    let planned = report.decision.as_ref().and_then(|d| match &d.action {
        Action::Buy(q) | Action::Sell(q) => Some(q.to_string()),
        Action::Hold => None,
    });
    let (headline, title, color, silent) = match &report.kind {
        Kind::Ordered { side } => {
            let (icon, word) = match side {
                Side::Buy => ("🚀", "BUY"),
                Side::Sell => ("💸", "SELL"),
            };
            // Honest wording: "Executed" only once Alpaca reports the fill.
            let state = if filled { "Executed" } else { "Submitted" };
            let detail = match order {
                Some(o) if filled => format!(
                    "{} {symbol} @ {}",
                    o.filled_quantity,
                    o.filled_avg_price
                        .as_ref()
                        .map_or("price not reported".to_string(), |p| p.to_string())
                ),
                Some(o) => unfilled_detail(o, &symbol),
                None => format!("{symbol}, fill not confirmed yet"),
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
            format!(
                "⏭️ **Skipped** [{mode}] {symbol}: {}",
                clean(&one_line(&report.reason, 200))
            ),
            format!("{symbol}: skipped"),
            GREY,
            true,
        ),
        Kind::DryRun { side } => {
            let would = match (side, &planned) {
                (Some(side), Some(q)) => format!("would {} {q}", side_word(*side)),
                (Some(side), None) => format!("would {}", side_word(*side)),
                (None, _) => "would hold".to_string(),
            };
            (
                format!("🧪 **DRY RUN** [{mode}] {symbol}: {would}, no order sent"),
                format!("Dry run: {symbol} {would}"),
                BLUE,
                false,
            )
        }
        Kind::Failed { stage, error } => (
            format!(
                "❌ **ERROR** [{mode}] {symbol}: {} stage failed: {}",
                stage.as_str(),
                one_line(&clean(&redact(error)), 300)
            ),
            format!("Error in stage: {}", stage.as_str()),
            RED,
            false,
        ),
    };

    let description = match &report.kind {
        Kind::Failed { error, .. } => {
            format!("```\n{}\n```", code_safe(&fit(&redact(error), 3500)))
        }
        _ => clean(&redact(&report.reason)),
    };

    let mut fields = vec![field("Symbol", &symbol)];
    let side = match &report.kind {
        Kind::Ordered { side } | Kind::DryRun { side: Some(side) } => Some(*side),
        _ => order.map(|o| o.side),
    };
    if let Some(side) = side {
        fields.push(field("Side", side_word(side)));
    }
    match (order, &planned) {
        (Some(o), _) => fields.push(field("Quantity", &o.quantity.to_string())),
        (None, Some(q)) if side.is_some() => fields.push(field("Quantity", q)),
        _ => {}
    }
    fields.push(field(
        "Mode",
        if report.paper {
            "PAPER"
        } else {
            "⚠️ LIVE (real money)"
        },
    ));
    if let Kind::Failed { stage, .. } = &report.kind {
        fields.push(field("Failed stage", stage.as_str()));
    }
    if let Some(strategy) = report.strategy {
        fields.push(field("Strategy", &clean(strategy)));
    }
    if let Some(decision) = &report.decision {
        fields.push(field("Signal", &clean(decision.signal)));
        if let Some(sma) = decision.sma {
            fields.push(field("Short SMA", &number(sma.short)));
            fields.push(field("Long SMA", &number(sma.long)));
        }
        if let Some(close) = decision.last_close {
            fields.push(field("Last close", &number(close)));
        }
    }
    if let Some(order) = order {
        fields.push(field("Order status", &clean(&order.status)));
        fields.push(field("Filled qty", &order.filled_quantity.to_string()));
        fields.push(field(
            "Fill price",
            &order
                .filled_avg_price
                .as_ref()
                .map_or("not filled yet".to_string(), |p| p.to_string()),
        ));
        fields.push(wide_field("Order id", &code(&order.id)));
    }
    let client_order_id = report
        .client_order_id
        .as_deref()
        .or(order.map(|o| o.client_order_id.as_str()));
    if let Some(id) = client_order_id {
        fields.push(wide_field("client_order_id", &code(id)));
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
            // Footers show plain text (no markdown), so nothing is escaped here.
            text: format!(
                "{mode} · slot {} · alpaca-lambda-bot {}",
                plain(&report.slot),
                plain(context.version)
            ),
        }),
        timestamp: Some(context.now.to_rfc3339_opts(SecondsFormat::Secs, true)),
    };
    let mut message = Message {
        content,
        embeds: vec![embed],
        allowed_mentions,
        flags: silent.then_some(SUPPRESS_NOTIFICATIONS),
        username: None,
        avatar_url: None,
    }
    .with_identity(context.username, context.avatar_url);
    fit_limits(&mut message);
    message
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// An order Alpaca has not (fully) filled, in words that claim no more than Alpaca said.
fn unfilled_detail(order: &OrderReport, symbol: &str) -> String {
    let status = clean(&order.status);
    match order.status.as_str() {
        "partially_filled" => format!(
            "{symbol}: {} of {} filled so far, status {status}",
            order.filled_quantity, order.quantity
        ),
        _ if order.is_final() && order.filled_quantity == Num::from(0) => {
            format!("{} {symbol}, status {status}: not filled", order.quantity)
        }
        _ if order.is_final() => format!(
            "{symbol}: {} of {} filled, status {status}: no more will fill",
            order.filled_quantity, order.quantity
        ),
        _ => format!(
            "{} {symbol}, status {status}, fill not confirmed yet",
            order.quantity
        ),
    }
}

/// A price or SMA: two decimals, and no wall of digits for absurd values.
fn number(value: f64) -> String {
    if !value.is_finite() {
        "n/a".into()
    } else if value.abs() >= 1e15 {
        format!("{value:.6e}")
    } else {
        format!("{value:.2}")
    }
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
        username: None,
        avatar_url: None,
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
            '*' | '_' | '~' | '`' | '|' | '<' | '>' | '#' | '[' | ']' | '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@\u{200B}"),
            _ => out.push(c),
        }
    }
    out
}

/// Text where markdown is not rendered (the footer): control characters only removed.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// One line of at most `max` characters: a headline, or a service's error text.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    fit(&line, max)
}

/// An id as inline code: copyable, shown as is.
fn code(text: &str) -> String {
    format!("`{}`", plain(text).replace('`', "'"))
}

/// Defence in depth: a Discord webhook URL inside some error text loses its token.
pub fn redact(text: &str) -> String {
    const MARK: &str = "webhooks/";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let (head, tail) = rest.split_at(at + MARK.len());
        out.push_str(head);
        let id_len = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (id, after_id) = tail.split_at(id_len);
        out.push_str(id);
        if id_len > 0
            && let Some(token) = after_id.strip_prefix('/')
        {
            let token_len = token
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(token.len());
            if token_len > 0 {
                out.push_str("/[REDACTED]");
                rest = &token[token_len..];
                continue;
            }
        }
        rest = after_id;
    }
    out.push_str(rest);
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
            username: None,
            avatar_url: None,
        }
    }

    #[test]
    fn an_unfilled_order_is_described_by_what_alpaca_reported() {
        let order = |status: &str, filled: i64| OrderReport {
            id: "o".into(),
            client_order_id: "c".into(),
            side: Side::Buy,
            quantity: Num::from(2),
            status: status.into(),
            filled_quantity: Num::from(filled),
            filled_avg_price: None,
        };
        assert_eq!(
            unfilled_detail(&order("canceled", 0), "SPY"),
            "2 SPY, status canceled: not filled"
        );
        assert_eq!(
            unfilled_detail(&order("expired", 1), "SPY"),
            "SPY: 1 of 2 filled, status expired: no more will fill"
        );
        // Alpaca's "stopped" guarantees a trade: not final, so not "not filled".
        assert_eq!(
            unfilled_detail(&order("stopped", 0), "SPY"),
            "2 SPY, status stopped, fill not confirmed yet"
        );
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
