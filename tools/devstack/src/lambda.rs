//! Lambda, locally: each function's binary runs as real processes that pull their events through
//! the Lambda Runtime API, exactly as in a Lambda execution environment.
//!
//! - Each process is one "execution environment" with its own Runtime API listener on
//!   127.0.0.1 (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`), so an invocation's timeout or crash
//!   is pinned on the process that had it.
//! - The first invocation starts a process (cold start); a process that finished an invocation
//!   is reused (warm). When none is idle, another one starts, up to the function's concurrency
//!   limit; beyond it, invocations wait their turn (real Lambda would throttle instead).
//! - Init (process start until its first `/next`) may take 10 s, as on Lambda. The function's
//!   timeout runs from the moment the runtime receives the event; on timeout the process is
//!   killed, as Lambda does.
//! - A handled error (`/invocation/{id}/error`) keeps the process; a crash discards it and the
//!   next invocation starts a new one.
//! - Output (stdout and stderr) goes to `<state-dir>/logs/<binary>.log` with Lambda's
//!   `START`/`END`/`REPORT` lines around each invocation. `REPORT` carries what Lambda's does:
//!   `Duration` (event received until answered), `Max Memory Used` (the process's peak resident
//!   set, VmHWM) and, on a cold start, `Init Duration` (process start until its first `/next`).
//!   The template's MemorySize and Timeout are chosen from these figures.

use crate::ids;
use crate::procs::{self, Supervised};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

/// Lambda's limit for the init phase of an on-demand function.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Lambda's synchronous response payload limit.
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct FunctionConfig {
    /// The logical id, used as the function name.
    pub name: String,
    pub binary: String,
    pub executable: PathBuf,
    pub timeout: Duration,
    pub memory_mb: u64,
    pub handler: String,
    /// Everything but the per-process Lambda variables.
    pub env: BTreeMap<String, String>,
    pub max_concurrency: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function reported an error (`/invocation/{id}/error`).
    Function {
        error_type: String,
        error_message: String,
    },
    /// The function ran past its timeout (its process was killed).
    Timeout,
    /// The process could not start, failed to initialise, crashed or broke the protocol.
    Failed(String),
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::Function {
                error_type,
                error_message,
            } => write!(f, "function error {error_type}: {error_message}"),
            InvokeError::Timeout => f.write_str("function timed out"),
            InvokeError::Failed(why) => f.write_str(why),
        }
    }
}

/// Appends lines to a function's log file (and to devstack's stderr when verbose).
pub struct LogSink {
    label: String,
    file: Mutex<std::fs::File>,
    verbose: bool,
}

impl LogSink {
    pub fn open(path: &std::path::Path, label: &str, verbose: bool) -> std::io::Result<LogSink> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(LogSink {
            label: label.to_string(),
            file: Mutex::new(file),
            verbose,
        })
    }

    pub fn line(&self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(&buf);
        }
        if self.verbose {
            eprint!("[{}] {}", self.label, String::from_utf8_lossy(&buf));
        }
    }
}

async fn pump(reader: impl AsyncRead + Unpin, sink: Arc<LogSink>) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => sink.line(&line),
        }
    }
}

enum Outcome {
    Response(Bytes),
    Error(Bytes),
}

struct Invocation {
    request_id: String,
    payload: Bytes,
    trace_id: String,
    timeout: Duration,
    /// Told the deadline (epoch ms) when the runtime takes the event.
    picked: oneshot::Sender<u64>,
    result: oneshot::Sender<Outcome>,
}

struct InFlight {
    request_id: String,
    result: oneshot::Sender<Outcome>,
}

/// What one environment's Runtime API handlers share.
struct Environment {
    function_arn: String,
    events: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    current: Mutex<Option<InFlight>>,
    init_error: Mutex<Option<String>>,
    exited: watch::Receiver<Option<String>>,
}

/// An idle or busy execution environment, as the pool holds it.
struct Sandbox {
    id: u64,
    pid: u32,
    /// When the process was started, until its first invocation (for `Init Duration`).
    cold_since: Option<Instant>,
    events: mpsc::Sender<Invocation>,
    env: Arc<Environment>,
}

impl Sandbox {
    fn has_exited(&self) -> bool {
        self.env.exited.borrow().is_some()
    }
}

