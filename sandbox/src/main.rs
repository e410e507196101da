//! `bot-sandbox`: run the emulator as a process, drive it from shell scripts, seed secrets.
//!
//! ```text
//! bot-sandbox serve [--port 0] [--host 127.0.0.1] [--scenario FILE] [--ready-file PATH] [--quiet]
//! bot-sandbox ctl --url URL scenario FILE|-      (partial Scenario JSON)
//! bot-sandbox ctl --url URL fault JSON|@FILE     (a Fault or an array of them)
//! bot-sandbox ctl --url URL orders|requests|discord [--render [--since N]]|reset|health|get-scenario
//! bot-sandbox seed-secret --endpoint URL --name NAME --secret-string JSON
//! bot-sandbox moto [--ready-file PATH]           (run moto_server until SIGINT/SIGTERM)
//! ```

use std::io::Read;
use std::process::ExitCode;

use bot_sandbox::{MotoServer, Sandbox, Scenario, render};
use serde_json::{Value, json};

const USAGE: &str = "usage:
  bot-sandbox serve [--port 0] [--host 127.0.0.1] [--scenario FILE] [--ready-file PATH] [--quiet]
  bot-sandbox ctl --url URL scenario FILE|-
  bot-sandbox ctl --url URL fault JSON|@FILE
  bot-sandbox ctl --url URL orders|requests|discord [--render [--since N]]|reset|health|get-scenario
  bot-sandbox preset golden-cross|death-cross|no-cross [--short 40] [--long 100] [--position QTY] [--closed]
  bot-sandbox seed-secret --endpoint URL --name NAME --secret-string JSON
  bot-sandbox moto [--ready-file PATH]";

/// `--flag value` options and positional words.
struct Args {
    opts: Vec<(String, Option<String>)>,
    words: Vec<String>,
}

const SWITCHES: &[&str] = &["--render", "--quiet", "--help", "--closed"];

impl Args {
    fn parse(raw: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut raw = raw.peekable();
        let mut args = Args {
            opts: Vec::new(),
            words: Vec::new(),
        };
        while let Some(a) = raw.next() {
            if let Some((k, v)) = a.split_once('=').filter(|_| a.starts_with("--")) {
                args.opts.push((k.to_string(), Some(v.to_string())));
            } else if SWITCHES.contains(&a.as_str()) {
                args.opts.push((a, None));
            } else if a.starts_with("--") {
                let v = raw.next().ok_or(format!("{a} needs a value"))?;
                args.opts.push((a, Some(v)));
            } else {
                args.words.push(a);
            }
        }
        Ok(args)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.as_deref())
    }

    fn has(&self, k: &str) -> bool {
        self.opts.iter().any(|(n, _)| n == k)
    }

    fn need(&self, k: &str) -> Result<&str, String> {
        self.get(k).ok_or(format!("missing {k}\n{USAGE}"))
    }
}

fn read_source(src: &str) -> Result<String, String> {
    if src == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| e.to_string())?;
        Ok(s)
    } else {
        std::fs::read_to_string(src).map_err(|e| format!("{src}: {e}"))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bot-sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.words.first().map(String::as_str) {
        Some("serve") => serve(&args).await,
        Some("ctl") => ctl(&args).await,
        Some("seed-secret") => seed_secret(&args).await,
        Some("moto") => moto(&args).await,
        Some("preset") => preset(&args),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bot-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `preset golden-cross|death-cross|no-cross [--short 40] [--long 100] [--position QTY]
/// [--closed]`: prints a scenario JSON for `ctl scenario -`.
fn preset(args: &Args) -> Result<(), String> {
    let window = |name: &str, default: usize| -> Result<usize, String> {
        args.get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|_| format!("{name}: not a number"))
        })
    };
    let (short, long) = (window("--short", 40)?, window("--long", 100)?);
    if short == 0 || short >= long {
        return Err("need 1 <= --short < --long".into());
    }
    let closes = match args.words.get(1).map(String::as_str) {
        Some("golden-cross") => Scenario::golden_cross(short, long),
        Some("death-cross") => Scenario::death_cross(short, long),
        Some("no-cross") => Scenario::no_cross(short, long),
        _ => {
            return Err(format!(
                "preset needs golden-cross, death-cross or no-cross\n{USAGE}"
            ));
        }
    };
    let mut scenario = Scenario::default()
        .with_closes(closes)
        .with_market_open(!args.has("--closed"));
    if let Some(qty) = args.get("--position") {
        scenario = scenario.with_position(qty);
    }
    println!(
        "{}",
        serde_json::to_string(&scenario).map_err(|e| e.to_string())?
    );
    Ok(())
}

