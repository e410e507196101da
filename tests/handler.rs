//! The real handler end to end in-process: the real Secrets Manager client against
//! `moto_server`, the real Alpaca and Discord adapters (one reqwest client) against the
//! sandbox's Alpaca emulator and Discord capture.

use alpaca_lambda_bot::handler::Bot;
use bot_sandbox::{FillMode, MotoServer, Sandbox, Scenario};
use serde_json::{Value, json};

mod common;
use common::{LONG, SHORT};

const SECRET_NAME: &str = "alpaca-bot/test";

struct Harness {
    sandbox: Sandbox,
    moto: MotoServer,
    bot: Bot,
}

impl Harness {
    async fn start(scenario: Scenario, env: &[(&str, &str)]) -> Self {
        let sandbox = Sandbox::start(scenario).await.unwrap();
        let moto = MotoServer::start().await.unwrap();
        let secret = json!({
            "api_key": "sandbox-key-id",
            "api_secret": "sandbox-secret-key",
            "discord_webhook_url": sandbox.webhook_url(),
        });
        moto.create_secret(SECRET_NAME, &secret.to_string()).await;
        let bot = Self::bot(&sandbox, &moto, env).await;
        Self { sandbox, moto, bot }
    }

    async fn bot(sandbox: &Sandbox, moto: &MotoServer, env: &[(&str, &str)]) -> Bot {
        let config = common::config(SECRET_NAME, &sandbox.base_url(), env);
        Bot::new(
            config,
            None,
            common::secrets_client(&moto.endpoint_url()).await,
            alpaca_lambda_bot::http::client().unwrap(),
        )
    }

    async fn invoke(&self, event: Value) -> Result<Value, String> {
        self.invoke_as(event, "req-1").await
    }

    async fn invoke_as(&self, event: Value, request_id: &str) -> Result<Value, String> {
        let deadline = common::now_ms() + 20_000;
        self.bot
            .invoke(event, request_id, deadline)
            .await
            .map_err(|e| e.to_string())
    }

    fn order_posts(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v2/orders")
            .count()
    }

    fn broker_writes(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && !r.path.starts_with("/api/"))
            .count()
    }

    fn last_post(&self) -> Value {
        let posts = self.sandbox.discord_messages();
        let post = posts.last().expect("a Discord post");
        assert!(post.accepted, "Discord refused the post: {post:?}");
        assert_eq!(post.query.get("wait").map(String::as_str), Some("true"));
        assert!(post.path.starts_with("/api/v10/webhooks/"), "{}", post.path);
        post.body.clone()
    }
}

fn scheduled_now() -> Value {
    common::scheduled_now("alpaca-bot")
}

fn golden() -> Scenario {
    Scenario::default().with_closes(Scenario::golden_cross(SHORT, LONG))
}

#[tokio::test]
async fn closed_market_is_skipped() {
    let h = Harness::start(golden().with_market_open(false), &[]).await;
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "skipped");
    assert!(
        outcome["reason"]
            .as_str()
            .unwrap()
            .contains("market closed")
    );
    assert_eq!(outcome["notified"], true);
    assert!(outcome.get("order").is_none());
    assert_eq!(h.broker_writes(), 0);
    let post = h.last_post();
    assert!(
        post["content"].as_str().unwrap().contains("Market Closed"),
        "{post}"
    );
    assert_eq!(post["flags"], 4096, "closed-market notes are silent");
}

#[tokio::test]
async fn golden_cross_buys_and_reports_the_fill() {
    let h = Harness::start(golden(), &[]).await;
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "ordered", "{outcome}");
    assert_eq!(outcome["paper"], true);
    assert_eq!(outcome["symbol"], "SPY");
    assert_eq!(outcome["notified"], true);
    let order = &outcome["order"];
    assert_eq!(order["side"], "buy");
    assert_eq!(order["quantity"], "1");
    assert_eq!(order["status"], "filled");
    assert!(order["filled_avg_price"].is_string());
    assert!(
        order["client_order_id"]
            .as_str()
            .unwrap()
            .starts_with("alb-")
    );
    assert_eq!(h.sandbox.orders().len(), 1);
    let post = h.last_post();
    assert!(
        post["content"]
            .as_str()
            .unwrap()
            .contains("BUY Order Executed"),
        "{post}"
    );
}

#[tokio::test]
async fn an_unfilled_order_is_reported_as_submitted() {
    let h = Harness::start(golden().with_fill(FillMode::Never), &[]).await;
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "ordered");
    assert_ne!(outcome["order"]["status"], "filled");
    let content = h.last_post()["content"].as_str().unwrap().to_string();
    assert!(
        content.contains("Submitted") && !content.contains("Executed"),
        "{content}"
    );
}

