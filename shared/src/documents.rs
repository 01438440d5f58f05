//! Claim documents in S3 (issue 13). No file passes through API Gateway or Lambda: the claims
//! function answers a pre-signed upload request, and the partner sends the file straight to S3.
//!
//! The upload is a pre-signed `PUT` (SigV4 in the query string) whose signed headers include
//! `Content-Type` and `Content-Length`: S3 refuses the upload (403 `SignatureDoesNotMatch`) when
//! either differs from what the partner declared, and the link expires after
//! `UPLOAD_LINK_SECONDS` (15 minutes). Presigning is local computation: no round trip. (The local
//! S3, moto, does not check these signatures; README "Claims" says what only real S3 enforces.)
//!
//! Whether a document was uploaded is asked of S3 when a claim is read: one `ListObjectsV2`
//! under the claim's prefix (`keys::claim_documents_prefix`), and a document counts as uploaded
//! when its object exists with the declared size.
//!
//! Object keys are `claims/<partner_id>/<claim_id>/<document_id>` (built in `store::keys`), made
//! of ids the API generated; nothing a partner sends goes into a key.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::metrics::{CountRoundTrips, Service};

/// How long an upload (or an operator's download) link is valid: 15 minutes, the contract's most.
pub const UPLOAD_LINK_SECONDS: u64 = 900;
/// The function's environment variable naming the claims bucket.
pub const BUCKET_ENV: &str = "CLAIMS_BUCKET";

/// A pre-signed upload request, as the partner must send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    pub method: String,
    pub url: String,
    /// Headers to send exactly (besides `Host`): `Content-Type`, `Content-Length`.
    pub headers: BTreeMap<String, String>,
    /// RFC 3339.
    pub expires_at: String,
}

impl UploadRequest {
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "expires_at": self.expires_at,
        })
    }
}

/// The claims bucket, through an S3 client.
#[derive(Clone)]
pub struct Documents {
    client: Client,
    bucket: String,
}

/// An S3 client for this process: with an endpoint override (`AWS_ENDPOINT_URL_S3` or
/// `AWS_ENDPOINT_URL`, the local emulator), path-style addressing (`http://host:port/bucket/key`),
/// since a local endpoint has no per-bucket host names.
pub fn s3_client(sdk: &aws_config::SdkConfig, count: bool) -> Client {
    let mut b = aws_sdk_s3::config::Builder::from(sdk);
    let local = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|e| !e.is_empty()));
    if local || sdk.endpoint_url().is_some() {
        b = b.force_path_style(true);
    }
    if count {
        b = b.interceptor(CountRoundTrips(Service::S3));
    }
    Client::from_conf(b.build())
}

fn unavailable(op: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("S3 {op}: {e}"))
}

impl Documents {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Documents {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A pre-signed `PUT` of `key`, bound to `content_type` and `size_bytes`, valid for
    /// `UPLOAD_LINK_SECONDS`. No network call.
    pub async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size_bytes: u64,
    ) -> Result<UploadRequest, ApiError> {
        let expires = Duration::from_secs(UPLOAD_LINK_SECONDS);
        let config = PresigningConfig::expires_in(expires)
            .map_err(|e| ApiError::Internal(format!("presigning config: {e}")))?;
        let size = i64::try_from(size_bytes)
            .map_err(|_| ApiError::Internal(format!("size {size_bytes} out of range")))?;
        let started = crate::time_fmt::now();
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            .presigned(config)
            .await
            .map_err(|e| ApiError::Internal(format!("presigning an upload: {e}")))?;
        let mut headers: BTreeMap<String, String> = presigned
            .headers()
            .map(|(k, v)| (canonical_header_name(k), v.to_string()))
            .collect();
        headers.insert("Content-Type".into(), content_type.to_string());
        headers.insert("Content-Length".into(), size_bytes.to_string());
        Ok(UploadRequest {
            method: presigned.method().to_string(),
            url: presigned.uri().to_string(),
            headers,
            expires_at: crate::time_fmt::format(
                started + time::Duration::seconds(UPLOAD_LINK_SECONDS as i64),
            ),
        })
    }

    /// The objects under `prefix` and their sizes (keys relative to the prefix). One
    /// `ListObjectsV2` (a claim holds at most 20 documents, far below a page of 1,000).
    pub async fn uploaded(&self, prefix: &str) -> Result<BTreeMap<String, u64>, ApiError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| {
                unavailable("ListObjectsV2", aws_sdk_s3::error::DisplayErrorContext(&e))
            })?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| {
                let key = o.key()?.strip_prefix(prefix)?;
                Some((key.to_string(), o.size().unwrap_or(0).max(0) as u64))
            })
            .collect())
    }

    /// A pre-signed `GET` of `key`, valid for `seconds` (operators' download links; opsctl).
    pub async fn presign_download(&self, key: &str, seconds: u64) -> Result<String, ApiError> {
        let config = PresigningConfig::expires_in(Duration::from_secs(seconds))
            .map_err(|e| ApiError::Internal(format!("presigning config: {e}")))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| ApiError::Internal(format!("presigning a download: {e}")))?;
        Ok(presigned.uri().to_string())
    }
}

/// `content-type` -> `Content-Type`.
fn canonical_header_name(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upload_link_signs_the_type_and_the_size_and_expires_in_15_minutes() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("ap-southeast-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"),
            ))
            .endpoint_url("http://127.0.0.1:5000")
            .build();
        let docs = Documents::new(s3_client(&sdk, false), "claims-bucket");
        let up = docs
            .presign_upload("claims/ptn_a/clm_1/doc_1", "image/png", 1234)
            .await
            .unwrap();
        assert_eq!(up.method, "PUT");
        assert!(
            up.url
                .starts_with("http://127.0.0.1:5000/claims-bucket/claims/ptn_a/clm_1/doc_1?"),
            "{}",
            up.url
        );
        let signed = up
            .url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
            .unwrap();
        let signed = signed.replace("%3B", ";");
        for h in ["content-length", "content-type", "host"] {
            assert!(
                signed.split(';').any(|s| s == h),
                "{h} not signed: {signed}"
            );
        }
        assert!(up.url.contains("X-Amz-Expires=900"), "{}", up.url);
        assert_eq!(up.headers["Content-Type"], "image/png");
        assert_eq!(up.headers["Content-Length"], "1234");
        assert_eq!(canonical_header_name("x-amz-meta-a"), "X-Amz-Meta-A");
    }
}
