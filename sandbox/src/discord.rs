//! Discord's execute-webhook endpoint: `POST /api/webhooks/{id}/{token}` and
//! `POST /api/v{N}/webhooks/{id}/{token}` (`?wait=`, `?thread_id=`). Bodies are validated against
//! `IncomingWebhookRequestPartial` from Discord's official OpenAPI spec
//! (`contracts/discord-openapi.json`), plus the rules the schema cannot express: a message needs
//! content, embeds, components, a poll or attachments, and all embeds together hold at most 6000
//! characters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::faults::{FaultKind, Route, discord_error, fault_response};
use crate::{DiscordPost, Shared, WEBHOOK_ID};

/// `X-RateLimit-Bucket` the sandbox answers for the webhook.
pub const RATE_LIMIT_BUCKET: &str = "c0ffee5andb0x0000000000000000000";

/// Discord's OpenAPI document (MIT, see `contracts/discord-openapi.LICENSE`).
const OPENAPI: &str = include_str!("../../contracts/discord-openapi.json");

/// Most characters all embeds of one message may hold together.
pub const MAX_EMBED_CHARS: usize = 6000;

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let spec: Value = serde_json::from_str(OPENAPI).expect("the bundled OpenAPI document is JSON");
    // The spec's `$ref`s point at `#/components/schemas/...` of the document root, so the schema
    // root carries the components and refers to the request schema.
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/components/schemas/IncomingWebhookRequestPartial",
        "components": {"schemas": spec["components"]["schemas"].clone()},
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .expect("IncomingWebhookRequestPartial compiles")
});

/// Schema, emptiness and embed-size errors for a webhook body, in Discord's `errors` shape
/// (`{"embeds": {"0": {"title": {"_errors": [{"code", "message"}]}}}}`); `Ok` when Discord would
/// accept it. `Err((code, message, errors))`.
pub fn validate(body: &Value) -> Result<(), (u64, String, Value)> {
    let mut errors = Map::new();
    for e in VALIDATOR.iter_errors(body) {
        let (code, message) = match e.kind() {
            jsonschema::error::ValidationErrorKind::MaxLength { limit } => (
                "BASE_TYPE_MAX_LENGTH".to_string(),
                format!("Must be {limit} or fewer in length."),
            ),
            jsonschema::error::ValidationErrorKind::MinLength { limit } => (
                "BASE_TYPE_MIN_LENGTH".to_string(),
                format!("Must be {limit} or more in length."),
            ),
            jsonschema::error::ValidationErrorKind::MaxItems { limit } => (
                "BASE_TYPE_MAX_LENGTH".to_string(),
                format!("Must be {limit} or fewer in length."),
            ),
            jsonschema::error::ValidationErrorKind::Type { .. } => (
                "BASE_TYPE_BAD_TYPE".to_string(),
                format!("Invalid type: {e}"),
            ),
            _ => ("BASE_TYPE_INVALID".to_string(), e.to_string()),
        };
        let pointer = e.instance_path().to_string();
        add_error(&mut errors, &pointer, &code, &message);
    }
    if !errors.is_empty() {
        return Err((50035, "Invalid Form Body".into(), Value::Object(errors)));
    }
    let nonempty = |k: &str| match body.get(k) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(_)) => true,
        _ => false,
    };
    if ![
        "content",
        "embeds",
        "components",
        "poll",
        "attachments",
        "sticker_ids",
    ]
    .iter()
    .any(|k| nonempty(k))
    {
        return Err((50006, "Cannot send an empty message".into(), Value::Null));
    }
    let size = embeds_size(body);
    if size > MAX_EMBED_CHARS {
        let mut errors = Map::new();
        add_error(
            &mut errors,
            "/embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            &format!("Embed size exceeds maximum size of {MAX_EMBED_CHARS}"),
        );
        return Err((50035, "Invalid Form Body".into(), Value::Object(errors)));
    }
    Ok(())
}

