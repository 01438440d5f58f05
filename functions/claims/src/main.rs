//! Claims (issue 13): file a claim, add documents (pre-signed S3 uploads) and notes, withdraw;
//! read one claim and list them (JSON, or CSV for reporting tools with `Accept: text/csv` or
//! `format=csv`). Logic in `shared::service` (claims) and `shared::documents`.

use lambda_http::{run, service_fn, Error, Request};
use shared::auth::Scope;
use shared::csv_export;
use shared::http;
use shared::lambda::{api_request_any, Runtime};
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

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, config) = Runtime::from_env().await?.into_claims_app()?;
    run(service_fn(move |req: Request| {
        let render = csv_export::list_render(
            &req,
            config.public_base_url.as_deref(),
            LIST,
            "/api/v1/claims",
            csv_export::CLAIM_COLUMNS,
        );
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
