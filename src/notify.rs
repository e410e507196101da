//! The notifier port and its Discord webhook adapter.
//!
//! The webhook URL carries its token: it lives in a [`WebhookUrl`] whose `Debug` and
//! `Display` hide it, and every `reqwest` error is stripped of its URL before it is kept.
//! Delivery retries 429 (honouring Discord's wait), 5xx and connection failures, never past
//! the deadline it is given; a 401/404 is a configuration problem and is not retried.

use std::future::Future;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use url::Url;

use crate::message::Message;

/// A Discord webhook URL, rewritten to API v10 with `?wait=true`. Never printed.
#[derive(Clone)]
pub struct WebhookUrl {
    url: SecretString,
    token: SecretString,
    host: String,
}

/// A Discord id: digits, no leading zero (Discord's `SnowflakeType`).
fn is_snowflake(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 20
        && !id.starts_with('0')
        && id.chars().all(|c| c.is_ascii_digit())
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl({}/[REDACTED])", self.host)
    }
}

const DISCORD_HOSTS: [&str; 6] = [
    "discord.com",
    "discordapp.com",
    "canary.discord.com",
    "ptb.discord.com",
    "canary.discordapp.com",
    "ptb.discordapp.com",
];

impl WebhookUrl {
    /// Accepts a copied webhook URL (`https://discord.com/api/webhooks/{id}/{token}`, any
    /// API version, discordapp/canary/ptb hosts, a `thread_id` query) or one on a local host
    /// (`localhost`, `127.x.x.x`, `[::1]`, http or https) for the sandbox and tests. The
    /// error says what is expected and never echoes the input.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const EXPECTED: &str =
            "a Discord webhook URL such as https://discord.com/api/webhooks/<id>/<token>";
        let url = Url::parse(raw.trim()).map_err(|_| EXPECTED)?;
        let host = url.host_str().ok_or(EXPECTED)?.to_ascii_lowercase();
        let local = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => {
                let name = name.to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
            None => false,
        };
        match url.scheme() {
            "https" if DISCORD_HOSTS.contains(&host.as_str()) || local => {}
            "http" if local => {}
            _ => return Err(EXPECTED),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EXPECTED);
        }
        let mut segments: Vec<&str> = url.path_segments().ok_or(EXPECTED)?.collect();
        if segments.last() == Some(&"") {
            segments.pop();
        }
        let (id, token) = match segments.as_slice() {
            ["api", "webhooks", id, token] => (*id, *token),
            ["api", version, "webhooks", id, token]
                if version.len() > 1
                    && version.starts_with('v')
                    && version[1..].chars().all(|c| c.is_ascii_digit()) =>
            {
                (*id, *token)
            }
            _ => return Err(EXPECTED),
        };
        let valid_token = !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !is_snowflake(id) || !valid_token {
            return Err(EXPECTED);
        }
        // A copied thread URL may carry thread_id; keep it, and always wait for the message
        // so a 2xx means Discord stored it.
        let thread_id = url
            .query_pairs()
            .find(|(k, _)| k == "thread_id")
            .map(|(_, v)| v.into_owned());
        if thread_id.as_deref().is_some_and(|t| !is_snowflake(t)) {
            return Err("a thread_id in the Discord webhook URL must be a numeric id");
        }
        let mut rewritten = url.clone();
        rewritten.set_path(&format!("/api/v10/webhooks/{id}/{token}"));
        rewritten.set_fragment(None);
        rewritten.set_query(None);
        {
            let mut query = rewritten.query_pairs_mut();
            query.append_pair("wait", "true");
            if let Some(thread_id) = thread_id {
                query.append_pair("thread_id", &thread_id);
            }
        }
        Ok(Self {
            url: SecretString::from(rewritten.to_string()),
            token: SecretString::from(token.to_string()),
            host,
        })
    }

    /// `text` with the token (and so the URL) cut out: for anything that came back from
    /// the network and might echo the request.
    fn scrub(&self, text: &str) -> String {
        let token = self.token.expose_secret();
        if token.is_empty() {
            return text.to_string();
        }
        text.replace(token, "[REDACTED]")
    }

    /// For the request only; never log what this returns.
    pub fn expose(&self) -> &str {
        self.url.expose_secret()
    }
}