pub struct Function {
    pub config: FunctionConfig,
    logs: Arc<LogSink>,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Sandbox>>,
    processes: Mutex<HashMap<u64, Supervised>>,
    next_id: AtomicU64,
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Function {
    pub fn new(config: FunctionConfig, logs: Arc<LogSink>) -> Arc<Function> {
        Arc::new(Function {
            permits: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            config,
            logs,
            idle: Mutex::new(Vec::new()),
            processes: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        })
    }

    /// Starts an invocation that runs to its end even if the caller stops waiting (as on
    /// Lambda, where API Gateway giving up does not stop the function). If the caller has gone
    /// before a process is free, the invocation does not happen.
    pub fn invoke(
        self: &Arc<Self>,
        payload: Bytes,
        trace_id: String,
    ) -> oneshot::Receiver<Result<Bytes, InvokeError>> {
        let (mut tx, rx) = oneshot::channel();
        let function = self.clone();
        tokio::spawn(async move {
            let permit = tokio::select! {
                permit = function.permits.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => return,
                },
                _ = tx.closed() => return,
            };
            let result = function.run(payload, trace_id).await;
            drop(permit);
            let _ = tx.send(result);
        });
        rx
    }

    async fn run(self: &Arc<Self>, payload: Bytes, trace_id: String) -> Result<Bytes, InvokeError> {
        let idle = {
            let mut idle = self.idle.lock().expect("idle lock");
            idle.retain(|s| !s.has_exited());
            idle.pop()
        };
        let mut sandbox = match idle {
            Some(s) => s,
            None => self.start_sandbox().await?,
        };
        let request_id = ids::uuid();
        let (picked_tx, picked_rx) = oneshot::channel();
        let (result_tx, result_rx) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload,
            trace_id,
            timeout: self.config.timeout,
            picked: picked_tx,
            result: result_tx,
        };
        if sandbox.events.send(invocation).await.is_err() {
            return Err(InvokeError::Failed(format!(
                "{}: the execution environment is gone",
                self.config.name
            )));
        }
        self.logs
            .line(format!("START RequestId: {request_id} Version: $LATEST").as_bytes());
        let cold_since = sandbox.cold_since.take();
        let mut picked_at = None;
        let result = self
            .await_outcome(&sandbox, picked_rx, result_rx, &mut picked_at)
            .await;
        // As Lambda: Duration from the moment the runtime took the event; init apart.
        let millis = picked_at.map_or(0.0, |t| t.elapsed().as_secs_f64() * 1000.0);
        let init = match (cold_since, picked_at) {
            (Some(spawned), Some(picked)) => format!(
                "\tInit Duration: {:.2} ms",
                picked.duration_since(spawned).as_secs_f64() * 1000.0
            ),
            _ => String::new(),
        };
        let max_memory = peak_rss_mb(sandbox.pid)
            .map(|mb| format!("\tMax Memory Used: {mb} MB"))
            .unwrap_or_default();
        self.logs
            .line(format!("END RequestId: {request_id}").as_bytes());
        let status = match &result {
            Ok(_) => String::new(),
            Err(InvokeError::Timeout) => "\tStatus: timeout".to_string(),
            Err(InvokeError::Function { .. }) => "\tStatus: error".to_string(),
            Err(InvokeError::Failed(_)) => "\tStatus: error".to_string(),
        };
        self.logs.line(
            format!(
                "REPORT RequestId: {request_id}\tDuration: {millis:.2} ms\tMemory Size: {} MB{max_memory}{init}{status}",
                self.config.memory_mb
            )
            .as_bytes(),
        );
        match &result {
            Ok(_) | Err(InvokeError::Function { .. }) if !sandbox.has_exited() => {
                self.idle.lock().expect("idle lock").push(sandbox);
            }
            Err(InvokeError::Timeout) => {
                self.kill(sandbox.id);
                self.logs.line(
                    format!(
                        "{request_id} Task timed out after {:.2} seconds",
                        self.config.timeout.as_secs_f64()
                    )
                    .as_bytes(),
                );
            }
            _ => self.kill(sandbox.id),
        }
        result
    }

    async fn await_outcome(
        &self,
        sandbox: &Sandbox,
        picked: oneshot::Receiver<u64>,
        result: oneshot::Receiver<Outcome>,
        picked_at: &mut Option<Instant>,
    ) -> Result<Bytes, InvokeError> {
        let mut exited = sandbox.env.exited.clone();
        let name = &self.config.name;
        let gone = |how: Option<String>| {
            let init_error = sandbox.env.init_error.lock().expect("lock").clone();
            let how = how.unwrap_or_else(|| "ended".to_string());
            match init_error {
                Some(e) => InvokeError::Failed(format!("{name}: init failed ({how}): {e}")),
                None => InvokeError::Failed(format!("{name}: the process {how}")),
            }
        };
        // Phase 1: the runtime takes the event (a cold start first initialises).
        tokio::select! {
            biased;
            r = picked => {
                if r.is_err() {
                    return Err(InvokeError::Failed(format!("{name}: the event was not delivered")));
                }
            }
            how = exited.wait_for(Option::is_some) => {
                return Err(gone(how.ok().and_then(|h| h.clone())));
            }
            _ = tokio::time::sleep(INIT_TIMEOUT) => {
                return Err(InvokeError::Failed(format!(
                    "{name}: the runtime did not ask for the event within {} s (init timeout)",
                    INIT_TIMEOUT.as_secs()
                )));
            }
        }
        *picked_at = Some(Instant::now());
        // Phase 2: the function runs until its deadline.
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        tokio::select! {
            biased;
            r = result => match r {
                Ok(Outcome::Response(body)) => Ok(body),
                Ok(Outcome::Error(body)) => Err(function_error(&body)),
                Err(_) => Err(InvokeError::Failed(format!(
                    "{name}: the runtime asked for the next event without answering this one"
                ))),
            },
            how = exited.wait_for(Option::is_some) => Err(gone(how.ok().and_then(|h| h.clone()))),
            _ = tokio::time::sleep_until(deadline) => Err(InvokeError::Timeout),
        }
    }

    fn kill(&self, id: u64) {
        if let Some(p) = self.processes.lock().expect("lock").get_mut(&id) {
            p.kill();
        }
    }

    /// Kills every process of this function and waits until they are gone.
    pub async fn shutdown(&self) {
        let procs: Vec<Supervised> = self
            .processes
            .lock()
            .expect("lock")
            .drain()
            .map(|(_, p)| p)
            .collect();
        self.idle.lock().expect("lock").clear();
        for mut p in procs {
            p.stop(Duration::ZERO).await;
        }
    }

    async fn start_sandbox(self: &Arc<Self>) -> Result<Sandbox, InvokeError> {
        let c = &self.config;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cold_since = Instant::now();
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| InvokeError::Failed(format!("{}: cannot listen: {e}", c.name)))?;
        let port = listener
            .local_addr()
            .map_err(|e| InvokeError::Failed(e.to_string()))?
            .port();

        let now = time::OffsetDateTime::now_utc();
        let log_stream = format!(
            "{:04}/{:02}/{:02}/[$LATEST]{}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            ids::random_hex(16)
        );
        let mut cmd = Command::new(&c.executable);
        cmd.env_clear()
            .envs(&c.env)
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", &c.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", c.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream)
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("_HANDLER", &c.handler)
            .env("TZ", ":UTC")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = c.executable.parent() {
            cmd.env("LAMBDA_TASK_ROOT", dir).current_dir(dir);
        }
        procs::harden(&mut cmd);
        let spawned = procs::spawn(&mut cmd).map_err(|e| {
            InvokeError::Failed(format!(
                "{}: cannot start {}: {e}",
                c.name,
                c.executable.display()
            ))
        })?;
        if let Some(out) = spawned.stdout {
            tokio::spawn(pump(out, self.logs.clone()));
        }
        if let Some(err) = spawned.stderr {
            tokio::spawn(pump(err, self.logs.clone()));
        }
        let pid = spawned.child.pid;
        let exited = spawned.child.exited();
        let (tx, rx) = mpsc::channel(1);
        let env = Arc::new(Environment {
            function_arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}", c.name),
            events: tokio::sync::Mutex::new(rx),
            current: Mutex::new(None),
            init_error: Mutex::new(None),
            exited: exited.clone(),
        });
        let mut stop = exited.clone();
        let server =
            axum::serve(listener, runtime_api(env.clone())).with_graceful_shutdown(async move {
                let _ = stop.wait_for(Option::is_some).await;
            });
        tokio::spawn(async move {
            let _ = server.await;
        });
        self.processes
            .lock()
            .expect("lock")
            .insert(id, spawned.child);
        self.logs.line(
            format!(
                "devstack: started {} (environment {id}, pid {pid}, runtime API 127.0.0.1:{port})",
                c.binary
            )
            .as_bytes(),
        );
        let function = Arc::downgrade(self);
        let mut exited_watch = exited;
        tokio::spawn(async move {
            let how = match exited_watch.wait_for(Option::is_some).await {
                Ok(h) => h.clone().unwrap_or_default(),
                Err(_) => return,
            };
            if let Some(f) = function.upgrade() {
                f.processes.lock().expect("lock").remove(&id);
                f.logs.line(
                    format!(
                        "devstack: {} (environment {id}, pid {pid}) {how}",
                        f.config.binary
                    )
                    .as_bytes(),
                );
            }
        });
        Ok(Sandbox {
            id,
            pid,
            cold_since: Some(cold_since),
            events: tx,
            env,
        })
    }
}

