//! A real `moto_server` (Python) for Secrets Manager, started on a free `127.0.0.1` port and
//! killed (with its whole process group) when dropped, plus a plain-HTTP Secrets Manager client.
//!
//! The binary is `$MOTO_SERVER`, else the workspace's `.venv/bin/moto_server`, else
//! `moto_server` on `PATH`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

/// A running `moto_server`.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
}

/// Where `moto_server` is looked for.
pub fn moto_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.venv/bin/moto_server"
    ));
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl MotoServer {
    /// Starts `moto_server -H 127.0.0.1 -p PORT` and waits (up to 60 s) until it answers HTTP.
    pub async fn start() -> std::io::Result<MotoServer> {
        let program = moto_server_path();
        let port = free_port()?;
        let mut cmd = Command::new(&program);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot start {}: {e}", program.display()))
        })?;
        let mut server = MotoServer { child, port };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(std::io::Error::other)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "{} exited early: {status}",
                    program.display()
                )));
            }
            if http
                .get(format!("{}/moto-api/", server.endpoint_url()))
                .send()
                .await
                .is_ok()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "moto_server did not answer within 60 s",
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A Secrets Manager client for this server.
    pub fn client(&self) -> Client {
        secrets_client(&self.endpoint_url())
    }

    /// Creates the secret (or, when it exists, puts a new value) and returns its ARN.
    pub async fn create_secret(&self, name: &str, secret_string: &str) -> String {
        seed_secret(&self.endpoint_url(), name, secret_string)
            .await
            .unwrap_or_else(|e| panic!("seeding secret {name:?} in moto failed: {e}"))
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group we created.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Secrets Manager client for `endpoint` (plain HTTP, dummy credentials, `us-east-1`).
pub fn secrets_client(endpoint: &str) -> Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "bot-sandbox",
        ))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

/// Creates secret `name` with `secret_string` at `endpoint`, or puts a new value when it already
/// exists; returns the ARN.
pub async fn seed_secret(
    endpoint: &str,
    name: &str,
    secret_string: &str,
) -> Result<String, String> {
    let client = secrets_client(endpoint);
    match client
        .create_secret()
        .name(name)
        .secret_string(secret_string)
        .send()
        .await
    {
        Ok(out) => Ok(out.arn().unwrap_or_default().to_string()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_exists_exception()) =>
        {
            let out = client
                .put_secret_value()
                .secret_id(name)
                .secret_string(secret_string)
                .send()
                .await
                .map_err(|e| {
                    format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(e))
                })?;
            Ok(out.arn().unwrap_or_default().to_string())
        }
        Err(e) => Err(format!(
            "{}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
        )),
    }
}
