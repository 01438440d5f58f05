//! The local gateway serves exactly the routes of `infra/template.yaml`.

use std::collections::BTreeSet;

use blackbox::{client, send, stack, Partner};
use serde_yaml::Value as Yaml;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    method: String,
    path: String,
    authorized: bool,
}

/// Strips CloudFormation tags (`!Ref`, `!GetAtt`, ...) to their value.
fn untag(v: &Yaml) -> &Yaml {
    match v {
        Yaml::Tagged(t) => untag(&t.value),
        other => other,
    }
}

fn get<'a>(v: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    untag(v).as_mapping()?.get(key).map(untag)
}

fn str_at<'a>(v: &'a Yaml, key: &str) -> Option<&'a str> {
    get(v, key)?.as_str()
}

/// Every `Api` event of every serverless function in the template.
fn template_routes() -> Vec<Route> {
    let path = stack().workspace.join("infra/template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let doc: Yaml = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    let resources = get(&doc, "Resources")
        .and_then(Yaml::as_mapping)
        .expect("template has Resources");
    // Whether the API has a default authorizer.
    let mut default_auth = false;
    for (_, res) in resources {
        if str_at(res, "Type") == Some("AWS::Serverless::Api") {
            default_auth |= get(res, "Properties")
                .and_then(|p| get(p, "Auth"))
                .and_then(|a| str_at(a, "DefaultAuthorizer"))
                .is_some();
        }
    }
    let mut routes = Vec::new();
    for (_, res) in resources {
        if str_at(res, "Type") != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = get(res, "Properties")
            .and_then(|p| get(p, "Events"))
            .and_then(Yaml::as_mapping)
        else {
            continue;
        };
        for (_, ev) in events {
            if str_at(ev, "Type") != Some("Api") {
                continue;
            }
            let props = get(ev, "Properties").expect("Api event has Properties");
            let auth = get(props, "Auth").and_then(|a| str_at(a, "Authorizer"));
            routes.push(Route {
                method: str_at(props, "Method")
                    .expect("Method")
                    .to_ascii_uppercase(),
                path: str_at(props, "Path").expect("Path").to_string(),
                authorized: match auth {
                    Some("NONE") => false,
                    Some(_) => true,
                    None => default_auth,
                },
            });
        }
    }
    routes.sort();
    routes
}

#[test]
fn template_declares_every_route_of_the_contract() {
    let got: BTreeSet<(String, String, bool)> = template_routes()
        .into_iter()
        .map(|r| (r.method, r.path, r.authorized))
        .collect();
    let want: BTreeSet<(String, String, bool)> = [
        ("POST", "/oauth/token", false),
        ("POST", "/api/v1/sme-deliveries", true),
        ("POST", "/api/v1/tracking-details", true),
        ("POST", "/api/v1/sme-deliveries/cancel", true),
        ("GET", "/api/v1/sme-deliveries/{tracking_number}", true),
        ("GET", "/api/v1/policies/{policy_id}", true),
        ("GET", "/api/v1/sme-deliveries", true),
        ("GET", "/certificates/{token}", false),
    ]
    .into_iter()
    .map(|(m, p, a)| (m.to_string(), p.to_string(), a))
    .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "template lacks (method, path, authorized): {missing:?}"
    );
}

/// `/a/{x}/b` with each `{param}` replaced by a value.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                format!("BB-GW-{}", ulid::Ulid::new())
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_template_route_is_served() {
    let http = client();
    let base = &stack().base_url;
    for r in template_routes() {
        let url = format!("{base}{}", concrete(&r.path));
        let rb = match r.method.as_str() {
            "GET" | "DELETE" => http.request(r.method.parse().unwrap(), &url),
            "POST" | "PATCH" => http
                .request(r.method.parse().unwrap(), &url)
                .header("Content-Type", "application/json")
                .body("{}"),
            m => panic!("unexpected method {m} in the template"),
        };
        let resp = send(format!("{} {url} (no token)", r.method), rb).await;
        resp.request_id();
        if resp.json["code"] == "route_not_found" {
            resp.fail(&format!(
                "template route {} {} is not served",
                r.method, r.path
            ));
        }
        if r.authorized {
            // The authorizer runs before any handler.
            resp.expect_invalid_token();
        } else if resp.status == 404 && resp.json["code"] != "not_found" {
            // A public route's handler may answer 404 itself (a certificate link that leads
            // nowhere is `not_found`); any other 404 means the route is not served.
            resp.fail(&format!("{} {} is not served", r.method, r.path));
        }
    }
}

