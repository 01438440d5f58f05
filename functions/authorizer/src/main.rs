//! API Gateway REST `TOKEN` authorizer: verifies the bearer JWT (no network call when warm) and
//! allows the token's `/api/v1` routes, passing partner id, client id and scope to the handlers.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::authorizer::{allow, api_resource, bearer_token};
use shared::lambda::Runtime;
use shared::secrets::{SigningKeys, VerifyOutcome};

/// API Gateway answers 401 when the authorizer fails with exactly this message.
const UNAUTHORIZED: &str = "Unauthorized";

async fn authorize(
    keys: &SigningKeys,
    event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>,
) -> Result<Value, Error> {
    shared::metrics::reset();
    let request_id = event.context.request_id;
    let req = event.payload;
    let token = req
        .authorization_token
        .as_deref()
        .and_then(bearer_token)
        .ok_or(UNAUTHORIZED)?;
    let resource = req
        .method_arn
        .as_deref()
        .and_then(api_resource)
        .ok_or(UNAUTHORIZED)?;
    match keys.verify(token).await {
        Ok(claims) => {
            let secretsmanager_round_trips = shared::metrics::secretsmanager_round_trips();
            tracing::info!(%request_id, client_id = %claims.sub, partner_id = %claims.partner_id, secretsmanager_round_trips, dynamodb_round_trips = shared::metrics::dynamodb_round_trips(), "allowed");
            Ok(allow(&claims, &resource))
        }
        Err(VerifyOutcome::Invalid(why)) => {
            tracing::info!(%request_id, reason = %why, "token rejected");
            Err(UNAUTHORIZED.into())
        }
        Err(VerifyOutcome::Unavailable(e)) => {
            tracing::error!(%request_id, detail = %e.log_detail(), "signing keys unavailable");
            Err("signing keys unavailable".into())
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let rt = Runtime::from_env().await?;
    let keys: &'static SigningKeys = Box::leak(Box::new(rt.signing_keys()));
    // Read the verification keys during init; later invocations verify without a network call.
    if let Err(e) = keys.preload_verifier().await {
        tracing::warn!(detail = %e.log_detail(), "signing keys not loaded at init");
    }
    run(service_fn(move |event| authorize(keys, event))).await
}