#[tokio::test]
async fn death_cross_sells_the_whole_position() {
    let scenario = Scenario::default()
        .with_closes(Scenario::death_cross(SHORT, LONG))
        .with_position("7");
    let h = Harness::start(scenario, &[]).await;
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "ordered", "{outcome}");
    assert_eq!(outcome["order"]["side"], "sell");
    assert_eq!(outcome["order"]["quantity"], "7");
    assert!(
        h.last_post()["content"]
            .as_str()
            .unwrap()
            .contains("SELL Order Executed")
    );
}

#[tokio::test]
async fn no_signal_holds() {
    let scenario = Scenario::default().with_closes(Scenario::no_cross(SHORT, LONG));
    let h = Harness::start(scenario, &[]).await;
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "skipped");
    assert!(
        outcome["reason"].as_str().unwrap().contains("no crossover"),
        "{outcome}"
    );
    assert_eq!(h.order_posts(), 0);
}

#[tokio::test]
async fn a_duplicate_delivery_places_one_order() {
    let h = Harness::start(golden(), &[]).await;
    let event = scheduled_now();
    let first = h.invoke_as(event.clone(), "req-1").await.unwrap();
    let second = h.invoke_as(event.clone(), "req-2").await.unwrap();
    let (third, fourth) = tokio::join!(
        h.invoke_as(event.clone(), "req-3"),
        h.invoke_as(event, "req-4")
    );
    assert_eq!(first["status"], "ordered");
    for again in [second, third.unwrap(), fourth.unwrap()] {
        common::assert_duplicate_of(&again, &first);
    }
    assert_eq!(h.sandbox.orders().len(), 1);
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let h = Harness::start(golden(), &[]).await;
    let outcome = h.invoke(json!({"dry_run": true})).await.unwrap();
    assert_eq!(outcome["status"], "dry_run", "{outcome}");
    assert!(outcome.get("order").is_none());
    assert_eq!(h.broker_writes(), 0);
    assert!(
        h.last_post()["content"]
            .as_str()
            .unwrap()
            .contains("DRY RUN")
    );

    let env_dry = Harness::start(golden(), &[("DRY_RUN", "true")]).await;
    // An event cannot cancel the environment's dry run.
    let outcome = env_dry.invoke(json!({"dry_run": false})).await.unwrap();
    assert_eq!(outcome["status"], "dry_run");
    assert_eq!(env_dry.broker_writes(), 0);
}

#[tokio::test]
async fn a_bad_secret_is_a_clear_error_posted_to_discord() {
    let h = Harness::start(golden(), &[]).await;
    let bad = json!({"api_key": "sandbox-key-id", "discord_webhook_url": h.sandbox.webhook_url()});
    h.moto.create_secret(SECRET_NAME, &bad.to_string()).await;
    let err = h.invoke(scheduled_now()).await.unwrap_err();
    assert!(err.contains("api_secret"), "{err}");
    assert!(err.contains("secrets"), "{err}");
    assert_eq!(h.broker_writes(), 0);
    let post = h.last_post();
    assert!(
        post["content"].as_str().unwrap().contains("ERROR"),
        "{post}"
    );
    assert!(
        !post.to_string().contains("sandbox-key-id"),
        "secret leaked: {post}"
    );
}

#[tokio::test]
async fn a_secret_without_a_value_says_how_to_fill_it_in() {
    let h = Harness::start(golden(), &[]).await;
    let empty = "alpaca-bot/created-by-the-stack";
    h.moto
        .client()
        .create_secret()
        .name(empty)
        .send()
        .await
        .unwrap();
    let bot = Bot::new(
        common::config(empty, &h.sandbox.base_url(), &[]),
        None,
        common::secrets_client(&h.moto.endpoint_url()).await,
        alpaca_lambda_bot::http::client().unwrap(),
    );
    let err = bot
        .invoke(scheduled_now(), "req-empty", common::now_ms() + 20_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(empty), "{err}");
    assert!(err.contains("holds no value yet"), "{err}");
    assert!(err.contains("put-secret-value"), "{err}");
    assert_eq!(h.broker_writes(), 0);
}

#[tokio::test]
async fn a_bad_event_is_rejected_before_any_broker_call() {
    let h = Harness::start(golden(), &[]).await;
    for event in [
        json!([1, 2]),
        json!("tick"),
        json!({"source": "aws.s3"}),
        json!({"dryrun": true}),
    ] {
        let err = h.invoke(event.clone()).await.unwrap_err();
        assert!(err.starts_with("event failed"), "{event}: {err}");
    }
    assert!(
        h.sandbox
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/api/"))
    );
    assert_eq!(
        h.sandbox.discord_messages().len(),
        4,
        "each rejection is posted"
    );
}

