//! The certificate of insurance behind `url_certificate`: a public route (no credentials) that
//! serves the policy's current state as an HTML page or a PDF.
//!
//! Who may see it: whoever holds the link. The link's token is `<policy_id>.<hex HMAC-128>`
//! (`crate::links`), and the MAC binds the policy to its partner. Order of checks:
//! 1. the token's form (no I/O): a truncated or malformed link is 404 with no round trip;
//! 2. one `Query` of the KEYS_ONLY `by-policy` index, which names the owning partner (the token
//!    does not carry it, and the URL shape is fixed by the links already handed out);
//! 3. the MAC, compared in constant time against that partner: an altered link, or another
//!    partner's, is 404 before any policy data is read;
//! 4. the delivery item (`GetItem`, consistent, so a cancellation shows at once) and, concurrently,
//!    the partner's name (cached for `service::RECORD_CACHE_TTL` in a warm container).
//!
//! DynamoDB round trips per certificate: 2 warm (index + item), 3 on the first request for a
//! partner in a container; 0 for a malformed link. Every "no" is the same 404, whatever the reason.

pub mod pdf;
pub mod view;

use std::sync::Arc;
use std::time::Instant;

use lambda_http::{Body, Request, Response};

use crate::cache::TtlCache;
use crate::error::{ApiError, RETRY_AFTER_SECONDS};
use crate::http::{self, RequestMeta, REQUEST_ID_HEADER};
use crate::links::LinkKey;
use crate::secrets::LinkKeys;
use crate::service::RECORD_CACHE_TTL;
use crate::store::{keys, DeliveryRecord, Store};

pub use view::{format_money, format_time, Certificate, Coverage};

/// The route in the template.
pub const ROUTE_PATH: &str = "/certificates/{token}";
/// Longest policy id a token may name (policy ids are `pol_` + a ULID).
const MAX_POLICY_ID: usize = 64;

/// `Cache-Control` of a certificate: a copy may be kept, but it is revalidated (ETag) on every
/// use, because the status can change (cancellation, delivery, return).
pub const CACHE_CONTROL: &str = "no-cache";
/// The page is a document: nothing to run, nothing to fetch, nothing to embed it in.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Pdf,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
}

/// The token and format a request asks for: `/certificates/{token}` or `{token}.pdf`, and an
/// optional `format=html|pdf` (any other value is 400; `.pdf` with `format=html` too).
pub fn parse_request<'a>(
    segment: &'a str,
    format: Option<&str>,
) -> Result<(&'a str, Format), ApiError> {
    let (token, by_path) = match segment.strip_suffix(".pdf") {
        Some(t) => (t, Some(Format::Pdf)),
        None => (segment, None),
    };
    let by_query = match format.map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(f) if f.eq_ignore_ascii_case("pdf") => Some(Format::Pdf),
        Some(f) if f.eq_ignore_ascii_case("html") => Some(Format::Html),
        Some(_) => return Err(ApiError::validation("format", "must be html or pdf.")),
    };
    match (by_path, by_query) {
        (Some(Format::Pdf), Some(Format::Html)) => Err(ApiError::validation(
            "format",
            "must be pdf (or absent) for a .pdf link.",
        )),
        (p, q) => Ok((token, p.or(q).unwrap_or(Format::Html))),
    }
}

/// The policy id of a token of the right form (`<policy_id>.<32 lowercase hex digits>`), checked
/// without any I/O. Uppercase hex is refused: links are issued in lowercase, and a changed link
/// is not the link.
pub fn well_formed(token: &str) -> Option<&str> {
    let policy_id = LinkKey::certificate_policy_id(token)?;
    let tag = &token[policy_id.len() + 1..];
    let plausible = policy_id.len() <= MAX_POLICY_ID
        && policy_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    plausible.then_some(policy_id)
}

/// The certificate function's state: built once per container.
pub struct Certificates {
    store: Store,
    links: LinkKeys,
    partner_names: TtlCache<String, Arc<str>>,
}

impl Certificates {
    pub fn new(store: Store, links: LinkKeys) -> Self {
        Certificates {
            store,
            links,
            partner_names: TtlCache::new(RECORD_CACHE_TTL),
        }
    }

    /// Read the link key now (the function's init), so the first request does not wait for it.
    pub async fn preload(&self) -> Result<(), ApiError> {
        self.links.get().await.map(|_| ())
    }

    async fn partner_name(&self, partner_id: &str) -> Result<Arc<str>, ApiError> {
        self.partner_names
            .get_or_load(&partner_id.to_string(), || async {
                Ok::<_, ApiError>(match self.store.partner(partner_id).await? {
                    Some(p) => Arc::from(p.name.as_str()),
                    // A policy outlives nothing it needs: show the id rather than fail.
                    None => Arc::from(partner_id),
                })
            })
            .await
    }

