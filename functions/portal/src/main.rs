//! `GET /docs` and `GET /docs/{file}`: the developer portal, public (no authorizer).
//!
//! Everything is built into the binary by `build.rs` (the page, the vendored renderer, the
//! portal's script and styles, the downloads), gzip-compressed once. No AWS client and no
//! network call: the cold start is the process start.
//!
//! Serving within Lambda's 6 MB response limit: the largest file, the renderer (1.1 MB), is
//! 0.33 MB gzipped, and API Gateway's binary support (`BinaryMediaTypes: */*`) passes the
//! base64-encoded body through as bytes, so every answer is far below the limit. Clients that
//! accept gzip (every browser) get the stored bytes with `Content-Encoding: gzip`; others get
//! them inflated here. Assets are addressed with `?v=<content hash>` by the page, so browsers
//! and any CDN in front cache them for a year (`immutable`); the page itself is revalidated
//! (`max-age=300` and an `ETag`), so a deploy reaches readers within five minutes.

use std::io::Read;

use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};
use shared::error::ApiError;
use shared::http::{self, RequestMeta};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    version: &'static str,
    size: usize,
    gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

const PAGE_ROUTE: &str = "GET /docs";
const FILE_ROUTE: &str = "GET /docs/{file}";

/// Only this origin: scripts, styles, images, fonts, fetches and workers (the renderer's search
/// index runs in a worker it creates from a blob). Inline styles: the renderer injects them.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; \
manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

fn accepts_gzip(req: &Request) -> bool {
    http::header(req, "accept-encoding").is_some_and(|v| {
        v.split(',').any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

fn inflate(gz: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .expect("build.rs wrote valid gzip");
    out
}

fn respond(req: &Request) -> Response<Body> {
    let meta = RequestMeta::of(req);
    let route = meta.route();
    let (asset, immutable) = match route.as_str() {
        PAGE_ROUTE => (find(""), false),
        FILE_ROUTE => {
            let name = http::path_param(req, "file").unwrap_or_default();
            let asset = find(&name).filter(|a| !a.name.is_empty());
            let versioned = asset.is_some_and(|a| {
                req.query_string_parameters_ref()
                    .and_then(|q| q.first("v"))
                    .is_some_and(|v| v == a.version)
            });
            (asset, versioned)
        }
        _ => (None, false),
    };
    let Some(asset) = asset else {
        let what = http::path_param(req, "file").unwrap_or_else(|| route.clone());
        return http::finish(
            &meta,
            None,
            Err(ApiError::NotFound(format!(
                "No file {what} in the developer portal; it starts at /docs."
            ))),
        );
    };
    let etag = format!("\"{}\"", asset.version);
    let mut builder = Response::builder()
        .header("content-type", asset.content_type)
        .header(http::REQUEST_ID_HEADER, meta.request_id.as_str())
        .header("etag", etag.as_str())
        .header("vary", "Accept-Encoding")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header(
            "cache-control",
            if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "public, max-age=300"
            },
        );
    if asset.name.is_empty() {
        builder = builder
            .header("content-security-policy", PAGE_CSP)
            .header("x-frame-options", "DENY");
    }
    let not_modified = http::header(req, "if-none-match").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == etag)
    });
    let gzip = accepts_gzip(req);
    let (status, body) = if not_modified {
        (304, Body::Empty)
    } else if gzip {
        builder = builder.header("content-encoding", "gzip");
        (200, Body::Binary(asset.gzip.to_vec()))
    } else {
        (200, Body::Binary(inflate(asset.gzip, asset.size)))
    };
    tracing::info!(
        request_id = %meta.request_id,
        route = %route,
        file = asset.name,
        status,
        gzip,
        latency_ms = meta.elapsed_ms(),
        // The same fields as every request line (scripts/bench reads them): no DynamoDB here.
        dynamodb_round_trips = 0u32,
        "request"
    );
    builder.status(status).body(body).expect("a valid response")
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    run(service_fn(|req: Request| async move {
        Ok::<_, std::convert::Infallible>(respond(&req))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_every_file_it_links_are_embedded() {
        let page = find("").expect("the page");
        let html = String::from_utf8(inflate(page.gzip, page.size)).unwrap();
        for a in ASSETS.iter().filter(|a| !a.name.is_empty()) {
            // (The favicon is inline, as a data: URI.)
            if matches!(
                a.name,
                "redoc.standalone.js" | "md5.min.js" | "portal.js" | "portal.css"
            ) {
                let link = format!("docs/{}?v={}", a.name, a.version);
                assert!(html.contains(&link), "the page does not link {link}");
            }
        }
        assert!(html.contains(r#"<script type="application/json" id="portal-spec">"#));
        assert!(html.contains(r#"<link rel="icon" href="data:image/svg+xml,"#));
    }

    #[test]
    fn every_answer_fits_a_lambda_response_even_base64_encoded() {
        // 6 MB less headers; base64 adds a third.
        for a in ASSETS {
            assert!(
                a.gzip.len() * 4 / 3 < 5_500_000,
                "{} is {} bytes gzipped",
                a.name,
                a.gzip.len()
            );
        }
    }

    #[test]
    fn gzip_is_negotiated() {
        let req = |v: &str| {
            let mut r = Request::default();
            r.headers_mut()
                .insert("accept-encoding", v.parse().unwrap());
            r
        };
        assert!(accepts_gzip(&req("gzip, deflate, br")));
        assert!(accepts_gzip(&req("br;q=1.0, gzip;q=0.8")));
        assert!(!accepts_gzip(&req("gzip;q=0")));
        assert!(!accepts_gzip(&req("identity")));
        assert!(!accepts_gzip(&Request::default()));
    }
}
