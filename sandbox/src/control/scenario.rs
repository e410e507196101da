//! The scenario: the whole initial state of the emulated broker and webhook, plus close-series
//! helpers that put a moving-average cross exactly on the last completed bar.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When an accepted market order fills (only while the scenario's market is open; with the
/// market closed every order stays `"accepted"`, as Alpaca queues it for the next session).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMode {
    /// `POST /v2/orders` already answers `"filled"`. Alpaca never does (its answer is
    /// written before the fill); this exercises the bot's path for an order filled at once.
    Immediate,
    /// `POST` answers `"new"`; the order reads `"new"` until it has been fetched `n` times
    /// (`GET /v2/orders/{id}` or `GET /v2/orders:by_client_order_id`): the `n`-th fetch and every
    /// later one see `"filled"` (`AfterPolls(0)` and `AfterPolls(1)` both fill on the first fetch).
    /// The default is `AfterPolls(1)`: a paper market order is filled by the first look.
    AfterPolls(u32),
    /// The order stays `"new"` for ever.
    Never,
}

/// The emulated world. Every field has a default (see [`Scenario::default`]), so a JSON scenario
/// for the control API may give only the fields it changes. `latency` is `latency_ms` in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct Scenario {
    /// Required in `APCA-API-KEY-ID` on every Alpaca (trading and data) request.
    pub api_key: String,
    /// Required in `APCA-API-SECRET-KEY` on every Alpaca (trading and data) request.
    pub api_secret: String,
    /// `GET /v2/clock`'s `is_open`; market orders placed while closed stay `"accepted"`.
    pub market_open: bool,
    /// The only symbol the emulated broker knows (asset, bars, position).
    pub symbol: String,
    /// Daily closes, oldest first, one per weekday, the last one for the last weekday before today
    /// (America/New_York). The last close is the fill price and the position's current price.
    pub closes: Vec<f64>,
    /// An existing long position (`Some("10")`), bought at the last close.
    pub position_qty: Option<String>,
    /// When orders fill.
    pub fill: FillMode,
    /// Added to every Alpaca, data and Discord request (not to `/_sandbox/` control requests).
    #[serde(rename = "latency_ms", with = "duration_ms")]
    pub latency: Duration,
    /// The account's `status` (`"ACTIVE"`); anything else refuses orders with 403.
    pub account_status: String,
    /// The account's `trading_blocked`; `true` refuses orders with 403.
    pub trading_blocked: bool,
    /// Decimal string; buys costing more (qty × last close) are refused with 403.
    pub buying_power: String,
    /// Decimal string, the account's `equity`.
    pub equity: String,
    /// The asset's `tradable`; `false` refuses orders with 422.
    pub asset_tradable: bool,
    /// The token part of the webhook URL the sandbox accepts.
    pub discord_webhook_token: String,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            api_key: "sandbox-key-id".into(),
            api_secret: "sandbox-secret-key".into(),
            market_open: true,
            symbol: "SPY".into(),
            closes: vec![500.0; 120],
            position_qty: None,
            fill: FillMode::AfterPolls(1),
            latency: Duration::ZERO,
            account_status: "ACTIVE".into(),
            trading_blocked: false,
            buying_power: "100000".into(),
            equity: "100000".into(),
            asset_tradable: true,
            discord_webhook_token: "sandbox-webhook-token".into(),
        }
    }
}

/// Extra bars before the cross, beyond the long window.
const LEAD_BARS: usize = 30;
const BASE: f64 = 500.0;
const STEP: f64 = 0.10;
const MARGIN: f64 = 5.0;

