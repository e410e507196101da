//! The Alpaca paper trading API and market-data API, as the bot sees them: real paths, status
//! codes and bodies. Trading numbers are JSON strings, data numbers are JSON numbers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::Shared;
use crate::control::scenario::{FillMode, Scenario};
use crate::faults::{Route, alpaca_error, discord_error, fault_response};
use crate::market::{self, dec, num_of};

type St = State<Arc<Shared>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v2/clock", get(clock))
        .route("/v2/account", get(account))
        .route("/v2/positions", get(positions))
        .route("/v2/positions/{symbol}", get(position))
        .route("/v2/assets/{symbol}", get(asset))
        .route("/v2/orders", post(create_order))
        .route("/v2/orders/{id}", get(get_order))
        .route("/v2/orders:by_client_order_id", get(order_by_client_id))
        .route("/v2/stocks/{symbol}/bars", get(bars))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stable UUID-looking id derived from a string.
fn stable_id(seed: &str) -> String {
    if seed == "SPY" {
        // SPY's real asset id.
        return "b28f4066-5c6d-479b-a2af-85dc1a8f16fb".into();
    }
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in seed.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    uuid::Builder::from_u128(h)
        .with_version(uuid::Version::Random)
        .into_uuid()
        .to_string()
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Pos {
    qty: f64,
    avg: f64,
}

#[derive(Debug)]
struct OrderRec {
    json: Value,
    polls: u32,
    buy: bool,
    qty: Option<f64>,
    notional: Option<f64>,
    open: bool,
}

/// The emulated account: position, cash and orders, rebuilt from a [`Scenario`].
#[derive(Debug)]
pub struct Broker {
    orders: Vec<OrderRec>,
    position: Option<Pos>,
    buying_power: f64,
    cash: f64,
    account_id: String,
    created_at: DateTime<Utc>,
}

impl Broker {
    pub(crate) fn new(s: &Scenario) -> Broker {
        let price = last_close(s);
        let position = s
            .position_qty
            .as_deref()
            .and_then(|q| q.trim().parse::<f64>().ok())
            .filter(|q| *q > 0.0)
            .map(|qty| Pos { qty, avg: price });
        let buying_power = s.buying_power.trim().parse().unwrap_or(0.0);
        Broker {
            orders: Vec::new(),
            position,
            buying_power,
            cash: buying_power,
            account_id: stable_id(&format!("account:{}", s.api_key)),
            created_at: DateTime::parse_from_rfc3339("2024-01-02T15:04:05.123456Z")
                .expect("valid")
                .with_timezone(&Utc),
        }
    }

    pub(crate) fn orders_json(&self) -> Vec<Value> {
        self.orders.iter().map(|o| o.json.clone()).collect()
    }

    fn open_sell_qty(&self) -> f64 {
        self.orders
            .iter()
            .filter(|o| o.open && !o.buy)
            .filter_map(|o| o.qty)
            .sum()
    }

    fn open_buy_cost(&self, price: f64) -> f64 {
        self.orders
            .iter()
            .filter(|o| o.open && o.buy)
            .map(|o| o.notional.unwrap_or(o.qty.unwrap_or(0.0) * price))
            .sum()
    }

    fn fill(&mut self, idx: usize, price: f64, now: DateTime<Utc>) {
        let o = &mut self.orders[idx];
        if !o.open {
            return;
        }
        let qty = o.qty.unwrap_or_else(|| o.notional.unwrap_or(0.0) / price);
        o.open = false;
        o.json["status"] = json!("filled");
        o.json["filled_qty"] = json!(dec(qty));
        o.json["filled_avg_price"] = json!(dec(price));
        o.json["filled_at"] = json!(ts(now));
        o.json["updated_at"] = json!(ts(now));
        let cost = qty * price;
        if o.buy {
            self.cash -= cost;
            self.buying_power -= cost;
            self.position = Some(match self.position {
                Some(p) => Pos {
                    qty: p.qty + qty,
                    avg: (p.qty * p.avg + cost) / (p.qty + qty),
                },
                None => Pos { qty, avg: price },
            });
        } else {
            self.cash += cost;
            self.buying_power += cost;
            self.position = self
                .position
                .map(|p| Pos {
                    qty: p.qty - qty,
                    avg: p.avg,
                })
                .filter(|p| p.qty > 1e-9);
        }
    }

    /// A fetch of order `idx`: counts a poll, fills it when its time has come.
    fn poll(&mut self, idx: usize, s: &Scenario) -> Value {
        self.orders[idx].polls += 1;
        let polls = self.orders[idx].polls;
        let due = match s.fill {
            FillMode::Immediate => true,
            FillMode::AfterPolls(n) => polls >= n,
            FillMode::Never => false,
        };
        let market = self.orders[idx].json["type"] == "market";
        if due && market && s.market_open {
            self.fill(idx, last_close(s), Utc::now());
        }
        self.orders[idx].json.clone()
    }
}

fn last_close(s: &Scenario) -> f64 {
    s.closes.last().copied().unwrap_or(0.0)
}

fn unauthorized() -> Response {
    alpaca_error(401, 40110000, "request is not authorized")
}

/// Faults first (as a broken gateway would), then authentication. `Ok(Some(code))`: a
/// `StatusAfterRecord(code)` fault for `CreateOrder`.
async fn gate(s: &Shared, route: Route, headers: &HeaderMap) -> Result<Option<u16>, Response> {
    let fault = s.lock().faults.take(route);
    let mut after_record = None;
    if let Some(kind) = fault {
        match fault_response(route, &kind).await {
            Some(resp) => return Err(resp),
            None => {
                if let crate::FaultKind::StatusAfterRecord(code) = kind {
                    after_record = Some(code);
                }
            }
        }
    }
    let inner = s.lock();
    let key = headers.get("apca-api-key-id").map(|v| v.as_bytes());
    let secret = headers.get("apca-api-secret-key").map(|v| v.as_bytes());
    if key != Some(inner.scenario.api_key.as_bytes())
        || secret != Some(inner.scenario.api_secret.as_bytes())
    {
        return Err(unauthorized());
    }
    Ok(after_record)
}

macro_rules! gate {
    ($s:expr, $route:expr, $headers:expr) => {
        match gate(&$s, $route, &$headers).await {
            Ok(a) => a,
            Err(resp) => return resp,
        }
    };
}

async fn clock(State(s): St, headers: HeaderMap) -> Response {
    gate!(s, Route::Clock, headers);
    let open = s.lock().scenario.market_open;
    let [now, next_open, next_close] = market::clock(Utc::now(), open);
    axum::Json(json!({
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Nanos, false),
        "is_open": open,
        "next_open": next_open.to_rfc3339_opts(SecondsFormat::Secs, false),
        "next_close": next_close.to_rfc3339_opts(SecondsFormat::Secs, false),
    }))
    .into_response()
}

