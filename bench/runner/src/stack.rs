//! The local stack under test (devstack with the release binaries), a partner client for it, and
//! the functions' logs (round trips, capacity, durations).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

pub struct Stack {
    child: Child,
    _stdin: ChildStdin,
    pub state_dir: PathBuf,
    pub stack: Value,
    pub kit: Value,
}

impl Stack {
    /// Start `devstack up` over the binaries in `bin_dir`; ready when it prints its ready line.
    pub async fn start(bin_dir: &Path, state_dir: &Path) -> Result<Stack, String> {
        let _ = std::fs::remove_dir_all(state_dir);
        std::fs::create_dir_all(state_dir).map_err(|e| e.to_string())?;
        let stderr = std::fs::File::create(state_dir.with_extension("devstack.log"))
            .map_err(|e| e.to_string())?;
        let mut child = Command::new(bin_dir.join("devstack"))
            .args(["up", "--port", "0", "--exit-on-stdin-close", "--state-dir"])
            .arg(state_dir)
            .arg("--bin-dir")
            .arg(bin_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start devstack: {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(120), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["event"] == "ready" {
                        return Some(v);
                    }
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            format!(
                "devstack did not get ready; see {}",
                state_dir.with_extension("devstack.log").display()
            )
        })?;
        let read = |p: &str| -> Result<Value, String> {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{p}: {e}"))
        };
        let stack = read(ready["stack_file"].as_str().unwrap_or_default())?;
        let kit = read(ready["kit_path"].as_str().unwrap_or_default())?;
        Ok(Stack {
            child,
            _stdin: stdin,
            state_dir: state_dir.to_path_buf(),
            stack,
            kit,
        })
    }

    pub fn log_path(&self, binary: &str) -> PathBuf {
        self.state_dir.join("logs").join(format!("{binary}.log"))
    }

    /// Where a function's log ends now (to read only what a phase wrote).
    pub fn log_offset(&self, binary: &str) -> u64 {
        std::fs::metadata(self.log_path(binary))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// The lines a function logged from `from` on.
    pub fn log_since(&self, binary: &str, from: u64) -> Vec<String> {
        let text = std::fs::read(self.log_path(binary)).unwrap_or_default();
        let from = (from as usize).min(text.len());
        String::from_utf8_lossy(&text[from..])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Peak resident memory (VmHWM, MB) of each running process of `executable`.
    pub fn max_rss_mb(executable: &Path) -> Option<f64> {
        let want = std::fs::canonicalize(executable).ok()?;
        let mut best: Option<f64> = None;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let dir = entry.path();
            if std::fs::read_link(dir.join("exe")).ok().as_deref() != Some(want.as_path()) {
                continue;
            }
            let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
            if let Some(kb) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
            {
                best = Some(best.map_or(kb / 1024.0, |b: f64| b.max(kb / 1024.0)));
            }
        }
        best
    }

    pub async fn stop(mut self) {
        drop(self._stdin);
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

/// What a function logged about one request (its JSON request line).
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    pub dynamodb_round_trips: f64,
    pub read_units: f64,
    pub write_units: f64,
    pub secrets_round_trips: f64,
    /// The handler's time (request parsed → response built), as the function logged it.
    pub latency_ms: Option<f64>,
    /// The time of the request's DynamoDB attempts within it (`dynamodb_ms`).
    pub dynamodb_ms: Option<f64>,
}

fn fields(v: &Value) -> &Value {
    if v.get("fields").is_some() {
        &v["fields"]
    } else {
        v
    }
}

/// The request lines (messages `request*`, `token*`, `allowed`) among `lines`.
pub fn request_logs(lines: &[String]) -> Vec<RequestLog> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let f = fields(&v);
            let msg = f["message"].as_str().unwrap_or_default();
            let wanted = msg.starts_with("request") || msg.starts_with("token") || msg == "allowed";
            (wanted && f.get("dynamodb_round_trips").is_some()).then(|| RequestLog {
                dynamodb_round_trips: f["dynamodb_round_trips"].as_f64().unwrap_or(f64::NAN),
                read_units: f["dynamodb_read_units"].as_f64().unwrap_or(0.0),
                write_units: f["dynamodb_write_units"].as_f64().unwrap_or(0.0),
                secrets_round_trips: f["secretsmanager_round_trips"].as_f64().unwrap_or(0.0),
                latency_ms: f["latency_ms"].as_f64(),
                dynamodb_ms: f["dynamodb_ms"].as_f64(),
            })
        })
        .collect()
}

