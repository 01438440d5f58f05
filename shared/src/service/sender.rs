//! The sender function's use case: from the delivery queue to the partner's URL.
//!
//! For each job: the endpoint is read again (deleted, disabled or no longer subscribed: the job
//! is dropped; a changed URL is used at once), its URL is checked again after DNS resolution (the
//! connection goes to the checked addresses only, redirects are never followed), the body is
//! signed with the endpoint's secret(s) (Standard Webhooks; two signatures during a rotation) and
//! POSTed with a 10 s timeout. Every attempt is recorded (status or error, duration). A 2xx ends
//! the job; anything else sets the message's visibility to the next delay of the retry schedule
//! (`webhooks::retry`) and reports it failed, so SQS hands it back then; after the last attempt
//! the queue's redrive policy moves it to the dead-letter queue. An endpoint whose attempts have
//! all failed for `disable_after` (5 days) is disabled, with the reason shown on it.

use std::time::{Duration, Instant};

use crate::faults::Faults;
use crate::queue::{DeliveryJob, Queue};
use crate::secrets::WebhookKeys;
use crate::store::{AttemptRecord, EndpointRecord, Store};
use crate::time_fmt;
use crate::webhooks::event::EVENT_RETENTION_SECONDS;
use crate::webhooks::retry;
use crate::webhooks::signing;
use crate::webhooks::target::{self, CheckedResolver, UrlPolicy};

/// The partner's endpoint has this long to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// An endpoint failing every attempt for this long is disabled (contract: 5 days).
pub const DISABLE_AFTER_SECONDS: i64 = 5 * 86_400;
/// Environment variable that replaces `DISABLE_AFTER_SECONDS` (tests shorten it).
pub const DISABLE_AFTER_ENV: &str = "WEBHOOK_DISABLE_AFTER_SECONDS";
pub const USER_AGENT: &str = "partner-api-webhooks/1";

/// One message as the sender received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    /// SQS's `ApproximateReceiveCount`: the attempt number.
    pub receive_count: u32,
    pub body: String,
}

pub struct Sender {
    pub store: Store,
    pub keys: WebhookKeys,
    pub queue: Queue,
    pub http: reqwest::Client,
    pub policy: UrlPolicy,
    pub delays: Vec<u32>,
    pub disable_after_seconds: i64,
}