/// The peak resident set of a process in MB (VmHWM, what Lambda reports as Max Memory Used),
/// rounded up; `None` where /proc is not there.
fn peak_rss_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb.div_ceil(1024))
}

fn function_error(body: &[u8]) -> InvokeError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    InvokeError::Function {
        error_type: field("errorType").unwrap_or_else(|| "Unhandled".into()),
        error_message: field("errorMessage")
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    }
}

/// The Runtime API of one execution environment.
fn runtime_api(env: Arc<Environment>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(env)
}

fn runtime_reply(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn accepted() -> Response<Body> {
    runtime_reply(StatusCode::ACCEPTED, json!({"status": "OK"}))
}

async fn next(State(env): State<Arc<Environment>>) -> Response<Body> {
    let mut events = env.events.lock().await;
    if let Some(abandoned) = env.current.lock().expect("lock").take() {
        let _ = abandoned.result.send(Outcome::Error(Bytes::from(
            json!({
                "errorType": "Runtime.NoResponse",
                "errorMessage": format!("the runtime asked for the next event without answering {}", abandoned.request_id),
            })
            .to_string(),
        )));
    }
    let mut exited = env.exited.clone();
    let invocation = tokio::select! {
        inv = events.recv() => inv,
        _ = exited.wait_for(Option::is_some) => None,
    };
    let Some(inv) = invocation else {
        return runtime_reply(
            StatusCode::GONE,
            json!({"errorType": "Runtime.Shutdown", "errorMessage": "the environment is shutting down"}),
        );
    };
    let deadline = epoch_ms() + inv.timeout.as_millis() as u64;
    *env.current.lock().expect("lock") = Some(InFlight {
        request_id: inv.request_id.clone(),
        result: inv.result,
    });
    let _ = inv.picked.send(deadline);
    let mut r = Response::new(Body::from(inv.payload));
    let h = r.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &inv.request_id);
    set("lambda-runtime-deadline-ms", &deadline.to_string());
    set("lambda-runtime-invoked-function-arn", &env.function_arn);
    set("lambda-runtime-trace-id", &inv.trace_id);
    r
}

