//! The Lambda edge: event in, outcome JSON or Lambda error out.
//!
//! [`Bot`] holds what lives across warm invocations (configuration, the secret cache, the
//! HTTP client whose connections Alpaca and Discord calls reuse). [`Bot::invoke`] turns one
//! event into one cycle, posts its outcome, and maps it to the response (CONTRACT §5).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::broker::Alpaca;
use crate::config::{self, Config, ConfigError, NotifyVerbosity, TradeSettings};
use crate::cycle::{self, CycleInput};
use crate::event::Invocation;
use crate::message::{self, Message};
use crate::metrics;
use crate::notify::{Discord, Mention, Notifier, NotifyError, WebhookUrl};
use crate::report::{CycleReport, Kind, Stage};
use crate::secrets::{SecretCache, Secrets, SecretsManager};

/// Kept free at the end of the invocation to post the outcome and return it.
const NOTIFY_RESERVE: Duration = Duration::from_secs(4);
/// Used when the runtime gives no deadline (tests, direct calls).
const DEFAULT_BUDGET: Duration = Duration::from_secs(30);
/// The longest one broker call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a market order's fill before reporting it as submitted.
const FILL_WAIT: Duration = Duration::from_secs(5);
/// The version the Discord footer shows.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A failed invocation, returned to Lambda as its error (so `Errors` and alarms see it).
#[derive(Debug, thiserror::Error)]
#[error("{stage} failed: {message}")]
pub struct InvocationFailed {
    pub stage: &'static str,
    pub message: String,
}

/// The function's state across warm invocations.
pub struct Bot {
    config: Result<Config, ConfigError>,
    secrets: Option<SecretCache<SecretsManager>>,
    http: reqwest::Client,
    no_webhook_logged: AtomicBool,
    /// The metrics' `FunctionName` dimension.
    function_name: String,
}