/// Invocation durations (ms) from the `REPORT` lines among `lines`.
pub fn report_durations(lines: &[String]) -> Vec<f64> {
    lines
        .iter()
        .filter(|l| l.starts_with("REPORT "))
        .filter_map(|l| {
            l.split('\t')
                .find_map(|p| p.trim().strip_prefix("Duration: "))
                .and_then(|d| d.trim_end_matches(" ms").parse().ok())
        })
        .collect()
}

/// A partner calling the local gateway with the demo kit.
#[derive(Clone)]
pub struct Partner {
    http: reqwest::Client,
    pub client_id: String,
    client_secret: String,
    key: String,
    pub token_url: String,
    pub api: String,
    pub partner_id: String,
    /// The kit's `developer_portal_url` (`GET /docs`, no credentials).
    pub portal: String,
}

/// One call's outcome.
pub struct Call {
    pub status: u16,
    pub body: Value,
    pub elapsed: Duration,
}

impl Call {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub const PREMIUM: u64 = 15000;
/// What the bench's claims ask for (of an item value of 3,000,000).
pub const CLAIMED: u64 = 1_500_000;

pub fn now_iso() -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .expect("formats")
}

impl Partner {
    pub fn new(kit: &Value) -> Partner {
        let s = |k: &str| kit[k].as_str().unwrap_or_default().to_string();
        Partner {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            client_id: s("client_id"),
            client_secret: s("client_secret"),
            key: s("api_token_key"),
            token_url: s("token_url"),
            api: s("api_base_url").trim_end_matches('/').to_string(),
            partner_id: s("partner_id"),
            portal: s("developer_portal_url").trim_end_matches('/').to_string(),
        }
    }