#[tokio::test]
async fn every_template_route_reaches_its_handler_with_a_token() {
    // Every subscription, so that every route's scope is granted (claims included).
    let p = Partner::onboard(&blackbox::claims::CLAIM_SUBSCRIPTIONS).await;
    let token = p.token().await;
    let base = &stack().base_url;
    for r in template_routes().into_iter().filter(|r| r.authorized) {
        let url = format!("{base}{}", concrete(&r.path));
        let rb = match r.method.as_str() {
            "GET" | "DELETE" => p.http.request(r.method.parse().unwrap(), &url),
            _ => p
                .http
                .request(r.method.parse().unwrap(), &url)
                .header("Content-Type", "application/json")
                .body("{}"),
        };
        let resp = send(format!("{} {url}", r.method), rb.bearer_auth(&token)).await;
        // A handler answered: 200 for a list, 404 for unknown ids, 400 for an empty body (a
        // write on an unknown id may answer either: some routes take no body).
        let want = match (r.method.as_str(), r.path.contains('{')) {
            ("GET" | "DELETE", true) => 404,
            ("GET", false) => 200,
            (_, true) if resp.status == 404 => 404,
            _ => 400,
        };
        resp.expect(want);
        if want != 200 {
            assert_ne!(resp.json["code"], "route_not_found", "{}", resp.text);
        }
    }
}

/// Parses `devstack routes` output: JSON (array, `{"routes": [...]}`, or one object per line)
/// or text lines holding a method and a path.
fn parse_routes_output(out: &str) -> BTreeSet<(String, String)> {
    fn from_json(v: &serde_json::Value, acc: &mut BTreeSet<(String, String)>) -> bool {
        match v {
            serde_json::Value::Array(a) => a.iter().all(|x| from_json(x, acc)),
            serde_json::Value::Object(o) => {
                if let Some(r) = o.get("routes") {
                    return from_json(r, acc);
                }
                match (
                    o.get("method").and_then(|m| m.as_str()),
                    o.get("path").and_then(|m| m.as_str()),
                ) {
                    (Some(m), Some(p)) => {
                        acc.insert((m.to_ascii_uppercase(), p.to_string()));
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }
    let mut acc = BTreeSet::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(out.trim()) {
        if from_json(&v, &mut acc) {
            return acc;
        }
        acc.clear();
    }
    let methods = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
    ];
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            if from_json(&v, &mut acc) {
                continue;
            }
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let method = words
            .iter()
            .find(|w| methods.contains(&w.to_ascii_uppercase().as_str()));
        let path = words.iter().find(|w| w.starts_with('/'));
        if let (Some(m), Some(p)) = (method, path) {
            acc.insert((m.to_ascii_uppercase(), p.to_string()));
        }
    }
    acc
}

#[test]
fn devstack_routes_prints_exactly_the_template_routes() {
    let st = stack();
    let out = std::process::Command::new(st.bin("devstack"))
        .args(["routes", "--template", "infra/template.yaml"])
        .current_dir(&st.workspace)
        .output()
        .expect("running devstack routes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "devstack routes failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let got = parse_routes_output(&stdout);
    let want: BTreeSet<(String, String)> = template_routes()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(got, want, "devstack routes printed:\n{stdout}");
}

#[tokio::test]
async fn paths_not_in_the_template_are_404_route_not_found() {
    let p = Partner::full().await;
    let token = p.token().await;
    let base = &stack().base_url;
    for path in [
        "/",
        "/api/v1",
        "/api/v1/unknown",
        "/api/v2/sme-deliveries",
        "/api/v1/sme-deliveries/a/b",
        "/api/v1/policies",
        "/oauth/token/extra",
        "/oauth/authorize",
    ] {
        for with_token in [false, true] {
            let url = format!("{base}{path}");
            let mut rb = p.http.get(&url);
            if with_token {
                rb = rb.bearer_auth(&token);
            }
            let resp = send(format!("GET {url} token={with_token}"), rb).await;
            resp.expect_error(404, "route_not_found");
        }
    }
    // A template path with a method the template does not declare is not served either.
    for (method, path) in [
        ("DELETE", "/api/v1/sme-deliveries/X1"),
        ("PUT", "/api/v1/tracking-details"),
        ("GET", "/api/v1/tracking-details"),
        ("GET", "/oauth/token"),
    ] {
        let url = format!("{base}{path}");
        let rb = p
            .http
            .request(method.parse().unwrap(), &url)
            .bearer_auth(&token);
        let resp = send(format!("{method} {url}"), rb).await;
        if !(resp.status == 404 || resp.status == 405) {
            resp.fail("a method the template does not declare must not be served");
        }
        resp.request_id();
    }
}
