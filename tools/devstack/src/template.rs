//! Reads what the local gateway serves from the SAM template (`infra/template.yaml`), so that the
//! template and the local stack cannot drift apart: routes (every `AWS::Serverless::Function`
//! event of `Type: Api`), the REST API's authorizers, and each function's binary, timeout, memory
//! and environment.
//!
//! Anything the local stack cannot reproduce faithfully is an error here rather than a silent
//! difference (an implicit API, a second API, greedy path variables, an intrinsic function in an
//! environment variable other than `!Ref`).

use serde::Serialize;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Lambda's own defaults when a function (and `Globals`) does not say.
const LAMBDA_DEFAULT_TIMEOUT_SECS: u64 = 3;
const LAMBDA_DEFAULT_MEMORY_MB: u64 = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

/// An environment variable's value as written in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    /// `!Ref Name` (or `{"Ref": "Name"}`).
    Ref(String),
    /// `!Sub "text with ${Name}"`: locally, every `${Name}` must be a known ref, or the variable
    /// must be one devstack sets itself (`PUBLIC_BASE_URL`: the local gateway's URL).
    Sub(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDef {
    /// The logical id, e.g. `TokenFunction`; also the local function name.
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`, the cargo binary that implements it.
    pub binary: String,
    pub timeout: Duration,
    pub memory_mb: u64,
    pub handler: String,
    /// `Globals.Function.Environment.Variables` merged with the function's own.
    pub environment: BTreeMap<String, EnvValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Upper case; `ANY` matches every method.
    pub method: String,
    /// The resource path, e.g. `/api/v1/sme-deliveries/{tracking_number}`.
    pub path: String,
    /// The function's logical id.
    pub function: String,
    pub binary: String,
    /// The authorizer's name, or `None` for `Auth.Authorizer: NONE`.
    pub authorizer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerDef {
    pub name: String,
    /// Logical id of the authorizer function.
    pub function: String,
    /// `Identity.Header` (default `Authorization`).
    pub identity_header: String,
    /// `Identity.ReauthorizeEvery` (default 300 s, as API Gateway); zero disables the cache.
    pub ttl: Duration,
}

/// A header of a gateway response, as API Gateway maps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayHeaderValue {
    /// `'value'` in the template.
    Static(String),
    /// `context.requestId`.
    RequestId,
}

/// One entry of the API's `GatewayResponses` (SAM syntax).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayResponseDef {
    /// `StatusCode`; `None` keeps the status API Gateway chose.
    pub status: Option<u16>,
    pub headers: Vec<(String, GatewayHeaderValue)>,
    /// `ResponseTemplates` `application/json` (API Gateway fills in `$context.*` variables).
    pub body: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub functions: BTreeMap<String, FunctionDef>,
    pub routes: Vec<Route>,
    pub authorizers: BTreeMap<String, AuthorizerDef>,
    /// The API's `GatewayResponses`, by response type (`UNAUTHORIZED`, `DEFAULT_4XX`, ...).
    pub gateway_responses: BTreeMap<String, GatewayResponseDef>,
    /// `AWS::SQS::Queue` resources (webhooks), by logical id.
    pub queues: BTreeMap<String, crate::esm::QueueDef>,
    /// `AWS::Lambda::EventSourceMapping` resources (webhooks).
    pub event_source_mappings: Vec<crate::esm::MappingDef>,
    /// Logical ids of the template's `AWS::S3::Bucket` resources (devstack creates each in moto).
    pub buckets: Vec<String>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let doc: Value = serde_yaml::from_str(text)
            .map_err(|e| TemplateError(format!("the template is not valid YAML: {e}")))?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| TemplateError("the template has no Resources".into()))?;
        let globals = doc.get("Globals").and_then(|g| g.get("Function"));

        // The one REST API.
        let mut api: Option<(String, &Value)> = None;
        for (key, resource) in resources {
            let id = key_str(key)?;
            if resource.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Api") {
                if let Some((first, _)) = &api {
                    return err(format!(
                        "the template declares two AWS::Serverless::Api resources ({first} and {id}); \
                         the local gateway serves exactly one"
                    ));
                }
                api = Some((id.to_string(), resource));
            }
        }
        let (api_id, api) = match api {
            Some(found) => found,
            None => return err("the template declares no AWS::Serverless::Api resource"),
        };
        let api_auth = api.get("Properties").and_then(|p| p.get("Auth"));
        let default_authorizer = match api_auth.and_then(|a| a.get("DefaultAuthorizer")) {
            None => None,
            Some(v) => Some(scalar_string(v, "DefaultAuthorizer")?),
        }
        .filter(|name| name != "NONE");

        let mut functions = BTreeMap::new();
        for (key, resource) in resources {
            let id = key_str(key)?;
            if resource.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Function") {
                functions.insert(id.to_string(), parse_function(id, resource, globals)?);
            }
        }

        let mut authorizers = BTreeMap::new();
        if let Some(map) = api_auth
            .and_then(|a| a.get("Authorizers"))
            .and_then(Value::as_mapping)
        {
            for (key, def) in map {
                let name = key_str(key)?;
                authorizers.insert(name.to_string(), parse_authorizer(name, def, &functions)?);
            }
        }
        if let Some(name) = &default_authorizer {
            if !authorizers.contains_key(name) {
                return err(format!(
                    "{api_id}: DefaultAuthorizer {name} is not one of Auth.Authorizers"
                ));
            }
        }

        let mut routes: Vec<Route> = Vec::new();
        for (key, resource) in resources {
            let id = key_str(key)?;
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let Some(events) = resource
                .get("Properties")
                .and_then(|p| p.get("Events"))
                .and_then(Value::as_mapping)
            else {
                continue;
            };
            for (event_key, event) in events {
                let event_name = key_str(event_key)?;
                if event.get("Type").and_then(Value::as_str) != Some("Api") {
                    continue;
                }
                let route = parse_route(
                    id,
                    event_name,
                    event,
                    &api_id,
                    &functions[id],
                    default_authorizer.as_deref(),
                    &authorizers,
                )?;
                if let Some(other) = routes
                    .iter()
                    .find(|r| r.method == route.method && r.path == route.path)
                {
                    return err(format!(
                        "{id}.{event_name}: {} {} is already served by {}",
                        route.method, route.path, other.function
                    ));
                }
                routes.push(route);
            }
        }

        let gateway_responses = match api
            .get("Properties")
            .and_then(|p| p.get("GatewayResponses"))
        {
            None => BTreeMap::new(),
            Some(v) => parse_gateway_responses(&api_id, v)?,
        };

        let (queues, event_source_mappings) = crate::esm::parse(resources, &functions)?;
        let mut buckets = Vec::new();
        for (key, resource) in resources {
            if resource.get("Type").and_then(Value::as_str) == Some("AWS::S3::Bucket") {
                buckets.push(key_str(key)?.to_string());
            }
        }

        Ok(Template {
            functions,
            routes,
            authorizers,
            gateway_responses,
            queues,
            event_source_mappings,
            buckets,
        })
    }

    /// The functions the local stack may invoke: every route's function, every authorizer's, and
    /// every event source mapping's.
    pub fn served_functions(&self) -> Vec<&FunctionDef> {
        let mut ids: Vec<&str> = self.routes.iter().map(|r| r.function.as_str()).collect();
        ids.extend(self.authorizers.values().map(|a| a.function.as_str()));
        ids.extend(
            self.event_source_mappings
                .iter()
                .map(|m| m.function.as_str()),
        );
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().map(|id| &self.functions[id]).collect()
    }
}

impl FunctionDef {
    /// Resolves the environment: every `!Ref` must be in `refs`, so a new resource or parameter
    /// in the template cannot be silently missing locally.
    #[cfg(test)]
    pub fn resolve_environment(
        &self,
        refs: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        self.resolve_environment_with(refs, &BTreeMap::new())
    }

    /// `resolve_environment`, where `overrides` sets some variables whatever the template says
    /// (what devstack knows better locally, e.g. `PUBLIC_BASE_URL`).
    pub fn resolve_environment_with(
        &self,
        refs: &BTreeMap<String, String>,
        overrides: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        let mut out = BTreeMap::new();
        for (name, value) in &self.environment {
            if let Some(v) = overrides.get(name) {
                out.insert(name.clone(), v.clone());
                continue;
            }
            let resolved = match value {
                EnvValue::Literal(s) => s.clone(),
                EnvValue::Sub(text) => substitute(text, refs).map_err(|missing| {
                    TemplateError(format!(
                        "{}: environment variable {name} is !Sub with ${{{missing}}}, which the local \
                         stack does not know; add it to devstack's local values (tools/devstack/src/stack.rs)",
                        self.logical_id
                    ))
                })?,
                EnvValue::Ref(target) => match refs.get(target) {
                    Some(v) => v.clone(),
                    None => {
                        return err(format!(
                            "{}: environment variable {name} is !Ref {target}, which the local stack \
                             does not know; add it to devstack's local values (tools/devstack/src/stack.rs)",
                            self.logical_id
                        ))
                    }
                },
            };
            out.insert(name.clone(), resolved);
        }
        Ok(out)
    }
}

/// `${Name}` replaced by `refs[Name]`; `Err(Name)` for the first unknown one.
fn substitute(text: &str, refs: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(after.to_string());
        };
        let name = &after[..end];
        out.push_str(refs.get(name).ok_or_else(|| name.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_gateway_responses(
    api_id: &str,
    v: &Value,
) -> Result<BTreeMap<String, GatewayResponseDef>, TemplateError> {
    let Some(map) = v.as_mapping() else {
        return err(format!("{api_id}: GatewayResponses must be a mapping"));
    };
    let mut out = BTreeMap::new();
    for (key, def) in map {
        let response_type = key_str(key)?;
        let what = format!("{api_id}.GatewayResponses.{response_type}");
        let status = match def.get("StatusCode") {
            None => None,
            Some(s) => {
                let code = parse_u64(s, &format!("{what}.StatusCode"))?;
                match u16::try_from(code) {
                    Ok(c) if (100..=599).contains(&c) => Some(c),
                    _ => return err(format!("{what}.StatusCode: {code} is not an HTTP status")),
                }
            }
        };
        let mut headers = Vec::new();
        if let Some(hs) = def.get("ResponseParameters").and_then(|p| p.get("Headers")) {
            let Some(hs) = hs.as_mapping() else {
                return err(format!(
                    "{what}.ResponseParameters.Headers must be a mapping"
                ));
            };
            for (name, value) in hs {
                let name = key_str(name)?;
                let value = scalar_string(value, &format!("{what} header {name}"))?;
                let parsed = if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'')
                {
                    GatewayHeaderValue::Static(value[1..value.len() - 1].to_string())
                } else if value == "context.requestId" {
                    GatewayHeaderValue::RequestId
                } else {
                    return err(format!(
                        "{what}: header {name} maps {value:?}, which the local gateway does not \
                         emulate (only 'static values' and context.requestId)"
                    ));
                };
                headers.push((name.to_string(), parsed));
            }
        }
        let body = match def
            .get("ResponseTemplates")
            .and_then(|t| t.get("application/json"))
        {
            None => None,
            Some(b) => Some(scalar_string(b, &format!("{what}.ResponseTemplates"))?),
        };
        out.insert(
            response_type.to_string(),
            GatewayResponseDef {
                status,
                headers,
                body,
            },
        );
    }
    Ok(out)
}

pub(crate) fn key_str(key: &Value) -> Result<&str, TemplateError> {
    key.as_str()
        .ok_or_else(|| TemplateError(format!("unexpected non-string key {key:?}")))
}

pub(crate) fn scalar_string(v: &Value, what: &str) -> Result<String, TemplateError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => err(format!("{what}: expected a plain value, found {other:?}")),
    }
}

pub(crate) fn parse_u64(v: &Value, what: &str) -> Result<u64, TemplateError> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| TemplateError(format!("{what}: expected a positive integer"))),
        Value::String(s) => s.parse().map_err(|_| {
            TemplateError(format!("{what}: expected a positive integer, found {s:?}"))
        }),
        other => err(format!(
            "{what}: expected a positive integer, found {other:?}"
        )),
    }
}

/// `!Ref X` (a YAML tag) or the JSON form `{"Ref": "X"}`.
pub(crate) fn as_ref_target(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        Value::Mapping(m) if m.len() == 1 => m.get("Ref").and_then(Value::as_str),
        _ => None,
    }
}

/// `!GetAtt X.Arn` (or `!GetAtt [X, Arn]`, or `{"Fn::GetAtt": ...}`) -> `X`.
pub(crate) fn getatt_arn_target(v: &Value) -> Option<String> {
    let inner = match v {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => &tagged.value,
        Value::Mapping(m) if m.len() == 1 => m.get("Fn::GetAtt")?,
        _ => return None,
    };
    match inner {
        Value::String(s) => s.strip_suffix(".Arn").map(str::to_string),
        Value::Sequence(seq) if seq.len() == 2 && seq[1].as_str() == Some("Arn") => {
            seq[0].as_str().map(str::to_string)
        }
        _ => None,
    }
}

fn env_value(function: &str, name: &str, v: &Value) -> Result<EnvValue, TemplateError> {
    if let Some(target) = as_ref_target(v) {
        return Ok(EnvValue::Ref(target.to_string()));
    }
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            Ok(EnvValue::Literal(scalar_string(v, name)?))
        }
        Value::Tagged(tagged) if tagged.tag == "Sub" => match tagged.value.as_str() {
            Some(text) => Ok(EnvValue::Sub(text.to_string())),
            None => err(format!(
                "{function}: environment variable {name} uses the list form of !Sub, which the local stack does not evaluate"
            )),
        },
        Value::Tagged(tagged) => err(format!(
            "{function}: environment variable {name} uses !{}, which the local stack does not \
             evaluate (only !Ref and !Sub are supported)",
            tagged.tag
        )),
        other => err(format!(
            "{function}: environment variable {name} has an unsupported value {other:?}"
        )),
    }
}

fn environment_of(
    function: &str,
    holder: Option<&Value>,
    into: &mut BTreeMap<String, EnvValue>,
) -> Result<(), TemplateError> {
    let Some(vars) = holder
        .and_then(|h| h.get("Environment"))
        .and_then(|e| e.get("Variables"))
    else {
        return Ok(());
    };
    let Some(vars) = vars.as_mapping() else {
        return err(format!(
            "{function}: Environment.Variables must be a mapping"
        ));
    };
    for (k, v) in vars {
        let name = key_str(k)?;
        into.insert(name.to_string(), env_value(function, name, v)?);
    }
    Ok(())
}

fn parse_function(
    id: &str,
    resource: &Value,
    globals: Option<&Value>,
) -> Result<FunctionDef, TemplateError> {
    let props = resource.get("Properties");
    let binary = resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            TemplateError(format!(
                "{id}: Metadata.BuildProperties.Binary is missing (the cargo binary that implements it)"
            ))
        })?
        .to_string();
    // A property of the function, else of Globals.Function.
    let property = |name: &str| {
        props
            .and_then(|p| p.get(name))
            .or_else(|| globals.and_then(|g| g.get(name)))
    };
    let timeout_secs = match property("Timeout") {
        Some(v) => parse_u64(v, &format!("{id}: Timeout"))?,
        None => LAMBDA_DEFAULT_TIMEOUT_SECS,
    };
    if timeout_secs == 0 {
        return err(format!("{id}: Timeout must be at least 1 second"));
    }
    let memory_mb = match property("MemorySize") {
        Some(v) => parse_u64(v, &format!("{id}: MemorySize"))?,
        None => LAMBDA_DEFAULT_MEMORY_MB,
    };
    let handler = match property("Handler") {
        Some(v) => scalar_string(v, &format!("{id}: Handler"))?,
        None => "bootstrap".to_string(),
    };
    let mut environment = BTreeMap::new();
    environment_of(id, globals, &mut environment)?;
    environment_of(id, props, &mut environment)?;
    Ok(FunctionDef {
        logical_id: id.to_string(),
        binary,
        timeout: Duration::from_secs(timeout_secs),
        memory_mb,
        handler,
        environment,
    })
}

fn parse_authorizer(
    name: &str,
    def: &Value,
    functions: &BTreeMap<String, FunctionDef>,
) -> Result<AuthorizerDef, TemplateError> {
    let function = def
        .get("FunctionArn")
        .and_then(getatt_arn_target)
        .ok_or_else(|| {
            TemplateError(format!(
                "authorizer {name}: FunctionArn must be !GetAtt <Function>.Arn"
            ))
        })?;
    if !functions.contains_key(&function) {
        return err(format!(
            "authorizer {name}: {function} is not an AWS::Serverless::Function of this template"
        ));
    }
    if let Some(t) = def.get("FunctionPayloadType").and_then(Value::as_str) {
        if t != "TOKEN" {
            return err(format!(
                "authorizer {name}: FunctionPayloadType {t} is not emulated (only TOKEN is)"
            ));
        }
    }
    let identity = def.get("Identity");
    let identity_header = match identity.and_then(|i| i.get("Header")) {
        Some(v) => scalar_string(v, &format!("authorizer {name}: Identity.Header"))?,
        None => "Authorization".to_string(),
    };
    let ttl = match identity.and_then(|i| i.get("ReauthorizeEvery")) {
        Some(v) => parse_u64(v, &format!("authorizer {name}: Identity.ReauthorizeEvery"))?,
        None => 300,
    };
    if identity
        .and_then(|i| i.get("ValidationExpression"))
        .is_some()
    {
        return err(format!(
            "authorizer {name}: Identity.ValidationExpression is not emulated"
        ));
    }
    Ok(AuthorizerDef {
        name: name.to_string(),
        function,
        identity_header,
        ttl: Duration::from_secs(ttl),
    })
}

fn parse_route(
    function_id: &str,
    event_name: &str,
    event: &Value,
    api_id: &str,
    function: &FunctionDef,
    default_authorizer: Option<&str>,
    authorizers: &BTreeMap<String, AuthorizerDef>,
) -> Result<Route, TemplateError> {
    let at = format!("{function_id}.Events.{event_name}");
    let props = event
        .get("Properties")
        .ok_or_else(|| TemplateError(format!("{at}: Properties is missing")))?;
    match props.get("RestApiId").map(|v| as_ref_target(v)) {
        Some(Some(target)) if target == api_id => {}
        Some(_) => {
            return err(format!(
                "{at}: RestApiId must be !Ref {api_id} (the one REST API the local gateway serves)"
            ))
        }
        None => {
            return err(format!(
                "{at}: RestApiId is missing, which makes SAM create an implicit API; \
                 the local gateway only serves {api_id}"
            ))
        }
    }
    let path = props
        .get("Path")
        .and_then(Value::as_str)
        .ok_or_else(|| TemplateError(format!("{at}: Path is missing")))?;
    crate::routing::validate_resource_path(path)
        .map_err(|e| TemplateError(format!("{at}: {e}")))?;
    let method = props
        .get("Method")
        .and_then(Value::as_str)
        .ok_or_else(|| TemplateError(format!("{at}: Method is missing")))?
        .to_ascii_uppercase();
    const METHODS: [&str; 8] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
    ];
    if !METHODS.contains(&method.as_str()) {
        return err(format!("{at}: unsupported Method {method}"));
    }
    let authorizer = match props.get("Auth").and_then(|a| a.get("Authorizer")) {
        None => default_authorizer.map(str::to_string),
        Some(v) => {
            let name = scalar_string(v, &format!("{at}: Auth.Authorizer"))?;
            if name == "NONE" {
                None
            } else if authorizers.contains_key(&name) {
                Some(name)
            } else if name == "AWS_IAM" {
                return err(format!("{at}: AWS_IAM authorization is not emulated"));
            } else {
                return err(format!(
                    "{at}: Auth.Authorizer {name} is not defined on {api_id}"
                ));
            }
        }
    };
    Ok(Route {
        method,
        path: path.to_string(),
        function: function_id.to_string(),
        binary: function.binary.clone(),
        authorizer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
Globals:
  Function:
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        RUST_LOG: info
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref EnvironmentName
      Auth:
        DefaultAuthorizer: TokenAuthorizer
        Authorizers:
          TokenAuthorizer:
            FunctionArn: !GetAtt AuthFn.Arn
            Identity:
              Header: Authorization
              ReauthorizeEvery: 0
  AuthFn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: authorizer
  TokenFn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: token
    Properties:
      Timeout: 5
      Environment:
        Variables:
          RUST_LOG: debug
          EXTRA: 7
      Events:
        Token:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /oauth/token
            Method: post
            Auth:
              Authorizer: NONE
        Read:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /things/{id}
            Method: get
  Table:
    Type: AWS::DynamoDB::Table
"#;

    #[test]
    fn reads_routes_authorizers_and_functions() {
        let t = Template::parse(SMALL).unwrap();
        assert_eq!(
            t.routes,
            vec![
                Route {
                    method: "POST".into(),
                    path: "/oauth/token".into(),
                    function: "TokenFn".into(),
                    binary: "token".into(),
                    authorizer: None,
                },
                Route {
                    method: "GET".into(),
                    path: "/things/{id}".into(),
                    function: "TokenFn".into(),
                    binary: "token".into(),
                    authorizer: Some("TokenAuthorizer".into()),
                },
            ]
        );
        let a = &t.authorizers["TokenAuthorizer"];
        assert_eq!(a.function, "AuthFn");
        assert_eq!(a.identity_header, "Authorization");
        assert_eq!(a.ttl, Duration::ZERO);
        let f = &t.functions["TokenFn"];
        assert_eq!(f.timeout, Duration::from_secs(5));
        assert_eq!(f.memory_mb, 256);
        assert_eq!(f.handler, "bootstrap");
        assert_eq!(f.environment["RUST_LOG"], EnvValue::Literal("debug".into()));
        assert_eq!(f.environment["EXTRA"], EnvValue::Literal("7".into()));
        assert_eq!(f.environment["TABLE_NAME"], EnvValue::Ref("Table".into()));
        assert_eq!(t.functions["AuthFn"].timeout, Duration::from_secs(10));
        let served: Vec<_> = t
            .served_functions()
            .iter()
            .map(|f| f.binary.clone())
            .collect();
        assert_eq!(served, vec!["authorizer", "token"]);
    }

    #[test]
    fn unknown_ref_in_environment_is_an_error() {
        let t = Template::parse(SMALL).unwrap();
        let f = &t.functions["TokenFn"];
        let e = f.resolve_environment(&BTreeMap::new()).unwrap_err();
        assert!(e.0.contains("!Ref Table"), "{e}");
        let refs = BTreeMap::from([("Table".to_string(), "t-local".to_string())]);
        let env = f.resolve_environment(&refs).unwrap();
        assert_eq!(env["TABLE_NAME"], "t-local");
        assert_eq!(env["RUST_LOG"], "debug");
    }

    #[test]
    fn other_intrinsics_in_environment_are_rejected() {
        let text = SMALL.replace("RUST_LOG: debug", "RUST_LOG: !Join [\"\", [a]]");
        let e = Template::parse(&text).unwrap_err();
        assert!(e.0.contains("!Join"), "{e}");
        // !Sub is evaluated from the local refs, or overridden.
        let text = SMALL.replace("RUST_LOG: debug", "RUST_LOG: !Sub \"x-${Table}-y\"");
        let t = Template::parse(&text).unwrap();
        let f = &t.functions["TokenFn"];
        assert!(f.resolve_environment(&BTreeMap::new()).is_err());
        let refs = BTreeMap::from([("Table".to_string(), "t".to_string())]);
        assert_eq!(f.resolve_environment(&refs).unwrap()["RUST_LOG"], "x-t-y");
        let over = BTreeMap::from([("RUST_LOG".to_string(), "o".to_string())]);
        assert_eq!(
            f.resolve_environment_with(&refs, &over).unwrap()["RUST_LOG"],
            "o"
        );
    }

    #[test]
    fn implicit_api_and_unknown_authorizer_are_rejected() {
        let text = SMALL.replace(
            "            RestApiId: !Ref Api\n            Path: /oauth/token",
            "            Path: /oauth/token",
        );
        assert!(Template::parse(&text)
            .unwrap_err()
            .0
            .contains("implicit API"));
        let text = SMALL.replace("Authorizer: NONE", "Authorizer: Other");
        assert!(Template::parse(&text).unwrap_err().0.contains("Other"));
    }

    #[test]
    fn duplicate_routes_are_rejected() {
        let text = SMALL.replace(
            "Path: /things/{id}\n            Method: get",
            "Path: /oauth/token\n            Method: post",
        );
        assert!(Template::parse(&text)
            .unwrap_err()
            .0
            .contains("already served"));
    }

    #[test]
    fn the_real_template_loads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let t = Template::parse(&text).unwrap();
        let token = t
            .routes
            .iter()
            .find(|r| r.path == "/oauth/token")
            .expect("token route");
        assert_eq!(token.method, "POST");
        assert_eq!(token.binary, "token");
        assert_eq!(token.authorizer, None);
        assert!(t
            .routes
            .iter()
            .filter(|r| r.path.starts_with("/api/v1/") && r.path != "/api/v1/openapi.json")
            .all(|r| r.authorizer.as_deref() == Some("TokenAuthorizer")));
        let doc = t
            .routes
            .iter()
            .find(|r| r.path == "/api/v1/openapi.json")
            .expect("OpenAPI document route");
        assert_eq!(
            (doc.method.as_str(), doc.authorizer.as_deref()),
            ("GET", None)
        );
        assert_eq!(
            t.authorizers["TokenAuthorizer"].function,
            "AuthorizerFunction"
        );
        assert_eq!(
            t.authorizers["TokenAuthorizer"].ttl,
            Duration::from_secs(300)
        );
        // Every bucket is one devstack knows by a local name (and creates).
        assert!(
            t.buckets.contains(&"ClaimsBucket".to_string()),
            "{:?}",
            t.buckets
        );
        // Every !Ref in every served function's environment is one devstack knows.
        let refs = crate::stack::local_refs();
        for b in &t.buckets {
            assert!(refs.contains_key(b), "bucket {b} has no local name");
        }
        crate::stack::check_environments(&t).unwrap();
    }
}
