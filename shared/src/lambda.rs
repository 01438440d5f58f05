//! What every function's `main` shares: build configuration and clients once per container,
//! and wrap an `/api/v1` handler (request id, caller, logging, error mapping).

use std::future::Future;

use lambda_http::{Body, Request, Response};

use crate::auth::{Principal, Scope};
use crate::config::{sdk_config, Config};
use crate::error::ApiError;
use crate::http::{self, RequestMeta};
use crate::metrics::{CountRoundTrips, Service};
use crate::queue::Queue;
use crate::secrets::{LinkKeys, SigningKeys, WebhookKeys};
use crate::service::{App, Reply, WebhookDeps};
use crate::store::Store;
use crate::webhooks::target::UrlPolicy;

/// Clients and configuration built once at init (no network call: credentials and secrets are
/// read lazily by the SDK and the key caches).
pub struct Runtime {
    pub config: Config,
    pub store: Store,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// The webhook delivery queue's client (built without a network call; used by the functions
    /// that have `WEBHOOK_QUEUE_URL`).
    pub sqs: aws_sdk_sqs::Client,
    /// The SDK configuration the clients above were built from (loaded once per container).
    pub sdk: aws_config::SdkConfig,
}

impl Runtime {
    pub async fn from_env() -> Result<Self, String> {
        crate::telemetry::init();
        let config = Config::from_env()?;
        let sdk = sdk_config().await;
        Ok(Runtime {
            store: Store::new(
                aws_sdk_dynamodb::Client::from_conf(
                    aws_sdk_dynamodb::config::Builder::from(&sdk)
                        .interceptor(CountRoundTrips(Service::DynamoDb))
                        .build(),
                ),
                config.table_name.clone(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(&sdk)
                    .interceptor(CountRoundTrips(Service::SecretsManager))
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sdk,
            config,
        })
    }

    pub fn signing_keys(&self) -> SigningKeys {
        SigningKeys::new(
            self.secrets.clone(),
            self.config.signing_keys_secret_id.clone(),
            self.config.environment.clone(),
        )
    }

    pub fn link_keys(&self) -> LinkKeys {
        LinkKeys::new(self.secrets.clone(), self.config.link_key_secret_id.clone())
    }

    /// The webhook key (seals endpoint secrets); needs `WEBHOOK_KEY_SECRET_ID`.
    pub fn webhook_keys(&self) -> Result<WebhookKeys, String> {
        let id = self
            .config
            .webhook_key_secret_id
            .clone()
            .ok_or("environment variable WEBHOOK_KEY_SECRET_ID is not set")?;
        Ok(WebhookKeys::new(self.secrets.clone(), id))
    }

    /// The webhook delivery queue; needs `WEBHOOK_QUEUE_URL`.
    pub fn queue(&self) -> Result<Queue, String> {
        let url = self
            .config
            .webhook_queue_url
            .clone()
            .ok_or("environment variable WEBHOOK_QUEUE_URL is not set")?;
        Ok(Queue::new(self.sqs.clone(), url))
    }

    /// The application of the `/api/v1` webhook routes: the App with the queue and the key.
    pub fn into_webhooks_app(self) -> Result<(&'static App, &'static Config), String> {
        let deps = WebhookDeps {
            queue: self.queue()?,
            keys: self.webhook_keys()?,
            policy: UrlPolicy::from_env(&self.config.environment),
        };
        let links = self.link_keys();
        let app = App::new(self.store, links).with_webhooks(deps);
        Ok((Box::leak(Box::new(app)), Box::leak(Box::new(self.config))))
    }

    /// The application of the `/api/v1` functions, leaked to live as long as the container.
    pub fn into_app(self) -> (&'static App, &'static Config) {
        let links = self.link_keys();
        let app: &'static App = Box::leak(Box::new(App::new(self.store, links)));
        (app, Box::leak(Box::new(self.config)))
    }

    /// `into_app` with the claims bucket (`CLAIMS_BUCKET`), for the claims function.
    pub fn into_claims_app(self) -> Result<(&'static App, &'static Config), String> {
        let bucket = std::env::var(crate::documents::BUCKET_ENV).map_err(|_| {
            format!(
                "environment variable {} is not set",
                crate::documents::BUCKET_ENV
            )
        })?;
        let s3 = crate::documents::s3_client(&self.sdk, true);
        let links = self.link_keys();
        let app = App::new(self.store, links)
            .with_documents(crate::documents::Documents::new(s3, bucket));
        Ok((Box::leak(Box::new(app)), Box::leak(Box::new(self.config))))
    }
}

/// Serve one `/api/v1` request: establish the caller, check the route's scope before reading the
/// body, run the handler (at most `REQUEST_DEADLINE`), answer and log. Never fails: every error
/// becomes a response.
pub async fn api_request<F, Fut>(
    req: Request,
    scope_of: fn(&str) -> Option<Scope>,
    handler: F,
) -> Result<Response<Body>, std::convert::Infallible>
where
    F: FnOnce(RequestMeta, Principal, Request) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    Ok(serve(REQUEST_DEADLINE, req, one(scope_of), handler, None).await)
}

/// A route's single scope as the list `serve` takes.
fn one(scope_of: fn(&str) -> Option<Scope>) -> impl Fn(&str) -> Option<Vec<Scope>> {
    move |r| scope_of(r).map(|s| vec![s])
}

/// `api_request` for routes that any one of several scopes opens (claim reads: `claims` or
/// `control_tower`); the first scope is the one a refusal names. `render`, when given, makes
/// the success answer (the claims list as CSV); errors stay JSON.
pub async fn api_request_any<F, Fut>(
    req: Request,
    scopes_of: fn(&str) -> Option<&'static [Scope]>,
    handler: F,
    render: Option<Render>,
) -> Result<Response<Body>, std::convert::Infallible>
where
    F: FnOnce(RequestMeta, Principal, Request) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let scopes = move |r: &str| scopes_of(r).map(<[Scope]>::to_vec);
    Ok(serve(REQUEST_DEADLINE, req, scopes, handler, render).await)
}

