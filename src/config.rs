//! Configuration from the environment (CONTRACT §2), validated once per cold start.
//!
//! Every variable is optional except `BOT_SECRET_ID`. An invalid value is an error that names
//! the variable and what it accepts; nothing is silently defaulted.

use std::time::Duration;

use num_decimal::Num;
use url::Url;

use crate::message;
use crate::strategy::{SmaWindows, StrategyKind};

pub const PAPER_API_URL: &str = "https://paper-api.alpaca.markets";
pub const LIVE_API_URL: &str = "https://api.alpaca.markets";
pub const DATA_API_URL: &str = "https://data.alpaca.markets";

/// What the function trades and how, as set by the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Name or ARN of the Secrets Manager secret (CONTRACT §1).
    pub secret_id: String,
    /// The per-invocation trade settings; an event may override some of them.
    pub trade: TradeSettings,
    /// Paper trading (the default) or live trading, unlocked only by two variables.
    pub paper: bool,
    /// `TRADING_ENABLED=false`: the deploy-time kill switch (the secret has its own).
    pub trading_enabled: bool,
    pub alpaca_api_url: Url,
    pub alpaca_data_url: Url,
    /// Alpaca's market-data feed for the daily bars (`iex` works on every account).
    pub data_feed: String,
    pub notify: NotifyVerbosity,
    /// Post under this name and avatar instead of the webhook's own.
    pub discord_username: Option<String>,
    pub discord_avatar_url: Option<String>,
    /// Limits every buy must pass (issue-free defaults: none set).
    pub guards: Guards,
    /// Scheduled events older than this are skipped rather than traded late.
    pub max_event_age: Duration,
    /// How long a fetched secret is reused by warm invocations.
    pub secret_ttl: Duration,
}

/// The settings an invocation's event may override (CONTRACT §3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct TradeSettings {
    pub symbol: Symbol,
    pub quantity: Quantity,
    pub strategy: StrategyKind,
    pub windows: SmaWindows,
    pub dry_run: bool,
}

/// Risk limits checked before a buy; a buy that breaks one is skipped with the reason.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Guards {
    /// `MAX_ORDER_NOTIONAL`: quantity × last close may not exceed this (account currency).
    pub max_order_notional: Option<f64>,
    /// `MAX_POSITION_QTY`: shares held after the buy may not exceed this.
    pub max_position_qty: Option<f64>,
}

/// Which Discord messages a cycle posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyVerbosity {
    /// One message per cycle with its outcome.
    Normal,
    /// Also "Bot Started Up" and "Bot Cycle Finished", like the course lesson.
    Lesson,
    /// Only orders and errors.
    Quiet,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name}={value:?} is invalid: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
    #[error(
        "live trading was requested (PAPER_TRADING=false) but ALLOW_LIVE_TRADING is not true: \
         set both to trade real money; no order was placed"
    )]
    LiveNotUnlocked,
}

/// A ticker symbol as Alpaca spells it (`SPY`, `BRK.B`, `BTC/USD`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Symbol(String);

impl Symbol {
    /// Accepts 1 to 15 letters, digits, `.` or `/`; lower case is upper-cased.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let symbol = raw.trim().to_ascii_uppercase();
        let valid_chars = symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/');
        if symbol.is_empty() || symbol.len() > 15 || !valid_chars {
            return Err("a ticker symbol of 1 to 15 letters, digits, '.' or '/'".into());
        }
        Ok(Self(symbol))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A positive number of shares, fractional allowed, kept exact (no floating point).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity(Num);

impl Quantity {
    pub fn parse(raw: &str) -> Result<Self, String> {
        const EXPECTED: &str = "a positive number of shares, such as 1 or 0.5";
        let trimmed = raw.trim();
        // Num accepts forms like "1e3" or "1/2" only partly; allow plain decimals alone.
        let plain = !trimmed.is_empty()
            && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.')
            && trimmed.matches('.').count() <= 1
            && trimmed != ".";
        if !plain {
            return Err(EXPECTED.into());
        }
        let num: Num = trimmed.parse().map_err(|_| EXPECTED.to_string())?;
        if !num.is_positive() {
            return Err(EXPECTED.into());
        }
        Ok(Self(num))
    }

    pub fn from_num(num: Num) -> Option<Self> {
        num.is_positive().then_some(Self(num))
    }

