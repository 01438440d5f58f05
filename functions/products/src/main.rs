//! The product catalogue and quotes (scope `insurance`): `GET /api/v1/products`,
//! `GET /api/v1/products/{product_code}` and `POST /api/v1/quotes`.

use lambda_http::{run, service_fn, Error, Request};
use shared::auth::Scope;
use shared::http;
use shared::lambda::{api_request, Runtime};
use shared::ApiError;

const LIST: &str = "GET /api/v1/products";
const GET: &str = "GET /api/v1/products/{product_code}";
const QUOTE: &str = "POST /api/v1/quotes";

fn scope_of(route: &str) -> Option<Scope> {
    matches!(route, LIST | GET | QUOTE).then_some(Scope::Insurance)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, _config) = Runtime::from_env().await?.into_app();
    run(service_fn(move |req: Request| {
        api_request(req, scope_of, move |meta, principal, req| async move {
            match meta.route().as_str() {
                LIST => app.list_products(&principal).await,
                GET => {
                    let code = http::path_param(&req, "product_code").unwrap_or_default();
                    app.get_product(&principal, &code).await
                }
                QUOTE => app.quote(&principal, &http::json_body(&req)?).await,
                other => Err(ApiError::NotFound(format!("No route for {other}."))),
            }
        })
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `events/` holds a real API Gateway event of each route (for `cargo lambda invoke`).
    #[test]
    fn the_example_events_are_this_functions_routes() {
        for (event, route) in [
            (include_str!("../../../events/products-list.json"), LIST),
            (include_str!("../../../events/products-get.json"), GET),
            (include_str!("../../../events/products-quote.json"), QUOTE),
        ] {
            let req = lambda_http::request::from_str(event).expect("a REST proxy event");
            assert_eq!(http::RequestMeta::of(&req).route(), route);
            assert_eq!(scope_of(route), Some(Scope::Insurance));
        }
    }
}