/// The HTTP client of the sender: no redirects, a 10 s timeout, and a resolver that returns only
/// addresses the URL rule allows.
pub fn http_client(policy: UrlPolicy) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(SEND_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .dns_resolver(std::sync::Arc::new(CheckedResolver(policy)))
        .user_agent(USER_AGENT)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

pub fn disable_after_seconds() -> i64 {
    std::env::var(DISABLE_AFTER_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|s| *s >= 0)
        .unwrap_or(DISABLE_AFTER_SECONDS)
}

/// What one attempt came to.
struct Outcome {
    status_code: Option<u16>,
    error: Option<String>,
    duration_ms: u64,
}

impl Outcome {
    fn success(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    if e.is_timeout() {
        return format!("no answer within {} s", SEND_TIMEOUT.as_secs());
    }
    // The innermost cause says what happened (refused, reset, DNS, TLS).
    let mut cause: &dyn Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if e.is_connect() {
        format!("connection failed: {text}")
    } else {
        format!("request failed: {text}")
    }
}

impl Sender {
    /// Delivers a batch concurrently; returns the message ids that failed (to be retried).
    pub async fn deliver_batch(&self, messages: &[Received]) -> Vec<String> {
        let faults = Faults::load("sender");
        let results = futures_util::future::join_all(
            messages.iter().map(|m| self.deliver_message(m, &faults)),
        )
        .await;
        for m in messages {
            faults.crash_at(&m.body);
        }
        messages
            .iter()
            .zip(results)
            .filter(|(_, done)| !done)
            .map(|(m, _)| m.message_id.clone())
            .collect()
    }

    /// `true`: the message is done (delivered, or dropped); `false`: retry it.
    async fn deliver_message(&self, m: &Received, faults: &Faults) -> bool {
        let job: DeliveryJob = match serde_json::from_str(&m.body) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(message_id = %m.message_id, error = %e, "a message that is no delivery job: dropped");
                return true;
            }
        };
        if faults.fails(&m.body) {
            tracing::warn!(event_id = %job.event_id, "fault injection: message failed");
            self.retry_later(m, &job).await;
            return false;
        }
        let endpoint = match self.store.endpoint(&job.partner_id, &job.endpoint_id).await {
            Ok(Some(e)) => e,
            Ok(None) => {
                tracing::info!(event_id = %job.event_id, endpoint_id = %job.endpoint_id, "endpoint deleted: delivery dropped");
                return true;
            }
            Err(e) => {
                tracing::error!(event_id = %job.event_id, error = ?e, "reading the endpoint failed");
                self.retry_later(m, &job).await;
                return false;
            }
        };
        if !endpoint.enabled || !endpoint.subscribes(&job.event_type) {
            tracing::info!(event_id = %job.event_id, endpoint_id = %job.endpoint_id, enabled = endpoint.enabled, "endpoint disabled or not subscribed: delivery dropped");
            return true;
        }
        let attempted_at = time_fmt::format(time_fmt::now());
        let outcome = self.attempt(&endpoint, &job).await;
        let success = outcome.success();
        tracing::info!(event_id = %job.event_id, endpoint_id = %job.endpoint_id, attempt = m.receive_count, success, status_code = outcome.status_code, error = outcome.error.as_deref(), duration_ms = outcome.duration_ms, "delivery attempt");
        let record = AttemptRecord {
            endpoint_id: job.endpoint_id.clone(),
            partner_id: job.partner_id.clone(),
            event_id: job.event_id.clone(),
            event_type: job.event_type.clone(),
            attempted_at: attempted_at.clone(),
            attempt: m.receive_count,
            success,
            status_code: outcome.status_code,
            error: outcome.error.clone(),
            duration_ms: outcome.duration_ms,
            expires_at: time_fmt::now().unix_timestamp() + EVENT_RETENTION_SECONDS,
        };
        if let Err(e) = self.store.put_attempt(&record).await {
            // The attempt happened; its record is best effort (the log line above has it).
            tracing::error!(event_id = %job.event_id, error = ?e, "recording the attempt failed");
        }
        if success {
            if endpoint.failing_since.is_some() {
                if let Err(e) = self
                    .store
                    .mark_endpoint_ok(&job.partner_id, &job.endpoint_id)
                    .await
                {
                    tracing::error!(endpoint_id = %job.endpoint_id, error = ?e, "clearing failing_since failed");
                }
            }
            return true;
        }
        if self
            .disable_if_failing_too_long(&endpoint, &job, &attempted_at, &outcome)
            .await
        {
            return true;
        }
        self.retry_later(m, &job).await;
        false
    }

    /// Records the failure on the endpoint; disables it when it has failed for too long.
    /// `true`: disabled (the job is dropped: enabling the endpoint resumes with new events).
    /// `read` is the endpoint as read for this attempt: when it is failing already, the write is
    /// left out (it would change nothing, and a failing endpoint of a large partner would
    /// otherwise take a write per attempt on the partner's endpoint key: over 1,000 WCU/s at
    /// issue 17's peak).
    async fn disable_if_failing_too_long(
        &self,
        read: &EndpointRecord,
        job: &DeliveryJob,
        now: &str,
        outcome: &Outcome,
    ) -> bool {
        let endpoint = if read.failing_since.is_some() {
            read.clone()
        } else {
            match self
                .store
                .mark_endpoint_failing(&job.partner_id, &job.endpoint_id, now)
                .await
            {
                Ok(Some(e)) => e,
                Ok(None) => return true,
                Err(e) => {
                    tracing::error!(endpoint_id = %job.endpoint_id, error = ?e, "recording the failure failed");
                    return false;
                }
            }
        };
        let since = endpoint.failing_since.as_deref().and_then(time_fmt::parse);
        let failing_for = since
            .map(|s| (time_fmt::now() - s).whole_seconds())
            .unwrap_or(0);
        if failing_for < self.disable_after_seconds {
            return false;
        }
        let last = match (&outcome.status_code, &outcome.error) {
            (_, Some(e)) => e.clone(),
            (Some(s), None) => format!("HTTP {s}"),
            (None, None) => "no answer".into(),
        };
        let reason = format!(
            "Every delivery attempt failed since {} (last: {last}); enable the endpoint again to resume with new events.",
            endpoint.failing_since.as_deref().unwrap_or(now)
        );
        match self
            .store
            .disable_endpoint(&job.partner_id, &job.endpoint_id, &reason, now)
            .await
        {
            Ok(disabled) => {
                if disabled {
                    tracing::warn!(endpoint_id = %job.endpoint_id, partner_id = %job.partner_id, "endpoint disabled after failing too long");
                }
                true
            }
            Err(e) => {
                tracing::error!(endpoint_id = %job.endpoint_id, error = ?e, "disabling the endpoint failed");
                false
            }
        }
    }

    /// The next attempt after the schedule's delay (with jitter); after the last one, at once,
    /// so the redrive policy moves the message to the dead-letter queue.
    async fn retry_later(&self, m: &Received, job: &DeliveryJob) {
        let jitter: f64 = rand::random();
        let delay = retry::delay_after(&self.delays, m.receive_count.max(1), jitter).unwrap_or(0);
        if let Err(e) = self.queue.delay(&m.receipt_handle, delay).await {
            tracing::error!(event_id = %job.event_id, error = %e.log_detail(), "setting the retry delay failed");
        }
    }

    async fn attempt(&self, endpoint: &EndpointRecord, job: &DeliveryJob) -> Outcome {
        let started = Instant::now();
        let fail = |error: String| Outcome {
            status_code: None,
            error: Some(error),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        // The URL again, against the rule in force (a name may resolve elsewhere now).
        if let Err(why) = target::check(&endpoint.url, self.policy).await {
            return fail(format!("url refused: {why}"));
        }
        let keys = match self.signing_keys(endpoint).await {
            Ok(k) => k,
            Err(e) => return fail(e),
        };
        let timestamp = time_fmt::now().unix_timestamp();
        let signature =
            signing::signature_header(&keys, &job.event_id, timestamp, job.body.as_bytes());
        let started = Instant::now();
        let sent = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &job.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(job.body.clone())
            .send()
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let error = if resp.status().is_redirection() {
                    Some(format!("HTTP {status}: redirects are not followed"))
                } else {
                    None
                };
                Outcome {
                    status_code: Some(status),
                    error,
                    duration_ms,
                }
            }
            Err(e) => Outcome {
                status_code: None,
                error: Some(describe(&e)),
                duration_ms,
            },
        }
    }

    /// The endpoint's secret keys: the current one, and the previous one within 24 h of a rotation.
    async fn signing_keys(&self, e: &EndpointRecord) -> Result<Vec<Vec<u8>>, String> {
        let key = self
            .keys
            .get()
            .await
            .map_err(|e| format!("the webhook key is unavailable: {}", e.log_detail()))?;
        let ctx = e.sealing_context();
        let mut out = Vec::new();
        let current = key
            .open(&ctx, &e.secret_sealed)
            .and_then(|s| signing::secret_key(&s))
            .ok_or("the endpoint's secret does not open")?;
        out.push(current);
        if let Some(prev) = &e.previous_secret_sealed {
            if crate::store::still_valid(e.previous_secret_until.as_deref(), time_fmt::now()) {
                if let Some(k) = key.open(&ctx, prev).and_then(|s| signing::secret_key(&s)) {
                    out.push(k);
                }
            }
        }
        Ok(out)
    }
}