/// Characters counted toward the 6000 limit: every embed's title, description, field names and
/// values, footer text and author name.
pub fn embeds_size(body: &Value) -> usize {
    let len = |v: &Value| v.as_str().map(|s| s.chars().count()).unwrap_or(0);
    body.get("embeds")
        .and_then(Value::as_array)
        .map(|embeds| {
            embeds
                .iter()
                .map(|e| {
                    len(&e["title"])
                        + len(&e["description"])
                        + len(&e["footer"]["text"])
                        + len(&e["author"]["name"])
                        + e["fields"]
                            .as_array()
                            .map(|fs| fs.iter().map(|f| len(&f["name"]) + len(&f["value"])).sum())
                            .unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

fn add_error(errors: &mut Map<String, Value>, pointer: &str, code: &str, message: &str) {
    let mut node = errors;
    for part in pointer.split('/').filter(|p| !p.is_empty()) {
        node = node
            .entry(part.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("error nodes are objects");
    }
    let list = node.entry("_errors").or_insert_with(|| json!([]));
    if let Some(list) = list.as_array_mut() {
        list.push(json!({"code": code, "message": message}));
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/webhooks/{id}/{token}", post(execute_unversioned))
        .route(
            "/api/{version}/webhooks/{id}/{token}",
            post(execute_versioned),
        )
}

type Q = Query<BTreeMap<String, String>>;

async fn execute_unversioned(
    State(s): State<Arc<Shared>>,
    Path((id, token)): Path<(String, String)>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    execute(s, None, id, token, q, body).await
}

async fn execute_versioned(
    State(s): State<Arc<Shared>>,
    Path((version, id, token)): Path<(String, String, String)>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    execute(s, Some(version), id, token, q, body).await
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A Discord snowflake for "now".
pub fn snowflake() -> String {
    let ms = (Utc::now().timestamp_millis() - 1_420_070_400_000).max(0) as u64;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) & 0xfff;
    ((ms << 22) | (1 << 17) | seq).to_string()
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn ratelimit_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from_static("5"));
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("4"));
    let reset = Utc::now().timestamp_millis() as f64 / 1000.0 + 2.0;
    if let Ok(v) = HeaderValue::from_str(&format!("{reset:.3}")) {
        h.insert("x-ratelimit-reset", v);
    }
    h.insert("x-ratelimit-reset-after", HeaderValue::from_static("2.000"));
    h.insert(
        "x-ratelimit-bucket",
        HeaderValue::from_static(RATE_LIMIT_BUCKET),
    );
}

async fn execute(
    s: Arc<Shared>,
    version: Option<String>,
    id: String,
    token: String,
    query: BTreeMap<String, String>,
    raw: Bytes,
) -> Response {
    let body: Option<Value> = serde_json::from_slice(&raw).ok();
    let path = match &version {
        Some(v) => format!("/api/{v}/webhooks/{id}/{token}"),
        None => format!("/api/webhooks/{id}/{token}"),
    };
    let record = |status: u16| DiscordPost {
        path: path.clone(),
        query: query.clone(),
        body: body
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&raw).into_owned())),
        status,
        accepted: (200..300).contains(&status),
        received_at: Utc::now(),
    };
    let answer = |resp: Response| {
        s.record_discord(record(resp.status().as_u16()));
        resp
    };

    if let Some(v) = &version {
        let known = v
            .strip_prefix('v')
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (6..=10).contains(&n));
        if !known {
            return answer(discord_error(404, 0, "404: Not Found"));
        }
    }

    let fault = s.lock().faults.take(Route::Discord);
    if let Some(kind) = fault {
        if matches!(kind, FaultKind::Hang | FaultKind::Drop) {
            // No HTTP answer will be sent: record it now.
            s.record_discord(record(0));
        }
        if let Some(resp) = fault_response(Route::Discord, &kind).await {
            if matches!(kind, FaultKind::Drop) {
                return resp;
            }
            return answer(resp);
        }
    }

    let expected = s.lock().scenario.discord_webhook_token.clone();
    if id != WEBHOOK_ID {
        return answer(discord_error(404, 10015, "Unknown Webhook"));
    }
    if token != expected {
        return answer(discord_error(401, 50027, "Invalid Webhook Token"));
    }
    let wait = match query.get("wait") {
        None => false,
        Some(v) => match parse_bool(v) {
            Some(b) => b,
            None => {
                let mut errors = Map::new();
                add_error(
                    &mut errors,
                    "/wait",
                    "BOOLEAN_TYPE_COERCE",
                    &format!("Value \"{v}\" is not a boolean."),
                );
                return answer(invalid_form(Value::Object(errors)));
            }
        },
    };
    let Some(body) = body.clone() else {
        return answer(discord_error(
            400,
            50109,
            "The request body contains invalid JSON.",
        ));
    };
    if let Err((code, message, errors)) = validate(&body) {
        let mut obj = json!({"code": code, "message": message});
        if !errors.is_null() {
            obj["errors"] = errors;
        }
        return answer((StatusCode::BAD_REQUEST, axum::Json(obj)).into_response());
    }
    let mut resp = if wait {
        (StatusCode::OK, axum::Json(message_object(&body, &query))).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    ratelimit_headers(&mut resp);
    answer(resp)
}

fn invalid_form(errors: Value) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"code": 50035, "errors": errors, "message": "Invalid Form Body"})),
    )
        .into_response()
}