async fn until_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Writes the ready file (atomically), then prints the line: once either is seen, both are there.
fn announce(line: &Value, ready_file: Option<&str>) -> Result<(), String> {
    if let Some(path) = ready_file {
        // Write then rename, so a watcher never reads half a line.
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, format!("{line}\n")).map_err(|e| format!("{tmp}: {e}"))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{path}: {e}"))?;
    }
    println!("{line}");
    Ok(())
}

async fn serve(args: &Args) -> Result<(), String> {
    let scenario = match args.get("--scenario") {
        Some(src) => serde_json::from_str::<Scenario>(&read_source(src)?)
            .map_err(|e| format!("scenario: {e}"))?,
        None => Scenario::default(),
    };
    let port: u16 = args
        .get("--port")
        .unwrap_or("0")
        .parse()
        .map_err(|e| format!("--port: {e}"))?;
    let host: std::net::IpAddr = args
        .get("--host")
        .unwrap_or("127.0.0.1")
        .parse()
        .map_err(|e| format!("--host: {e}"))?;
    let sandbox = Sandbox::start_on((host, port).into(), scenario)
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let mut posts = sandbox.subscribe_discord();
    announce(
        &json!({"base_url": sandbox.base_url(), "webhook_url": sandbox.webhook_url()}),
        args.get("--ready-file"),
    )?;
    let quiet = args.has("--quiet");
    let printer = tokio::spawn(async move {
        loop {
            let post = match posts.recv().await {
                Ok(post) => post,
                // A burst outran the printer: say so and go on with the newest posts.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(skipped)) => {
                    eprintln!("({skipped} posts not shown)");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            if !quiet {
                let verdict = if post.accepted { "" } else { " (rejected)" };
                eprintln!(
                    "{}  ↳ HTTP {}{verdict}",
                    render::render(&post.body),
                    post.status
                );
            }
        }
    });
    until_signal().await;
    printer.abort();
    sandbox.shutdown().await;
    Ok(())
}

async fn ctl(args: &Args) -> Result<(), String> {
    let url = args.need("--url")?.trim_end_matches('/').to_string();
    let http = reqwest::Client::new();
    let words: Vec<&str> = args.words.iter().skip(1).map(String::as_str).collect();
    let (method, path, body) = match words.as_slice() {
        ["scenario", src] => ("POST", "scenario", Some(read_source(src)?)),
        ["fault", spec] | ["faults", spec] => {
            let text = match spec.strip_prefix('@') {
                Some(file) => read_source(file)?,
                None => spec.to_string(),
            };
            ("POST", "faults", Some(text))
        }
        ["orders"] => ("GET", "orders", None),
        ["requests"] => ("GET", "requests", None),
        ["discord"] => ("GET", "discord", None),
        ["reset"] => ("POST", "reset", None),
        ["health"] => ("GET", "health", None),
        ["get-scenario"] => ("GET", "scenario", None),
        _ => return Err(USAGE.to_string()),
    };
    let target = format!("{url}/_sandbox/{path}");
    let req = match method {
        "POST" => http
            .post(&target)
            .header("content-type", "application/json")
            .body(body.unwrap_or_default()),
        _ => http.get(&target),
    };
    let resp = req.send().await.map_err(|e| format!("{target}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{target}: HTTP {status}: {text}"));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if path == "discord" && args.has("--render") {
        // --since N: only the posts after the first N (what the last step added).
        let since: usize = args
            .get("--since")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        for post in value.as_array().into_iter().flatten().skip(since) {
            println!(
                "{}  ↳ HTTP {}",
                render::render(&post["body"]),
                post["status"]
            );
        }
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

async fn seed_secret(args: &Args) -> Result<(), String> {
    let endpoint = args.need("--endpoint")?;
    let name = args.need("--name")?;
    let secret = match (args.get("--secret-string"), args.get("--secret-file")) {
        (Some(s), _) => s.to_string(),
        (None, Some(f)) => read_source(f)?,
        (None, None) => return Err(format!("missing --secret-string\n{USAGE}")),
    };
    let arn = bot_sandbox::moto::seed_secret(endpoint, name, &secret).await?;
    println!("{}", json!({"arn": arn, "name": name}));
    Ok(())
}

async fn moto(args: &Args) -> Result<(), String> {
    let server = MotoServer::start()
        .await
        .map_err(|e| format!("moto_server: {e}"))?;
    announce(
        &json!({"endpoint_url": server.endpoint_url(), "pid": server.pid()}),
        args.get("--ready-file"),
    )?;
    until_signal().await;
    drop(server);
    Ok(())
}
