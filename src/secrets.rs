//! The secret (CONTRACT §1): its redacting types, its parser, the Secrets Manager adapter and
//! the warm-invocation cache.
//!
//! Secret values live in `SecretString`s, whose `Debug` prints `[REDACTED]`; errors name the
//! key that is wrong, never its value.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::notify::{Mention, WebhookUrl};

/// The parsed secret.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub alpaca: AlpacaKeys,
    /// `None`: no Discord posts (the log says so once per cold start).
    pub webhook: Option<WebhookUrl>,
    /// The secret's kill switch; `false` stops orders without a deploy.
    pub trading_enabled: bool,
    pub error_mention: Option<Mention>,
}

/// Alpaca's key pair. Both halves are secrets: neither is ever printed.
#[derive(Debug, Clone)]
pub struct AlpacaKeys {
    pub key_id: SecretString,
    pub secret: SecretString,
}

/// Why the secret could not be used. Never carries a secret value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecretError {
    #[error("could not read secret {secret_id:?} from Secrets Manager: {cause}")]
    Fetch { secret_id: String, cause: String },
    #[error("secret {0:?} has no SecretString (a binary secret is not supported)")]
    NotAString(String),
    #[error("the secret is not a JSON object: {0}")]
    NotJson(String),
    #[error("the secret lacks the required key {0:?}")]
    MissingKey(&'static str),
    #[error("the secret's key {key:?} is invalid: expected {expected}")]
    InvalidKey {
        key: &'static str,
        expected: &'static str,
    },
}

/// A secret that failed to parse, with the webhook when it could still be read, so the
/// error can be posted to Discord (CONTRACT §1).
#[derive(Debug, Clone)]
pub struct SecretProblem {
    pub error: SecretError,
    pub webhook: Option<WebhookUrl>,
}

impl Secrets {
    pub fn parse(secret_string: &str) -> Result<Self, SecretProblem> {
        let fail = |error| SecretProblem {
            error,
            webhook: None,
        };
        // serde_json's syntax errors give a line and column, never the text.
        let value: Value = serde_json::from_str(secret_string).map_err(|e| {
            fail(SecretError::NotJson(format!(
                "invalid JSON at line {} column {}",
                e.line(),
                e.column()
            )))
        })?;
        let object = value
            .as_object()
            .ok_or_else(|| fail(SecretError::NotJson("the JSON is not an object".into())))?;

        // The webhook first: with it, every other problem can still be posted.
        let webhook = optional_key(
            object,
            "discord_webhook_url",
            "a Discord webhook URL string",
            WebhookUrl::parse,
        )
        .map_err(fail)?;
        let with_webhook = |error| SecretProblem {
            error,
            webhook: webhook.clone(),
        };

        let key_id = alpaca_key(object, "api_key").map_err(with_webhook)?;
        let secret = alpaca_key(object, "api_secret").map_err(with_webhook)?;
        let trading_enabled = match object.get("trading_enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
            Some(_) => {
                return Err(with_webhook(SecretError::InvalidKey {
                    key: "trading_enabled",
                    expected: "true or false",
                }));
            }
        };
        let error_mention = optional_key(
            object,
            "discord_error_mention",
            "a Discord user or role id",
            Mention::parse,
        )
        .map_err(with_webhook)?;
        Ok(Self {
            alpaca: AlpacaKeys {
                key_id: SecretString::from(key_id),
                secret: SecretString::from(secret),
            },
            webhook,
            trading_enabled,
            error_mention,
        })
    }
}

/// An optional key: absent, null or blank is `None`; a string, or a number (a Discord id
/// pasted without quotes), goes to `parse`, whose refusal says what was expected.
fn optional_key<T>(
    object: &serde_json::Map<String, Value>,
    key: &'static str,
    wrong_type: &'static str,
    parse: impl Fn(&str) -> Result<T, &'static str>,
) -> Result<Option<T>, SecretError> {
    let raw = match object.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(SecretError::InvalidKey {
                key,
                expected: wrong_type,
            });
        }
    };
    parse(&raw)
        .map(Some)
        .map_err(|expected| SecretError::InvalidKey { key, expected })
}

/// An Alpaca key: it travels in an HTTP header, so it is printable ASCII without spaces.
fn alpaca_key(
    object: &serde_json::Map<String, Value>,
    key: &'static str,
) -> Result<String, SecretError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(SecretError::MissingKey(key)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(SecretError::InvalidKey {
            key,
            expected: "a non-empty string (it is empty)",
        }),
        Some(Value::String(s)) if !s.trim().bytes().all(|b| b.is_ascii_graphic()) => {
            Err(SecretError::InvalidKey {
                key,
                expected: "an Alpaca key: letters and digits, without spaces",
            })
        }
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(_) => Err(SecretError::InvalidKey {
            key,
            expected: "a string",
        }),
    }
}

/// Where the secret string comes from: Secrets Manager in production, anything in tests.
pub trait SecretSource: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<String, SecretError>> + Send;
}

/// The real source: `GetSecretValue` through `aws-sdk-secretsmanager`.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }
}

