//! `GET /certificates/{token}` (public, no authorizer): the certificate of insurance behind
//! `url_certificate`, as an HTML page or (`.pdf` path, `?format=pdf`) a PDF. The logic is in
//! `shared::certificate`.

use lambda_http::{run, service_fn, Error, Request};
use shared::certificate::Certificates;
use shared::lambda::Runtime;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let rt = Runtime::from_env().await?;
    let links = rt.link_keys();
    let certificates: &'static Certificates =
        Box::leak(Box::new(Certificates::new(rt.store, links)));
    // The link key is the one secret this function needs: read it during init (failure is not
    // fatal; the first request tries again and answers 503 if it still fails).
    if let Err(e) = certificates.preload().await {
        tracing::warn!(detail = %e.log_detail(), "link key not loaded at init");
    }
    let public_base_url: &'static Option<String> = Box::leak(Box::new(rt.config.public_base_url));
    run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(
            certificates.serve(&req, public_base_url.as_deref()).await,
        )
    }))
    .await
}
