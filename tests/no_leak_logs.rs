//! The webhook URL carries its token (CONTRACT §6): while Discord posts fail in every way,
//! no log line (at any level, `log` records included) and no returned error's `Display` or
//! `Debug` may contain the token or the URL.

use std::time::Duration;

use alpaca_lambda_bot::message;
use alpaca_lambda_bot::notify::{Discord, Notifier, NotifyError, WebhookUrl};
use tokio::time::Instant;

mod common;
use common::LogBuffer;

const TOKEN: &str = "NoLeakT0ken_xyz-987_QWERTY";
const ID: &str = "424242424242";

/// A fake webhook that answers every request with `response` after `delay`.
async fn fake(response: Option<String>, delay: Duration) -> u16 {
    common::raw_server(response, delay, false).await
}

fn http(status: &str, headers: &str, body: &str) -> String {
    common::raw_response(
        status,
        &format!("content-type: application/json\r\n{headers}"),
        body,
    )
}

fn raw_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/api/webhooks/{ID}/{TOKEN}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_logs_or_errors_whatever_fails() {
    let logs = LogBuffer::capture(tracing::Level::TRACE);

    // A body that echoes the request, as a proxy's error page might.
    let echo = format!(
        "{{\"message\": \"cannot POST /api/v10/webhooks/{ID}/{TOKEN}?wait=true\", \"code\": 0}}"
    );
    let html = format!("<html>502 for http://x/api/v10/webhooks/{ID}/{TOKEN}</html>");
    let scenarios: Vec<(&str, u16, Duration)> = vec![
        (
            "connection refused",
            common::free_port(),
            Duration::from_secs(3),
        ),
        (
            "persistent 500",
            fake(
                Some(http("500 Internal Server Error", "", "{}")),
                Duration::ZERO,
            )
            .await,
            Duration::from_secs(5),
        ),
        (
            "500 echoing the URL",
            fake(
                Some(http("500 Internal Server Error", "", &echo)),
                Duration::ZERO,
            )
            .await,
            Duration::from_secs(5),
        ),
        (
            "502 html echoing the URL",
            fake(Some(http("502 Bad Gateway", "", &html)), Duration::ZERO).await,
            Duration::from_secs(5),
        ),
        (
            "404 echoing the URL",
            fake(Some(http("404 Not Found", "", &echo)), Duration::ZERO).await,
            Duration::from_secs(5),
        ),
        (
            "401",
            fake(
                Some(http(
                    "401 Unauthorized",
                    "",
                    "{\"message\": \"Invalid Webhook Token\", \"code\": 50027}",
                )),
                Duration::ZERO,
            )
            .await,
            Duration::from_secs(5),
        ),
        (
            "400 echoing the URL",
            fake(Some(http("400 Bad Request", "", &echo)), Duration::ZERO).await,
            Duration::from_secs(5),
        ),
        (
            "429 past the deadline",
            fake(
                Some(http(
                    "429 Too Many Requests",
                    "retry-after: 30\r\n",
                    "{\"retry_after\": 30}",
                )),
                Duration::ZERO,
            )
            .await,
            Duration::from_secs(3),
        ),
        (
            "no answer (timeout)",
            fake(None, Duration::ZERO).await,
            Duration::from_millis(700),
        ),
        (
            "slow answer (timeout)",
            fake(Some(http("200 OK", "", "{}")), Duration::from_secs(30)).await,
            Duration::from_millis(700),
        ),
    ];

    let mut errors = Vec::new();
    let ports: Vec<u16> = scenarios.iter().map(|(_, port, _)| *port).collect();
    for (name, port, budget) in scenarios {
        let url = WebhookUrl::parse(&raw_url(port)).unwrap();
        let shown = format!("{url:?}");
        let discord =
            Discord::new(reqwest::Client::new(), url).with_backoff(Duration::from_millis(20));
        tracing::info!(scenario = name, webhook = %shown, "posting");
        let result = discord
            .post(&message::lifecycle(true, "SPY"), Instant::now() + budget)
            .await;
        let err: NotifyError = match result {
            Err(err) => err,
            Ok(()) => panic!("{name}: a failing webhook reported success"),
        };
        // What the handler does with it.
        tracing::warn!(error = %err, "Discord post failed; the trade is unaffected");
        tracing::debug!(error = ?err, "details");
        errors.push((name, format!("{err}"), format!("{err:?}")));
    }

    let logs = logs.text();
    assert!(
        logs.contains("Discord post failed, retrying")
            && logs.contains("check discord_webhook_url in the secret"),
        "the capture must see the adapter's retries and the configuration errors:\n{logs}"
    );
    // The token, and so any form of the full URL (as configured, as rewritten to v10).
    let urls: Vec<String> = ports
        .iter()
        .flat_map(|port| {
            let raw = raw_url(*port);
            let exposed = WebhookUrl::parse(&raw).unwrap().expose().to_string();
            [raw, exposed]
        })
        .collect();
    let mut needles = vec![TOKEN.to_string(), format!("{ID}/{TOKEN}")];
    needles.extend(urls);
    for needle in &needles {
        for line in logs.lines() {
            assert!(
                !line.contains(needle.as_str()),
                "log line leaks {needle:?}: {line}"
            );
        }
        for (name, display, debug) in &errors {
            assert!(
                !display.contains(needle),
                "{name}: Display leaks: {display}"
            );
            assert!(!debug.contains(needle), "{name}: Debug leaks: {debug}");
        }
    }
    // The scrubbed echo still says what happened.
    let (_, display, _) = errors
        .iter()
        .find(|(name, ..)| *name == "404 echoing the URL")
        .unwrap();
    assert!(
        display.contains("[REDACTED]") && display.contains("HTTP 404"),
        "{display}"
    );
}

#[test]
fn a_refused_url_is_not_echoed() {
    for raw in [
        format!("https://evil.example/api/webhooks/{ID}/{TOKEN}"),
        format!("http://discord.com/api/webhooks/{ID}/{TOKEN}"),
        format!("https://discord.com/api/webhooks/{ID}/{TOKEN}?thread_id=x"),
        format!("https://discord.com/api/webhooks/{ID}/{TOKEN}!"),
    ] {
        let err = WebhookUrl::parse(&raw).unwrap_err();
        assert!(!err.contains(TOKEN), "{err}");
    }
    let url = WebhookUrl::parse(&format!("https://discord.com/api/webhooks/{ID}/{TOKEN}")).unwrap();
    assert!(!format!("{url:?}").contains(TOKEN));
}