    pub fn signature(&self, tn: &str) -> String {
        hex::encode(Md5::digest(format!("{}{tn}{PREMIUM}", self.key).as_bytes()))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Call {
        let started = Instant::now();
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.json::<Value>().await.unwrap_or(Value::Null);
                Call {
                    status,
                    body,
                    elapsed: started.elapsed(),
                }
            }
            Err(e) => Call {
                status: 0,
                body: json!({"transport_error": e.to_string()}),
                elapsed: started.elapsed(),
            },
        }
    }

    /// `GET` of the developer portal's page (`file` empty) or one of its files, gzipped as a
    /// browser asks for it; the body is not read as JSON (`Call.body` is null).
    pub async fn portal(&self, file: &str) -> Call {
        let url = match file {
            "" => self.portal.clone(),
            f => format!("{}/{f}", self.portal),
        };
        let started = Instant::now();
        match self
            .http
            .get(url)
            .header("accept-encoding", "gzip")
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let _ = resp.bytes().await;
                Call {
                    status,
                    body: Value::Null,
                    elapsed: started.elapsed(),
                }
            }
            Err(e) => Call {
                status: 0,
                body: json!({"transport_error": e.to_string()}),
                elapsed: started.elapsed(),
            },
        }
    }

    /// POST a JSON body to `api + path` (webhook endpoints).
    pub async fn post_json(&self, token: &str, path: &str, body: &Value) -> Call {
        self.send(
            self.http
                .post(format!("{}{path}", self.api))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub async fn token_call(&self) -> Call {
        self.send(
            self.http
                .post(&self.token_url)
                .basic_auth(&self.client_id, Some(&self.client_secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await
    }

    pub async fn token(&self) -> Result<String, String> {
        let c = self.token_call().await;
        c.body["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("token: {} {}", c.status, c.body))
    }

    fn submit_body(&self, tn: &str, quote_id: Option<&str>) -> Value {
        let mut body = json!({
            "tracking_number": tn, "product_code": "ahasme",
            "customer_name": "Cong ty ABC", "customer_phone": "+84 901 234 567",
            "pickup_address": "1 Le Loi, District 1, Ho Chi Minh City",
            "drop_up_address": "2 Trang Tien, Ha Noi",
            "type_of_goods": "electronics", "cod_amount": 0, "item_value": 3000000,
            "premium_amount": PREMIUM, "order_created_time": now_iso(),
            "goods_description": "Mobile phone", "good_quantity": 1,
            "signature": self.signature(tn),
        });
        if let Some(q) = quote_id {
            body["quote_id"] = json!(q);
        }
        body
    }

    pub async fn submit(&self, token: &str, tn: &str) -> Call {
        self.send(
            self.http
                .post(format!("{}/sme-deliveries", self.api))
                .bearer_auth(token)
                .json(&self.submit_body(tn, None)),
        )
        .await
    }

    pub async fn track(&self, token: &str, tn: &str, status: &str) -> Call {
        let body = json!({
            "tracking_number": tn, "delivery_status": status, "signature": self.signature(tn),
            "tracking_detail": [{"tracking_time": now_iso(), "tracking_status": status,
                                 "tracking_desctiption": format!("moved to {status}")}],
        });
        self.send(
            self.http
                .post(format!("{}/tracking-details", self.api))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn cancel(&self, token: &str, tn: &str, policy_id: &str) -> Call {
        let body = json!({
            "tracking_number": tn, "policy_id": policy_id, "canceled_by": "bench",
            "cancellation_reason": "Customer cancelled the order",
            "cancellation_time": now_iso(), "signature": self.signature(tn),
        });
        self.send(
            self.http
                .post(format!("{}/sme-deliveries/cancel", self.api))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// `GET /products` (no code) or `GET /products/{code}`.
    pub async fn catalogue(&self, token: &str, code: Option<&str>) -> Call {
        let url = match code {
            Some(c) => format!("{}/products/{c}", self.api),
            None => format!("{}/products", self.api),
        };
        self.send(self.http.get(url).bearer_auth(token)).await
    }

    /// `POST /quotes` for the ahasme delivery `submit` sends (its premium is `PREMIUM`).
    pub async fn quote(&self, token: &str) -> Call {
        self.send(
            self.http
                .post(format!("{}/quotes", self.api))
                .bearer_auth(token)
                .json(&json!({"product_code": "ahasme", "item_value": 3000000})),
        )
        .await
    }

    /// `submit` carrying a quote of that delivery.
    pub async fn submit_quoted(&self, token: &str, tn: &str, quote_id: &str) -> Call {
        self.send(
            self.http
                .post(format!("{}/sme-deliveries", self.api))
                .bearer_auth(token)
                .json(&self.submit_body(tn, Some(quote_id))),
        )
        .await
    }

    pub async fn get(&self, token: &str, tn: &str) -> Call {
        self.send(
            self.http
                .get(format!("{}/sme-deliveries/{tn}", self.api))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn list(&self, token: &str) -> Call {
        self.send(
            self.http
                .get(format!("{}/sme-deliveries", self.api))
                .bearer_auth(token),
        )
        .await
    }

    // ---- claims (issue 13) ----

    /// The claim signature: md5(api_token_key + tracking_number + claimed_amount).
    pub fn claim_signature(&self, tn: &str) -> String {
        hex::encode(Md5::digest(format!("{}{tn}{CLAIMED}", self.key).as_bytes()))
    }

    pub async fn file_claim(&self, token: &str, tn: &str, policy_id: &str) -> Call {
        let body = json!({
            "tracking_number": tn, "policy_id": policy_id, "claim_type": "loss",
            "claimed_amount": CLAIMED, "incident_time": now_iso(),
            "description": "Lost after a failed delivery", "claimant_name": "Cong ty ABC",
            "claimant_phone": "+84 901 234 567", "signature": self.claim_signature(tn),
        });
        self.send(
            self.http
                .post(format!("{}/claims", self.api))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn add_document(&self, token: &str, claim_id: &str, tn: &str) -> Call {
        let body = json!({
            "file_name": "parcel.jpg", "content_type": "image/jpeg", "size_bytes": 2048,
            "document_type": "photo", "signature": self.claim_signature(tn),
        });
        self.send(
            self.http
                .post(format!("{}/claims/{claim_id}/documents", self.api))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn add_note(&self, token: &str, claim_id: &str, tn: &str) -> Call {
        let body =
            json!({"message": "The invoice is attached.", "signature": self.claim_signature(tn)});
        self.send(
            self.http
                .post(format!("{}/claims/{claim_id}/notes", self.api))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn get_claim(&self, token: &str, claim_id: &str) -> Call {
        self.send(
            self.http
                .get(format!("{}/claims/{claim_id}", self.api))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn list_claims(&self, token: &str) -> Call {
        self.send(
            self.http
                .get(format!("{}/claims", self.api))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn policy(&self, token: &str, policy_id: &str) -> Call {
        self.send(
            self.http
                .get(format!("{}/policies/{policy_id}", self.api))
                .bearer_auth(token),
        )
        .await
    }
}
