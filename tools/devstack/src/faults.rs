//! A fault-injecting HTTP proxy between the functions and an AWS service emulator
//! (`devstack up --dynamodb-faults SPEC`, `--secretsmanager-faults SPEC`).
//!
//! Each request the functions send draws one outcome at the configured rates:
//!
//! | name | what the caller sees |
//! |---|---|
//! | `throttle` | 400 `ProvisionedThroughputExceededException` or `ThrottlingException` (alternately); nothing forwarded |
//! | `500` | 500 `InternalServerError`; nothing forwarded |
//! | `503` | 503 `ServiceUnavailable`; nothing forwarded |
//! | `timeout` | no answer for `timeout-ms` (default 2500, beyond the SDK's 2 s attempt timeout), then the connection closes; nothing forwarded |
//! | `reset` | the connection is reset (TCP RST) before anything is forwarded |
//! | `lost` | the request IS forwarded and applied, then the connection is reset instead of answering (a write whose response was lost) |
//! | `slow` | forwarded, and the answer is held back `slow-ms` (default 1500) |
//!
//! SPEC is `off` or comma-separated `name=rate` pairs (rates 0..1, summing to at most 1), plus
//! optional `seed=N`, `timeout-ms=N`, `slow-ms=N`, `only=Op1|Op2` (faults only for those
//! operations, e.g. `only=PutItem|TransactWriteItems`) and `max=N` (inject at most N faults,
//! then forward everything: `lost=1,only=PutItem,max=1` loses exactly one write's answer); for example
//! `throttle=0.05,500=0.02,503=0.02,timeout=0.01,reset=0.02,lost=0.02,seed=7`.
//!
//! The proxy answers `GET /__faults` with the spec in force and the counts so far, and
//! `PUT /__faults` (body: a new SPEC) changes the spec at run time, so a test can warm up without
//! faults, inject them, then read the stored state back without them.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request the proxy reads (DynamoDB's own limit on a request is 16 MB).
const MAX_REQUEST: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum Fault {
    Throttle,
    #[serde(rename = "500")]
    E500,
    #[serde(rename = "503")]
    E503,
    Timeout,
    Reset,
    Lost,
    Slow,
}

const FAULTS: [(&str, Fault); 7] = [
    ("throttle", Fault::Throttle),
    ("500", Fault::E500),
    ("503", Fault::E503),
    ("timeout", Fault::Timeout),
    ("reset", Fault::Reset),
    ("lost", Fault::Lost),
    ("slow", Fault::Slow),
];

#[derive(Debug, Clone, Serialize)]
pub struct FaultSpec {
    text: String,
    #[serde(skip)]
    rates: Vec<(Fault, f64)>,
    timeout_ms: u64,
    slow_ms: u64,
    #[serde(skip)]
    seed: Option<u64>,
    only: Vec<String>,
    max: Option<u64>,
}

impl FaultSpec {
    pub fn parse(text: &str) -> Result<FaultSpec, String> {
        let text = text.trim();
        let mut spec = FaultSpec {
            text: text.to_string(),
            rates: Vec::new(),
            timeout_ms: 2500,
            slow_ms: 1500,
            seed: None,
            only: Vec::new(),
            max: None,
        };
        if text.is_empty() || text == "off" {
            return Ok(spec);
        }
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("fault spec: `{pair}` is not name=value"))?;
            let int = || {
                value.parse::<u64>().map_err(|_| {
                    format!("fault spec: {name} must be a whole number, not `{value}`")
                })
            };
            match name {
                "seed" => spec.seed = Some(int()?),
                "timeout-ms" => spec.timeout_ms = int()?,
                "slow-ms" => spec.slow_ms = int()?,
                "max" => spec.max = Some(int()?),
                "only" => {
                    spec.only = value
                        .split('|')
                        .map(str::trim)
                        .filter(|o| !o.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                _ => {
                    let fault = FAULTS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, f)| *f)
                        .ok_or_else(|| {
                            format!(
                                "fault spec: unknown fault `{name}` (known: {}, seed, timeout-ms, slow-ms)",
                                FAULTS.map(|(n, _)| n).join(", ")
                            )
                        })?;
                    let rate = value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| {
                            format!("fault spec: {name} must be a rate from 0 to 1, not `{value}`")
                        })?;
                    spec.rates.push((fault, rate));
                }
            }
        }
        let total: f64 = spec.rates.iter().map(|(_, r)| r).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "fault spec: the rates add up to {total}, more than 1"
            ));
        }
        Ok(spec)
    }

    fn draw(&self, rng: &mut StdRng, op: &str, injected: u64) -> Option<Fault> {
        if self.rates.is_empty()
            || self.max.is_some_and(|m| injected >= m)
            || (!self.only.is_empty() && !self.only.iter().any(|o| o == op))
        {
            return None;
        }
        let x: f64 = rng.random();
        let mut acc = 0.0;
        for (fault, rate) in &self.rates {
            acc += rate;
            if x < acc {
                return Some(*fault);
            }
        }
        None
    }
}

