//! One trade cycle over the broker port: no Lambda types, no Discord, no secrets.
//!
//! ```text
//! clock ∥ account ∥ position ∥ bars ∥ slot's orders ──► decide ──► order ──► fill poll
//! ```
//! The reads start together; a closed market ends the cycle as soon as the clock answers,
//! dropping the other reads. Every call runs under a timeout inside the cycle's deadline.

use std::future::Future;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use tokio::time::Instant;

use crate::broker::{Bar, Broker, BrokerError, Clock, OrderReport, OrderRequest, Side};
use crate::config::{Guards, Quantity, TradeSettings};
use crate::event::Slot;
use crate::report::{CycleReport, Kind, Stage};
use crate::strategy::{self, Action};

/// What one cycle is asked to do.
#[derive(Debug, Clone)]
pub struct CycleInput<'a> {
    pub settings: &'a TradeSettings,
    pub paper: bool,
    pub slot: &'a Slot,
    /// Both kill switches (environment and secret) are on.
    pub trading_enabled: bool,
    /// The cycle ends by then, leaving the rest of the invocation to post the outcome.
    pub deadline: Instant,
    /// The longest any single broker call may take.
    pub call_timeout: Duration,
    /// How long to wait for a fill after the order was accepted.
    pub fill_wait: Duration,
    pub guards: Guards,
}

/// A failed cycle: the stage and why. No order is ever lost behind one: once an order is
/// placed, later trouble is reported on the order, not as a failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} failed: {cause}", stage.as_str())]
pub struct CycleError {
    pub stage: Stage,
    pub cause: Cause,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Strategy(#[from] strategy::StrategyError),
    #[error("{0}")]
    Refused(String),
}

impl CycleError {
    fn new(stage: Stage, cause: impl Into<Cause>) -> Self {
        Self {
            stage,
            cause: cause.into(),
        }
    }