async fn account(State(s): St, headers: HeaderMap) -> Response {
    gate!(s, Route::Account, headers);
    let inner = s.lock();
    let sc = &inner.scenario;
    let b = &inner.broker;
    let price = last_close(sc);
    let long_value = b.position.map(|p| p.qty * price).unwrap_or(0.0);
    let bp = dec(b.buying_power);
    axum::Json(json!({
        "id": b.account_id,
        "admin_configurations": {},
        "user_configurations": null,
        "account_number": "PA3SANDBOX0X",
        "status": sc.account_status,
        "crypto_status": "ACTIVE",
        "options_approved_level": 3,
        "options_trading_level": 3,
        "currency": "USD",
        "buying_power": bp,
        "regt_buying_power": bp,
        "daytrading_buying_power": "0",
        "effective_buying_power": bp,
        "non_marginable_buying_power": dec(b.cash.max(0.0)),
        "options_buying_power": dec(b.cash.max(0.0)),
        "bod_dtbp": "0",
        "cash": dec(b.cash),
        "accrued_fees": "0",
        "portfolio_value": sc.equity,
        "pattern_day_trader": false,
        "trading_blocked": sc.trading_blocked,
        "transfers_blocked": false,
        "account_blocked": false,
        "created_at": ts(b.created_at),
        "trade_suspended_by_user": false,
        "multiplier": "1",
        "shorting_enabled": false,
        "equity": sc.equity,
        "last_equity": sc.equity,
        "long_market_value": dec(long_value),
        "short_market_value": "0",
        "position_market_value": dec(long_value),
        "initial_margin": dec(long_value),
        "maintenance_margin": dec(long_value * 0.3),
        "last_maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
        "balance_asof": market::weekdays_before(market::to_ny(Utc::now()).date_naive(), 1)[0].to_string(),
        "crypto_tier": 1,
        "intraday_adjustments": "0",
        "pending_reg_taf_fees": "0",
    }))
    .into_response()
}

