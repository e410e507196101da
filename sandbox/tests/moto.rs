//! A real moto_server: secrets seeded with the SDK read back with the SDK; no orphan process.

use bot_sandbox::MotoServer;

/// Whether any process is left in this process group (the handle kills moto_server's group).
fn group_exists(pgid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks; a negative pid names the group.
    let missing = unsafe { libc::kill(-(pgid as libc::pid_t), 0) } == -1
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    !missing
}

/// The group is gone within 2 s (the kernel may take a moment to finish with it).
fn group_ends(pgid: u32) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while group_exists(pgid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

#[tokio::test]
async fn create_secret_reads_back_and_the_server_dies_with_its_handle() {
    let moto = match MotoServer::start().await {
        Ok(m) => m,
        Err(e)
            if std::env::var_os("BOT_SANDBOX_REQUIRE_MOTO").is_none()
                && e.kind() == std::io::ErrorKind::NotFound =>
        {
            eprintln!("skipping: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let pid = moto.pid();
    assert!(moto.endpoint_url().starts_with("http://127.0.0.1:"));
    let secret = r#"{"api_key":"k","api_secret":"s","discord_webhook_url":""}"#;
    let arn = moto.create_secret("alpaca-bot/config", secret).await;
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-east-1:"),
        "{arn}"
    );
    let got = moto
        .client()
        .get_secret_value()
        .secret_id("alpaca-bot/config")
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), Some(secret));
    // Seeding again puts a new value under the same ARN.
    let arn2 = moto
        .create_secret("alpaca-bot/config", r#"{"api_key":"k2","api_secret":"s"}"#)
        .await;
    assert_eq!(arn2, arn);
    let got = moto
        .client()
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert!(got.secret_string().unwrap().contains("k2"));
    // The CLI seeds through the same code.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bot-sandbox"))
        .args([
            "seed-secret",
            "--endpoint",
            &moto.endpoint_url(),
            "--name",
            "cli/secret",
        ])
        .args(["--secret-string", r#"{"api_key":"c","api_secret":"d"}"#])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        printed["arn"]
            .as_str()
            .unwrap()
            .contains(":secret:cli/secret")
    );
    let got = moto
        .client()
        .get_secret_value()
        .secret_id("cli/secret")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.secret_string(),
        Some(r#"{"api_key":"c","api_secret":"d"}"#)
    );
    assert!(group_exists(pid), "moto_server runs while its handle lives");
    drop(moto);
    assert!(
        group_ends(pid),
        "moto_server's process group {pid} survived its handle"
    );
}
