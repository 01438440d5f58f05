//! The local API Gateway (REST API, Lambda proxy integration).
//!
//! Emulated, as API Gateway does it:
//! - routes, path variables and their precedence, from the template (`routing`);
//! - the `TOKEN` Lambda authorizer: identity header required (else 401 without calling the
//!   authorizer), `Unauthorized` error -> 401, any other error, invalid output or timeout -> the
//!   authorizer-failure response, the returned IAM policy evaluated against the method ARN
//!   (-> 403 when denied), results cached per token for `ReauthorizeEvery` seconds and the cached
//!   policy re-evaluated for each request's method ARN; `principalId`, `integrationLatency` and
//!   the context (values as strings) land flat in `requestContext.authorizer`;
//! - the proxy event (v1 payload) and the proxy response, including merging `headers` with
//!   `multiValueHeaders`, a default `Content-Type: application/json`, base64 bodies, and the
//!   remapping of response headers API Gateway does not pass through (`WWW-Authenticate`
//!   becomes `x-amzn-Remapped-WWW-Authenticate`, and so on; see `REMAPPED_RESPONSE_HEADERS`);
//! - `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Port` and `X-Amzn-Trace-Id` request
//!   headers; `x-amzn-RequestId`, `x-amz-apigw-id` and `X-Amzn-Trace-Id` response headers;
//! - the 10 MiB payload limit, Lambda's 6 MB invocation payload limit (devstack answers 413
//!   there too; what API Gateway answers in that case is not verified), the 29 s integration timeout, the function's own timeout, and the gateway responses
//!   in `responses` (what the template's `GatewayResponses` must say).
//!
//! - stage throttling when asked (`devstack up --stage-throttle RATE,BURST`, see `throttle`):
//!   a token bucket, over it the `THROTTLED` gateway response (429) before the authorizer.
//!
//! Not emulated: usage plans and API keys (per-partner limits and quotas; the authorizer's
//! `usageIdentifierKey` is only checked to be a string), throttling unless asked for, and the
//! template's own stage limits (they are per environment); request validation and models;
//! binary media types (a non-UTF-8 body is passed base64-encoded); CORS; caching of responses;
//! custom domains and base path mappings (the stage is not in the URL: `path` and
//! `requestContext.path` are the same); greedy `{proxy+}` paths; IAM/Cognito/REQUEST
//! authorizers; Lambda throttling (invocations queue instead of being rejected); header names
//! reach the function lower-cased (API Gateway keeps the client's spelling; compare them
//! case-insensitively).

use crate::ids;
use crate::lambda::{Function, InvokeError, ACCOUNT_ID, REGION};
use crate::policy::{self, AuthorizerOutput};
use crate::responses::{GatewayError, GatewayResponses};
use crate::routing::{self, RouteTable};
use crate::template::{AuthorizerDef, Route};
use crate::throttle::{Limits, TokenBucket};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// API Gateway's payload limit.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Lambda's synchronous invocation payload limit (the whole event, body included).
const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;
/// API Gateway's (default, maximum) integration timeout.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);
pub const API_ID: &str = "local";
pub const STAGE: &str = "local";

/// Response headers API Gateway (REST, Lambda proxy) does not pass through as they are: they
/// reach the client as `x-amzn-Remapped-<name>`. `WWW-Authenticate` is the one that matters
/// here: a function cannot send it; a gateway response can.
const REMAPPED_RESPONSE_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "date",
    "server",
    "www-authenticate",
];
/// Response headers API Gateway drops.
const DROPPED_RESPONSE_HEADERS: &[&str] = &["transfer-encoding", "trailer", "upgrade", "te"];

struct CachedAuth {
    output: Arc<AuthorizerOutput>,
    expires: Instant,
}