fn position_json(sc: &Scenario, b: &Broker, p: Pos) -> Value {
    let price = last_close(sc);
    let lastday = sc.closes.iter().rev().nth(1).copied().unwrap_or(price);
    let market_value = p.qty * price;
    let cost_basis = p.qty * p.avg;
    let pl = market_value - cost_basis;
    let intraday = p.qty * (price - lastday);
    let ratio = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
    json!({
        "asset_id": stable_id(&sc.symbol),
        "symbol": sc.symbol,
        "exchange": exchange(&sc.symbol),
        "asset_class": "us_equity",
        "asset_marginable": true,
        "qty": dec(p.qty),
        "avg_entry_price": dec(p.avg),
        "side": "long",
        "market_value": dec(market_value),
        "cost_basis": dec(cost_basis),
        "unrealized_pl": dec(pl),
        "unrealized_plpc": dec(ratio(pl, cost_basis)),
        "unrealized_intraday_pl": dec(intraday),
        "unrealized_intraday_plpc": dec(ratio(intraday, p.qty * lastday)),
        "current_price": dec(price),
        "lastday_price": dec(lastday),
        "change_today": dec(ratio(price - lastday, lastday)),
        "qty_available": dec((p.qty - b.open_sell_qty()).max(0.0)),
    })
}

fn exchange(symbol: &str) -> &'static str {
    match symbol {
        "SPY" | "IWM" | "GLD" | "VOO" | "DIA" => "ARCA",
        "QQQ" | "AAPL" | "MSFT" | "NVDA" | "AMZN" | "GOOGL" | "META" | "TSLA" => "NASDAQ",
        _ => "NYSE",
    }
}

async fn positions(State(s): St, headers: HeaderMap) -> Response {
    gate!(s, Route::Position, headers);
    let inner = s.lock();
    let list: Vec<Value> = inner
        .broker
        .position
        .map(|p| position_json(&inner.scenario, &inner.broker, p))
        .into_iter()
        .collect();
    axum::Json(list).into_response()
}

async fn position(State(s): St, Path(symbol): Path<String>, headers: HeaderMap) -> Response {
    gate!(s, Route::Position, headers);
    let inner = s.lock();
    let known = symbol.eq_ignore_ascii_case(&inner.scenario.symbol)
        || symbol == stable_id(&inner.scenario.symbol);
    match inner.broker.position {
        Some(p) if known => {
            axum::Json(position_json(&inner.scenario, &inner.broker, p)).into_response()
        }
        _ => alpaca_error(404, 40410000, "position does not exist"),
    }
}

async fn asset(State(s): St, Path(symbol): Path<String>, headers: HeaderMap) -> Response {
    gate!(s, Route::Asset, headers);
    let inner = s.lock();
    let sc = &inner.scenario;
    if !(symbol.eq_ignore_ascii_case(&sc.symbol) || symbol == stable_id(&sc.symbol)) {
        return alpaca_error(404, 40410000, "asset not found");
    }
    axum::Json(json!({
        "id": stable_id(&sc.symbol),
        "class": "us_equity",
        "exchange": exchange(&sc.symbol),
        "symbol": sc.symbol,
        "name": if sc.symbol == "SPY" { "SPDR S&P 500 ETF Trust".to_string() } else { format!("{} Sandbox Inc. Common Stock", sc.symbol) },
        "status": "active",
        "tradable": sc.asset_tradable,
        "marginable": true,
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30",
        "margin_requirement_short": "30",
        "shortable": true,
        "easy_to_borrow": true,
        "fractionable": true,
        "attributes": ["fractional_eh_enabled", "has_options"],
    }))
    .into_response()
}

