//! The fault-injection matrix: every call of a cycle (secret, clock, account, position, bars,
//! the slot's order lookup, order create, fill poll, Discord) gets a 500, a 429, a hang past
//! the budget and a dropped connection, through the real handler, the real Secrets Manager
//! client against `moto_server` and the real Alpaca and Discord adapters against the sandbox.
//!
//! Each case asserts the number of orders, the outcome or the error's stage, whether Discord
//! accepted a post, and that the invocation returned before its deadline. The whole matrix
//! runs with recognisable secret values, and none may appear in an outcome, an error, a
//! Discord body or a log line (CONTRACT §6).

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use alpaca_lambda_bot::handler::Bot;
use bot_sandbox::{Fault, FaultKind, FillMode, MotoServer, Route, Sandbox, Scenario};
use serde_json::{Value, json};

mod common;
use common::{LONG, LogBuffer, SHORT, now_ms, secrets_client};

const SECRET_NAME: &str = "alpaca-bot/faults";

const KEY: &str = "LEAKCHECK-KEY-7f3a";
const SECRET: &str = "LEAKCHECK-SECRET-91bc";
const TOKEN: &str = "LEAKCHECK-TOKEN-5d2e";
const LEAKS: [&str; 3] = [KEY, SECRET, TOKEN];

/// The deadline of most cases: the cycle gets half (4 s), the post the other half.
const BUDGET_MS: u64 = 8_000;
/// Cases that must outlive one timed-out broker call (CALL_TIMEOUT is 5 s) and still act.
const LONG_BUDGET_MS: u64 = 14_000;

// ---------------------------------------------------------------------------------------
// Captured logs: one subscriber for the whole test binary, at DEBUG for every crate.

fn logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| LogBuffer::capture(tracing::Level::DEBUG))
}