/// Who to ping on errors (from the secret's `discord_error_mention`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mention {
    User(String),
    Role(String),
}

impl Mention {
    /// Accepts `123`, `user:123`, `<@123>` (a user), and `role:123`, `<@&123>` (a role).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const EXPECTED: &str = "a Discord id: 123, user:123, role:123, <@123> or <@&123>";
        let raw = raw.trim();
        let (role, id) = if let Some(id) = raw.strip_prefix("role:") {
            (true, id)
        } else if let Some(id) = raw.strip_prefix("user:") {
            (false, id)
        } else if let Some(id) = raw.strip_prefix("<@&").and_then(|r| r.strip_suffix('>')) {
            (true, id)
        } else if let Some(id) = raw.strip_prefix("<@").and_then(|r| r.strip_suffix('>')) {
            (false, id.trim_start_matches('!'))
        } else {
            (false, raw)
        };
        if !is_snowflake(id) {
            return Err(EXPECTED);
        }
        Ok(if role {
            Mention::Role(id.into())
        } else {
            Mention::User(id.into())
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "Discord rejected the webhook (HTTP {status}: {message}): check discord_webhook_url in the secret"
    )]
    Configuration { status: u16, message: String },
    #[error("Discord refused the message (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("Discord did not accept the message after {attempts} attempt(s): {last}")]
    GaveUp { attempts: u32, last: String },
}

/// The notifier port: post one message before `deadline`.
pub trait Notifier: Send + Sync {
    fn post(
        &self,
        message: &Message,
        deadline: Instant,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// Posts to a Discord webhook with a shared `reqwest::Client` (built once per cold start).
pub struct Discord {
    http: reqwest::Client,
    url: WebhookUrl,
    max_attempts: u32,
    first_backoff: Duration,
    attempt_timeout: Duration,
}

/// Discord answers a webhook in well under a second; an attempt that takes longer is most
/// likely a dead pooled connection (Lambda froze it between invocations), worth a fresh try.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

impl Discord {
    /// Up to 4 attempts, backing off from 250 ms (doubling), within the caller's deadline.
    pub fn new(http: reqwest::Client, url: WebhookUrl) -> Self {
        Self {
            http,
            url,
            max_attempts: 4,
            first_backoff: Duration::from_millis(250),
            attempt_timeout: ATTEMPT_TIMEOUT,
        }
    }

    /// How long one attempt may take before the next is tried (within the deadline).
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// At most `attempts` requests per message (at least one).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait before the second attempt; each further wait doubles. A 429's own wait
    /// wins when it is longer.
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.first_backoff = first;
        self
    }
}

/// What one attempt came to.
enum Attempt {
    Delivered,
    /// Worth another try after at least this long.
    Retry {
        wait: Duration,
        why: String,
    },
    Fatal(NotifyError),
}

impl Notifier for Discord {
    async fn post(&self, message: &Message, deadline: Instant) -> Result<(), NotifyError> {
        // Hand-rolled rather than backon: the wait comes from each 429 answer, and the loop
        // must stop at the invocation's deadline, not after a fixed schedule.
        let mut backoff = self.first_backoff;
        let mut last = String::new();
        for attempt in 1..=self.max_attempts {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.give_up(
                    attempt - 1,
                    format!("{last}; no time left before the deadline"),
                ));
            }
            // The whole attempt, body included, ends by its own limit and by the deadline.
            let limit = remaining.min(self.attempt_timeout);
            let outcome = match tokio::time::timeout(limit, self.attempt(message, limit)).await {
                Ok(outcome) => outcome,
                Err(_) => Attempt::Retry {
                    wait: Duration::ZERO,
                    why: format!("no answer within {limit:?}"),
                },
            };
            match outcome {
                Attempt::Delivered => return Ok(()),
                Attempt::Fatal(err) => return Err(err),
                Attempt::Retry { wait, why } => {
                    last = why;
                    if attempt == self.max_attempts {
                        break;
                    }
                    let wait = wait.max(backoff);
                    backoff = backoff.saturating_mul(2);
                    if Instant::now() + wait >= deadline {
                        return Err(self.give_up(
                            attempt,
                            format!("{last}; waiting {wait:?} would pass the deadline"),
                        ));
                    }
                    tracing::warn!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        cause = %last,
                        "Discord post failed, retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
        Err(self.give_up(self.max_attempts, last))
    }
}

impl Discord {
    fn give_up(&self, attempts: u32, last: String) -> NotifyError {
        NotifyError::GaveUp {
            attempts,
            last: self.url.scrub(&last),
        }
    }