    /// The delivery (with its policy) and partner name a certificate token leads to; `None` for
    /// every link that does not lead to one (see the module documentation for the order).
    pub async fn find(&self, token: &str) -> Result<Option<(DeliveryRecord, Arc<str>)>, ApiError> {
        let Some(policy_id) = well_formed(token) else {
            return Ok(None);
        };
        let key = self.links.get().await?;
        let pks = self.store.policy_delivery_pks(policy_id).await?;
        let Some((partner_id, tracking_number)) = pks
            .iter()
            .filter_map(|pk| keys::parse_delivery_pk(pk))
            .find(|(partner_id, _)| key.verify_certificate_token(partner_id, token))
        else {
            return Ok(None);
        };
        let (rec, name) = tokio::try_join!(
            async {
                self.store
                    .delivery(&partner_id, &tracking_number)
                    .await
                    .map_err(ApiError::from)
            },
            self.partner_name(&partner_id)
        )?;
        Ok(rec
            .filter(|r| r.policy.policy_id == policy_id)
            .map(|r| (r, name)))
    }

    /// Serve `GET /certificates/{token}`. Never fails: every outcome is a response, logged once
    /// (never with the token: it is the capability).
    pub async fn serve(&self, req: &Request, public_base_url: Option<&str>) -> Response<Body> {
        let meta = RequestMeta::of(req);
        let segment = http::path_param(req, "token").unwrap_or_default();
        let format_param = http::query(req, "format");
        let wants_html = http::header(req, "accept").is_some_and(|a| a.contains("text/html"));

        let mut render_ms = 0.0;
        let mut format = Format::Html;
        let result = async {
            let (token, f) = parse_request(&segment, format_param.as_deref())?;
            format = f;
            let found = self.find(token).await?;
            let Some((rec, partner_name)) = found else {
                return Err(not_found());
            };
            let url = format!(
                "{}/certificates/{token}",
                http::base_url(req, public_base_url)
            );
            let cert = Certificate::new(&rec, &partner_name, &url, crate::time_fmt::now());
            let etag = cert.etag(format.as_str());
            if if_none_match(http::header(req, "if-none-match"), &etag) {
                return Ok(Rendered::NotModified(etag));
            }
            let started = Instant::now();
            let body = match format {
                Format::Html => Body::Text(cert.html()),
                Format::Pdf => Body::Binary(pdf::render(&cert).map_err(ApiError::Internal)?),
            };
            render_ms = started.elapsed().as_secs_f64() * 1000.0;
            Ok(Rendered::Document {
                body,
                etag,
                file_name: cert.pdf_file_name(),
            })
        }
        .await;

        let latency_ms = meta.elapsed_ms();
        let dynamodb_round_trips = crate::metrics::dynamodb_round_trips();
        let dynamodb_ms = crate::metrics::dynamodb_ms();
        let route = meta.route();
        let response = match result {
            Ok(rendered) => {
                let status = rendered.status();
                tracing::info!(request_id = %meta.request_id, route = %route, status, format = format.as_str(), latency_ms, render_ms, dynamodb_ms, dynamodb_round_trips, "request");
                rendered.into_response(format, &meta.request_id)
            }
            Err(err) => {
                let status = err.status();
                if status >= 500 {
                    tracing::error!(request_id = %meta.request_id, route = %route, status, code = err.code(), detail = %err.log_detail(), latency_ms, dynamodb_ms, dynamodb_round_trips, "request failed");
                } else {
                    tracing::info!(request_id = %meta.request_id, route = %route, status, code = err.code(), latency_ms, dynamodb_ms, dynamodb_round_trips, "request rejected");
                }
                error_response(&err, &meta.request_id, wants_html)
            }
        };
        response
    }
}

/// The one answer for every link that leads to no certificate.
fn not_found() -> ApiError {
    ApiError::NotFound("No certificate was found at this link.".into())
}

enum Rendered {
    Document {
        body: Body,
        etag: String,
        file_name: String,
    },
    NotModified(String),
}

impl Rendered {
    fn status(&self) -> u16 {
        match self {
            Rendered::Document { .. } => 200,
            Rendered::NotModified(_) => 304,
        }
    }