async fn complete(
    env: &Environment,
    id: &str,
    outcome: impl FnOnce() -> Outcome,
) -> Response<Body> {
    let mut current = env.current.lock().expect("lock");
    match current.take() {
        Some(inflight) if inflight.request_id == id => {
            let _ = inflight.result.send(outcome());
            accepted()
        }
        other => {
            *current = other;
            runtime_reply(
                StatusCode::BAD_REQUEST,
                json!({"errorType": "InvalidRequestID", "errorMessage": format!("{id} is not the invocation in progress")}),
            )
        }
    }
}

async fn invocation_response(
    State(env): State<Arc<Environment>>,
    UrlPath(id): UrlPath<String>,
    body: Body,
) -> Response<Body> {
    match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
        Ok(bytes) => complete(&env, &id, || Outcome::Response(bytes)).await,
        Err(_) => {
            let error = json!({
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
            });
            let reply =
                complete(&env, &id, || Outcome::Error(Bytes::from(error.to_string()))).await;
            if reply.status() == StatusCode::ACCEPTED {
                runtime_reply(StatusCode::PAYLOAD_TOO_LARGE, error)
            } else {
                reply
            }
        }
    }
}

async fn invocation_error(
    State(env): State<Arc<Environment>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let body = normalise_error(&headers, body);
    complete(&env, &id, || Outcome::Error(body)).await
}

async fn init_error(
    State(env): State<Arc<Environment>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let body = normalise_error(&headers, body);
    *env.init_error.lock().expect("lock") = Some(String::from_utf8_lossy(&body).into_owned());
    accepted()
}

/// An error body as JSON `{"errorType", "errorMessage"}` even if the runtime sent something else.
fn normalise_error(headers: &HeaderMap, body: Bytes) -> Bytes {
    if serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v.is_object())
        .unwrap_or(false)
    {
        return body;
    }
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled");
    Bytes::from(
        json!({"errorType": error_type, "errorMessage": String::from_utf8_lossy(&body)})
            .to_string(),
    )
}