fn invalid(message: &str) -> Response {
    alpaca_error(422, 40010001, message)
}

async fn create_order(State(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let after_record = gate!(s, Route::CreateOrder, headers);
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return alpaca_error(400, 40010000, "request body format is invalid");
    };
    let field = |k: &str| req.get(k).filter(|v| !v.is_null());
    let text = |k: &str| field(k).and_then(Value::as_str).map(str::to_string);

    let mut guard = s.lock();
    let inner = &mut *guard;
    let sc = &inner.scenario;

    let Some(symbol) = text("symbol").filter(|s| !s.is_empty()) else {
        return invalid("symbol is required");
    };
    let qty = field("qty");
    let notional = field("notional");
    let (qty, notional) = match (qty, notional) {
        (Some(_), Some(_)) => return invalid("only one of qty or notional may be specified"),
        (None, None) => return invalid("qty or notional is required"),
        (Some(q), None) => match num_of(q) {
            Some(q) if q > 0.0 => (Some(q), None),
            Some(_) => return invalid("qty must be > 0"),
            None => return invalid("invalid qty"),
        },
        (None, Some(n)) => match num_of(n) {
            Some(n) if n > 0.0 => (None, Some(n)),
            Some(_) => return invalid("notional must be > 0"),
            None => return invalid("invalid notional"),
        },
    };
    let side = match text("side").as_deref() {
        Some("buy") => true,
        Some("sell") => false,
        Some(_) => return invalid("invalid side"),
        None => return invalid("side is required"),
    };
    let order_type = text("type")
        .or_else(|| text("order_type"))
        .unwrap_or_default();
    if !["market", "limit", "stop", "stop_limit", "trailing_stop"].contains(&order_type.as_str()) {
        return invalid("invalid order type");
    }
    let tif = text("time_in_force").unwrap_or_default();
    if !["day", "gtc", "opg", "cls", "ioc", "fok"].contains(&tif.as_str()) {
        return invalid("invalid time_in_force");
    }
    let fractional = notional.is_some() || qty.is_some_and(|q| q.fract() != 0.0);
    if fractional && tif != "day" {
        return alpaca_error(422, 42210000, "fractional orders must be DAY orders");
    }
    if order_type == "limit" && field("limit_price").is_none() {
        return invalid("limit_price is required");
    }
    let client_order_id =
        text("client_order_id").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if client_order_id.len() > 128 {
        return invalid("client_order_id must be no more than 128 characters");
    }
    if inner
        .broker
        .orders
        .iter()
        .any(|o| o.json["client_order_id"] == client_order_id.as_str())
    {
        return invalid("client_order_id must be unique");
    }
    if !symbol.eq_ignore_ascii_case(&sc.symbol) {
        return alpaca_error(422, 40010001, &format!("asset \"{symbol}\" not found"));
    }
    let symbol = sc.symbol.clone();
    if !sc.asset_tradable {
        return alpaca_error(422, 42210000, &format!("asset {symbol} is not tradable"));
    }
    if sc.account_status != "ACTIVE" {
        return alpaca_error(403, 40310000, "account is not active");
    }
    if sc.trading_blocked {
        return alpaca_error(403, 40310000, "account is restricted from trading");
    }
    let price = last_close(sc);
    let b = &inner.broker;
    if side {
        let cost = notional.unwrap_or(qty.unwrap_or(0.0) * price);
        if cost > b.buying_power - b.open_buy_cost(price) + 1e-9 {
            return alpaca_error(403, 40310000, "insufficient buying power");
        }
    } else {
        let held = b.position.map(|p| p.qty).unwrap_or(0.0);
        let available = (held - b.open_sell_qty()).max(0.0);
        let requested = qty.unwrap_or_else(|| notional.unwrap_or(0.0) / price);
        if requested > available + 1e-9 {
            return alpaca_error(
                403,
                40310000,
                &format!(
                    "insufficient qty available for order (requested: {}, available: {})",
                    dec(requested),
                    dec(available)
                ),
            );
        }
    }

    let now = Utc::now();
    let status = if sc.market_open { "new" } else { "accepted" };
    let num_or_null = |v: Option<&Value>| {
        v.and_then(num_of)
            .map(|x| json!(dec(x)))
            .unwrap_or(Value::Null)
    };
    let json = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "client_order_id": client_order_id,
        "created_at": ts(now),
        "updated_at": ts(now),
        "submitted_at": ts(now),
        "filled_at": null,
        "expired_at": null,
        "canceled_at": null,
        "failed_at": null,
        "replaced_at": null,
        "replaced_by": null,
        "replaces": null,
        "asset_id": stable_id(&symbol),
        "symbol": symbol,
        "asset_class": "us_equity",
        "notional": notional.map(|n| json!(dec(n))).unwrap_or(Value::Null),
        "qty": qty.map(|q| json!(dec(q))).unwrap_or(Value::Null),
        "filled_qty": "0",
        "filled_avg_price": null,
        "order_class": text("order_class").filter(|c| c != "simple").unwrap_or_default(),
        "order_type": order_type,
        "type": order_type,
        "side": if side { "buy" } else { "sell" },
        "position_intent": if side { "buy_to_open" } else { "sell_to_close" },
        "time_in_force": tif,
        "limit_price": num_or_null(field("limit_price")),
        "stop_price": num_or_null(field("stop_price")),
        "status": status,
        "extended_hours": field("extended_hours").and_then(Value::as_bool).unwrap_or(false),
        "legs": null,
        "trail_percent": num_or_null(field("trail_percent")),
        "trail_price": num_or_null(field("trail_price")),
        "hwm": null,
        "subtag": null,
        "source": null,
        "expires_at": null,
    });
    let market_order = order_type == "market";
    inner.broker.orders.push(OrderRec {
        json,
        polls: 0,
        buy: side,
        qty,
        notional,
        open: true,
    });
    let idx = inner.broker.orders.len() - 1;
    if market_order && inner.scenario.market_open && inner.scenario.fill == FillMode::Immediate {
        inner.broker.fill(idx, price, now);
    }
    let answer = inner.broker.orders[idx].json.clone();
    drop(guard);
    match after_record {
        Some(code) => crate::faults::error_for(crate::faults::Service::Alpaca, code),
        None => axum::Json(answer).into_response(),
    }
}