#[tokio::test]
async fn a_rotated_key_heals_with_one_refetch() {
    let h = Harness::start(golden(), &[]).await;
    h.invoke(json!({"dry_run": true})).await.unwrap();
    // Rotate: Alpaca now wants new keys, and the secret holds them.
    let rotated = Scenario {
        api_key: "rotated-key-id".into(),
        api_secret: "rotated-secret".into(),
        ..golden()
    };
    h.sandbox.set_scenario(rotated);
    let secret = json!({
        "api_key": "rotated-key-id", "api_secret": "rotated-secret",
        "discord_webhook_url": h.sandbox.webhook_url(),
    });
    h.moto.create_secret(SECRET_NAME, &secret.to_string()).await;
    let before = h.sandbox.requests().len();
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "ordered", "{outcome}");
    // The cached keys were tried and refused, then the refetched ones placed the order.
    let key_of = |r: &bot_sandbox::LoggedRequest| {
        r.headers
            .iter()
            .find(|(name, _)| name == "apca-api-key-id")
            .map(|(_, value)| value.clone())
    };
    let after = h.sandbox.requests().split_off(before);
    assert!(
        after
            .iter()
            .any(|r| key_of(r).as_deref() == Some("sandbox-key-id")),
        "the cached keys were not tried first"
    );
    let orders: Vec<_> = after
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v2/orders")
        .collect();
    assert_eq!(orders.len(), 1);
    assert_eq!(key_of(orders[0]).as_deref(), Some("rotated-key-id"));
}

#[tokio::test]
async fn a_stale_event_is_not_traded_late() {
    let h = Harness::start(golden(), &[]).await;
    let outcome = h
        .invoke(json!({"scheduled_time": "2026-01-02T14:35:00Z", "schedule": "s"}))
        .await
        .unwrap();
    assert_eq!(outcome["status"], "skipped");
    assert!(
        outcome["reason"].as_str().unwrap().contains("stale"),
        "{outcome}"
    );
    assert_eq!(h.broker_writes(), 0);
}

#[tokio::test]
async fn a_discord_failure_never_fails_the_trade() {
    let h = Harness::start(golden(), &[]).await;
    h.sandbox.inject(bot_sandbox::Fault {
        route: bot_sandbox::Route::Discord,
        kind: bot_sandbox::FaultKind::Status(404),
        times: 10,
    });
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "ordered");
    assert_eq!(outcome["notified"], false);
    assert_eq!(h.sandbox.orders().len(), 1);
}

#[tokio::test]
async fn lesson_verbosity_posts_the_lessons_notes_under_the_configured_name() {
    let env = [
        ("NOTIFY_VERBOSITY", "lesson"),
        ("DISCORD_USERNAME", "Alpaca Bot"),
    ];
    let h = Harness::start(golden(), &env).await;
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "ordered");
    let posts = h.sandbox.discord_messages();
    let contents: Vec<&str> = posts
        .iter()
        .map(|p| p.body["content"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(posts.len(), 3, "{contents:?}");
    assert!(contents[0].contains("Bot Started Up"), "{contents:?}");
    assert!(contents[1].contains("BUY Order Executed"), "{contents:?}");
    assert!(contents[2].contains("Bot Cycle Finished"), "{contents:?}");
    for post in &posts {
        assert!(post.accepted);
        assert_eq!(post.body["username"], "Alpaca Bot", "{}", post.body);
    }
}

#[tokio::test]
async fn quiet_verbosity_posts_orders_only() {
    let scenario = Scenario::default().with_closes(Scenario::no_cross(SHORT, LONG));
    let h = Harness::start(scenario, &[("NOTIFY_VERBOSITY", "quiet")]).await;
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "skipped");
    assert_eq!(outcome["notified"], false);
    assert!(h.sandbox.discord_messages().is_empty());

    // Quiet is not silent: an order is still posted.
    let h = Harness::start(golden(), &[("NOTIFY_VERBOSITY", "quiet")]).await;
    let outcome = h.invoke(scheduled_now()).await.unwrap();
    assert_eq!(outcome["status"], "ordered", "{outcome}");
    assert_eq!(outcome["notified"], true);
    assert_eq!(h.sandbox.discord_messages().len(), 1);
}

#[tokio::test]
async fn a_configuration_error_fails_every_invocation_and_is_posted() {
    let h = Harness::start(golden(), &[]).await;
    // Live trading asked for without the second key: the runtime still starts, and every
    // invocation reports it, to the webhook of the secret BOT_SECRET_ID names.
    let config = common::config(
        SECRET_NAME,
        &h.sandbox.base_url(),
        &[("PAPER_TRADING", "false")],
    );
    assert!(config.is_err());
    let bot = Bot::new(
        config,
        Some(SECRET_NAME.into()),
        common::secrets_client(&h.moto.endpoint_url()).await,
        alpaca_lambda_bot::http::client().unwrap(),
    );
    let err = bot
        .invoke(scheduled_now(), "req-config", common::now_ms() + 20_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("config failed"), "{err}");
    assert!(err.contains("ALLOW_LIVE_TRADING"), "{err}");
    assert_eq!(h.broker_writes(), 0);
    let post = h.last_post();
    assert!(
        post["content"].as_str().unwrap().contains("ERROR"),
        "{post}"
    );
}