fn cross_series(short: usize, long: usize, dir: f64) -> Vec<f64> {
    assert!(
        short >= 1 && short < long,
        "need 1 <= short < long, got {short}/{long}"
    );
    let n = long + LEAD_BARS;
    let mut closes = vec![BASE; n - 1 - short];
    // The last `short` bars before the final one sit one step on the "wrong" side, so the short
    // SMA is strictly on that side of the long SMA on the bar before the last ...
    closes.extend(std::iter::repeat_n(round2(BASE - dir * STEP), short));
    // ... and the final bar jumps far enough that it is strictly on the other side:
    // short SMA > long SMA  <=>  sum(last short bars) > BASE * short.
    closes.push(round2(BASE + dir * (STEP * (short as f64 - 1.0) + MARGIN)));
    closes
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Scenario {
    /// Closes (`long + 30` of them) where the `short`-day SMA is below the `long`-day SMA on the
    /// bar before the last and above it on the last bar: a golden cross on the last completed bar.
    /// Panics unless `1 <= short < long`.
    pub fn golden_cross(short: usize, long: usize) -> Vec<f64> {
        cross_series(short, long, 1.0)
    }

    /// Closes where the short SMA crosses below the long SMA exactly on the last bar.
    pub fn death_cross(short: usize, long: usize) -> Vec<f64> {
        cross_series(short, long, -1.0)
    }

    /// Closes where the short SMA stays below the long SMA on both of the last two bars (no
    /// cross; a gently falling market, so the golden-cross strategy holds).
    pub fn no_cross(short: usize, long: usize) -> Vec<f64> {
        let mut closes = cross_series(short, long, 1.0);
        let last = closes.len() - 1;
        closes[last] = round2(closes[last - 1] - STEP);
        closes
    }

    /// Builder-style helpers, handy in tests.
    pub fn with_closes(mut self, closes: Vec<f64>) -> Self {
        self.closes = closes;
        self
    }

    /// Sets an existing long position.
    pub fn with_position(mut self, qty: &str) -> Self {
        self.position_qty = Some(qty.to_string());
        self
    }

    /// Sets the fill mode.
    pub fn with_fill(mut self, fill: FillMode) -> Self {
        self.fill = fill;
        self
    }

    /// Sets `market_open`.
    pub fn with_market_open(mut self, open: bool) -> Self {
        self.market_open = open;
        self
    }
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Simple moving average of the `window` closes ending at index `end` (inclusive).
pub fn sma(closes: &[f64], end: usize, window: usize) -> f64 {
    closes[end + 1 - window..=end].iter().sum::<f64>() / window as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diffs(c: &[f64], s: usize, l: usize) -> (f64, f64) {
        let n = c.len();
        (
            sma(c, n - 2, s) - sma(c, n - 2, l),
            sma(c, n - 1, s) - sma(c, n - 1, l),
        )
    }

    #[test]
    fn crosses_happen_exactly_on_the_last_bar() {
        for (s, l) in [(40, 100), (1, 2), (5, 20), (50, 200), (2, 3)] {
            let (before, after) = diffs(&Scenario::golden_cross(s, l), s, l);
            assert!(
                before < 0.0 && after > 0.0,
                "golden {s}/{l}: {before} {after}"
            );
            let (before, after) = diffs(&Scenario::death_cross(s, l), s, l);
            assert!(
                before > 0.0 && after < 0.0,
                "death {s}/{l}: {before} {after}"
            );
            let (before, after) = diffs(&Scenario::no_cross(s, l), s, l);
            assert!(
                before < 0.0 && after < 0.0,
                "none {s}/{l}: {before} {after}"
            );
        }
        let c = Scenario::golden_cross(40, 100);
        assert_eq!(c.len(), 130);
        assert!(
            c.iter()
                .all(|x| *x > 0.0 && (x * 100.0).round() / 100.0 == *x)
        );
    }

    #[test]
    fn scenario_json_is_partial_and_snake_case() {
        let s: Scenario = serde_json::from_str(
            r#"{"market_open": false, "fill": {"after_polls": 2}, "latency_ms": 25}"#,
        )
        .unwrap();
        assert!(!s.market_open);
        assert_eq!(s.fill, FillMode::AfterPolls(2));
        assert_eq!(s.latency, Duration::from_millis(25));
        assert_eq!(s.symbol, "SPY");
        let back: Scenario = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let never: FillMode = serde_json::from_str(r#""never""#).unwrap();
        assert_eq!(never, FillMode::Never);
    }
}
