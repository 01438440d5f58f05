//! Init time through the real Lambda Runtime API: a one-shot Runtime API server per run that
//! timestamps the function's first `GET /2018-06-01/runtime/invocation/next` (the moment the
//! runtime is ready for its first event), measured from just before the process is spawned.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;

type Ready = Arc<Mutex<Option<oneshot::Sender<Result<Instant, String>>>>>;

async fn next(State(ready): State<Ready>) -> &'static str {
    if let Some(tx) = ready.lock().expect("lock").take() {
        let _ = tx.send(Ok(Instant::now()));
    }
    // Never hand out an event: the process is killed once it is ready.
    std::future::pending::<()>().await;
    ""
}

async fn init_error(State(ready): State<Ready>, body: String) -> &'static str {
    if let Some(tx) = ready.lock().expect("lock").take() {
        let _ = tx.send(Err(format!("init error: {body}")));
    }
    "{}"
}

/// One cold start of `executable`: milliseconds from spawn to its first `/next`.
pub async fn one(executable: &Path, env: &BTreeMap<String, String>) -> Result<f64, String> {
    let (tx, rx) = oneshot::channel();
    let ready: Ready = Arc::new(Mutex::new(Some(tx)));
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(ready);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut cmd = tokio::process::Command::new(executable);
    cmd.env_clear()
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("TZ", ":UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", executable.display()))?;
    let outcome = tokio::time::timeout(Duration::from_secs(10), rx).await;
    let _ = child.kill().await;
    server.abort();
    match outcome {
        Ok(Ok(Ok(at))) => Ok(at.duration_since(started).as_secs_f64() * 1000.0),
        Ok(Ok(Err(e))) => Err(e),
        _ => Err(format!(
            "{} did not reach /next within 10 s",
            executable.display()
        )),
    }
}