/// The message object Discord answers with `?wait=true`.
fn message_object(body: &Value, query: &BTreeMap<String, String>) -> Value {
    let channel = query
        .get("thread_id")
        .cloned()
        .unwrap_or_else(|| "223456789012345678".to_string());
    let embeds: Vec<Value> = body["embeds"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| {
                    let mut e = e.clone();
                    if let Some(o) = e.as_object_mut() {
                        o.entry("type").or_insert(json!("rich"));
                        o.insert("content_scan_version".into(), json!(0));
                    }
                    e
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "type": 0,
        "content": body["content"].as_str().unwrap_or(""),
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds,
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Micros, false),
        "edited_timestamp": null,
        "flags": body["flags"].as_u64().unwrap_or(0),
        "components": [],
        "id": snowflake(),
        "channel_id": channel,
        "author": {
            "id": WEBHOOK_ID,
            "username": body["username"].as_str().unwrap_or("Sandbox Hook"),
            "avatar": null,
            "discriminator": "0000",
            "public_flags": 0,
            "flags": 0,
            "bot": true,
            "global_name": null,
            "clan": null,
            "primary_guild": null,
        },
        "pinned": false,
        "mention_everyone": false,
        "tts": body["tts"].as_bool().unwrap_or(false),
        "webhook_id": WEBHOOK_ID,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_accepts_a_normal_post_and_rejects_long_titles() {
        let ok = json!({"content": "hi", "embeds": [{"title": "t", "color": 3066993,
            "fields": [{"name": "a", "value": "b", "inline": true}], "footer": {"text": "f"}}],
            "flags": 4096, "allowed_mentions": {"parse": []}});
        assert_eq!(validate(&ok), Ok(()));
        let bad = json!({"embeds": [{"title": "x".repeat(257)}]});
        let (code, _, errors) = validate(&bad).unwrap_err();
        assert_eq!(code, 50035);
        assert_eq!(
            errors["embeds"]["0"]["title"]["_errors"][0]["code"],
            "BASE_TYPE_MAX_LENGTH"
        );
        let (code, _, _) = validate(&json!({"content": ""})).unwrap_err();
        assert_eq!(code, 50006);
        let (code, _, _) = validate(&json!({"content": 5})).unwrap_err();
        assert_eq!(code, 50035);
    }

    #[test]
    fn embeds_share_six_thousand_characters() {
        let field = |n: usize| json!({"name": "n", "value": "v".repeat(n)});
        let body = |n: usize| {
            json!({"embeds": [
                {"description": "d".repeat(4096), "fields": [field(900)]},
                {"description": "é".repeat(1000), "fields": [field(n)]},
            ]})
        };
        // 4096 + 1 + 900 + 1000 + 1 + n
        assert_eq!(embeds_size(&body(2)), 6000);
        assert_eq!(validate(&body(2)), Ok(()));
        let (code, _, errors) = validate(&body(3)).unwrap_err();
        assert_eq!(code, 50035);
        assert_eq!(
            errors["embeds"]["_errors"][0]["code"],
            "MAX_EMBED_SIZE_EXCEEDED"
        );
    }
}
