//! The binary: `serve` announces itself, `ctl` drives it, SIGTERM stops it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_bot-sandbox");

fn ctl(url: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(BIN)
        .args(["ctl", "--url", url])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "ctl {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn serve_and_ctl() {
    let dir = std::env::temp_dir().join(format!("bot-sandbox-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ready = dir.join("ready.json");
    let mut server = Command::new(BIN)
        .args([
            "serve",
            "--port",
            "0",
            "--ready-file",
            ready.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let hello: Value = serde_json::from_str(&line).unwrap();
    let from_file: Value = serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
    assert_eq!(hello, from_file);
    let url = hello["base_url"].as_str().unwrap().to_string();
    let webhook = hello["webhook_url"].as_str().unwrap().to_string();

    ctl(
        &url,
        &["scenario", "-"],
        Some(r#"{"api_key": "k", "api_secret": "s", "position_qty": "4"}"#),
    );
    let sc: Value = serde_json::from_str(&ctl(&url, &["get-scenario"], None)).unwrap();
    assert_eq!(
        (sc["api_key"].as_str(), sc["symbol"].as_str()),
        (Some("k"), Some("SPY"))
    );
    ctl(
        &url,
        &["fault", r#"{"route": "discord", "kind": {"status": 500}}"#],
        None,
    );

    let http = reqwest::Client::new();
    let order = http
        .post(format!("{url}/v2/orders"))
        .header("APCA-API-KEY-ID", "k")
        .header("APCA-API-SECRET-KEY", "s")
        .json(&json!({"symbol": "SPY", "qty": "4", "side": "sell", "type": "market", "time_in_force": "day"}))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 200);
    let orders: Value = serde_json::from_str(&ctl(&url, &["orders"], None)).unwrap();
    assert_eq!(orders[0]["side"], "sell");

    let post = |body: Value| http.post(&webhook).json(&body).send();
    assert_eq!(
        post(json!({"content": "first"})).await.unwrap().status(),
        500
    );
    let embed =
        json!({"content": "SPY bought", "embeds": [{"title": "BUY 1 SPY", "color": 3066993}]});
    assert_eq!(post(embed).await.unwrap().status(), 204);
    let rendered = ctl(&url, &["discord", "--render"], None);
    assert!(
        rendered.contains("│ SPY bought") && rendered.contains("BUY 1 SPY [green]"),
        "{rendered}"
    );
    assert!(
        rendered.contains("HTTP 500") && rendered.contains("HTTP 204"),
        "{rendered}"
    );

    // SAFETY: signalling the child we spawned.
    unsafe {
        libc::kill(server.id() as libc::pid_t, libc::SIGTERM);
    }
    let out = server.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("│ SPY bought"),
        "posts are printed as they arrive: {stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