/// How a handler's success becomes a response when it is not the default JSON (a list as CSV).
pub type Render = Box<dyn FnOnce(&RequestMeta, u16, serde_json::Value) -> Response<Body> + Send>;

/// `api_request` with the success rendered by `render` when given (a list as CSV; errors stay
/// JSON).
pub async fn api_request_rendered<F, Fut>(
    req: Request,
    scope_of: fn(&str) -> Option<Scope>,
    handler: F,
    render: Option<Render>,
) -> Result<Response<Body>, std::convert::Infallible>
where
    F: FnOnce(RequestMeta, Principal, Request) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    Ok(serve(REQUEST_DEADLINE, req, one(scope_of), handler, render).await)
}

/// How long an `/api/v1` request may run before it is answered 503 with `Retry-After`. Each SDK
/// call is bounded (5 s, `config::sdk_config`), but a request makes up to three, plus retries on a
/// version conflict; without this bound a slow DynamoDB would run into the function's 10 s timeout,
/// which API Gateway answers 502 with no `Retry-After`. Abandoning the handler here leaves no
/// half-done write: each write is one item or one transaction, and a retry of the same request
/// is idempotent (contract: submit, tracking and cancel).
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(8);

/// `api_request` with the deadline as a parameter, so that its tests can use a short one.
async fn serve<F, Fut>(
    deadline: std::time::Duration,
    req: Request,
    scope_of: impl Fn(&str) -> Option<Vec<Scope>>,
    handler: F,
    render: Option<Render>,
) -> Response<Body>
where
    F: FnOnce(RequestMeta, Principal, Request) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let meta = RequestMeta::of(&req);
    let principal = match http::principal(&req) {
        Ok(p) => p,
        Err(e) => return http::finish(&meta, None, Err(e)),
    };
    let partner_id = principal.partner_id.clone();
    let route = meta.route();
    let result = match scope_of(&route) {
        None => Err(ApiError::NotFound(format!("No route for {route}."))),
        Some(scopes) => match principal.require_any(&scopes) {
            Err(e) => Err(e),
            Ok(()) => tokio::time::timeout(deadline, handler(meta.clone(), principal, req))
                .await
                .unwrap_or_else(|_| {
                    Err(ApiError::Unavailable(format!(
                        "the request did not finish within {} ms",
                        deadline.as_millis()
                    )))
                }),
        },
    };
    match render {
        None => http::finish(&meta, Some(&partner_id), result),
        Some(render) => {
            http::finish_with(&meta, Some(&partner_id), result, |s, b| render(&meta, s, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A real API Gateway event of an authorized `/api/v1` route (`events/`, as `cargo lambda invoke` sends it).
    fn list_request() -> Request {
        lambda_http::request::from_str(include_str!("../../events/control-tower-list.json"))
            .expect("a REST proxy event")
    }

    fn control_tower(_: &str) -> Option<Vec<Scope>> {
        Some(vec![Scope::ControlTower])
    }

    #[tokio::test]
    async fn a_request_past_its_deadline_is_a_503_not_a_lambda_timeout() {
        let slow = |_, _, _| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok((200, serde_json::json!({})))
        };
        let resp = serve(
            Duration::from_millis(20),
            list_request(),
            control_tower,
            slow,
            None,
        )
        .await;
        assert_eq!(resp.status(), 503);
        assert_eq!(
            resp.headers()["retry-after"],
            crate::error::RETRY_AFTER_SECONDS.to_string().as_str()
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(body["code"], "service_unavailable", "{body}");
    }

    #[tokio::test]
    async fn a_request_within_its_deadline_keeps_its_result() {
        let quick = |_, _, _| async { Err(ApiError::InvalidCursor) };
        let resp = serve(
            Duration::from_secs(1),
            list_request(),
            control_tower,
            quick,
            None,
        )
        .await;
        assert_eq!(resp.status(), ApiError::InvalidCursor.status());
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(body["code"], ApiError::InvalidCursor.code(), "{body}");
    }
}
