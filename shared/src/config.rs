//! Function configuration from the environment, and the AWS SDK configuration (bounded retries and timeouts).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub environment: String,
    pub signing_keys_secret_id: String,
    pub link_key_secret_id: String,
    /// Base URL for links handed to people (`url_certificate`); derived from the request when unset.
    pub public_base_url: Option<String>,
    /// Webhooks (issue 14): the secret holding the key that seals endpoint secrets, and the
    /// delivery queue; set only for the functions that use them.
    pub webhook_key_secret_id: Option<String>,
    pub webhook_queue_url: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let var =
            |k: &str| std::env::var(k).map_err(|_| format!("environment variable {k} is not set"));
        Ok(Config {
            table_name: var("TABLE_NAME")?,
            environment: var("ENVIRONMENT_NAME")?,
            signing_keys_secret_id: var("SIGNING_KEYS_SECRET_ID")?,
            link_key_secret_id: var("LINK_KEY_SECRET_ID")?,
            public_base_url: std::env::var("PUBLIC_BASE_URL")
                .ok()
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_end_matches('/').to_string()),
            webhook_key_secret_id: std::env::var("WEBHOOK_KEY_SECRET_ID")
                .ok()
                .filter(|s| !s.is_empty()),
            webhook_queue_url: std::env::var("WEBHOOK_QUEUE_URL")
                .ok()
                .filter(|s| !s.is_empty()),
        })
    }
}

/// SDK configuration shared by every client: at most 3 attempts, and timeouts short enough
/// that a request always ends inside the function's timeout (10 s).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(1000))
                .operation_attempt_timeout(Duration::from_millis(2000))
                .operation_timeout(Duration::from_millis(5000))
                .build(),
        )
        .load()
        .await
}
