//! `POST /oauth/token`: OAuth 2.0 client credentials.

use lambda_http::{run, service_fn, Error, Request};
use shared::http::{self, RequestMeta};
use shared::lambda::Runtime;
use shared::oauth::{self, TokenRequest};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let rt = Runtime::from_env().await?;
    let keys = rt.signing_keys();
    // The signing key is the one network read this function needs: take it during init (failure
    // is not fatal; the first request tries again and answers 503 if it still fails).
    if let Err(e) = keys.signer().await {
        tracing::warn!(detail = %e.log_detail(), "signing key not loaded at init");
    }
    let (store, keys, env) = (
        &*Box::leak(Box::new(rt.store)),
        &*Box::leak(Box::new(keys)),
        &*Box::leak(Box::new(rt.config.environment)),
    );
    run(service_fn(move |req: Request| async move {
        let meta = RequestMeta::of(&req);
        let treq = TokenRequest {
            authorization: http::header(&req, "authorization").map(str::to_string),
            media_type: http::media_type(&req),
            body: req.body().to_vec(),
        };
        let result = if treq.body.len() > http::MAX_BODY_BYTES {
            Err(oauth::OAuthError::InvalidRequest(
                "The request body is too large.".into(),
            ))
        } else {
            oauth::issue(store, keys, env, &treq).await
        };
        Ok::<_, std::convert::Infallible>(oauth::respond(&meta, result))
    }))
    .await
}
