//! The cycle over an in-memory broker: every decision path, idempotency, reconciliation and
//! timeouts, with no network.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use alpaca_lambda_bot::broker::{
    Account, Bar, Broker, BrokerError, Clock, OrderReport, OrderRequest, Side,
};
use alpaca_lambda_bot::config::{Guards, Quantity, Symbol, TradeSettings};
use alpaca_lambda_bot::cycle::{self, Cause, CycleInput};
use alpaca_lambda_bot::event::Slot;
use alpaca_lambda_bot::report::{Kind, Stage};
use alpaca_lambda_bot::strategy::{SmaWindows, StrategyKind};
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use num_decimal::Num;
use tokio::time::Instant;

/// What the fake does on a submit.
#[derive(Clone)]
enum SubmitBehaviour {
    Accept,
    /// Record the order, then fail as if the answer was lost.
    RecordThenFail(BrokerError),
    Fail(BrokerError),
    /// Fail without recording; the resubmission records, and its answer is lost too.
    FailThenRecordThenFail(BrokerError),
    Hang,
}

struct FakeBroker {
    open: bool,
    blocked: bool,
    position: Option<Num>,
    closes: Vec<f64>,
    submit: SubmitBehaviour,
    fill_after_polls: usize,
    auth_failure: bool,
    tradable: bool,
    buying_power: i64,
    orders: Mutex<HashMap<String, OrderReport>>,
    submits: Mutex<usize>,
    polls: Mutex<usize>,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 15, 35, 0).unwrap()
}

impl FakeBroker {
    fn new(closes: Vec<f64>) -> Self {
        Self {
            open: true,
            blocked: false,
            position: None,
            closes,
            submit: SubmitBehaviour::Accept,
            fill_after_polls: 1,
            auth_failure: false,
            tradable: true,
            buying_power: 100_000,
            orders: Mutex::new(HashMap::new()),
            submits: Mutex::new(0),
            polls: Mutex::new(0),
        }
    }

    fn order_count(&self) -> usize {
        self.orders.lock().unwrap().len()
    }

    fn record(&self, request: &OrderRequest) -> OrderReport {
        let filled = self.fill_after_polls == 0;
        let order = OrderReport {
            id: format!("order-{}", self.order_count() + 1),
            client_order_id: request.client_order_id.clone(),
            side: request.side,
            quantity: request.quantity.as_num().clone(),
            status: if filled { "filled" } else { "accepted" }.into(),
            filled_quantity: if filled {
                request.quantity.as_num().clone()
            } else {
                Num::from(0)
            },
            filled_avg_price: filled.then(|| Num::from(500)),
        };
        self.orders
            .lock()
            .unwrap()
            .insert(order.client_order_id.clone(), order.clone());
        order
    }
}

impl Broker for FakeBroker {
    async fn clock(&self) -> Result<Clock, BrokerError> {
        if self.auth_failure {
            return Err(BrokerError::Unauthorized {
                status: 401,
                message: "request is not authorized".into(),
            });
        }
        Ok(Clock {
            is_open: self.open,
            now: now(),
            next_open: now() + ChronoDuration::hours(18),
        })
    }

    async fn account(&self) -> Result<Account, BrokerError> {
        Ok(Account {
            status: "ACTIVE".into(),
            blocked: self.blocked,
            equity: Num::from(100_000),
            buying_power: Num::from(self.buying_power),
        })
    }

    async fn position(&self, _symbol: &Symbol) -> Result<Option<Num>, BrokerError> {
        Ok(self.position.clone())
    }

    async fn tradable(&self, _symbol: &Symbol) -> Result<bool, BrokerError> {
        Ok(self.tradable)
    }

    async fn daily_bars(
        &self,
        _symbol: &Symbol,
        count: usize,
        _now: DateTime<Utc>,
    ) -> Result<Vec<Bar>, BrokerError> {
        // Completed bars end yesterday; today's unfinished bar comes last, as Alpaca sends it.
        // "Today" is the fake clock's (the cycle asks with the wall clock, as the reads run
        // together), so the tests hold on any date.
        let today = now().date_naive().and_hms_opt(5, 0, 0).unwrap().and_utc();
        let mut bars: Vec<Bar> = self
            .closes
            .iter()
            .rev()
            .enumerate()
            .map(|(i, close)| Bar {
                time: today - ChronoDuration::days(i as i64 + 1),
                close: *close,
            })
            .collect();
        bars.reverse();
        bars.push(Bar {
            time: today,
            close: 1.0,
        });
        let skip = bars.len().saturating_sub(count);
        Ok(bars.split_off(skip))
    }

