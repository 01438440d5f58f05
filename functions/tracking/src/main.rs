//! `POST /api/v1/tracking-details` (Insert Tracking Detail).

use lambda_http::{run, service_fn, Error, Request};
use shared::auth::Scope;
use shared::http;
use shared::lambda::{api_request, Runtime};

const INSERT: &str = "POST /api/v1/tracking-details";

fn scope_of(route: &str) -> Option<Scope> {
    (route == INSERT).then_some(Scope::Tracking)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, _config) = Runtime::from_env().await?.into_app();
    run(service_fn(move |req: Request| {
        api_request(req, scope_of, move |_meta, principal, req| async move {
            let body = http::json_body(&req)?;
            app.track(&principal, &body).await
        })
    }))
    .await
}
