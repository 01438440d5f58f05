//! Claims (issue 13): file a claim, add documents (pre-signed S3 uploads) and notes, withdraw;
//! read one claim and list them (JSON, or CSV for reporting tools with `Accept: text/csv` or
//! `format=csv`). Logic in `shared::service` (claims) and `shared::documents`.

use lambda_http::{run, service_fn, Error, Request};
use shared::auth::Scope;
use shared::config::Config;
use shared::csv_export;
use shared::http::{self, RequestMeta};
use shared::lambda::{api_request_any, Render, Runtime};
use shared::ApiError;

const FILE: &str = "POST /api/v1/claims";
const LIST: &str = "GET /api/v1/claims";
const GET: &str = "GET /api/v1/claims/{claim_id}";
const DOCUMENTS: &str = "POST /api/v1/claims/{claim_id}/documents";
const NOTES: &str = "POST /api/v1/claims/{claim_id}/notes";
const WITHDRAW: &str = "POST /api/v1/claims/{claim_id}/withdraw";

/// Writes need `claims`; reads `claims` or `control_tower`.
fn scopes_of(route: &str) -> Option<&'static [Scope]> {
    match route {
        FILE | DOCUMENTS | NOTES | WITHDRAW => Some(&[Scope::Claims]),
        LIST | GET => Some(&[Scope::Claims, Scope::ControlTower]),
        _ => None,
    }
}

/// The list as CSV, when the caller asked for it; `None` for every other answer. A bad `format`
/// value is left to the handler, which answers it 400 like any other parameter.
fn csv_render(req: &Request, config: &Config) -> Option<Render> {
    let wanted = csv_export::wants_csv(
        http::query(req, "format").as_deref(),
        http::header(req, "accept"),
    );
    if RequestMeta::of(req).route() != LIST || !matches!(wanted, Ok(true)) {
        return None;
    }
    let list_url = format!(
        "{}/api/v1/claims",
        http::base_url(req, config.public_base_url.as_deref())
    );
    let params: Vec<(String, String)> = http::query_params(req).into_iter().collect();
    Some(Box::new(move |meta, _status, page| {
        csv_export::page_response(
            &meta.request_id,
            &page,
            csv_export::CLAIM_COLUMNS,
            |cursor| format!("{list_url}?{}", csv_export::next_query(&params, cursor)),
        )
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, config) = Runtime::from_env().await?.into_claims_app().await?;
    run(service_fn(move |req: Request| {
        let render = csv_render(&req, config);
        api_request_any(
            req,
            scopes_of,
            move |meta, principal, req| async move {
                let claim_id = http::path_param(&req, "claim_id").unwrap_or_default();
                match meta.route().as_str() {
                    GET => app.get_claim(&principal, &claim_id).await,
                    LIST => {
                        csv_export::wants_csv(http::query(&req, "format").as_deref(), None)?;
                        let params = http::query_params(&req);
                        app.list_claims(&principal, &params).await
                    }
                    route => {
                        let body = http::json_body(&req)?;
                        match route {
                            FILE => app.file_claim(&principal, &body).await,
                            DOCUMENTS => app.add_claim_document(&principal, &claim_id, &body).await,
                            NOTES => app.add_claim_note(&principal, &claim_id, &body).await,
                            WITHDRAW => app.withdraw_claim(&principal, &claim_id, &body).await,
                            other => Err(ApiError::NotFound(format!("No route for {other}."))),
                        }
                    }
                }
            },
            render,
        )
    }))
    .await
}
