//! Control tower reads: one delivery, one policy, a filtered list (JSON, or CSV for reporting
//! tools with `Accept: text/csv` or `format=csv`).

use lambda_http::{run, service_fn, Error, Request};
use shared::auth::{Principal, Scope};
use shared::config::Config;
use shared::csv_export;
use shared::http::{self, RequestMeta};
use shared::lambda::{api_request_rendered, Runtime};
use shared::service::{App, Reply};
use shared::ApiError;

const GET_DELIVERY: &str = "GET /api/v1/sme-deliveries/{tracking_number}";
const LIST: &str = "GET /api/v1/sme-deliveries";
const GET_POLICY: &str = "GET /api/v1/policies/{policy_id}";

fn scope_of(route: &str) -> Option<Scope> {
    matches!(route, GET_DELIVERY | LIST | GET_POLICY).then_some(Scope::ControlTower)
}

async fn handle(
    app: &'static App,
    config: &'static Config,
    meta: RequestMeta,
    principal: Principal,
    req: Request,
) -> Result<Reply, ApiError> {
    let base = http::base_url(&req, config.public_base_url.as_deref());
    let param = |name: &str| http::path_param(&req, name).unwrap_or_default();
    match meta.route().as_str() {
        GET_DELIVERY => {
            app.get_delivery(&principal, &param("tracking_number"), &base)
                .await
        }
        GET_POLICY => app.get_policy(&principal, &param("policy_id"), &base).await,
        LIST => {
            csv_export::wants_csv(http::query(&req, "format").as_deref(), None)?;
            app.list(&principal, &http::query_params(&req), &base).await
        }
        other => Err(ApiError::NotFound(format!("No route for {other}."))),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, config) = Runtime::from_env().await?.into_app();
    run(service_fn(move |req: Request| async move {
        let handler = move |meta, principal, req| handle(app, config, meta, principal, req);
        let render = csv_export::list_render(
            &req,
            config.public_base_url.as_deref(),
            LIST,
            "/api/v1/sme-deliveries",
            csv_export::DELIVERY_COLUMNS,
        );
        api_request_rendered(req, scope_of, handler, render).await
    }))
    .await
}
