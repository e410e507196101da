//! The Discord adapter against a local fake webhook (wiremock): retries that honour
//! Discord's wait, bounded attempts, the deadline, and no retry of a misconfigured webhook.

use std::time::Duration;

use alpaca_lambda_bot::message::{self, Message};
use alpaca_lambda_bot::notify::{Discord, Notifier, NotifyError, WebhookUrl};
use serde_json::json;
use tokio::time::Instant;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PATH: &str = "/api/v10/webhooks/123/token";
/// How late past its deadline a post may return: scheduling on a loaded 2-core runner.
/// Any retry after the deadline, or waiting for the fake's 30 s, is far beyond it.
const SLACK: Duration = Duration::from_millis(500);

fn message() -> Message {
    message::lifecycle(true, "SPY")
}

fn discord(server: &MockServer) -> Discord {
    let url = WebhookUrl::parse(&format!("{}/api/webhooks/123/token", server.uri())).unwrap();
    Discord::new(reqwest::Client::new(), url)
}

fn in_secs(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// Answers `first` to the first `times` requests, then 200 with the message, as `wait=true`
/// makes Discord answer.
async fn fail_then_succeed(server: &MockServer, first: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .with_priority(2)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

#[tokio::test]
async fn request_waits_for_the_message_and_never_pings() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(query_param("wait", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    discord(&server).post(&message(), in_secs(5)).await.unwrap();
    let sent = &requests(&server).await[0];
    assert_eq!(
        sent.headers.get("content-type").unwrap(),
        "application/json",
        "Discord needs a JSON body"
    );
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert!(body["content"].as_str().unwrap().contains("SPY"));
}

#[tokio::test]
async fn thread_id_is_kept() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(query_param("wait", "true"))
        .and(query_param("thread_id", "987"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    let url = WebhookUrl::parse(&format!(
        "{}/api/webhooks/123/token?thread_id=987",
        server.uri()
    ))
    .unwrap();
    Discord::new(reqwest::Client::new(), url)
        .post(&message(), in_secs(5))
        .await
        .unwrap();
}

#[tokio::test]
async fn rate_limit_then_success_waits_as_told() {
    let server = MockServer::start().await;
    // A 429 as Discord sends it: the body's precise wait, Retry-After rounded up to whole
    // seconds, and the bucket's headers. The body's wait is the one to keep.
    let limited = ResponseTemplate::new(429)
        .set_body_json(
            json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false}),
        )
        .insert_header("retry-after", "1")
        .insert_header("x-ratelimit-limit", "5")
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-reset-after", "0.2")
        .insert_header("x-ratelimit-bucket", "abcd1234")
        .insert_header("x-ratelimit-scope", "user");
    fail_then_succeed(&server, limited, 1).await;
    let started = std::time::Instant::now();
    discord(&server)
        .with_backoff(Duration::from_millis(1))
        .post(&message(), in_secs(5))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "retried after {:?}, before Discord's retry_after",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited {:?}: the rounded Retry-After, not the body's retry_after",
        started.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn rate_limit_headers_are_honoured_without_a_body() {
    for header in ["retry-after", "x-ratelimit-reset-after"] {
        let server = MockServer::start().await;
        let value = if header == "retry-after" { "1" } else { "0.3" };
        fail_then_succeed(
            &server,
            ResponseTemplate::new(429).insert_header(header, value),
            1,
        )
        .await;
        let started = std::time::Instant::now();
        discord(&server)
            .with_backoff(Duration::from_millis(1))
            .post(&message(), in_secs(5))
            .await
            .unwrap();
        let want = Duration::from_secs_f64(value.parse().unwrap());
        assert!(
            started.elapsed() >= want,
            "{header}: {:?}",
            started.elapsed()
        );
        assert_eq!(requests(&server).await.len(), 2, "{header}");
    }
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_budget_gives_up_at_once() {
    let server = MockServer::start().await;
    fail_then_succeed(
        &server,
        ResponseTemplate::new(429).set_body_json(json!({"retry_after": 30.0})),
        1,
    )
    .await;
    let started = std::time::Instant::now();
    let err = discord(&server)
        .post(&message(), in_secs(2))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, NotifyError::GaveUp { attempts: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("deadline"), "{err}");
}

#[tokio::test]
async fn server_error_then_success() {
    let server = MockServer::start().await;
    fail_then_succeed(&server, ResponseTemplate::new(500), 1).await;
    discord(&server).post(&message(), in_secs(5)).await.unwrap();
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn persistent_server_errors_are_bounded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = discord(&server)
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(10))
        .post(&message(), in_secs(10))
        .await
        .unwrap_err();
    assert_eq!(requests(&server).await.len(), 3);
    assert_eq!(
        err,
        NotifyError::GaveUp {
            attempts: 3,
            last: "HTTP 503".into()
        }
    );
    let text = err.to_string();
    assert!(text.contains("3 attempt") && text.contains("503"), "{text}");

    // The default policy is bounded too.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let err = discord(&server)
        .post(&message(), in_secs(20))
        .await
        .unwrap_err();
    let count = requests(&server).await.len();
    assert!((2..=4).contains(&count), "{count} requests");
    assert!(matches!(err, NotifyError::GaveUp { attempts, .. } if attempts as usize == count));
}

#[tokio::test]
async fn a_hang_ends_by_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let budget = Duration::from_millis(800);
    let started = std::time::Instant::now();
    let err = discord(&server)
        .post(&message(), Instant::now() + budget)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(took < budget + SLACK, "took {took:?}");
    assert!(matches!(err, NotifyError::GaveUp { .. }), "{err:?}");
}

#[tokio::test]
async fn a_hung_attempt_is_abandoned_for_a_fresh_one_within_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    discord(&server)
        .with_attempt_timeout(Duration::from_millis(300))
        .with_backoff(Duration::from_millis(10))
        .post(&message(), in_secs(5))
        .await
        .unwrap();
    assert_eq!(requests(&server).await.len(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_body_ends_by_the_deadline_too() {
    // Headers at once, then nothing: the deadline covers the body as well.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 1000\r\n\r\n{",
                    )
                    .await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    let url =
        WebhookUrl::parse(&format!("http://127.0.0.1:{port}/api/webhooks/123/token")).unwrap();
    let budget = Duration::from_millis(800);
    let started = std::time::Instant::now();
    let result = Discord::new(reqwest::Client::new(), url)
        .post(&message(), Instant::now() + budget)
        .await;
    let took = started.elapsed();
    server.abort();
    assert!(result.is_err());
    assert!(took < budget + SLACK, "took {took:?}");
}

#[tokio::test]
async fn unknown_webhook_and_unauthorized_are_configuration_errors_not_retried() {
    for (status, body) in [
        (404, json!({"message": "Unknown Webhook", "code": 10015})),
        (
            401,
            json!({"message": "Invalid Webhook Token", "code": 50027}),
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body.clone()))
            .mount(&server)
            .await;
        let err = discord(&server)
            .post(&message(), in_secs(5))
            .await
            .unwrap_err();
        assert_eq!(requests(&server).await.len(), 1, "HTTP {status} retried");
        match &err {
            NotifyError::Configuration { status: s, message } => {
                assert_eq!(*s, status);
                assert_eq!(message, body["message"].as_str().unwrap());
            }
            other => panic!("HTTP {status}: {other:?}"),
        }
        assert!(err.to_string().contains("discord_webhook_url"), "{err}");
    }
}

#[tokio::test]
async fn a_bad_request_is_not_retried_and_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "Invalid Form Body", "code": 50035,
            "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}
        })))
        .mount(&server)
        .await;
    let err = discord(&server)
        .post(&message(), in_secs(5))
        .await
        .unwrap_err();
    assert_eq!(requests(&server).await.len(), 1);
    let text = err.to_string();
    assert!(
        text.contains("Invalid Form Body") && text.contains("BASE_TYPE_MAX_LENGTH"),
        "{text}"
    );
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // A port nobody listens on: bind, note the port, close.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url =
        WebhookUrl::parse(&format!("http://127.0.0.1:{port}/api/webhooks/123/token")).unwrap();
    let err = Discord::new(reqwest::Client::new(), url)
        .with_max_attempts(2)
        .with_backoff(Duration::from_millis(10))
        .post(&message(), in_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotifyError::GaveUp { attempts: 2, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn no_time_left_means_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let err = discord(&server)
        .post(&message(), Instant::now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotifyError::GaveUp { attempts: 0, .. }),
        "{err:?}"
    );
    assert!(requests(&server).await.is_empty());
}