#[derive(Default, Serialize)]
struct Counts {
    /// Faults injected since the spec was last set (what `max` limits).
    since_spec: u64,
    requests: u64,
    forwarded: u64,
    injected: BTreeMap<Fault, u64>,
    /// Injected faults by operation (`X-Amz-Target`).
    by_operation: BTreeMap<String, BTreeMap<Fault, u64>>,
}

struct State {
    name: &'static str,
    upstream: String,
    spec: FaultSpec,
    rng: StdRng,
    counts: Counts,
}

pub struct FaultProxy {
    pub port: u16,
}

impl FaultProxy {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) on a free loopback port.
pub async fn start(
    name: &'static str,
    upstream: String,
    spec: FaultSpec,
) -> Result<FaultProxy, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("{name} fault proxy: cannot listen: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let rng = match spec.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_os_rng(),
    };
    let state = Arc::new(Mutex::new(State {
        name,
        upstream,
        spec,
        rng,
        counts: Counts::default(),
    }));
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| format!("{name} fault proxy: {e}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (state, http) = (state.clone(), http.clone());
            tokio::spawn(async move {
                let _ = serve(stream, state, http).await;
            });
        }
    });
    Ok(FaultProxy { port })
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request (Content-Length bodies only, as the AWS SDK sends them).
/// `Ok(None)` at a clean end of the connection.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Request>> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf).map_err(|e| bad(&e.to_string()))? {
            httparse::Status::Complete(head_len) => {
                let method = req.method.unwrap_or("GET").to_string();
                let path = req.path.unwrap_or("/").to_string();
                let headers: Vec<(String, Vec<u8>)> = req
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                    .collect();
                let len = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if headers.iter().any(|(n, _)| n == "transfer-encoding") {
                    return Err(bad("chunked requests are not supported"));
                }
                if len > MAX_REQUEST {
                    return Err(bad("request too large"));
                }
                while buf.len() < head_len + len {
                    let mut chunk = [0u8; 16384];
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(bad("connection closed inside a request body"));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[head_len..head_len + len].to_vec();
                buf.drain(..head_len + len);
                return Ok(Some(Request {
                    method,
                    path,
                    headers,
                    body,
                }));
            }
            httparse::Status::Partial => {
                if buf.len() > 64 * 1024 {
                    return Err(bad("request head too large"));
                }
                let mut chunk = [0u8; 16384];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return if buf.is_empty() {
                        Ok(None)
                    } else {
                        Err(bad("connection closed inside a request head"))
                    };
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

async fn write_response(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in headers {
        if ["content-length", "transfer-encoding", "connection"]
            .contains(&k.to_ascii_lowercase().as_str())
        {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    // One write: a head and a body written apart leave the body waiting, by Nagle's algorithm,
    // for the ACK of the head, which the client delays (about 40 ms per response on Linux).
    let mut response = out.into_bytes();
    response.extend_from_slice(body);
    stream.write_all(&response).await?;
    stream.flush().await
}

/// Closes the connection with a TCP reset instead of an orderly close.
fn reset(stream: TcpStream) {
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn aws_error(status: u16, kind: &str, message: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    // awsJson error shape; the SDKs keep what follows `#` as the error code.
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
        "message": message,
    });
    (
        status,
        vec![
            ("content-type".into(), "application/x-amz-json-1.0".into()),
            ("x-amzn-requestid".into(), crate::ids::uuid()),
            ("x-amzn-errortype".into(), kind.into()),
        ],
        serde_json::to_vec(&body).expect("serializable"),
    )
}

async fn serve(
    mut stream: TcpStream,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
) -> std::io::Result<()> {
    // As any HTTP server does: a response goes out as soon as it is written.
    stream.set_nodelay(true)?;
    let mut buf = Vec::new();
    let mut throttles = 0u64;
    while let Some(req) = read_request(&mut stream, &mut buf).await? {
        if req.path.starts_with("/__faults") {
            control(&mut stream, &state, &req).await?;
            continue;
        }
        let op = req
            .headers
            .iter()
            .find(|(n, _)| n == "x-amz-target")
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        let op = op.rsplit('.').next().unwrap_or("").to_string();
        let (fault, upstream, spec, name) = {
            let mut s = state.lock().unwrap();
            let st = &mut *s;
            let injected: u64 = st.counts.since_spec;
            let fault = st.spec.draw(&mut st.rng, &op, injected);
            st.counts.requests += 1;
            if let Some(f) = fault {
                st.counts.since_spec += 1;
                *st.counts.injected.entry(f).or_default() += 1;
                *st.counts
                    .by_operation
                    .entry(op.clone())
                    .or_default()
                    .entry(f)
                    .or_default() += 1;
            }
            if matches!(fault, None | Some(Fault::Lost) | Some(Fault::Slow)) {
                st.counts.forwarded += 1;
            }
            (fault, st.upstream.clone(), st.spec.clone(), st.name)
        };
        let canned = match fault {
            Some(Fault::Throttle) => {
                throttles += 1;
                Some(if throttles % 2 == 1 {
                    aws_error(
                        400,
                        "ProvisionedThroughputExceededException",
                        "The level of configured provisioned throughput for the table was exceeded. (injected)",
                    )
                } else {
                    aws_error(
                        400,
                        "ThrottlingException",
                        "Rate of requests exceeds the allowed throughput. (injected)",
                    )
                })
            }
            Some(Fault::E500) => Some(aws_error(
                500,
                "InternalServerError",
                "Internal server error (injected)",
            )),
            Some(Fault::E503) => Some(aws_error(
                503,
                "ServiceUnavailable",
                "Service unavailable (injected)",
            )),
            Some(Fault::Timeout) => {
                tokio::time::sleep(Duration::from_millis(spec.timeout_ms)).await;
                return Ok(());
            }
            Some(Fault::Reset) => {
                reset(stream);
                return Ok(());
            }
            None | Some(Fault::Lost) | Some(Fault::Slow) => None,
        };
        let (status, headers, body) = match canned {
            Some(c) => c,
            None => {
                let method = reqwest::Method::from_bytes(req.method.as_bytes())
                    .unwrap_or(reqwest::Method::POST);
                let mut rb = http.request(method, format!("{upstream}{}", req.path));
                for (n, v) in &req.headers {
                    if ["host", "content-length", "connection"].contains(&n.as_str()) {
                        continue;
                    }
                    rb = rb.header(n.as_str(), v.as_slice());
                }
                let resp = match rb.body(req.body).send().await {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("devstack: {name} fault proxy: upstream failed: {e}");
                        reset(stream);
                        return Ok(());
                    }
                };
                let status = resp.status().as_u16();
                let headers: Vec<(String, String)> = resp
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
                    .collect();
                let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                if fault == Some(Fault::Lost) {
                    reset(stream);
                    return Ok(());
                }
                if fault == Some(Fault::Slow) {
                    tokio::time::sleep(Duration::from_millis(spec.slow_ms)).await;
                }
                (status, headers, body)
            }
        };
        write_response(&mut stream, status, &headers, &body).await?;
    }
    Ok(())
}

async fn control(
    stream: &mut TcpStream,
    state: &Arc<Mutex<State>>,
    req: &Request,
) -> std::io::Result<()> {
    let json = [("content-type".to_string(), "application/json".to_string())];
    if req.method == "PUT" || req.method == "POST" {
        match FaultSpec::parse(&String::from_utf8_lossy(&req.body)) {
            Ok(spec) => {
                let mut s = state.lock().unwrap();
                if let Some(seed) = spec.seed {
                    s.rng = StdRng::seed_from_u64(seed);
                }
                eprintln!("devstack: {} fault proxy: spec now `{}`", s.name, spec.text);
                s.spec = spec;
                s.counts.since_spec = 0;
            }
            Err(e) => {
                let body = serde_json::to_vec(&serde_json::json!({"error": e})).unwrap();
                return write_response(stream, 400, &json, &body).await;
            }
        }
    }
    let body = {
        let s = state.lock().unwrap();
        serde_json::to_vec(&serde_json::json!({
            "service": s.name,
            "upstream": s.upstream,
            "spec": s.spec,
            "counts": s.counts,
        }))
        .unwrap()
    };
    write_response(stream, 200, &json, &body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_and_options() {
        let s = FaultSpec::parse("throttle=0.1, 500=0.05,lost=0.02,seed=3,timeout-ms=100").unwrap();
        assert_eq!(s.rates.len(), 3);
        assert_eq!(s.seed, Some(3));
        assert_eq!(s.timeout_ms, 100);
        assert!(FaultSpec::parse("off").unwrap().rates.is_empty());
        assert!(FaultSpec::parse("nope=0.1").is_err());
        assert!(FaultSpec::parse("throttle=2").is_err());
        assert!(FaultSpec::parse("throttle=0.6,reset=0.6").is_err());
    }

    #[test]
    fn draws_at_the_given_rates() {
        let s = FaultSpec::parse("throttle=0.25,reset=0.25").unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let n = 20_000;
        let hits = (0..n)
            .filter(|_| s.draw(&mut rng, "GetItem", 0).is_some())
            .count();
        assert!((hits as f64 / n as f64 - 0.5).abs() < 0.02, "{hits}");
        let all = FaultSpec::parse("503=1").unwrap();
        assert_eq!(all.draw(&mut rng, "GetItem", 0), Some(Fault::E503));
        let once = FaultSpec::parse("lost=1,only=PutItem|Query,max=1").unwrap();
        assert_eq!(once.draw(&mut rng, "GetItem", 0), None);
        assert_eq!(once.draw(&mut rng, "Query", 0), Some(Fault::Lost));
        assert_eq!(once.draw(&mut rng, "PutItem", 1), None);
    }
}
