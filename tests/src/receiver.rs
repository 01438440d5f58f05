//! A partner's webhook receiver for the tests: an HTTP server on 127.0.0.1 that records every
//! request (headers and body) and answers as told: 2xx, an error status, a hang past the
//! sender's 10 s timeout, a redirect, or nothing at all (not listening: connection refused).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Status(u16),
    /// Answers after this long (past the sender's timeout: a timeout).
    Hang(Duration),
    /// 302 to this location.
    Redirect(String),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
    pub answered: u16,
    pub at: Instant,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

struct Inner {
    mode: Mutex<Mode>,
    got: Mutex<Vec<Delivery>>,
}

pub struct Receiver {
    pub port: u16,
    inner: Arc<Inner>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// A bound socket that does not listen yet: the port stays ours (no other test's server gets
    /// it) and connections to it are refused.
    reserved: Mutex<Option<tokio::net::TcpSocket>>,
}

async fn handle(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let mode = inner.mode.lock().unwrap().clone();
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let answered = match &mode {
        Mode::Ok => 200,
        Mode::Status(s) => *s,
        Mode::Hang(_) => 200,
        Mode::Redirect(_) => 302,
    };
    inner.got.lock().unwrap().push(Delivery {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        content_type: h("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
        answered,
        at: Instant::now(),
    });
    match mode {
        Mode::Ok => StatusCode::OK.into_response(),
        Mode::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Mode::Hang(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
        Mode::Redirect(to) => (StatusCode::FOUND, [("location", to)]).into_response(),
    }
}

impl Receiver {
    /// A receiver listening on a free port, answering 200.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = Receiver {
            port,
            inner: Arc::new(Inner {
                mode: Mutex::new(Mode::Ok),
                got: Mutex::new(Vec::new()),
            }),
            server: Mutex::new(None),
            reserved: Mutex::new(None),
        };
        r.serve(listener);
        r
    }

    /// A receiver on a free port that is not listening yet (connection refused until `listen`).
    pub async fn closed() -> Receiver {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        Receiver {
            port,
            inner: Arc::new(Inner {
                mode: Mutex::new(Mode::Ok),
                got: Mutex::new(Vec::new()),
            }),
            server: Mutex::new(None),
            reserved: Mutex::new(Some(socket)),
        }
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(self.inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        *self.server.lock().unwrap() = Some(task);
    }

    /// Starts listening (on the port it was given).
    pub async fn listen(&self) {
        let reserved = self.reserved.lock().unwrap().take();
        let listener = match reserved {
            Some(socket) => socket.listen(1024).unwrap(),
            None => tokio::net::TcpListener::bind(("127.0.0.1", self.port))
                .await
                .unwrap(),
        };
        self.serve(listener);
    }

    /// Stops listening: connections are refused.
    pub fn close(&self) {
        if let Some(t) = self.server.lock().unwrap().take() {
            t.abort();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    pub fn got(&self) -> Vec<Delivery> {
        self.inner.got.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    pub fn delivered(&self) -> Vec<Delivery> {
        self.got()
            .into_iter()
            .filter(|d| (200..300).contains(&d.answered))
            .collect()
    }

    /// Waits until `done(requests so far)` holds; panics with what arrived after `within`.
    pub async fn wait_for(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            if Instant::now() > deadline {
                let summary: Vec<String> = got
                    .iter()
                    .map(|d| format!("{} {} -> {}", d.id, d.json()["type"], d.answered))
                    .collect();
                panic!(
                    "receiver: {what} not seen within {within:?}; got {}:\n{}",
                    got.len(),
                    summary.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.close();
    }
}

/// Verifies deliveries with the PyPI `standardwebhooks` package (tests/webhooks/verify.py in
/// target/tools/webhooks-venv, installed by scripts/install); one result per case: "ok" or the
/// verifier's error.
pub fn verify_with_standardwebhooks(
    cases: &[(String, String, String, String, String)],
) -> Vec<String> {
    let root = crate::stack::workspace_root();
    let python = root.join("target/tools/webhooks-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install (it installs the pinned standardwebhooks package)",
        python.display()
    );
    let input: Vec<Value> = cases
        .iter()
        .map(|(secret, id, ts, sig, body)| serde_json::json!({"secret": secret, "id": id, "timestamp": ts, "signature": sig, "body": body}))
        .collect();
    let mut child = std::process::Command::new(python)
        .arg(root.join("tests/webhooks/verify.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running verify.py");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "verify.py failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("verify.py prints a JSON list")
}
