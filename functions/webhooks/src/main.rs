//! Webhook endpoints, the event log and replay (scope `control_tower`).

use lambda_http::{run, service_fn, Error, Request};
use shared::auth::Scope;
use shared::http;
use shared::lambda::{api_request, Runtime};
use shared::ApiError;

const CREATE: &str = "POST /api/v1/webhook-endpoints";
const LIST: &str = "GET /api/v1/webhook-endpoints";
const GET: &str = "GET /api/v1/webhook-endpoints/{endpoint_id}";
const PATCH: &str = "PATCH /api/v1/webhook-endpoints/{endpoint_id}";
const DELETE: &str = "DELETE /api/v1/webhook-endpoints/{endpoint_id}";
const ROTATE: &str = "POST /api/v1/webhook-endpoints/{endpoint_id}/rotate-secret";
const TEST: &str = "POST /api/v1/webhook-endpoints/{endpoint_id}/test";
const DELIVERIES: &str = "GET /api/v1/webhook-endpoints/{endpoint_id}/deliveries";
const EVENTS: &str = "GET /api/v1/events";
const EVENT: &str = "GET /api/v1/events/{event_id}";
const REDELIVER: &str = "POST /api/v1/events/{event_id}/redeliver";

fn scope_of(route: &str) -> Option<Scope> {
    matches!(
        route,
        CREATE
            | LIST
            | GET
            | PATCH
            | DELETE
            | ROTATE
            | TEST
            | DELIVERIES
            | EVENTS
            | EVENT
            | REDELIVER
    )
    .then_some(Scope::ControlTower)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, _config) = Runtime::from_env().await?.into_webhooks_app()?;
    run(service_fn(move |req: Request| {
        api_request(req, scope_of, move |meta, principal, req| async move {
            let endpoint = || http::path_param(&req, "endpoint_id").unwrap_or_default();
            let event = || http::path_param(&req, "event_id").unwrap_or_default();
            let params = || http::query_params(&req);
            match meta.route().as_str() {
                CREATE => {
                    app.create_endpoint(&principal, &http::json_body(&req)?)
                        .await
                }
                LIST => app.list_endpoints(&principal).await,
                GET => app.get_endpoint(&principal, &endpoint()).await,
                PATCH => {
                    app.update_endpoint(&principal, &endpoint(), &http::json_body(&req)?)
                        .await
                }
                DELETE => app.delete_endpoint(&principal, &endpoint()).await,
                ROTATE => app.rotate_endpoint_secret(&principal, &endpoint()).await,
                TEST => app.test_endpoint(&principal, &endpoint()).await,
                DELIVERIES => {
                    app.list_endpoint_attempts(&principal, &endpoint(), &params())
                        .await
                }
                EVENTS => app.list_logged_events(&principal, &params()).await,
                EVENT => app.get_logged_event(&principal, &event()).await,
                REDELIVER => app.redeliver(&principal, &event()).await,
                other => Err(ApiError::NotFound(format!("No route for {other}."))),
            }
        })
    }))
    .await
}