    async fn attempt(&self, message: &Message, limit: Duration) -> Attempt {
        let response = match self
            .http
            .post(self.url.expose())
            .json(message)
            .timeout(limit)
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => {
                // without_url: the URL holds the webhook token; scrub: belt and braces for
                // any source error that might quote it.
                let err = err.without_url();
                return Attempt::Retry {
                    wait: Duration::ZERO,
                    why: self.url.scrub(&crate::http::error_chain(&err)),
                };
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        match status {
            200..=299 => Attempt::Delivered,
            429 => Attempt::Retry {
                wait: retry_after(&headers, &body),
                why: "rate limited (HTTP 429)".into(),
            },
            500..=599 => Attempt::Retry {
                wait: Duration::ZERO,
                why: format!("HTTP {status}"),
            },
            401 | 403 | 404 => Attempt::Fatal(NotifyError::Configuration {
                status,
                message: self.url.scrub(&discord_message(&body)),
            }),
            _ => Attempt::Fatal(NotifyError::Rejected {
                status,
                message: self.url.scrub(&discord_message(&body)),
            }),
        }
    }
}

/// Discord's wait on a 429: the body's `retry_after`, else `Retry-After`, else
/// `X-RateLimit-Reset-After`, all in seconds; capped so a bad value cannot stall us.
fn retry_after(headers: &reqwest::header::HeaderMap, body: &[u8]) -> Duration {
    let from_body = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(|r| r.as_f64()));
    let from_header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    // "nan" and "inf" parse as numbers, and a NaN would pass the clamp below.
    let from_body = from_body.filter(|s| s.is_finite());
    let from_header = |name: &str| from_header(name).filter(|s| s.is_finite());
    let seconds = from_body
        .or_else(|| from_header("retry-after"))
        .or_else(|| from_header("x-ratelimit-reset-after"))
        .unwrap_or(1.0);
    Duration::from_secs_f64(seconds.clamp(0.0, 60.0))
}

/// Discord's own words from an error body (`message`, and for a 400 which fields it
/// refused), on one line and bounded; a non-JSON body (a proxy's page) is quoted briefly.
fn discord_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => {
            let message = v
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("no message");
            match v.get("errors") {
                Some(errors) => format!("{message} {errors}"),
                None => message.to_string(),
            }
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    crate::message::one_line(&text, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_rewritten_to_v10_and_wait() {
        for raw in [
            "https://discord.com/api/webhooks/123/abc-DEF_9",
            "https://discordapp.com/api/webhooks/123/abc-DEF_9",
            "https://canary.discord.com/api/v9/webhooks/123/abc-DEF_9",
            "https://ptb.discord.com/api/v10/webhooks/123/abc-DEF_9",
        ] {
            let url = WebhookUrl::parse(raw).unwrap();
            assert!(
                url.expose()
                    .ends_with("/api/v10/webhooks/123/abc-DEF_9?wait=true"),
                "{raw} -> {}",
                url.expose()
            );
        }
        let thread =
            WebhookUrl::parse("https://discord.com/api/webhooks/1/t?thread_id=99").unwrap();
        assert!(thread.expose().ends_with("?wait=true&thread_id=99"));
        let local = WebhookUrl::parse("http://127.0.0.1:9000/api/webhooks/1/t").unwrap();
        assert_eq!(
            local.expose(),
            "http://127.0.0.1:9000/api/v10/webhooks/1/t?wait=true"
        );
    }

    #[test]
    fn bad_webhook_urls_are_refused_without_echo() {
        for raw in [
            "not a url",
            "http://discord.com/api/webhooks/1/t",
            "https://evil.example/api/webhooks/1/t",
            "https://discord.com/api/webhooks/abc/t",
            "https://discord.com/api/webhooks/1",
            "https://discord.com/channels/1/2",
        ] {
            let err = WebhookUrl::parse(raw).unwrap_err();
            assert!(!err.contains(raw), "{err}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let url = WebhookUrl::parse("https://discord.com/api/webhooks/123/SeCrEtToKeN").unwrap();
        assert!(!format!("{url:?}").contains("SeCrEtToKeN"));
    }

    #[test]
    fn mentions() {
        assert_eq!(Mention::parse("123"), Ok(Mention::User("123".into())));
        assert_eq!(Mention::parse("<@!123>"), Ok(Mention::User("123".into())));
        assert_eq!(Mention::parse("<@&42>"), Ok(Mention::Role("42".into())));
        assert_eq!(Mention::parse("role:42"), Ok(Mention::Role("42".into())));
        assert!(Mention::parse("@everyone").is_err());
        // Discord's SnowflakeType has no leading zero.
        assert!(Mention::parse("0123").is_err());
        assert!(Mention::parse("<@&>").is_err());
    }

    #[test]
    fn local_hosts_trailing_slashes_and_threads() {
        for raw in [
            "http://localhost:9000/api/webhooks/1/t",
            "http://sandbox.localhost/api/webhooks/1/t",
            "http://127.0.0.2:9000/api/webhooks/1/t/",
            "http://[::1]:9000/api/v9/webhooks/1/t",
            "https://127.0.0.1/api/webhooks/1/t#frag",
        ] {
            let url = WebhookUrl::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert!(
                url.expose().ends_with("/api/v10/webhooks/1/t?wait=true"),
                "{raw} -> {}",
                url.expose()
            );
        }
        for raw in [
            "https://discord.com/api/webhooks/1/t?thread_id=abc",
            "https://discord.com/api/vx/webhooks/1/t",
            "https://user:pw@discord.com/api/webhooks/1/t",
            "http://10.0.0.1/api/webhooks/1/t",
            "https://discord.com.evil.example/api/webhooks/1/t",
            "https://discord.com/api/webhooks/01/t",
        ] {
            assert!(WebhookUrl::parse(raw).is_err(), "{raw} accepted");
        }
    }

    #[test]
    fn retry_after_prefers_the_body() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            retry_after(&headers, br#"{"retry_after": 0.25}"#),
            Duration::from_millis(250)
        );
        assert_eq!(retry_after(&headers, b""), Duration::from_secs(3));
        assert_eq!(
            retry_after(
                &reqwest::header::HeaderMap::new(),
                br#"{"retry_after": 1e9}"#
            ),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn a_non_number_wait_falls_back_instead_of_panicking() {
        for value in ["nan", "NaN", "inf", "-inf"] {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("retry-after", value.parse().unwrap());
            headers.insert("x-ratelimit-reset-after", "2".parse().unwrap());
            assert_eq!(
                retry_after(&headers, b""),
                Duration::from_secs(2),
                "{value}"
            );
        }
    }
}