    fn into_response(self, format: Format, request_id: &str) -> Response<Body> {
        let status = self.status();
        let b = document_headers(Response::builder().status(status), request_id);
        match self {
            Rendered::NotModified(etag) => b.header("etag", etag).body(Body::Empty),
            Rendered::Document {
                body,
                etag,
                file_name,
            } => {
                let b = b.header("etag", etag);
                match format {
                    Format::Html => b.header("content-type", "text/html; charset=utf-8"),
                    Format::Pdf => b.header("content-type", "application/pdf").header(
                        "content-disposition",
                        format!("inline; filename=\"{file_name}\""),
                    ),
                }
                .body(body)
            }
        }
        .expect("valid response")
    }
}

/// Headers of every certificate response, found or not.
fn document_headers(
    b: lambda_http::http::response::Builder,
    request_id: &str,
) -> lambda_http::http::response::Builder {
    b.header(REQUEST_ID_HEADER, request_id)
        .header("cache-control", CACHE_CONTROL)
        .header("vary", "Accept")
        .header("content-security-policy", CSP)
        .header("referrer-policy", "no-referrer")
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header("x-robots-tag", "noindex, nofollow")
}

/// Errors: the contract's JSON body, or a plain page for a browser (`Accept: text/html`).
fn error_response(err: &ApiError, request_id: &str, html: bool) -> Response<Body> {
    let mut resp = if html {
        let body = match err {
            ApiError::NotFound(_) => view::not_found_html(),
            other => format!(
                "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Certificate</title></head><body><p>{}</p><p>Request id: {}</p></body></html>\n",
                view::esc(&other.to_string()),
                view::esc(request_id)
            ),
        };
        document_headers(Response::builder().status(err.status()), request_id)
            .header("content-type", "text/html; charset=utf-8")
            .body(Body::Text(body))
            .expect("valid response")
    } else {
        let mut r = http::error_response(err, request_id);
        for (k, v) in document_headers(Response::builder(), request_id)
            .body(())
            .expect("valid response")
            .headers()
        {
            r.headers_mut().insert(k, v.clone());
        }
        r
    };
    // A missing certificate may appear (a retried submission); nothing about it is kept.
    resp.headers_mut()
        .insert("cache-control", "no-store".parse().expect("header"));
    if matches!(err, ApiError::Unavailable(_)) {
        resp.headers_mut()
            .insert("retry-after", RETRY_AFTER_SECONDS.into());
    }
    resp
}

/// `If-None-Match` against a (weak) ETag, by weak comparison (RFC 9110 §13.1.2).
pub fn if_none_match(header: Option<&str>, etag: &str) -> bool {
    let Some(h) = header else { return false };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = opaque(etag);
    h.split(',').any(|t| t.trim() == "*" || opaque(t) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn request_forms() {
        let t = format!("pol_1.{TAG}");
        assert_eq!(parse_request(&t, None).unwrap(), (t.as_str(), Format::Html));
        assert_eq!(
            parse_request(&format!("{t}.pdf"), None).unwrap(),
            (t.as_str(), Format::Pdf)
        );
        assert_eq!(parse_request(&t, Some("pdf")).unwrap().1, Format::Pdf);
        assert_eq!(parse_request(&t, Some("PDF")).unwrap().1, Format::Pdf);
        assert_eq!(parse_request(&t, Some("html")).unwrap().1, Format::Html);
        assert_eq!(parse_request(&t, Some("")).unwrap().1, Format::Html);
        assert!(parse_request(&t, Some("docx"))
            .unwrap_err()
            .to_string()
            .starts_with("format "));
        assert!(parse_request(&format!("{t}.pdf"), Some("html")).is_err());
    }

    #[test]
    fn token_form_is_checked_without_io() {
        assert_eq!(well_formed(&format!("pol_01abc.{TAG}")), Some("pol_01abc"));
        for bad in [
            String::new(),
            "pol_1".into(),
            format!("pol_1.{}", &TAG[..31]),
            format!("pol_1.{TAG}0"),
            format!("pol_1.{}", TAG.to_uppercase()),
            format!(".{TAG}"),
            format!("pol#1.{TAG}"),
            format!("{}.{TAG}", "p".repeat(65)),
            format!("pol_1.{}", "g".repeat(32)),
            format!("pol.1.{TAG}"),
        ] {
            assert_eq!(well_formed(&bad), None, "{bad}");
        }
    }

    #[test]
    fn etag_revalidation() {
        let e = "W/\"abc\"";
        assert!(if_none_match(Some("W/\"abc\""), e));
        assert!(if_none_match(Some("\"abc\""), e));
        assert!(if_none_match(Some("\"x\", W/\"abc\""), e));
        assert!(if_none_match(Some("*"), e));
        assert!(!if_none_match(Some("\"abd\""), e));
        assert!(!if_none_match(None, e));
    }
}