impl Bot {
    /// Built once per cold start. A bad configuration does not stop the runtime: each
    /// invocation then fails with the configuration's message, posted to Discord when the
    /// secret `fallback_secret_id` names can still be read (main passes `BOT_SECRET_ID`).
    pub fn new(
        config: Result<Config, ConfigError>,
        fallback_secret_id: Option<String>,
        secrets_client: aws_sdk_secretsmanager::Client,
        http: reqwest::Client,
    ) -> Self {
        let secret_id = match &config {
            Ok(config) => Some((config.secret_id.clone(), config.secret_ttl)),
            Err(_) => fallback_secret_id.map(|id| (id, config::DEFAULT_SECRET_TTL)),
        };
        Self {
            config,
            secrets: secret_id
                .map(|(id, ttl)| SecretCache::new(SecretsManager::new(secrets_client, id), ttl)),
            http,
            no_webhook_logged: AtomicBool::new(false),
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "alpaca-lambda-bot".into()),
        }
    }

    /// One invocation. `deadline_ms` is the runtime's deadline (ms since the Unix epoch).
    pub async fn invoke(
        &self,
        event: Value,
        request_id: &str,
        deadline_ms: u64,
    ) -> Result<Value, InvocationFailed> {
        let started = Instant::now();
        let deadline = deadline_from(deadline_ms);

        let config = match &self.config {
            Ok(config) => config,
            Err(err) => {
                return self
                    .fail_early(Stage::Config, err.to_string(), None, deadline, started)
                    .await;
            }
        };
        let invocation = match Invocation::parse(&event) {
            Ok(invocation) => invocation,
            Err(err) => {
                return self
                    .fail_early(
                        Stage::Event,
                        err.to_string(),
                        Some(config),
                        deadline,
                        started,
                    )
                    .await;
            }
        };
        let settings = settings_for(config, &invocation);
        let slot = invocation.slot(request_id);
        let span = tracing::info_span!(
            "cycle",
            slot = %slot.label(),
            symbol = %settings.symbol,
            source = invocation.source.as_str(),
        );
        self.run_slot(config, &invocation, &settings, &slot, deadline, started)
            .instrument(span)
            .await
    }

    /// The invocation once its slot is known: every log line inside carries the slot.
    async fn run_slot(
        &self,
        config: &Config,
        invocation: &Invocation,
        settings: &TradeSettings,
        slot: &crate::event::Slot,
        deadline: Instant,
        started: Instant,
    ) -> Result<Value, InvocationFailed> {
        let cycle_deadline = within_reserve(deadline);
        // A scheduled event delivered late is not traded late.
        // MAX_EVENT_AGE_SECONDS=0 turns the check off (replaying a recorded event by hand).
        if let Some(scheduled) = invocation.scheduled_time
            && !config.max_event_age.is_zero()
        {
            let age = Utc::now().signed_duration_since(scheduled);
            let limit = i64::try_from(config.max_event_age.as_secs()).unwrap_or(i64::MAX);
            if age.num_seconds() > limit {
                let report = CycleReport::new(
                    Kind::Skipped,
                    format!(
                        "stale event: scheduled at {scheduled}, {} s ago (limit {} s): not traded late",
                        age.num_seconds(),
                        config.max_event_age.as_secs()
                    ),
                    settings.symbol.as_str(),
                    config.paper,
                    &slot.label(),
                );
                let secrets = self.secrets(deadline).await.ok();
                let recipient = Recipient::of(secrets.as_deref());
                return self
                    .finish(report, recipient, Some(config), deadline, started)
                    .await;
            }
        }

        let secrets = match self.secrets(deadline).await {
            Ok(secrets) => secrets,
            Err((error, webhook)) => {
                let report = CycleReport::failed(
                    Stage::Secrets,
                    error,
                    settings.symbol.as_str(),
                    config.paper,
                    &slot.label(),
                );
                let recipient = Recipient {
                    webhook: webhook.as_ref(),
                    mention: None,
                };
                return self
                    .finish(report, recipient, Some(config), deadline, started)
                    .await;
            }
        };
        if secrets.webhook.is_none() && !self.no_webhook_logged.swap(true, Ordering::Relaxed) {
            tracing::info!("no discord_webhook_url in the secret: Discord posts are off");
        }

        let started_note = async {
            if config.notify == NotifyVerbosity::Lesson
                && let Some(url) = &secrets.webhook
            {
                let note = lifecycle_note(config, true, settings.symbol.as_str());
                // Bounded like the cycle it runs beside, so a stalled post cannot use the
                // time kept for the outcome's.
                self.post(url, &note, cycle_deadline).await;
            }
        };
        let cycle = self.run_cycle(config, settings, slot, cycle_deadline, secrets.clone());
        let ((), (report, secrets)) = tokio::join!(started_note, cycle);
        self.finish(
            report,
            Recipient::of(Some(&secrets)),
            Some(config),
            deadline,
            started,
        )
        .await
    }

    /// The cycle, with one secret refetch if Alpaca refuses the cached keys.
    async fn run_cycle(
        &self,
        config: &Config,
        settings: &TradeSettings,
        slot: &crate::event::Slot,
        deadline: Instant,
        mut secrets: Arc<Secrets>,
    ) -> (CycleReport, Arc<Secrets>) {
        let failed = |stage: Stage, error: String| {
            let mut report = CycleReport::failed(
                stage,
                error,
                settings.symbol.as_str(),
                config.paper,
                &slot.label(),
            );
            report.strategy = Some(settings.strategy.as_str());
            report
        };
        let mut refetched = false;
        loop {
            let alpaca = Alpaca::new(
                self.http.clone(),
                config.alpaca_api_url.clone(),
                config.alpaca_data_url.clone(),
                config.data_feed.clone(),
                secrets.alpaca.clone(),
            );
            let input = CycleInput {
                settings,
                paper: config.paper,
                slot,
                trading_enabled: config.trading_enabled && secrets.trading_enabled,
                deadline,
                call_timeout: CALL_TIMEOUT,
                fill_wait: FILL_WAIT,
                guards: config.guards,
            };
            match cycle::run(&alpaca, &input).await {
                Ok(report) => return (report, secrets),
                Err(err) if err.is_auth() && !refetched => {
                    tracing::warn!(
                        stage = err.stage.as_str(),
                        "Alpaca refused the keys; refetching the secret once"
                    );
                    refetched = true;
                    if let Some(cache) = &self.secrets {
                        cache.invalidate().await;
                    }
                    match self.secrets(deadline).await {
                        Ok(fresh) => secrets = fresh,
                        Err((error, _)) => return (failed(Stage::Secrets, error), secrets),
                    }
                }
                Err(err) => return (failed(err.stage, err.cause.to_string()), secrets),
            }
        }
    }

    /// Every invocation ends here: posts the report as the verbosity asks, records its
    /// metrics, logs it, and maps it to the response or the Lambda error.
    async fn finish(
        &self,
        report: CycleReport,
        recipient: Recipient<'_>,
        config: Option<&Config>,
        deadline: Instant,
        started: Instant,
    ) -> Result<Value, InvocationFailed> {
        let verbosity = config.map_or(NotifyVerbosity::Normal, |c| c.notify);
        let wanted = match verbosity {
            NotifyVerbosity::Quiet => {
                matches!(report.kind, Kind::Ordered { .. } | Kind::Failed { .. })
            }
            NotifyVerbosity::Normal | NotifyVerbosity::Lesson => true,
        };
        let mut attempted = false;
        let mut notified = false;
        if let (Some(url), true) = (recipient.webhook, wanted) {
            attempted = true;
            let message = render(&report, recipient.mention, config, VERSION);
            notified = self.post(url, &message, deadline).await;
            if let (NotifyVerbosity::Lesson, Some(config)) = (verbosity, config) {
                let note = lifecycle_note(config, false, &report.symbol);
                self.post(url, &note, deadline).await;
            }
        }
        self.record_metrics(&report, attempted && !notified, started);

        if let Kind::Failed { stage, error } = &report.kind {
            tracing::error!(stage = stage.as_str(), error = %error, symbol = %report.symbol, notified, "cycle failed");
            return Err(InvocationFailed {
                stage: stage.as_str(),
                message: error.clone(),
            });
        }
        let outcome = report.outcome(notified);
        tracing::info!(
            status = ?outcome.status,
            reason = %outcome.reason,
            client_order_id = report.client_order_id.as_deref().unwrap_or(""),
            order_status = report.order.as_ref().map_or("", |o| o.status.as_str()),
            notified,
            "cycle finished"
        );
        Ok(serde_json::to_value(outcome).expect("the outcome is plain JSON"))
    }

    /// A failure before the cycle could start: configuration or event.
    async fn fail_early(
        &self,
        stage: Stage,
        error: String,
        config: Option<&Config>,
        deadline: Instant,
        started: Instant,
    ) -> Result<Value, InvocationFailed> {
        let (symbol, paper) = config.map_or(("?".to_string(), true), |c| {
            (c.trade.symbol.to_string(), c.paper)
        });
        let report = CycleReport::failed(stage, error, &symbol, paper, "-");
        let secrets = self.secrets(deadline).await.ok();
        self.finish(
            report,
            Recipient::of(secrets.as_deref()),
            config,
            deadline,
            started,
        )
        .await
    }

    /// One EMF metrics line per invocation (see `metrics`), on stdout like every log line.
    fn record_metrics(&self, report: &CycleReport, notify_failed: bool, started: Instant) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let line = metrics::emf_line(
            &self.function_name,
            report,
            notify_failed,
            started.elapsed(),
            now_ms,
        );
        println!("{line}");
    }

    /// The secret, under the same per-call timeout as a broker call, inside the deadline's
    /// reserve: a Secrets Manager that never answers must not outlive the invocation.
    async fn secrets(
        &self,
        deadline: Instant,
    ) -> Result<Arc<Secrets>, (String, Option<WebhookUrl>)> {
        let Some(cache) = &self.secrets else {
            return Err(("BOT_SECRET_ID is not set".into(), None));
        };
        let limit = (Instant::now() + CALL_TIMEOUT).min(within_reserve(deadline));
        match tokio::time::timeout_at(limit, cache.get()).await {
            Ok(result) => result.map_err(|problem| (problem.error.to_string(), problem.webhook)),
            Err(_) => Err((
                "could not read the secret from Secrets Manager: no answer in time".into(),
                None,
            )),
        }
    }

    async fn post(&self, url: &WebhookUrl, message: &Message, deadline: Instant) -> bool {
        let discord = Discord::new(self.http.clone(), url.clone());
        match discord.post(message, before_return(deadline)).await {
            Ok(()) => true,
            // A webhook Discord refuses is a configuration problem the user must fix.
            Err(err @ NotifyError::Configuration { .. }) => {
                tracing::error!(error = %err, "Discord webhook refused; not retried; the trade is unaffected");
                false
            }
            Err(err) => {
                tracing::warn!(error = %err, "Discord post failed; the trade is unaffected");
                false
            }
        }
    }
}

