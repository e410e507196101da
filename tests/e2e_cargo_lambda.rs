//! End to end through the clients users use: `cargo lambda watch` serves the function (its
//! own process, configured only by environment variables, as on Lambda) and
//! `cargo lambda invoke --data-file events/…` calls it, against the sandbox and moto_server.
//!
//! Needs cargo-lambda (make venv installs it into .venv); `make test` provides it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bot_sandbox::{MotoServer, Sandbox, Scenario};
use serde_json::{Value, json};

mod common;

fn venv_bin(name: &str) -> PathBuf {
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    if local.exists() {
        local
    } else {
        PathBuf::from(name)
    }
}

/// The watcher's log, kept for a failed run.
fn watch_log() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-cargo-lambda-watch.log")
}

/// `cargo lambda watch`, killed with its whole process group on drop.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let pgid = self.0.id() as i32;
        // SAFETY: signals the process group this test created for the watcher.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn invoke(port: u16, event_file: &Path) -> Value {
    let output = Command::new(venv_bin("cargo-lambda"))
        .args(["lambda", "invoke", "bootstrap", "-A", "127.0.0.1", "-P"])
        .arg(port.to_string())
        .arg("--data-file")
        .arg(event_file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo lambda invoke runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "cargo lambda invoke gave no outcome JSON: {stdout}\n{}\nfunction log: {}",
            String::from_utf8_lossy(&output.stderr),
            watch_log().display()
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn buy_duplicate_and_closed_through_cargo_lambda() {
    use std::os::unix::process::CommandExt;

    let sandbox = Sandbox::start(Scenario::default().with_market_open(false))
        .await
        .unwrap();
    let moto = MotoServer::start().await.unwrap();
    let secret = json!({
        "api_key": "sandbox-key-id",
        "api_secret": "sandbox-secret-key",
        "discord_webhook_url": sandbox.webhook_url(),
    });
    moto.create_secret("alpaca-bot/e2e", &secret.to_string())
        .await;

    let port = common::free_port();
    let base = sandbox.base_url();
    let mut command = Command::new(venv_bin("cargo-lambda"));
    command
        .args([
            "lambda",
            "watch",
            "-A",
            "127.0.0.1",
            "--ignore-changes",
            "-P",
        ])
        .arg(port.to_string())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // Only what a user's shell would have: the variables cargo sets for a test binary
        // would make the watcher's `cargo run` rebuild the function from scratch.
        .env_clear()
        .envs(std::env::vars().filter(|(k, _)| {
            [
                "PATH",
                "HOME",
                "RUSTUP_HOME",
                "CARGO_HOME",
                "RUSTUP_TOOLCHAIN",
                "TMPDIR",
            ]
            .contains(&k.as_str())
        }))
        .env("BOT_SECRET_ID", "alpaca-bot/e2e")
        .env("APCA_API_BASE_URL", &base)
        .env("APCA_API_DATA_URL", &base)
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint_url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "e2e")
        .env("AWS_SECRET_ACCESS_KEY", "e2e")
        .env("MAX_EVENT_AGE_SECONDS", "0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(watch_log()).unwrap())
        .process_group(0);
    let _watch = Watch(command.spawn().expect("cargo lambda watch starts"));
    let deadline = Instant::now() + Duration::from_secs(240);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");

    let closed = tokio::task::spawn_blocking({
        let file = events.join("eventbridge-rule.json");
        move || invoke(port, &file)
    })
    .await
    .unwrap();
    assert_eq!(closed["status"], "skipped", "{closed}");
    assert!(closed["reason"].as_str().unwrap().contains("market closed"));

    sandbox.set_scenario(Scenario::default().with_closes(Scenario::golden_cross(40, 100)));
    let slot = events.join("scheduler-input.json");
    let bought = tokio::task::spawn_blocking({
        let slot = slot.clone();
        move || invoke(port, &slot)
    })
    .await
    .unwrap();
    assert_eq!(bought["status"], "ordered", "{bought}");
    assert_eq!(bought["order"]["status"], "filled");
    assert_eq!(bought["notified"], true);

    let again = tokio::task::spawn_blocking(move || invoke(port, &slot))
        .await
        .unwrap();
    common::assert_duplicate_of(&again, &bought);

    assert_eq!(sandbox.orders().len(), 1, "exactly one order");
    let posts = sandbox.discord_messages();
    assert_eq!(posts.len(), 3, "one post per invocation");
    assert!(posts.iter().all(|p| p.accepted));
}
