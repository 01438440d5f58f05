//! Control tower reads: one delivery, one policy, a filtered list.

use lambda_http::{run, service_fn, Error, Request};
use shared::auth::Scope;
use shared::http;
use shared::lambda::{api_request, Runtime};
use shared::ApiError;

const GET_DELIVERY: &str = "GET /api/v1/sme-deliveries/{tracking_number}";
const LIST: &str = "GET /api/v1/sme-deliveries";
const GET_POLICY: &str = "GET /api/v1/policies/{policy_id}";

fn scope_of(route: &str) -> Option<Scope> {
    matches!(route, GET_DELIVERY | LIST | GET_POLICY).then_some(Scope::ControlTower)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, config) = Runtime::from_env().await?.into_app();
    run(service_fn(move |req: Request| {
        api_request(req, scope_of, move |meta, principal, req| async move {
            let base = http::base_url(&req, config.public_base_url.as_deref());
            let param = |name: &str| http::path_param(&req, name).unwrap_or_default();
            match meta.route().as_str() {
                GET_DELIVERY => {
                    app.get_delivery(&principal, &param("tracking_number"), &base)
                        .await
                }
                GET_POLICY => app.get_policy(&principal, &param("policy_id"), &base).await,
                LIST => {
                    let params = http::query_params(&req);
                    app.list(&principal, &params, &base).await
                }
                other => Err(ApiError::NotFound(format!("No route for {other}."))),
            }
        })
    }))
    .await
}