/// Where a report is posted: the secret's webhook and error mention, when they could be read.
#[derive(Clone, Copy)]
struct Recipient<'a> {
    webhook: Option<&'a WebhookUrl>,
    mention: Option<&'a Mention>,
}

impl<'a> Recipient<'a> {
    fn of(secrets: Option<&'a Secrets>) -> Self {
        Self {
            webhook: secrets.and_then(|s| s.webhook.as_ref()),
            mention: secrets.and_then(|s| s.error_mention.as_ref()),
        }
    }
}

/// The lesson's "Bot Started Up" / "Bot Cycle Finished" note, under the configured identity.
fn lifecycle_note(config: &Config, started: bool, symbol: &str) -> Message {
    message::lifecycle(started, symbol).with_identity(
        config.discord_username.as_deref(),
        config.discord_avatar_url.as_deref(),
    )
}

fn render(
    report: &CycleReport,
    mention: Option<&Mention>,
    config: Option<&Config>,
    version: &str,
) -> Message {
    message::render(
        report,
        &message::Context {
            version,
            now: Utc::now(),
            error_mention: mention,
            username: config.and_then(|c| c.discord_username.as_deref()),
            avatar_url: config.and_then(|c| c.discord_avatar_url.as_deref()),
        },
    )
}

/// The environment's settings with the event's overrides applied.
fn settings_for(config: &Config, invocation: &Invocation) -> TradeSettings {
    let overrides = &invocation.overrides;
    TradeSettings {
        symbol: overrides
            .symbol
            .clone()
            .unwrap_or_else(|| config.trade.symbol.clone()),
        quantity: overrides
            .quantity
            .clone()
            .unwrap_or_else(|| config.trade.quantity.clone()),
        strategy: overrides.strategy.unwrap_or(config.trade.strategy),
        windows: config.trade.windows,
        // An event can ask for a dry run, never cancel one the environment set.
        dry_run: config.trade.dry_run || overrides.dry_run.unwrap_or(false),
    }
}

/// Kept after the last Discord attempt to build and return the response.
const RETURN_MARGIN: Duration = Duration::from_millis(300);

fn before_return(deadline: Instant) -> Instant {
    deadline.checked_sub(RETURN_MARGIN).unwrap_or(deadline)
}

/// The part of the invocation before the reserve kept for posting the outcome.
fn within_reserve(deadline: Instant) -> Instant {
    let reserve = NOTIFY_RESERVE.min(deadline.saturating_duration_since(Instant::now()) / 2);
    deadline.checked_sub(reserve).unwrap_or(deadline)
}

/// The runtime's deadline as an `Instant`; a missing or past one gets the default budget.
fn deadline_from(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let remaining = if deadline_ms > now_ms {
        Duration::from_millis(deadline_ms - now_ms)
    } else {
        DEFAULT_BUDGET
    };
    Instant::now() + remaining
}