fn order_not_found() -> Response {
    alpaca_error(404, 40410000, "order not found")
}

async fn get_order(State(s): St, Path(id): Path<String>, headers: HeaderMap) -> Response {
    gate!(s, Route::GetOrder, headers);
    poll_order(&s, "id", &id)
}

async fn order_by_client_id(
    State(s): St,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    gate!(s, Route::OrderByClientId, headers);
    let Some(cid) = q.get("client_order_id") else {
        return invalid("client_order_id is required");
    };
    poll_order(&s, "client_order_id", cid)
}

/// A GET of the order whose `field` is `value`: counts as a poll (fills may advance).
fn poll_order(s: &Shared, field: &str, value: &str) -> Response {
    let mut guard = s.lock();
    let inner = &mut *guard;
    match inner
        .broker
        .orders
        .iter()
        .position(|o| o.json[field] == value)
    {
        Some(idx) => axum::Json(inner.broker.poll(idx, &inner.scenario)).into_response(),
        None => order_not_found(),
    }
}

// ---------------------------------------------------------------------------------------------
// Market data

fn data_error(message: &str) -> Response {
    alpaca_error(422, 42210000, message)
}

fn parse_time(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let t = if end_of_day {
        d.and_hms_opt(23, 59, 59)?
    } else {
        d.and_hms_opt(0, 0, 0)?
    };
    let offset = market::ny_offset_local(d, 12);
    Some((t - chrono::Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc())
}

const TOKEN_PREFIX: &str = "c2FuZGJveA";

fn page_token(offset: usize) -> String {
    format!("{TOKEN_PREFIX}{offset:x}")
}

fn parse_page_token(t: &str) -> Option<usize> {
    usize::from_str_radix(t.strip_prefix(TOKEN_PREFIX)?, 16).ok()
}

/// The scenario's daily bars (JSON numbers), oldest first.
pub fn daily_bars(sc: &Scenario, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Value)> {
    let today = market::to_ny(now).date_naive();
    let dates = market::weekdays_before(today, sc.closes.len());
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    dates
        .iter()
        .zip(&sc.closes)
        .enumerate()
        .map(|(i, (d, &c))| {
            let o = if i == 0 { c } else { sc.closes[i - 1] };
            let h = r2(o.max(c) * 1.002);
            let l = r2(o.min(c) * 0.998);
            let t = market::bar_time(*d);
            let bar = json!({
                "t": t.to_rfc3339_opts(SecondsFormat::Secs, true),
                "o": o,
                "h": h,
                "l": l,
                "c": c,
                "v": 60_000_000u64 + (i as u64 * 7_919) % 9_000_000,
                "n": 500_000u64 + (i as u64 * 104_729) % 100_000,
                "vw": (((h + l + c) / 3.0) * 10_000.0).round() / 10_000.0,
            });
            (t, bar)
        })
        .collect()
}

async fn bars(
    State(s): St,
    Path(symbol): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    gate!(s, Route::Bars, headers);
    let sc = s.lock().scenario.clone();
    match q
        .get("timeframe")
        .map(|t| t.to_ascii_lowercase())
        .as_deref()
    {
        Some("1day" | "1d") => {}
        Some(_) => return data_error("sandbox serves daily bars only (timeframe=1Day)"),
        None => return data_error("timeframe is required"),
    }
    let start = match q.get("start") {
        Some(v) => match parse_time(v, false) {
            Some(t) => Some(t),
            None => return data_error("invalid start"),
        },
        None => None,
    };
    let end = match q.get("end") {
        Some(v) => match parse_time(v, true) {
            Some(t) => Some(t),
            None => return data_error("invalid end"),
        },
        None => None,
    };
    let limit = match q.get("limit") {
        Some(v) => match v.parse::<usize>() {
            Ok(l) if (1..=10_000).contains(&l) => l,
            _ => return data_error("invalid limit: must be between 1 and 10000"),
        },
        None => 1000,
    };
    let desc = match q.get("sort").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return data_error("invalid sort"),
    };
    let offset = match q.get("page_token") {
        Some(t) => match parse_page_token(t) {
            Some(o) => o,
            None => return data_error("invalid page token"),
        },
        None => 0,
    };
    let mut all: Vec<Value> = if symbol == sc.symbol {
        daily_bars(&sc, Utc::now())
            .into_iter()
            .filter(|(t, _)| start.is_none_or(|s| *t >= s) && end.is_none_or(|e| *t <= e))
            .map(|(_, b)| b)
            .collect()
    } else {
        Vec::new()
    };
    if desc {
        all.reverse();
    }
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let next = (offset + limit < all.len()).then(|| page_token(offset + limit));
    axum::Json(json!({
        // Alpaca answers `null`, not `[]`, when there is no bar.
        "bars": if page.is_empty() { Value::Null } else { Value::Array(page) },
        "symbol": symbol,
        "next_page_token": next,
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Fallbacks

pub(crate) async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        discord_error(404, 0, "404: Not Found")
    } else {
        alpaca_error(404, 40410000, "endpoint not found")
    }
}

pub(crate) async fn method_not_allowed(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        discord_error(405, 0, "405: Method Not Allowed")
    } else {
        alpaca_error(405, 40510000, "method not allowed")
    }
}