pub struct Gateway {
    routes: RouteTable,
    authorizers: BTreeMap<String, AuthorizerDef>,
    /// The template's `GatewayResponses`: what the gateway answers by itself.
    responses: GatewayResponses,
    /// By logical id.
    functions: BTreeMap<String, Arc<Function>>,
    cache: Mutex<HashMap<(String, String), CachedAuth>>,
    port: u16,
    log: Mutex<std::fs::File>,
    verbose: bool,
    /// Stage throttling (`devstack up --stage-throttle`), off by default.
    throttle: Option<TokenBucket>,
}

/// What API Gateway knows about a request before calling anything.
struct RequestInfo {
    request_id: String,
    extended_id: String,
    trace_id: String,
    method: String,
    raw_path: String,
    raw_query: Option<String>,
    protocol: String,
    epoch_ms: u64,
    request_time: String,
    peer: SocketAddr,
}

impl Gateway {
    pub fn new(
        routes: &[Route],
        authorizers: BTreeMap<String, AuthorizerDef>,
        responses: GatewayResponses,
        functions: BTreeMap<String, Arc<Function>>,
        port: u16,
        log: std::fs::File,
        verbose: bool,
    ) -> Gateway {
        Gateway {
            routes: RouteTable::new(routes),
            authorizers,
            responses,
            functions,
            cache: Mutex::new(HashMap::new()),
            port,
            log: Mutex::new(log),
            verbose,
            throttle: None,
        }
    }

    pub fn with_stage_throttle(mut self, limits: Option<Limits>) -> Gateway {
        self.throttle = limits.map(TokenBucket::new);
        self
    }

    pub async fn shutdown(&self) {
        for f in self.functions.values() {
            f.shutdown().await;
        }
    }

    fn note(&self, line: &str, always_on_stderr: bool) {
        if let Ok(mut f) = self.log.lock() {
            let _ = writeln!(f, "{line}");
        }
        if always_on_stderr || self.verbose {
            eprintln!("devstack: {line}");
        }
    }
}

pub fn router(gateway: Arc<Gateway>) -> axum::Router {
    axum::Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(gateway)
}