    pub fn as_num(&self) -> &Num {
        &self.0
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How long warm invocations reuse a fetched secret unless `SECRET_TTL_SECONDS` says otherwise.
pub const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(300);

/// `BOT_SECRET_ID` alone, even when the rest of the configuration is invalid, so that a
/// configuration error can still be posted to the secret's Discord webhook.
pub fn secret_id_from_env() -> Option<String> {
    secret_id(|name| std::env::var(name).ok())
}

fn secret_id(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    lookup("BOT_SECRET_ID").filter(|v| !v.trim().is_empty())
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // An empty variable counts as unset: that is what a blank SAM parameter produces.
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let secret_id = secret_id(&lookup).ok_or(ConfigError::Missing("BOT_SECRET_ID"))?;
        let symbol = parse_or("TRADE_SYMBOL", get("TRADE_SYMBOL"), "SPY", Symbol::parse)?;
        let quantity = parse_or(
            "TRADE_QUANTITY",
            get("TRADE_QUANTITY"),
            "1",
            Quantity::parse,
        )?;
        let strategy = parse_or(
            "STRATEGY",
            get("STRATEGY"),
            "golden_cross",
            StrategyKind::parse,
        )?;
        let short = parse_or(
            "SMA_SHORT_WINDOW",
            get("SMA_SHORT_WINDOW"),
            "40",
            parse_window,
        )?;
        let long = parse_or(
            "SMA_LONG_WINDOW",
            get("SMA_LONG_WINDOW"),
            "100",
            parse_window,
        )?;
        let windows = SmaWindows::new(short, long).map_err(|expected| ConfigError::Invalid {
            name: "SMA_SHORT_WINDOW",
            value: short.to_string(),
            expected: format!("{expected} (SMA_LONG_WINDOW={long})"),
        })?;
        let dry_run = parse_or("DRY_RUN", get("DRY_RUN"), "false", parse_bool)?;
        let paper = parse_or("PAPER_TRADING", get("PAPER_TRADING"), "true", parse_bool)?;
        let allow_live = parse_or(
            "ALLOW_LIVE_TRADING",
            get("ALLOW_LIVE_TRADING"),
            "false",
            parse_bool,
        )?;
        if !paper && !allow_live {
            return Err(ConfigError::LiveNotUnlocked);
        }
        let trading_enabled = parse_or(
            "TRADING_ENABLED",
            get("TRADING_ENABLED"),
            "true",
            parse_bool,
        )?;
        let default_api = if paper { PAPER_API_URL } else { LIVE_API_URL };
        let alpaca_api_url = parse_or(
            "APCA_API_BASE_URL",
            get("APCA_API_BASE_URL"),
            default_api,
            parse_url,
        )?;
        let alpaca_data_url = parse_or(
            "APCA_API_DATA_URL",
            get("APCA_API_DATA_URL"),
            DATA_API_URL,
            parse_url,
        )?;
        let data_feed = parse_or(
            "APCA_DATA_FEED",
            get("APCA_DATA_FEED"),
            "iex",
            |v| match v {
                "iex" | "sip" | "delayed_sip" | "boats" | "overnight" => Ok(v.to_string()),
                _ => Err("one of iex, sip, delayed_sip, boats, overnight".to_string()),
            },
        )?;
        let notify = parse_or(
            "NOTIFY_VERBOSITY",
            get("NOTIFY_VERBOSITY"),
            "normal",
            |v| match v {
                "normal" => Ok(NotifyVerbosity::Normal),
                "lesson" => Ok(NotifyVerbosity::Lesson),
                "quiet" => Ok(NotifyVerbosity::Quiet),
                _ => Err("one of normal, lesson, quiet".to_string()),
            },
        )?;
        // Checked here with Discord's own rules, so a name Discord would refuse is a clear
        // configuration error rather than a silently dropped override.
        let discord_username = get("DISCORD_USERNAME")
            .map(|raw| {
                message::valid_username(&raw).ok_or(ConfigError::Invalid {
                    name: "DISCORD_USERNAME",
                    value: raw.clone(),
                    expected: "1 to 80 characters, without \"discord\", \"clyde\", @, # or :"
                        .into(),
                })
            })
            .transpose()?;
        let discord_avatar_url = get("DISCORD_AVATAR_URL")
            .map(|raw| {
                message::valid_avatar_url(&raw).ok_or(ConfigError::Invalid {
                    name: "DISCORD_AVATAR_URL",
                    value: raw.clone(),
                    expected: "an http(s) image URL of at most 2048 characters".into(),
                })
            })
            .transpose()?;
        let limit = |name: &'static str| -> Result<Option<f64>, ConfigError> {
            get(name)
                .map(|raw| {
                    Quantity::parse(&raw)
                        .ok()
                        .and_then(|q| q.as_num().to_f64())
                        .ok_or(ConfigError::Invalid {
                            name,
                            value: raw.clone(),
                            expected: "a positive number".into(),
                        })
                })
                .transpose()
        };
        let guards = Guards {
            max_order_notional: limit("MAX_ORDER_NOTIONAL")?,
            max_position_qty: limit("MAX_POSITION_QTY")?,
        };
        let max_event_age = parse_or(
            "MAX_EVENT_AGE_SECONDS",
            get("MAX_EVENT_AGE_SECONDS"),
            "300",
            parse_seconds,
        )?;
        let secret_ttl = parse_or(
            "SECRET_TTL_SECONDS",
            get("SECRET_TTL_SECONDS"),
            &DEFAULT_SECRET_TTL.as_secs().to_string(),
            parse_seconds,
        )?;

        Ok(Self {
            secret_id,
            trade: TradeSettings {
                symbol,
                quantity,
                strategy,
                windows,
                dry_run,
            },
            paper,
            trading_enabled,
            alpaca_api_url,
            alpaca_data_url,
            data_feed,
            notify,
            discord_username,
            discord_avatar_url,
            guards,
            max_event_age,
            secret_ttl,
        })
    }
}

fn parse_or<T>(
    name: &'static str,
    value: Option<String>,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let raw = value.as_deref().unwrap_or(default);
    parse(raw.trim()).map_err(|expected| ConfigError::Invalid {
        name,
        value: raw.to_string(),
        expected,
    })
}

pub(crate) fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("true or false".into()),
    }
}

