//! Control tower reads: one delivery, one policy, a filtered list (JSON, or CSV for reporting
//! tools with `Accept: text/csv` or `format=csv`).

use std::collections::HashMap;

use lambda_http::{run, service_fn, Error, Request, RequestExt};
use shared::auth::{Principal, Scope};
use shared::config::Config;
use shared::csv_export;
use shared::http::{self, RequestMeta};
use shared::lambda::{api_request, api_request_rendered, Render, Runtime};
use shared::service::{App, Reply};
use shared::ApiError;

const GET_DELIVERY: &str = "GET /api/v1/sme-deliveries/{tracking_number}";
const LIST: &str = "GET /api/v1/sme-deliveries";
const GET_POLICY: &str = "GET /api/v1/policies/{policy_id}";

fn scope_of(route: &str) -> Option<Scope> {
    matches!(route, GET_DELIVERY | LIST | GET_POLICY).then_some(Scope::ControlTower)
}

fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The list as CSV, when the caller asked for it; `None` for every other answer. A bad `format`
/// value is left to the handler, which answers it 400 like any other parameter.
fn csv_render(req: &Request, config: &Config) -> Option<Render> {
    let wanted = csv_export::wants_csv(
        http::query(req, "format").as_deref(),
        http::header(req, "accept"),
    );
    if RequestMeta::of(req).route() != LIST || !matches!(wanted, Ok(true)) {
        return None;
    }
    let list_url = format!(
        "{}/api/v1/sme-deliveries",
        http::base_url(req, config.public_base_url.as_deref())
    );
    let params = query_pairs(req);
    Some(Box::new(move |meta, _status, page| {
        csv_export::page_response(
            &meta.request_id,
            &page,
            csv_export::DELIVERY_COLUMNS,
            |cursor| format!("{list_url}?{}", csv_export::next_query(&params, cursor)),
        )
    }))
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
            let params: HashMap<String, String> = query_pairs(&req).into_iter().collect();
            app.list(&principal, &params, &base).await
        }
        other => Err(ApiError::NotFound(format!("No route for {other}."))),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (app, config) = Runtime::from_env().await?.into_app();
    run(service_fn(move |req: Request| async move {
        let handler = move |meta, principal, req| handle(app, config, meta, principal, req);
        match csv_render(&req, config) {
            Some(render) => api_request_rendered(req, scope_of, handler, render).await,
            None => api_request(req, scope_of, handler).await,
        }
    }))
    .await
}
