//! What several test files share: the bot's configuration against the sandbox, the real
//! Secrets Manager client pointed at a local endpoint, scheduled events, and log capture.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alpaca_lambda_bot::config::{Config, ConfigError};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::util::SubscriberInitExt;

pub const SHORT: usize = 40;
pub const LONG: usize = 100;

/// The bot's configuration against a sandbox at `base_url`, as the environment would give
/// it; `extra` variables override.
pub fn config(
    secret_id: &str,
    base_url: &str,
    extra: &[(&str, &str)],
) -> Result<Config, ConfigError> {
    let mut vars: Vec<(String, String)> = vec![
        ("BOT_SECRET_ID".into(), secret_id.into()),
        ("APCA_API_BASE_URL".into(), base_url.into()),
        ("APCA_API_DATA_URL".into(), base_url.into()),
        ("SMA_SHORT_WINDOW".into(), SHORT.to_string()),
        ("SMA_LONG_WINDOW".into(), LONG.to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|name| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

/// The real Secrets Manager client, loaded as main.rs loads it, with the endpoint override
/// a user would set.
/// The function's own SDK HTTP client (compiled-in roots), pointed at a local endpoint.
pub async fn secrets_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(alpaca_lambda_bot::http::aws_sdk_client().unwrap())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&aws)
}

/// The Scheduler `Input` of template.yaml for a schedule firing now.
pub fn scheduled_now(schedule: &str) -> Value {
    json!({
        "scheduled_time": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "schedule": format!("arn:aws:scheduler:us-east-1:123456789012:schedule/default/{schedule}"),
    })
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Every log line from every thread, for a `tracing_subscriber::fmt` writer.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Every crate's logs at `level` and above, `log` records (reqwest, hyper) included,
    /// for the whole test binary: call once.
    pub fn capture(level: tracing::Level) -> Self {
        let buffer = Self::default();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(buffer.clone())
            .finish()
            .try_init()
            .expect("the only subscriber in this test binary");
        buffer
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A fake HTTP endpoint over raw TCP (so it logs nothing of its own). For each connection:
/// closes it at once when `drop_at_once`; else reads the request, waits `delay`, and writes
/// `response`, or with `None` holds the connection without answering. Returns the port.
pub async fn raw_server(response: Option<String>, delay: Duration, drop_at_once: bool) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let response = response.clone();
            tokio::spawn(async move {
                if drop_at_once {
                    return;
                }
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                match response {
                    Some(r) => {
                        let _ = socket.write_all(r.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(120)).await,
                }
            });
        }
    });
    port
}

/// A raw HTTP/1.1 response; `headers` are whole lines, each ending in `\r\n`.
pub fn raw_response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `again` is a later delivery's outcome for the slot `first` ordered in: skipped as a
/// duplicate, reporting the same order.
pub fn assert_duplicate_of(again: &Value, first: &Value) {
    assert_eq!(again["status"], "skipped", "{again}");
    assert!(
        again["reason"]
            .as_str()
            .unwrap()
            .contains("duplicate delivery"),
        "{again}"
    );
    assert_eq!(again["order"]["id"], first["order"]["id"], "{again}");
}