fn parse_window(raw: &str) -> Result<usize, String> {
    const EXPECTED: &str = "a whole number of days from 1 to 1000";
    match raw.parse::<usize>() {
        Ok(days) if (1..=1000).contains(&days) => Ok(days),
        _ => Err(EXPECTED.into()),
    }
}

fn parse_seconds(raw: &str) -> Result<Duration, String> {
    raw.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| "a whole number of seconds".into())
}

fn parse_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| "an http(s) URL".to_string())?;
    match url.scheme() {
        "https" | "http" => Ok(url),
        _ => Err("an http(s) URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = config(&[("BOT_SECRET_ID", "bot/secret")]).unwrap();
        assert_eq!(c.secret_id, "bot/secret");
        assert_eq!(c.trade.symbol.as_str(), "SPY");
        assert_eq!(c.trade.quantity.to_string(), "1");
        assert_eq!(c.trade.strategy, StrategyKind::GoldenCross);
        assert_eq!((c.trade.windows.short(), c.trade.windows.long()), (40, 100));
        assert!(!c.trade.dry_run);
        assert!(c.paper);
        assert!(c.trading_enabled);
        assert_eq!(
            c.alpaca_api_url.as_str(),
            "https://paper-api.alpaca.markets/"
        );
        assert_eq!(c.alpaca_data_url.as_str(), "https://data.alpaca.markets/");
        assert_eq!(c.notify, NotifyVerbosity::Normal);
        assert_eq!(c.max_event_age, Duration::from_secs(300));
        assert_eq!(c.secret_ttl, DEFAULT_SECRET_TTL);
    }

    #[test]
    fn secret_id_is_required() {
        assert_eq!(
            config(&[]).unwrap_err(),
            ConfigError::Missing("BOT_SECRET_ID")
        );
        assert_eq!(
            config(&[("BOT_SECRET_ID", "  ")]).unwrap_err(),
            ConfigError::Missing("BOT_SECRET_ID")
        );
    }

    #[test]
    fn invalid_values_are_named_never_defaulted() {
        for (name, value) in [
            ("TRADE_QUANTITY", "-3"),
            ("TRADE_QUANTITY", "0"),
            ("TRADE_QUANTITY", "ten"),
            ("TRADE_QUANTITY", "1e3"),
            ("PAPER_TRADING", "maybe"),
            ("DRY_RUN", "yes"),
            ("STRATEGY", "momentum"),
            ("SMA_SHORT_WINDOW", "0"),
            ("SMA_LONG_WINDOW", "ten"),
            ("TRADE_SYMBOL", "S P Y"),
            ("APCA_API_BASE_URL", "ftp://example.com"),
            ("NOTIFY_VERBOSITY", "loud"),
            ("MAX_EVENT_AGE_SECONDS", "-1"),
            ("MAX_ORDER_NOTIONAL", "-5"),
            ("DISCORD_USERNAME", "Discord Bot"),
            ("DISCORD_AVATAR_URL", "not a url"),
            ("MAX_POSITION_QTY", "lots"),
        ] {
            let err = config(&[("BOT_SECRET_ID", "s"), (name, value)]).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(name),
                "{name}={value}: error does not name it: {message}"
            );
        }
    }

    #[test]
    fn short_window_must_be_below_long() {
        let err = config(&[
            ("BOT_SECRET_ID", "s"),
            ("SMA_SHORT_WINDOW", "100"),
            ("SMA_LONG_WINDOW", "40"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("SMA_SHORT_WINDOW"), "{err}");
    }

    #[test]
    fn live_trading_needs_both_keys() {
        assert_eq!(
            config(&[("BOT_SECRET_ID", "s"), ("PAPER_TRADING", "false")]).unwrap_err(),
            ConfigError::LiveNotUnlocked
        );
        let live = config(&[
            ("BOT_SECRET_ID", "s"),
            ("PAPER_TRADING", "false"),
            ("ALLOW_LIVE_TRADING", "true"),
        ])
        .unwrap();
        assert!(!live.paper);
        assert_eq!(live.alpaca_api_url.as_str(), "https://api.alpaca.markets/");
        // The unlock alone changes nothing: paper stays the default.
        let paper = config(&[("BOT_SECRET_ID", "s"), ("ALLOW_LIVE_TRADING", "true")]).unwrap();
        assert!(paper.paper);
    }

    #[test]
    fn quantities_are_exact_and_symbols_normalised() {
        let c = config(&[
            ("BOT_SECRET_ID", "s"),
            ("TRADE_QUANTITY", "0.5"),
            ("TRADE_SYMBOL", "brk.b"),
        ])
        .unwrap();
        assert_eq!(c.trade.quantity.to_string(), "0.5");
        assert_eq!(c.trade.symbol.as_str(), "BRK.B");
    }
}