async fn handle(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    let started = Instant::now();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let info = RequestInfo {
        request_id: ids::uuid(),
        extended_id: ids::extended_request_id(),
        trace_id: ids::trace_id(now.as_secs()),
        method: request.method().as_str().to_string(),
        raw_path: request.uri().path().to_string(),
        raw_query: request.uri().query().map(str::to_string),
        protocol: format!("{:?}", request.version()),
        epoch_ms: now.as_millis() as u64,
        request_time: request_time(now.as_secs() as i64),
        peer,
    };
    let (mut response, note) = match gw.serve(&info, request).await {
        Ok(r) => (r, None),
        Err((error, why)) => (
            gw.responses
                .response(error, &info.request_id, &info.method, &info.raw_path),
            why,
        ),
    };
    let h = response.headers_mut();
    // API Gateway sends x-amzn-RequestId on every response; X-Request-Id is in the gateway
    // responses, and the functions set it on theirs (from requestContext.requestId).
    if let Ok(v) = HeaderValue::from_str(&info.request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Ok(v) = HeaderValue::from_str(&info.extended_id) {
        h.insert("x-amz-apigw-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&info.trace_id) {
        h.insert("x-amzn-trace-id", v);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_millis();
    let line = format!(
        "{} {} {} -> {status} ({elapsed} ms){}",
        info.request_id,
        info.method,
        info.raw_path,
        note.as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default()
    );
    gw.note(&line, note.is_some());
    response
}

type Failure = (GatewayError, Option<String>);

fn fail(error: GatewayError) -> Failure {
    (error, None)
}

impl Gateway {
    async fn serve(
        &self,
        info: &RequestInfo,
        request: Request<Body>,
    ) -> Result<Response<Body>, Failure> {
        let (parts, body) = request.into_parts();
        let declared_len = parts
            .headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_len.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            let _ = read_body(body).await;
            return Err(fail(GatewayError::PayloadTooLarge));
        }
        let matched = self
            .routes
            .find(&info.method, &info.raw_path)
            .ok_or(fail(GatewayError::RouteNotFound))?;
        let route = matched.route.clone();
        let params = matched.params;
        // Stage throttling comes before the authorizer: a throttled request costs nothing.
        if self.throttle.as_ref().is_some_and(|b| !b.take()) {
            let _ = read_body(body).await;
            return Err(fail(GatewayError::Throttled));
        }

        let authorizer_context = match &route.authorizer {
            None => None,
            Some(name) => Some(self.authorize(name, &parts.headers, info).await?),
        };

        let body = read_body(body).await.map_err(fail)?;

        let event = self.proxy_event(
            info,
            &route,
            &params,
            &parts.headers,
            &body,
            authorizer_context,
        );
        let function = &self.functions[&route.function];
        let payload = Bytes::from(event.to_string());
        if payload.len() > MAX_EVENT_BYTES {
            return Err((
                GatewayError::PayloadTooLarge,
                Some(format!(
                    "the event ({} bytes) exceeds Lambda's {MAX_EVENT_BYTES}-byte invocation payload limit",
                    payload.len()
                )),
            ));
        }
        let result = tokio::time::timeout(
            INTEGRATION_TIMEOUT,
            function.invoke(payload, info.trace_id.clone()),
        )
        .await;
        let output = match result {
            Err(_) => {
                return Err((
                    GatewayError::IntegrationTimeout,
                    Some(format!(
                        "{}: no answer within API Gateway's {} s integration timeout",
                        route.function,
                        INTEGRATION_TIMEOUT.as_secs()
                    )),
                ))
            }
            Ok(Err(_)) => {
                return Err((
                    GatewayError::IntegrationFailure,
                    Some(format!("{}: invocation dropped", route.function)),
                ))
            }
            Ok(Ok(Err(InvokeError::Timeout))) => {
                return Err((
                    GatewayError::IntegrationTimeout,
                    Some(format!(
                        "{}: timed out after {} s (template Timeout); process killed",
                        route.function,
                        function.config.timeout.as_secs()
                    )),
                ))
            }
            Ok(Ok(Err(e @ InvokeError::Failed(_)))) => {
                return Err((GatewayError::IntegrationFailure, Some(e.to_string())))
            }
            Ok(Ok(Err(e))) => {
                return Err((
                    GatewayError::IntegrationFailure,
                    Some(format!("{}: {e}", route.function)),
                ))
            }
            Ok(Ok(Ok(bytes))) => bytes,
        };
        proxy_response(&output).map_err(|why| {
            (
                GatewayError::IntegrationFailure,
                Some(format!(
                    "{}: malformed Lambda proxy response: {why}",
                    route.function
                )),
            )
        })
    }

    /// Runs the route's authorizer; returns the `requestContext.authorizer` object.
    async fn authorize(
        &self,
        name: &str,
        headers: &HeaderMap,
        info: &RequestInfo,
    ) -> Result<Value, Failure> {
        let def = &self.authorizers[name];
        let token = headers
            .get(def.identity_header.as_str())
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if token.is_empty() {
            return Err(fail(GatewayError::Unauthorized));
        }
        let method_arn = format!(
            "arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{}/{}",
            info.method,
            info.raw_path.trim_start_matches('/')
        );
        let key = (name.to_string(), token.clone());
        let started = Instant::now();
        let cached = {
            let mut cache = self.cache.lock().expect("cache lock");
            let now = Instant::now();
            cache.retain(|_, c| c.expires > now);
            cache.get(&key).map(|c| c.output.clone())
        };
        let output = match cached {
            Some(o) => o,
            None => {
                let o = Arc::new(self.call_authorizer(def, &token, &method_arn, info).await?);
                if !def.ttl.is_zero() {
                    self.cache.lock().expect("cache lock").insert(
                        key,
                        CachedAuth {
                            output: o.clone(),
                            expires: Instant::now() + def.ttl,
                        },
                    );
                }
                o
            }
        };
        if !policy::allows(&output.statements, &method_arn) {
            return Err(fail(GatewayError::AccessDenied));
        }
        let mut ctx = Map::new();
        for (k, v) in &output.context {
            ctx.insert(k.clone(), v.clone());
        }
        ctx.insert(
            "principalId".into(),
            Value::String(output.principal_id.clone()),
        );
        ctx.insert(
            "integrationLatency".into(),
            json!(started.elapsed().as_millis() as u64),
        );
        Ok(Value::Object(ctx))
    }

    async fn call_authorizer(
        &self,
        def: &AuthorizerDef,
        token: &str,
        method_arn: &str,
        info: &RequestInfo,
    ) -> Result<AuthorizerOutput, Failure> {
        let function = &self.functions[&def.function];
        let event = json!({
            "type": "TOKEN",
            "authorizationToken": token,
            "methodArn": method_arn,
        });
        let failure = |why: String| {
            Err((
                GatewayError::AuthorizerFailure,
                Some(format!("authorizer {}: {why}", def.name)),
            ))
        };
        let result = tokio::time::timeout(
            INTEGRATION_TIMEOUT,
            function.invoke(Bytes::from(event.to_string()), info.trace_id.clone()),
        )
        .await;
        match result {
            Err(_) => failure("no answer within 29 s".into()),
            Ok(Err(_)) => failure("invocation dropped".into()),
            Ok(Ok(Err(InvokeError::Function { error_message, .. })))
                if error_message == "Unauthorized" =>
            {
                Err(fail(GatewayError::Unauthorized))
            }
            Ok(Ok(Err(e))) => failure(e.to_string()),
            Ok(Ok(Ok(bytes))) => match policy::parse_output(&bytes) {
                Ok(o) => Ok(o),
                Err(why) => failure(format!("invalid output: {why}")),
            },
        }
    }

    fn proxy_event(
        &self,
        info: &RequestInfo,
        route: &Route,
        params: &[(String, String)],
        headers: &HeaderMap,
        body: &[u8],
        authorizer: Option<Value>,
    ) -> Value {
        // Headers as received, plus what API Gateway adds.
        let mut pairs: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let client_ip = info.peer.ip().to_string();
        let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(existing) => format!("{existing}, {client_ip}"),
            None => client_ip.clone(),
        };
        pairs.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-port" | "x-amzn-trace-id"
            )
        });
        pairs.push(("x-forwarded-for".into(), forwarded_for));
        pairs.push(("x-forwarded-proto".into(), "http".into()));
        pairs.push(("x-forwarded-port".into(), self.port.to_string()));
        pairs.push(("x-amzn-trace-id".into(), info.trace_id.clone()));
        let (single_headers, multi_headers) = single_and_multi(&pairs);

        let query = info
            .raw_query
            .as_deref()
            .map(routing::parse_query)
            .unwrap_or_default();
        let (single_query, multi_query) = single_and_multi(&query);

        let path_parameters = if params.is_empty() {
            Value::Null
        } else {
            Value::Object(
                params
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        let (body_value, is_base64) = if body.is_empty() {
            (Value::Null, false)
        } else {
            match std::str::from_utf8(body) {
                Ok(text) => (Value::String(text.to_string()), false),
                Err(_) => (
                    Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
                    true,
                ),
            }
        };
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_string();
        let domain_prefix = host.split(['.', ':']).next().unwrap_or("").to_string();
        let user_agent = headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(|s| Value::String(s.to_string()))
            .unwrap_or(Value::Null);
        let mut request_context = json!({
            "resourceId": resource_id(&route.path),
            "resourcePath": route.path,
            "httpMethod": info.method,
            "extendedRequestId": info.extended_id,
            "requestTime": info.request_time,
            "path": info.raw_path,
            "accountId": ACCOUNT_ID,
            "protocol": info.protocol,
            "stage": STAGE,
            "domainPrefix": domain_prefix,
            "requestTimeEpoch": info.epoch_ms,
            "requestId": info.request_id,
            "identity": {
                "cognitoIdentityPoolId": null,
                "accountId": null,
                "cognitoIdentityId": null,
                "caller": null,
                "sourceIp": client_ip,
                "principalOrgId": null,
                "accessKey": null,
                "cognitoAuthenticationType": null,
                "cognitoAuthenticationProvider": null,
                "userArn": null,
                "userAgent": user_agent,
                "user": null,
            },
            "domainName": host,
            "apiId": API_ID,
        });
        if let Some(a) = authorizer {
            request_context["authorizer"] = a;
        }
        json!({
            "resource": route.path,
            "path": info.raw_path,
            "httpMethod": info.method,
            "headers": single_headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": single_query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": path_parameters,
            "stageVariables": null,
            "requestContext": request_context,
            "body": body_value,
            "isBase64Encoded": is_base64,
        })
    }
}