fn assert_no_leak_in_logs() {
    let text = logs().text();
    assert!(!text.is_empty(), "the log capture saw nothing");
    for leak in LEAKS {
        assert!(
            !text.contains(leak),
            "a log line shows {leak}:\n{}",
            text.lines()
                .filter(|l| l.contains(leak))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------
// The world: one sandbox and one moto_server per test function.

struct World {
    sandbox: Sandbox,
    moto: MotoServer,
}

fn scenario(fill: FillMode) -> Scenario {
    let mut s = Scenario::default()
        .with_closes(Scenario::golden_cross(SHORT, LONG))
        .with_fill(fill);
    s.api_key = KEY.into();
    s.api_secret = SECRET.into();
    s.discord_webhook_token = TOKEN.into();
    s
}

impl World {
    async fn start() -> Self {
        logs();
        let sandbox = Sandbox::start(scenario(FillMode::Immediate)).await.unwrap();
        let moto = MotoServer::start().await.unwrap();
        let webhook = sandbox.webhook_url();
        assert!(webhook.contains(TOKEN), "{webhook}");
        let secret = json!({
            "api_key": KEY,
            "api_secret": SECRET,
            "discord_webhook_url": webhook,
        });
        moto.create_secret(SECRET_NAME, &secret.to_string()).await;
        Self { sandbox, moto }
    }

    /// A cold start: a new `Bot` (empty secret cache, new clients).
    async fn bot(&self, secrets_endpoint: Option<&str>, secret_id: &str) -> Bot {
        let config = common::config(secret_id, &self.sandbox.base_url(), &[]);
        let endpoint = secrets_endpoint
            .map(str::to_string)
            .unwrap_or_else(|| self.moto.endpoint_url());
        Bot::new(
            config,
            None,
            secrets_client(&endpoint).await,
            alpaca_lambda_bot::http::client().unwrap(),
        )
    }
}

fn event(case: &str) -> Value {
    common::scheduled_now(case)
}

// ---------------------------------------------------------------------------------------
// Cases.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// `Ok` with this status.
    Ok(&'static str),
    /// A Lambda error whose text starts with this stage.
    Err(&'static str),
}

/// When a fault is queued.
#[derive(Clone, Copy, Debug)]
enum When {
    /// Before the invocation.
    Before,
    /// Once the sandbox holds an order (so the fill poll, not the slot's first lookup, gets it).
    AfterOrderRecorded,
    /// Once the bot has sent `POST /v2/orders`.
    AfterOrderPosted,
}

struct Case {
    name: String,
    faults: Vec<(When, Fault)>,
    fill: FillMode,
    budget_ms: u64,
    /// Secrets Manager endpoint override and secret id (secret faults).
    secrets_endpoint: Option<String>,
    secret_id: &'static str,
    orders: usize,
    expect: Expect,
    /// `notified` in the outcome (`Ok` only).
    notified: Option<bool>,
    /// Whether Discord must have accepted a post (`None`: not asserted).
    discord_accepted: Option<bool>,
    /// A text the outcome's reason or the error must contain.
    text: Option<&'static str>,
    /// The reported order's status.
    order_status: Option<&'static str>,
}

impl Case {
    fn new(name: impl Into<String>, orders: usize, expect: Expect) -> Self {
        Case {
            name: name.into(),
            faults: Vec::new(),
            fill: FillMode::Immediate,
            budget_ms: BUDGET_MS,
            secrets_endpoint: None,
            secret_id: SECRET_NAME,
            orders,
            expect,
            notified: None,
            discord_accepted: None,
            text: None,
            order_status: None,
        }
    }
    fn fault(mut self, when: When, route: Route, kind: FaultKind, times: u32) -> Self {
        self.faults.push((when, Fault { route, kind, times }));
        self
    }
    fn fill(mut self, fill: FillMode) -> Self {
        self.fill = fill;
        self
    }
    fn budget(mut self, ms: u64) -> Self {
        self.budget_ms = ms;
        self
    }
    fn notified(mut self, n: bool) -> Self {
        self.notified = Some(n);
        self
    }
    fn discord(mut self, accepted: bool) -> Self {
        self.discord_accepted = Some(accepted);
        self
    }
    fn text(mut self, t: &'static str) -> Self {
        self.text = Some(t);
        self
    }
    fn order_status(mut self, s: &'static str) -> Self {
        self.order_status = Some(s);
        self
    }
}

struct Row {
    case: String,
    orders: usize,
    result: String,
    notified: String,
    posts: String,
    ms: u128,
    failures: Vec<String>,
}

fn kinds() -> [(&'static str, FaultKind); 4] {
    [
        ("500", FaultKind::Status(500)),
        (
            "429",
            FaultKind::RateLimited {
                retry_after_secs: 1.0,
            },
        ),
        ("hang", FaultKind::Hang),
        ("drop", FaultKind::Drop),
    ]
}

async fn run_case(world: &World, case: &Case) -> Row {
    world.sandbox.reset();
    world.sandbox.set_scenario(scenario(case.fill));
    for (when, fault) in &case.faults {
        if matches!(when, When::Before) {
            world.sandbox.inject(fault.clone());
        }
    }
    let bot = world
        .bot(case.secrets_endpoint.as_deref(), case.secret_id)
        .await;
    let deadline = now_ms() + case.budget_ms;
    let started = Instant::now();
    let late: Vec<(When, Fault)> = case
        .faults
        .iter()
        .filter(|(w, _)| !matches!(w, When::Before))
        .cloned()
        .collect();
    let watcher = async {
        for (when, fault) in late {
            loop {
                let ready = match when {
                    When::AfterOrderRecorded => !world.sandbox.orders().is_empty(),
                    When::AfterOrderPosted => world
                        .sandbox
                        .requests()
                        .iter()
                        .any(|r| r.method == "POST" && r.path == "/v2/orders"),
                    When::Before => true,
                };
                if ready {
                    world.sandbox.inject(fault);
                    break;
                }
                if started.elapsed() > Duration::from_millis(case.budget_ms) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    let invoke = async {
        // A generous outer limit: an overrun is measured and reported, never waited out.
        tokio::time::timeout(
            Duration::from_millis(case.budget_ms + 10_000),
            bot.invoke(event(&case.name), "req-matrix", deadline),
        )
        .await
    };
    let ((), result) = tokio::join!(watcher, invoke);
    let ms = started.elapsed().as_millis();
    let orders = world.sandbox.orders().len();
    let posts = world.sandbox.discord_messages();
    let accepted = posts.iter().filter(|p| p.accepted).count();

    let mut failures = Vec::new();
    let (result_text, notified_text) = match &result {
        Err(_) => {
            failures.push(format!("no return within {} ms", case.budget_ms + 10_000));
            ("TIMEOUT".to_string(), "-".to_string())
        }
        Ok(Ok(outcome)) => {
            let status = outcome["status"].as_str().unwrap_or("?");
            let reason = outcome["reason"].as_str().unwrap_or("");
            let order_status = outcome["order"]["status"].as_str().unwrap_or("-");
            match case.expect {
                Expect::Ok(want) if want == status => {}
                want => failures.push(format!("expected {want:?}, got Ok {outcome}")),
            }
            if let Some(n) = case.notified
                && outcome["notified"] != n
            {
                failures.push(format!("notified {} != {n}", outcome["notified"]));
            }
            if let Some(t) = case.text
                && !reason.contains(t)
            {
                failures.push(format!("reason {reason:?} lacks {t:?}"));
            }
            if let Some(s) = case.order_status
                && order_status != s
            {
                failures.push(format!("order status {order_status} != {s}"));
            }
            if outcome["notified"] == true && accepted == 0 {
                failures.push("notified true but Discord accepted no post".into());
            }
            for leak in LEAKS {
                if outcome.to_string().contains(leak) {
                    failures.push(format!("the outcome shows {leak}"));
                }
            }
            (
                format!("ok {status} (order {order_status}): {reason}"),
                outcome["notified"].to_string(),
            )
        }
        Ok(Err(error)) => {
            let text = error.to_string();
            match case.expect {
                Expect::Err(stage) if text.starts_with(&format!("{stage} failed")) => {}
                want => failures.push(format!("expected {want:?}, got error {text}")),
            }
            if let Some(t) = case.text
                && !text.contains(t)
            {
                failures.push(format!("error {text:?} lacks {t:?}"));
            }
            for leak in LEAKS {
                if text.contains(leak) || format!("{error:?}").contains(leak) {
                    failures.push(format!("the error shows {leak}"));
                }
            }
            (format!("error: {text}"), "-".to_string())
        }
    };
    if orders != case.orders {
        failures.push(format!("{orders} orders, expected {}", case.orders));
    }
    if let Some(want) = case.discord_accepted
        && (accepted > 0) != want
    {
        failures.push(format!(
            "Discord accepted {accepted} post(s), expected any: {want}"
        ));
    }
    for post in &posts {
        let body = post.body.to_string();
        for leak in LEAKS {
            if body.contains(leak) {
                failures.push(format!("a Discord body shows {leak}: {body}"));
            }
        }
    }
    if ms >= case.budget_ms as u128 {
        failures.push(format!(
            "returned after {ms} ms, past the {} ms deadline",
            case.budget_ms
        ));
    }
    Row {
        case: case.name.clone(),
        orders,
        result: result_text,
        notified: notified_text,
        posts: format!("{accepted}/{}", posts.len()),
        ms,
        failures,
    }
}

/// Runs the cases one after another, prints the table, fails with every failing case.
async fn run_matrix(title: &str, world: &World, cases: &[Case]) {
    let mut rows = Vec::new();
    for case in cases {
        rows.push(run_case(world, case).await);
    }
    let mut table = format!(
        "\n== {title}: {} cases, {} orders expected in all ==\n{:<34} {:>6} {:>8} {:>8} {:>6}  outcome / error\n",
        cases.len(),
        cases.iter().map(|c| c.orders).sum::<usize>(),
        "case",
        "orders",
        "notified",
        "discord",
        "ms"
    );
    for r in &rows {
        let mut result = r.result.clone();
        if result.len() > 150 {
            let mut cut = 150;
            while !result.is_char_boundary(cut) {
                cut -= 1;
            }
            result.truncate(cut);
            result.push('…');
        }
        let _ = writeln!(
            table,
            "{:<34} {:>6} {:>8} {:>8} {:>6}  {}{}",
            r.case,
            r.orders,
            r.notified,
            r.posts,
            r.ms,
            result,
            if r.failures.is_empty() {
                ""
            } else {
                "  <-- FAIL"
            }
        );
    }
    println!("{table}");
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.failures.is_empty())
        .map(|r| format!("{}: {}", r.case, r.failures.join("; ")))
        .collect();
    assert!(
        failed.is_empty(),
        "{table}\nfailing cases:\n{}",
        failed.join("\n")
    );
    assert_no_leak_in_logs();
}

// ---------------------------------------------------------------------------------------
// The matrix.

/// The reads before the decision: a fault on any of them ends the cycle with a Lambda error
/// naming the stage, no order, and the error posted to Discord.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_reads_fail_the_stage_without_an_order() {
    let world = World::start().await;
    let mut cases = vec![Case::new("healthy", 1, Expect::Ok("ordered")).notified(true)];
    for (route, stage) in [
        (Route::Clock, "clock"),
        (Route::Account, "account"),
        (Route::Position, "position"),
        (Route::Bars, "bars"),
        // The slot's own order lookup (a second delivery's guard) runs with the reads.
        (Route::OrderByClientId, "order"),
    ] {
        for (label, kind) in kinds() {
            cases.push(
                Case::new(format!("{stage} {label}"), 0, Expect::Err(stage))
                    .fault(When::Before, route, kind, 1)
                    .discord(true),
            );
        }
    }
    run_matrix("reads", &world, &cases).await;
}

/// Order creation: an answer that leaves the order's fate unknown is looked up and resubmitted
/// once (one order); a refusal places none; a 500 after the order was recorded is found by
/// the lookup (one order, not two).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_order_create_place_at_most_one_order() {
    let world = World::start().await;
    let create = Route::CreateOrder;
    let cases = vec![
        Case::new("create 500", 1, Expect::Ok("ordered"))
            .fault(When::Before, create, FaultKind::Status(500), 1)
            .notified(true),
        Case::new("create 429", 0, Expect::Err("order"))
            .fault(
                When::Before,
                create,
                FaultKind::RateLimited {
                    retry_after_secs: 1.0,
                },
                1,
            )
            .discord(true),
        Case::new("create hang", 1, Expect::Ok("ordered"))
            .fault(When::Before, create, FaultKind::Hang, 1)
            .budget(LONG_BUDGET_MS)
            .notified(true),
        Case::new("create drop", 1, Expect::Ok("ordered"))
            .fault(When::Before, create, FaultKind::Drop, 1)
            .notified(true),
        Case::new("create 500 after record", 1, Expect::Ok("ordered"))
            .fault(When::Before, create, FaultKind::StatusAfterRecord(500), 1)
            .notified(true),
        Case::new("create 503 after record", 1, Expect::Ok("ordered"))
            .fault(When::Before, create, FaultKind::StatusAfterRecord(503), 1)
            .notified(true),
        Case::new("create 500 twice", 0, Expect::Err("order"))
            .fault(When::Before, create, FaultKind::Status(500), 2)
            .discord(true),
        Case::new("create hang, lookup 500", 0, Expect::Err("order"))
            .fault(When::Before, create, FaultKind::Hang, 1)
            .fault(
                When::AfterOrderPosted,
                Route::OrderByClientId,
                FaultKind::Status(500),
                1,
            )
            .budget(LONG_BUDGET_MS)
            .text("fate is unknown")
            .discord(true),
    ];
    run_matrix("order create", &world, &cases).await;
}

/// The fill poll: the order exists whatever the poll meets; it is reported as placed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_the_fill_poll_keep_the_order() {
    let world = World::start().await;
    let mut cases = vec![
        Case::new("poll healthy", 1, Expect::Ok("ordered"))
            .fill(FillMode::AfterPolls(1))
            .order_status("filled")
            .notified(true),
    ];
    for (label, kind) in kinds() {
        cases.push(
            Case::new(format!("poll {label}"), 1, Expect::Ok("ordered"))
                .fill(FillMode::AfterPolls(1))
                .fault(When::AfterOrderRecorded, Route::OrderByClientId, kind, 1)
                .order_status("new")
                .notified(true),
        );
    }
    run_matrix("fill poll", &world, &cases).await;
}

/// Discord: a failed post never fails the invocation nor touches the trade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_discord_never_touch_the_trade() {
    let world = World::start().await;
    let mut cases = vec![
        Case::new("discord 500 once", 1, Expect::Ok("ordered"))
            .fault(When::Before, Route::Discord, FaultKind::Status(500), 1)
            .notified(true),
    ];
    for (label, kind) in kinds() {
        if kind == FaultKind::Hang {
            // See a_hung_discord_post_returns_before_the_deadline.
            continue;
        }
        cases.push(
            Case::new(format!("discord {label} always"), 1, Expect::Ok("ordered"))
                .fault(When::Before, Route::Discord, kind, 10)
                .notified(false)
                .discord(false),
        );
    }
    run_matrix("discord", &world, &cases).await;
}

/// A webhook that never answers: the trade stands, `notified` is false, and the invocation
/// still returns before its deadline (Lambda would otherwise report a timeout for a cycle that
/// ordered, and an asynchronous invocation would be retried).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_discord_post_returns_before_the_deadline() {
    let world = World::start().await;
    let case = Case::new("discord hang always", 1, Expect::Ok("ordered"))
        .fault(When::Before, Route::Discord, FaultKind::Hang, 10)
        .notified(false)
        .discord(false);
    run_matrix("discord hang", &world, &[case]).await;
}

/// A fake Secrets Manager endpoint: `Some(response)` answers every request with it, `None`
/// accepts and never answers, and `drop` closes each connection at once.
async fn fake_endpoint(response: Option<String>, drop: bool) -> String {
    let port = common::raw_server(response, Duration::ZERO, drop).await;
    format!("http://127.0.0.1:{port}")
}

fn aws_error(status: &str, code: &str) -> String {
    let body = format!(r#"{{"__type":"{code}","message":"injected"}}"#);
    common::raw_response(
        status,
        &format!("content-type: application/x-amz-json-1.1\r\nx-amzn-errortype: {code}\r\n"),
        &body,
    )
}

fn secret_cases(endpoints: [String; 3]) -> Vec<Case> {
    let [e500, e429, edrop] = endpoints;
    let mut cases = vec![
        Case::new("secret missing", 0, Expect::Err("secrets")).discord(false),
        Case::new("secret 500", 0, Expect::Err("secrets")).discord(false),
        Case::new("secret 429", 0, Expect::Err("secrets")).discord(false),
        Case::new("secret drop", 0, Expect::Err("secrets")).discord(false),
        Case::new("secret refused (moto down)", 0, Expect::Err("secrets")).discord(false),
    ];
    cases[0].secret_id = "alpaca-bot/missing";
    cases[1].secrets_endpoint = Some(e500);
    cases[2].secrets_endpoint = Some(e429);
    cases[3].secrets_endpoint = Some(edrop);
    cases[4].secrets_endpoint = Some("http://127.0.0.1:9".into());
    cases
}

/// The secret: no keys, no order; the error names the stage. (The webhook is in the secret, so
/// nothing can be posted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_the_secret_fail_without_an_order() {
    let world = World::start().await;
    let endpoints = [
        fake_endpoint(
            Some(aws_error(
                "500 Internal Server Error",
                "InternalServiceError",
            )),
            false,
        )
        .await,
        fake_endpoint(
            Some(aws_error("429 Too Many Requests", "ThrottlingException")),
            false,
        )
        .await,
        fake_endpoint(None, true).await,
    ];
    run_matrix("secret", &world, &secret_cases(endpoints)).await;
}

/// A Secrets Manager that accepts the connection and never answers: the invocation must still
/// return, with a `secrets` error, before its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_secret_fetch_returns_before_the_deadline() {
    let world = World::start().await;
    let mut case = Case::new("secret hang", 0, Expect::Err("secrets")).discord(false);
    case.secrets_endpoint = Some(fake_endpoint(None, false).await);
    run_matrix("secret hang", &world, &[case]).await;
}

/// Duplicate delivery: the same slot in two warm containers at once, then again later in both
/// and in a third cold one: exactly one order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slot_in_two_containers_places_one_order() {
    let world = World::start().await;
    world.sandbox.reset();
    let (a, b) = tokio::join!(world.bot(None, SECRET_NAME), world.bot(None, SECRET_NAME));
    let slot = event("duplicate");
    let deadline = now_ms() + 20_000;
    let started = Instant::now();
    let (first, second) = tokio::join!(
        a.invoke(slot.clone(), "req-a", deadline),
        b.invoke(slot.clone(), "req-b", deadline)
    );
    let concurrent_ms = started.elapsed().as_millis();
    let first = first.map_err(|e| e.to_string()).unwrap();
    let second = second.map_err(|e| e.to_string()).unwrap();
    let statuses = [first["status"].clone(), second["status"].clone()];
    assert!(
        statuses.contains(&json!("ordered")) && statuses.contains(&json!("skipped")),
        "{first}\n{second}"
    );
    assert_eq!(first["order"]["id"], second["order"]["id"]);
    assert_eq!(world.sandbox.orders().len(), 1);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let c = world.bot(None, SECRET_NAME).await;
    let deadline = now_ms() + 20_000;
    for (bot, id) in [(&a, "req-a2"), (&b, "req-b2"), (&c, "req-c")] {
        let again = bot
            .invoke(slot.clone(), id, deadline)
            .await
            .map_err(|e| e.to_string())
            .unwrap();
        common::assert_duplicate_of(&again, &first);
        for leak in LEAKS {
            assert!(!again.to_string().contains(leak));
        }
    }
    assert_eq!(world.sandbox.orders().len(), 1);
    println!(
        "duplicate delivery: 2 concurrent + 3 later deliveries, 1 order (concurrent pair {concurrent_ms} ms)"
    );
    assert_no_leak_in_logs();
}
