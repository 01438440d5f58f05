//! `POST /api/v1/sme-deliveries` (Submit SME Delivery) and `POST /api/v1/sme-deliveries/cancel`.

use lambda_http::{run, service_fn, Error, Request};
use shared::auth::Scope;
use shared::http;
use shared::lambda::{api_request, Runtime};
use shared::ApiError;

const SUBMIT: &str = "POST /api/v1/sme-deliveries";
const CANCEL: &str = "POST /api/v1/sme-deliveries/cancel";

fn scope_of(route: &str) -> Option<Scope> {
    matches!(route, SUBMIT | CANCEL).then_some(Scope::Insurance)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, config) = Runtime::from_env().await?.into_app();
    run(service_fn(move |req: Request| {
        api_request(req, scope_of, move |meta, principal, req| async move {
            let body = http::json_body(&req)?;
            match meta.route().as_str() {
                SUBMIT => {
                    let base = http::base_url(&req, config.public_base_url.as_deref());
                    app.submit(&principal, &body, &base).await
                }
                CANCEL => app.cancel(&principal, &body).await,
                other => Err(ApiError::NotFound(format!("No route for {other}."))),
            }
        })
    }))
    .await
}