/// Reads the request body, up to API Gateway's limit. A larger body is read on (and discarded)
/// up to `DRAIN_LIMIT` so that the client, still sending, gets the 413 rather than a reset
/// connection.
async fn read_body(mut body: Body) -> Result<Bytes, GatewayError> {
    use axum::body::HttpBody;
    const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
    let mut kept: Vec<u8> = Vec::new();
    let mut total = 0usize;
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => break,
            Some(Err(_)) => return Err(GatewayError::PayloadTooLarge),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    total += data.len();
                    if total <= MAX_BODY_BYTES {
                        kept.extend_from_slice(&data);
                    } else if total > DRAIN_LIMIT {
                        break;
                    }
                }
            }
        }
    }
    if total > MAX_BODY_BYTES {
        Err(GatewayError::PayloadTooLarge)
    } else {
        Ok(Bytes::from(kept))
    }
}

/// `(last value per name, all values per name)`, both `null` when there are none.
fn single_and_multi(pairs: &[(String, String)]) -> (Value, Value) {
    if pairs.is_empty() {
        return (Value::Null, Value::Null);
    }
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        single.insert(k.clone(), Value::String(v.clone()));
        match multi.get_mut(k) {
            Some(Value::Array(values)) => values.push(Value::String(v.clone())),
            _ => {
                multi.insert(k.clone(), json!([v]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// A stable 6-character id per resource path, like API Gateway's resource ids.
fn resource_id(path: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in path.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..6)
        .map(|i| ALPHABET[((h >> (i * 6)) % 36) as usize] as char)
        .collect()
}

/// `25/Nov/2026:06:19:16 +0000`, API Gateway's `requestTime`.
fn request_time(epoch_secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch_secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[u8::from(t.month()) as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn header_value_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Turns a Lambda proxy response into the HTTP response, as API Gateway does; `Err` is a
/// malformed response (502).
pub fn proxy_response(output: &[u8]) -> Result<Response<Body>, String> {
    let v: Value =
        serde_json::from_slice(output).map_err(|e| format!("the output is not JSON ({e})"))?;
    let obj = v.as_object().ok_or("the output is not a JSON object")?;
    let status = obj
        .get("statusCode")
        .and_then(Value::as_u64)
        .ok_or("statusCode is missing or not an integer")?;
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (100..=599).contains(s))
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or(format!("statusCode {status} is not an HTTP status"))?;

    // headers and multiValueHeaders merge; a value present in both appears once.
    let mut merged: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |name: &str, value: String| {
        let lower = name.to_ascii_lowercase();
        match merged
            .iter_mut()
            .find(|(n, _)| n.to_ascii_lowercase() == lower)
        {
            Some((_, values)) => {
                if !values.contains(&value) {
                    values.push(value)
                }
            }
            None => merged.push((name.to_string(), vec![value])),
        }
    };
    match obj.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, values) in m {
                match values {
                    Value::Array(items) => {
                        for item in items {
                            let s = header_value_string(item)
                                .ok_or(format!("multiValueHeaders.{name} holds a non-scalar"))?;
                            add(name, s);
                        }
                    }
                    Value::Null => {}
                    _ => return Err(format!("multiValueHeaders.{name} is not an array")),
                }
            }
        }
        Some(_) => return Err("multiValueHeaders is not an object".into()),
    }
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, value) in m {
                if value.is_null() {
                    continue;
                }
                let s =
                    header_value_string(value).ok_or(format!("headers.{name} is not a string"))?;
                add(name, s);
            }
        }
        Some(_) => return Err("headers is not an object".into()),
    }

    let is_base64 = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("isBase64Encoded is not a boolean".into()),
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if is_base64 => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("body is not valid base64 ({e})"))?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return Err("body is not a string".into()),
    };

    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, values) in merged {
        let lower = name.to_ascii_lowercase();
        if DROPPED_RESPONSE_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        let out_name = if REMAPPED_RESPONSE_HEADERS.contains(&lower.as_str()) {
            format!("x-amzn-remapped-{lower}")
        } else {
            lower
        };
        let header = HeaderName::from_bytes(out_name.as_bytes())
            .map_err(|_| format!("{name:?} is not a valid header name"))?;
        for value in values {
            let v = HeaderValue::from_str(&value)
                .map_err(|_| format!("the value of header {name} is not valid"))?;
            headers.append(header.clone(), v);
        }
    }
    if !headers.contains_key("content-type") {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(r: Response<Body>) -> String {
        let b = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn proxy_response_merges_headers_and_remaps() {
        let r = proxy_response(
            json!({
                "statusCode": 401,
                "headers": {"X-One": "1", "WWW-Authenticate": "Basic", "Set-Cookie": "b"},
                "multiValueHeaders": {"set-cookie": ["a", "b"], "Cache-Control": ["no-store"]},
                "body": "{\"error\":\"invalid_client\"}",
                "isBase64Encoded": false
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(r.status(), 401);
        let h = r.headers();
        let cookies: Vec<_> = h.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, vec!["a", "b"]);
        assert_eq!(h["x-one"], "1");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h.get("www-authenticate").is_none());
        assert_eq!(h["x-amzn-remapped-www-authenticate"], "Basic");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(body_of(r).await, "{\"error\":\"invalid_client\"}");
    }

    #[tokio::test]
    async fn proxy_response_base64_and_defaults() {
        let r = proxy_response(
            br#"{"statusCode":200,"headers":{"Content-Type":"application/pdf"},"body":"JVBERg==","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(body_of(r).await, "%PDF");
        let r = proxy_response(br#"{"statusCode":204}"#).unwrap();
        assert_eq!(r.status(), 204);
    }

    #[test]
    fn malformed_proxy_responses() {
        for bad in [
            &b"nope"[..],
            br#""text""#,
            br#"{"body":"x"}"#,
            br#"{"statusCode":"200"}"#,
            br#"{"statusCode":700}"#,
            br#"{"statusCode":200,"body":{"a":1}}"#,
            br#"{"statusCode":200,"headers":{"a":{"b":1}}}"#,
            br#"{"statusCode":200,"body":"%%%","isBase64Encoded":true}"#,
        ] {
            assert!(
                proxy_response(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn single_and_multi_values() {
        let (s, m) = single_and_multi(&[
            ("a".into(), "1".into()),
            ("b".into(), "x".into()),
            ("a".into(), "2".into()),
        ]);
        assert_eq!(s, json!({"a": "2", "b": "x"}));
        assert_eq!(m, json!({"a": ["1", "2"], "b": ["x"]}));
        assert_eq!(single_and_multi(&[]), (Value::Null, Value::Null));
    }

    #[test]
    fn request_time_format() {
        assert_eq!(request_time(1589522469), "15/May/2020:06:01:09 +0000");
        assert_eq!(resource_id("/a").len(), 6);
        assert_eq!(resource_id("/a"), resource_id("/a"));
    }
}