    async fn submit_order(&self, request: &OrderRequest) -> Result<OrderReport, BrokerError> {
        *self.submits.lock().unwrap() += 1;
        // The network's turn: another delivery's cycle runs meanwhile, as on Alpaca.
        tokio::task::yield_now().await;
        if self
            .orders
            .lock()
            .unwrap()
            .contains_key(&request.client_order_id)
        {
            return Err(BrokerError::DuplicateClientOrderId);
        }
        match &self.submit {
            SubmitBehaviour::Accept => Ok(self.record(request)),
            SubmitBehaviour::RecordThenFail(err) => {
                self.record(request);
                Err(err.clone())
            }
            SubmitBehaviour::Fail(err) => Err(err.clone()),
            SubmitBehaviour::FailThenRecordThenFail(err) => {
                if *self.submits.lock().unwrap() > 1 {
                    self.record(request);
                }
                Err(err.clone())
            }
            SubmitBehaviour::Hang => std::future::pending().await,
        }
    }

    async fn order_by_client_id(&self, id: &str) -> Result<Option<OrderReport>, BrokerError> {
        let mut orders = self.orders.lock().unwrap();
        let Some(order) = orders.get_mut(id) else {
            return Ok(None);
        };
        let mut polls = self.polls.lock().unwrap();
        *polls += 1;
        if *polls >= self.fill_after_polls && order.status != "filled" {
            order.status = "filled".into();
            order.filled_quantity = order.quantity.clone();
            order.filled_avg_price = Some(Num::from(501));
        }
        Ok(Some(order.clone()))
    }
}

fn windows() -> SmaWindows {
    SmaWindows::new(2, 4).unwrap()
}

const GOLDEN: [f64; 6] = [10.0, 10.0, 10.0, 10.0, 9.0, 13.0];
const DEATH: [f64; 6] = [10.0, 10.0, 10.0, 10.0, 11.0, 7.0];
const FLAT: [f64; 6] = [10.0; 6];

fn settings(strategy: StrategyKind, dry_run: bool) -> TradeSettings {
    TradeSettings {
        symbol: Symbol::parse("SPY").unwrap(),
        quantity: Quantity::parse("2").unwrap(),
        strategy,
        windows: windows(),
        dry_run,
    }
}

fn slot() -> Slot {
    Slot::Scheduled {
        minute: now(),
        schedule: Some("arn:schedule".into()),
    }
}

async fn run(
    broker: &FakeBroker,
    settings: &TradeSettings,
    trading_enabled: bool,
) -> Result<alpaca_lambda_bot::report::CycleReport, cycle::CycleError> {
    run_guarded(broker, settings, trading_enabled, Guards::default()).await
}

async fn run_guarded(
    broker: &FakeBroker,
    settings: &TradeSettings,
    trading_enabled: bool,
    guards: Guards,
) -> Result<alpaca_lambda_bot::report::CycleReport, cycle::CycleError> {
    let slot = slot();
    let input = CycleInput {
        settings,
        paper: true,
        slot: &slot,
        trading_enabled,
        deadline: Instant::now() + Duration::from_secs(10),
        call_timeout: Duration::from_millis(300),
        fill_wait: Duration::from_secs(2),
        guards,
    };
    cycle::run(broker, &input).await
}

#[tokio::test]
async fn golden_cross_buys_and_reports_the_fill() {
    let broker = FakeBroker::new(GOLDEN.to_vec());
    let report = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap();
    assert_eq!(report.kind, Kind::Ordered { side: Side::Buy });
    let order = report.order.unwrap();
    assert_eq!(order.status, "filled");
    assert_eq!(order.quantity.to_string(), "2");
    assert_eq!(
        order.client_order_id,
        slot().client_order_id(&Symbol::parse("SPY").unwrap(), "buy")
    );
    assert_eq!(broker.order_count(), 1);
    // Today's unfinished bar (close 1.0) was not used.
    assert_eq!(report.decision.unwrap().last_close, Some(13.0));
}