impl SecretSource for SecretsManager {
    async fn fetch(&self) -> Result<String, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                // The SDK's error context names the service error code and message, or the
                // transport failure; the request carries no secret value.
                let mut cause = aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string();
                // A secret the stack created is empty until the user fills it in.
                let no_value = e.as_service_error().is_some_and(|e| {
                    e.is_resource_not_found_exception()
                        && e.meta()
                            .message()
                            .is_some_and(|m| m.contains("secret value"))
                });
                if no_value {
                    cause.push_str(
                        " (the secret exists but holds no value yet: fill it in with \
                         `aws secretsmanager put-secret-value` and the JSON the README shows)",
                    );
                }
                SecretError::Fetch {
                    secret_id: self.secret_id.clone(),
                    cause,
                }
            })?;
        output
            .secret_string
            .ok_or_else(|| SecretError::NotAString(self.secret_id.clone()))
    }
}

/// Secrets fetched on the first invocation and reused by warm ones for `ttl`; `invalidate`
/// forces one refetch, so a rotated Alpaca key heals itself after a 401/403.
pub struct SecretCache<S> {
    source: S,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Secrets>)>>,
}

impl<S: SecretSource> SecretCache<S> {
    pub fn new(source: S, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The cached secrets, or freshly fetched ones.
    pub async fn get(&self) -> Result<Arc<Secrets>, SecretProblem> {
        let mut cached = self.cached.lock().await;
        if let Some((fetched_at, secrets)) = cached.as_ref()
            && fetched_at.elapsed() < self.ttl
        {
            return Ok(secrets.clone());
        }
        let raw = self.source.fetch().await.map_err(|error| SecretProblem {
            error,
            webhook: None,
        })?;
        let secrets = Arc::new(Secrets::parse(&raw)?);
        *cached = Some((Instant::now(), secrets.clone()));
        Ok(secrets)
    }

    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const FULL: &str = r#"{
        "api_key": "PKTESTKEYID", "api_secret": "sEcReTvAlUe",
        "discord_webhook_url": "https://discord.com/api/webhooks/123/tok-en_1",
        "trading_enabled": false, "discord_error_mention": "<@&42>",
        "paper_trading": true, "trade_symbol": "SPY"
    }"#;

    #[test]
    fn parses_the_lessons_config_json() {
        let s = Secrets::parse(FULL).unwrap();
        assert_eq!(s.alpaca.key_id.expose_secret(), "PKTESTKEYID");
        assert_eq!(s.alpaca.secret.expose_secret(), "sEcReTvAlUe");
        assert!(s.webhook.is_some());
        assert!(!s.trading_enabled);
        assert!(s.error_mention.is_some());
    }

    #[test]
    fn debug_never_shows_a_value() {
        let s = Secrets::parse(FULL).unwrap();
        let debug = format!("{s:?}");
        for secret in ["PKTESTKEYID", "sEcReTvAlUe", "tok-en_1"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn errors_name_the_key_never_the_value() {
        for (raw, needle, webhook_kept) in [
            ("not json sEcReT", "invalid JSON", false),
            ("[\"sEcReT\"]", "not an object", false),
            (r#"{"api_secret": "sEcReT"}"#, "api_key", false),
            (r#"{"api_key": "sEcReT"}"#, "api_secret", false),
            (r#"{"api_key": "", "api_secret": "sEcReT"}"#, "empty", false),
            (
                r#"{"api_key": "PK sEcReT", "api_secret": "sEcReT"}"#,
                "\"api_key\" is invalid: expected an Alpaca key",
                false,
            ),
            (
                r#"{"api_key": "k", "api_secret": "sEcReT\n2"}"#,
                "\"api_secret\" is invalid",
                false,
            ),
            (
                r#"{"api_key": 12345, "api_secret": "sEcReT"}"#,
                "api_key",
                false,
            ),
            (
                r#"{"api_key": "sEcReT", "discord_webhook_url": "https://discord.com/api/webhooks/1/t"}"#,
                "api_secret",
                true,
            ),
            (
                r#"{"api_key": "k", "api_secret": "sEcReT", "discord_webhook_url": "sEcReT-not-a-url"}"#,
                "discord_webhook_url",
                false,
            ),
            (
                r#"{"api_key": "k", "api_secret": "sEcReT", "trading_enabled": "sEcReT"}"#,
                "trading_enabled",
                false,
            ),
        ] {
            let problem = Secrets::parse(raw).unwrap_err();
            let message = problem.error.to_string();
            assert!(message.contains(needle), "{raw}: {message}");
            assert!(!message.contains("sEcReT"), "{raw}: leaks: {message}");
            assert_eq!(problem.webhook.is_some(), webhook_kept, "{raw}");
        }
    }

    struct Counting {
        calls: AtomicUsize,
    }

    impl SecretSource for Counting {
        async fn fetch(&self) -> Result<String, SecretError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(r#"{"api_key": "k", "api_secret": "s"}"#.into())
        }
    }

    #[tokio::test]
    async fn cache_reuses_until_ttl_or_invalidation() {
        let cache = SecretCache::new(
            Counting {
                calls: AtomicUsize::new(0),
            },
            Duration::from_secs(60),
        );
        let calls = || cache.source.calls.load(Ordering::SeqCst);
        cache.get().await.unwrap();
        assert_eq!(calls(), 1, "the first get fetches");
        cache.get().await.unwrap();
        assert_eq!(calls(), 1, "the second comes from the cache");
        cache.invalidate().await;
        cache.get().await.unwrap();
        assert_eq!(calls(), 2, "after invalidate it fetches again");

        let expiring = SecretCache::new(
            Counting {
                calls: AtomicUsize::new(0),
            },
            Duration::ZERO,
        );
        expiring.get().await.unwrap();
        expiring.get().await.unwrap();
        assert_eq!(expiring.source.calls.load(Ordering::SeqCst), 2);
    }
}