    /// Alpaca refused the keys: a fresh secret may heal it.
    pub fn is_auth(&self) -> bool {
        matches!(&self.cause, Cause::Broker(e) if e.is_auth())
    }
}

/// The reads of a cycle, ended early by a closed market.
enum Early {
    Closed(Clock),
    Failed(CycleError),
}

impl From<CycleError> for Early {
    fn from(err: CycleError) -> Self {
        Early::Failed(err)
    }
}

/// Runs one cycle. `Ok` is every deliberate ending (order, hold, closed, duplicate, dry run,
/// kill switch); `Err` a real failure.
pub async fn run<B: Broker>(broker: &B, input: &CycleInput<'_>) -> Result<CycleReport, CycleError> {
    let settings = input.settings;
    let symbol = &settings.symbol;
    let mut report = CycleReport::new(
        Kind::Held,
        String::new(),
        symbol.as_str(),
        input.paper,
        &input.slot.label(),
    );
    report.strategy = Some(settings.strategy.as_str());
    let buy_id = input.slot.client_order_id(symbol, Side::Buy.as_str());
    let sell_id = input.slot.client_order_id(symbol, Side::Sell.as_str());
    // At least one bar: the last close prices the guards' checks.
    let bars_needed = settings.strategy.bars_needed(settings.windows).max(1);

    let clock = async {
        let clock = call(input, Stage::Clock, broker.clock()).await?;
        if clock.is_open {
            Ok(clock)
        } else {
            Err(Early::Closed(clock))
        }
    };
    let account = async { Ok::<_, Early>(call(input, Stage::Account, broker.account()).await?) };
    let position =
        async { Ok::<_, Early>(call(input, Stage::Position, broker.position(symbol)).await?) };
    let tradable =
        async { Ok::<_, Early>(call(input, Stage::Asset, broker.tradable(symbol)).await?) };
    let bars = async {
        // One spare bar: today's unfinished one may be in the answer and is dropped.
        let fetch = broker.daily_bars(symbol, bars_needed + 1, chrono::Utc::now());
        Ok::<_, Early>(call(input, Stage::Bars, fetch).await?)
    };
    // A second delivery of this slot finds its order here while the market is open (a
    // closed market ends the cycle first, with nothing to trade either way).
    let existing = async {
        let (buy, sell) = tokio::try_join!(
            call(input, Stage::Order, broker.order_by_client_id(&buy_id)),
            call(input, Stage::Order, broker.order_by_client_id(&sell_id)),
        )?;
        Ok::<_, Early>(buy.or(sell))
    };

    let (clock, account, position, tradable, bars, existing) =
        match tokio::try_join!(clock, account, position, tradable, bars, existing) {
            Ok(reads) => reads,
            Err(Early::Closed(clock)) => {
                report.kind = Kind::MarketClosed;
                report.reason = format!(
                    "market closed; next open {}",
                    clock.next_open.format("%Y-%m-%d %H:%M UTC")
                );
                return Ok(report);
            }
            Err(Early::Failed(err)) => return Err(err),
        };
    report.account = Some(account.clone());

    if let Some(order) = existing {
        report.kind = Kind::Duplicate;
        report.reason = duplicate_reason(order.side, &order.status);
        report.client_order_id = Some(order.client_order_id.clone());
        report.order = Some(order);
        return Ok(report);
    }
    if account.blocked {
        return Err(CycleError::new(
            Stage::Account,
            Cause::Refused(format!(
                "the Alpaca account cannot trade (status {}, trading blocked or suspended)",
                account.status
            )),
        ));
    }

    let held = match position {
        Some(qty) if qty.is_negative() => {
            report.kind = Kind::Skipped;
            report.reason = format!("a short position of {qty} is held; this bot only trades long");
            return Ok(report);
        }
        Some(qty) => Quantity::from_num(qty),
        None => None,
    };
    let closes = completed_closes(&bars, &clock);
    let decision = strategy::decide(
        settings.strategy,
        settings.windows,
        &closes,
        held.as_ref(),
        &settings.quantity,
    )
    .map_err(|e| CycleError::new(Stage::Strategy, e))?;
    report.reason = decision.reason.clone();
    report.decision = Some(decision.clone());

    let (side, quantity, client_order_id) = match decision.action {
        Action::Hold => {
            report.kind = if settings.dry_run {
                Kind::DryRun { side: None }
            } else {
                Kind::Held
            };
            return Ok(report);
        }
        Action::Buy(quantity) => (Side::Buy, quantity, buy_id),
        Action::Sell(quantity) => (Side::Sell, quantity, sell_id),
    };
    report.client_order_id = Some(client_order_id.clone());

    let guard = if tradable {
        check_guards(
            side,
            &quantity,
            held.as_ref(),
            decision.last_close,
            &account,
            input.guards,
        )
    } else {
        Some(format!("{symbol} is not tradable on Alpaca"))
    };
    if let Some(why) = guard {
        report.kind = Kind::Skipped;
        report.reason = format!("{}; guard: {why}: no order sent", decision.reason);
        return Ok(report);
    }
    if settings.dry_run {
        report.kind = Kind::DryRun { side: Some(side) };
        report.reason = format!("{}; dry run: no order sent", decision.reason);
        return Ok(report);
    }
    if !input.trading_enabled {
        report.kind = Kind::Skipped;
        report.reason = format!(
            "{}; trading is disabled by the kill switch (TRADING_ENABLED or the secret's trading_enabled): no order sent",
            decision.reason
        );
        return Ok(report);
    }

    let request = OrderRequest {
        symbol: symbol.clone(),
        side,
        quantity,
        client_order_id,
    };
    let (order, duplicate) = place_order(broker, input, &request).await?;
    let order = wait_for_fill(broker, input, order).await;
    report.kind = if duplicate {
        Kind::Duplicate
    } else {
        Kind::Ordered { side }
    };
    report.reason = if duplicate {
        duplicate_reason(side, &order.status)
    } else if order.is_filled() {
        format!("{}; filled", decision.reason)
    } else {
        format!(
            "{}; order {} (status {}), fill not confirmed within {:?}",
            decision.reason,
            if order.is_final() {
                "ended"
            } else {
                "submitted"
            },
            order.status,
            input.fill_wait
        )
    };
    report.order = Some(order);
    Ok(report)
}

/// The risk limits a buy must pass; `Some(why)` when one is broken. Sells only reduce risk.
fn check_guards(
    side: Side,
    quantity: &Quantity,
    held: Option<&Quantity>,
    last_close: Option<f64>,
    account: &crate::broker::Account,
    guards: Guards,
) -> Option<String> {
    if side == Side::Sell {
        return None;
    }
    let qty = quantity.as_num().to_f64().unwrap_or(f64::INFINITY);
    let Some(price) = last_close else {
        return Some("no recent close to price the order against".into());
    };
    let cost = qty * price;
    if let Some(max) = guards.max_order_notional
        && cost > max
    {
        return Some(format!(
            "the order's estimated cost {cost:.2} exceeds MAX_ORDER_NOTIONAL {max}"
        ));
    }
    let buying_power = account.buying_power.to_f64().unwrap_or(0.0);
    if cost > buying_power {
        return Some(format!(
            "buying power {buying_power:.2} is below the order's estimated cost {cost:.2}"
        ));
    }
    let held = held.and_then(|h| h.as_num().to_f64()).unwrap_or(0.0);
    if let Some(max) = guards.max_position_qty
        && held + qty > max
    {
        return Some(format!(
            "the position after the buy ({}) would exceed MAX_POSITION_QTY {max}",
            held + qty
        ));
    }
    None
}

/// Submits the order once; an answer that leaves the order's fate unknown (5xx, timeout,
/// dropped connection) is resolved by looking the order up by its id before the single
/// resubmission with the same id. Returns the order and whether it was a duplicate.
async fn place_order<B: Broker>(
    broker: &B,
    input: &CycleInput<'_>,
    request: &OrderRequest,
) -> Result<(OrderReport, bool), CycleError> {
    let id = &request.client_order_id;
    let mut resubmitted = false;
    loop {
        let failure = match call(input, Stage::Order, broker.submit_order(request)).await {
            Ok(order) => return Ok((order, false)),
            Err(err) => err,
        };
        let duplicate = matches!(
            failure.cause,
            Cause::Broker(BrokerError::DuplicateClientOrderId)
        );
        let ambiguous = match &failure.cause {
            Cause::Broker(e) => e.is_ambiguous(),
            Cause::Timeout(_) => true,
            _ => false,
        };
        if !duplicate && !ambiguous {
            return Err(explain_order_failure(failure));
        }
        match call(input, Stage::Order, broker.order_by_client_id(id)).await {
            // Found: placed by another delivery (a 422 to our first request), or by one of
            // our own requests whose answer was lost. After our resubmission a 422 can be
            // our first request landing late: the order is reported as ours rather than
            // risk no delivery ever reporting it.
            Ok(Some(order)) => return Ok((order, duplicate && !resubmitted)),
            Ok(None) if duplicate => {
                return Err(CycleError::new(
                    Stage::Order,
                    Cause::Refused(format!(
                        "Alpaca reports client_order_id {id} as used, but no order with it was found"
                    )),
                ));
            }
            Ok(None) if !resubmitted => {
                tracing::warn!(client_order_id = %id, cause = %failure, "order not recorded by Alpaca; resubmitting once with the same client_order_id");
                resubmitted = true;
            }
            Ok(None) => return Err(failure),
            Err(lookup) => {
                return Err(CycleError::new(
                    Stage::Order,
                    Cause::Refused(format!(
                        "the order's fate is unknown: {failure}; looking it up by client_order_id {id} also failed: {lookup}. \
                         Check Alpaca before trading again"
                    )),
                ));
            }
        }
    }
}

fn duplicate_reason(side: Side, status: &str) -> String {
    format!(
        "duplicate delivery: this slot's {} order was already placed (status {status})",
        side.as_str()
    )
}

/// A common refusal in the adapter's plain words, with Alpaca's own message kept.
fn explain_order_failure(err: CycleError) -> CycleError {
    let Cause::Broker(broker @ BrokerError::Rejected { message, .. }) = &err.cause else {
        return err;
    };
    let Some(plain) = broker.plain_refusal() else {
        return err;
    };
    CycleError::new(
        Stage::Order,
        Cause::Refused(format!("{plain} (Alpaca: {message})")),
    )
}

/// Polls the order until filled, final, or `fill_wait` runs out. Poll errors keep the last
/// known state: the order exists either way and is reported as such.
async fn wait_for_fill<B: Broker>(
    broker: &B,
    input: &CycleInput<'_>,
    mut order: OrderReport,
) -> OrderReport {
    let give_up = (Instant::now() + input.fill_wait).min(input.deadline);
    let mut pause = Duration::from_millis(200);
    while !order.is_final() {
        if Instant::now() + pause >= give_up {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
        match call(
            input,
            Stage::Order,
            broker.order_by_client_id(&order.client_order_id),
        )
        .await
        {
            Ok(Some(latest)) => order = latest,
            Ok(None) => break,
            Err(err) => {
                tracing::warn!(client_order_id = %order.client_order_id, cause = %err, "fill poll failed; reporting the last known order state");
                break;
            }
        }
    }
    order
}

/// Closes of the daily bars that are complete at `clock.now`. A daily bar starts at
/// midnight New York time, so today's (unfinished) bar started less than 24 hours ago.
fn completed_closes(bars: &[Bar], clock: &Clock) -> Vec<f64> {
    bars.iter()
        .filter(|b| b.time + ChronoDuration::hours(24) <= clock.now)
        .map(|b| b.close)
        .collect()
}

/// A broker call under the smaller of the per-call timeout and the cycle's deadline.
async fn call<T>(
    input: &CycleInput<'_>,
    stage: Stage,
    future: impl Future<Output = Result<T, BrokerError>>,
) -> Result<T, CycleError> {
    let limit = (Instant::now() + input.call_timeout).min(input.deadline);
    let budget = limit.saturating_duration_since(Instant::now());
    match tokio::time::timeout_at(limit, future).await {
        Ok(result) => result.map_err(|e| CycleError::new(stage, e)),
        Err(_) => Err(CycleError::new(stage, Cause::Timeout(budget))),
    }
}