#[tokio::test]
async fn an_unfilled_order_is_polled_until_filled() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.fill_after_polls = 2;
    let report = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap();
    let order = report.order.unwrap();
    assert_eq!(order.status, "filled");
    assert_eq!(order.filled_avg_price.unwrap().to_string(), "501");
}

#[tokio::test]
async fn an_order_never_filled_is_reported_as_submitted() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.fill_after_polls = usize::MAX;
    let started = Instant::now();
    let report = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(report.kind, Kind::Ordered { side: Side::Buy });
    assert_eq!(report.order.unwrap().status, "accepted");
    assert!(
        report.reason.contains("fill not confirmed"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn death_cross_sells_the_whole_position() {
    let mut broker = FakeBroker::new(DEATH.to_vec());
    broker.position = Some(Num::from(7));
    let report = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap();
    assert_eq!(report.kind, Kind::Ordered { side: Side::Sell });
    assert_eq!(report.order.unwrap().quantity.to_string(), "7");
}

#[tokio::test]
async fn no_signal_holds_without_an_order() {
    let broker = FakeBroker::new(FLAT.to_vec());
    let report = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap();
    assert_eq!(report.kind, Kind::Held);
    assert_eq!(broker.order_count(), 0);
}

#[tokio::test]
async fn closed_market_skips_before_anything_else() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.open = false;
    let report = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap();
    assert_eq!(report.kind, Kind::MarketClosed);
    assert!(report.reason.contains("next open"));
    assert_eq!(*broker.submits.lock().unwrap(), 0);
}

#[tokio::test]
async fn dry_run_and_kill_switch_write_nothing() {
    let broker = FakeBroker::new(GOLDEN.to_vec());
    let dry = run(&broker, &settings(StrategyKind::GoldenCross, true), true)
        .await
        .unwrap();
    assert_eq!(
        dry.kind,
        Kind::DryRun {
            side: Some(Side::Buy)
        }
    );
    let killed = run(&broker, &settings(StrategyKind::GoldenCross, false), false)
        .await
        .unwrap();
    assert_eq!(killed.kind, Kind::Skipped);
    assert!(killed.reason.contains("kill switch"), "{}", killed.reason);
    assert_eq!(*broker.submits.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_second_delivery_finds_the_slots_order() {
    let broker = FakeBroker::new(GOLDEN.to_vec());
    let s = settings(StrategyKind::BuyAndHold, false);
    let first = run(&broker, &s, true).await.unwrap();
    assert_eq!(first.kind, Kind::Ordered { side: Side::Buy });
    let second = run(&broker, &s, true).await.unwrap();
    assert_eq!(second.kind, Kind::Duplicate);
    assert!(second.reason.contains("duplicate delivery"));
    assert_eq!(second.order.unwrap().id, first.order.unwrap().id);
    assert_eq!(broker.order_count(), 1);
    assert_eq!(*broker.submits.lock().unwrap(), 1);
}

#[tokio::test]
async fn concurrent_deliveries_place_one_order() {
    let broker = FakeBroker::new(GOLDEN.to_vec());
    let s = settings(StrategyKind::BuyAndHold, false);
    let (a, b) = tokio::join!(run(&broker, &s, true), run(&broker, &s, true));
    let kinds = [a.unwrap().kind, b.unwrap().kind];
    assert!(
        kinds.contains(&Kind::Ordered { side: Side::Buy }),
        "{kinds:?}"
    );
    assert!(kinds.contains(&Kind::Duplicate), "{kinds:?}");
    assert_eq!(broker.order_count(), 1);
    // Both got past their lookup before either order existed: Alpaca's 422 settled it.
    assert_eq!(*broker.submits.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_lost_answer_is_reconciled_not_resubmitted() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.submit = SubmitBehaviour::RecordThenFail(BrokerError::Server {
        status: 500,
        message: "internal error".into(),
    });
    let report = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap();
    assert_eq!(report.kind, Kind::Ordered { side: Side::Buy });
    assert_eq!(broker.order_count(), 1);
    assert_eq!(*broker.submits.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_failed_request_that_left_no_order_is_resubmitted_once() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.submit = SubmitBehaviour::Fail(BrokerError::Transport("connection reset".into()));
    let err = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap_err();
    assert_eq!(err.stage, Stage::Order);
    assert_eq!(
        *broker.submits.lock().unwrap(),
        2,
        "one resubmission, no more"
    );
    assert_eq!(broker.order_count(), 0);
}

#[tokio::test]
async fn an_order_placed_by_our_own_resubmission_is_ours_not_a_duplicate() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.submit = SubmitBehaviour::FailThenRecordThenFail(BrokerError::Server {
        status: 502,
        message: "bad gateway".into(),
    });
    let report = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap();
    assert_eq!(report.kind, Kind::Ordered { side: Side::Buy });
    assert_eq!(*broker.submits.lock().unwrap(), 2);
    assert_eq!(broker.order_count(), 1);
}

#[tokio::test]
async fn a_hanging_order_request_times_out() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.submit = SubmitBehaviour::Hang;
    let started = Instant::now();
    let err = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap_err();
    assert_eq!(err.stage, Stage::Order);
    assert!(matches!(err.cause, Cause::Timeout(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_refusal_is_explained_in_plain_words() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.submit = SubmitBehaviour::Fail(BrokerError::Rejected {
        status: 403,
        message: "insufficient buying power".into(),
    });
    let err = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not enough buying power"), "{err}");
    assert!(
        err.to_string().contains("insufficient buying power"),
        "{err}"
    );
}

#[tokio::test]
async fn a_blocked_account_is_an_error_without_an_order() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.blocked = true;
    let err = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap_err();
    assert_eq!(err.stage, Stage::Account);
    assert_eq!(broker.order_count(), 0);
}

#[tokio::test]
async fn refused_keys_are_flagged_for_a_secret_refetch() {
    let mut broker = FakeBroker::new(GOLDEN.to_vec());
    broker.auth_failure = true;
    let err = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap_err();
    assert!(err.is_auth());
    assert_eq!(err.stage, Stage::Clock);
}

#[tokio::test]
async fn too_few_bars_fails_in_the_strategy_stage() {
    let broker = FakeBroker::new(GOLDEN[..3].to_vec());
    let err = run(&broker, &settings(StrategyKind::GoldenCross, false), true)
        .await
        .unwrap_err();
    assert_eq!(err.stage, Stage::Strategy);
    assert_eq!(broker.order_count(), 0);
}

#[tokio::test]
async fn guards_skip_a_buy_with_the_reason() {
    // Last close 13, quantity 2: an estimated cost of 26.
    let s = settings(StrategyKind::GoldenCross, false);
    type Setup = Box<dyn Fn(&mut FakeBroker)>;
    let cases: [(Setup, Guards, &str); 4] = [
        (
            Box::new(|_| {}),
            Guards {
                max_order_notional: Some(25.0),
                max_position_qty: None,
            },
            "MAX_ORDER_NOTIONAL",
        ),
        (
            Box::new(|_| {}),
            Guards {
                max_order_notional: None,
                max_position_qty: Some(1.5),
            },
            "MAX_POSITION_QTY",
        ),
        (
            Box::new(|b| b.buying_power = 20),
            Guards::default(),
            "buying power",
        ),
        (
            Box::new(|b| b.tradable = false),
            Guards::default(),
            "not tradable",
        ),
    ];
    for (setup, guards, needle) in cases {
        let mut broker = FakeBroker::new(GOLDEN.to_vec());
        setup(&mut broker);
        let report = run_guarded(&broker, &s, true, guards).await.unwrap();
        assert_eq!(report.kind, Kind::Skipped, "{needle}");
        assert!(
            report.reason.contains(needle),
            "{needle}: {}",
            report.reason
        );
        assert_eq!(*broker.submits.lock().unwrap(), 0, "{needle}");
    }
    // Within every limit, the same buy goes through.
    let broker = FakeBroker::new(GOLDEN.to_vec());
    let guards = Guards {
        max_order_notional: Some(26.0),
        max_position_qty: Some(2.0),
    };
    let report = run_guarded(&broker, &s, true, guards).await.unwrap();
    assert_eq!(report.kind, Kind::Ordered { side: Side::Buy });
}
