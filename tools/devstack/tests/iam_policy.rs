//! Each function's IAM policy in `infra/template.yaml` allows exactly the DynamoDB and Secrets
//! Manager calls its code makes: no fewer (the deployed function would fail with AccessDenied,
//! which nothing local can show), and no more (least privilege), and never `*`.
//!
//! What the code calls is read from the source, not from a hand-kept list:
//! - a function crate (`functions/<Binary>/src/main.rs`) enters the shared code through
//!   `app.<method>(` (shared/src/service/, one file per use case) and `oauth::<fn>(` (shared/src/oauth.rs), and reads
//!   secrets through `signing_keys()` (signing keys) and `into_app()` / `link_keys()` (link key);
//! - those functions reach the store through `store.<method>(` (following `self.<fn>(` calls in
//!   the same file);
//! - a store method's SDK operations are the calls in its body (shared/src/store/),
//!   following `self.<helper>(`; a query with `.index_name(` uses the `keys::BY_*` indexes
//!   its body names.
//!
//! The operation table below maps SDK calls to IAM actions; a new kind of call in the store
//! (say `.delete_item()`) must be added to it, or this test fails and says so.
//!
//! S3 (claim documents, issue 13): the service reaches `shared/src/documents.rs` through its
//! methods (`presign_upload`, `uploaded`, ...); each method's SDK calls map to S3 actions
//! (`S3_OPERATIONS`) on the bucket the function's `CLAIMS_BUCKET` names: object actions on
//! `<bucket ARN>/claims/*` (the documents' prefix, `keys::claim_documents_prefix`), bucket
//! actions on the bucket's ARN, and a `ListBucket` grant must carry an `s3:prefix` condition.

use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// SDK call (as written in the store) -> IAM action. TransactWriteItems has no IAM action of its
/// own: each item's action (Put, Update, Delete, ConditionCheck) is authorized.
const OPERATIONS: &[(&str, &str)] = &[
    (".get_item()", "dynamodb:GetItem"),
    (".put_item()", "dynamodb:PutItem"),
    (".update_item()", "dynamodb:UpdateItem"),
    (".delete_item()", "dynamodb:DeleteItem"),
    (".query()", "dynamodb:Query"),
    (".scan()", "dynamodb:Scan"),
    (".batch_get_item()", "dynamodb:BatchGetItem"),
    (".batch_write_item()", "dynamodb:BatchWriteItem"),
    ("Put::builder()", "dynamodb:PutItem"),
    ("Update::builder()", "dynamodb:UpdateItem"),
    ("Delete::builder()", "dynamodb:DeleteItem"),
    ("ConditionCheck::builder()", "dynamodb:ConditionCheckItem"),
];

/// S3 SDK call (as written in shared/src/documents.rs) -> (IAM action, on objects?). A presigned
/// request is authorized as its operation when it is used, with the signer's (the function's) role.
const S3_OPERATIONS: &[(&str, &str, bool)] = &[
    (".put_object()", "s3:PutObject", true),
    (".get_object()", "s3:GetObject", true),
    (".list_objects_v2()", "s3:ListBucket", false),
];

/// The prefix of every claim document's object key (`keys::claim_documents_prefix`).
const DOCUMENTS_PREFIX: &str = "claims/*";

/// SDK calls that need no IAM action of their own, or that the store never makes per request.
const NO_ACTION: &[&str] = &[".transact_write_items()"];

// ---- webhooks (issue 14): the pipeline functions enter the shared code through `processor.` and
// `sender.` as well; SQS calls go through `queue.<method>(` (shared/src/queue.rs) to the queue
// named by the function's `WEBHOOK_QUEUE_URL`; the webhook key is read through `webhook_keys()` /
// `into_webhooks_app()`; an `AWS::Lambda::EventSourceMapping` of the function needs what Lambda's
// poller does with the function's role (the stream's read actions, or the queue's receive /
// delete / attributes) and `sqs:SendMessage` to its on-failure destination.

/// SQS calls of shared/src/queue.rs -> IAM action (on the function's `WEBHOOK_QUEUE_URL` queue).
const SQS_OPERATIONS: &[(&str, &str)] = &[
    (".send_message()", "sqs:SendMessage"),
    (".send_message_batch()", "sqs:SendMessage"),
    (
        ".change_message_visibility()",
        "sqs:ChangeMessageVisibility",
    ),
    (".delete_message()", "sqs:DeleteMessage"),
    (".receive_message()", "sqs:ReceiveMessage"),
];

/// What Lambda's stream poller does with the function's role.
const STREAM_POLLER: &[&str] = &[
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];
/// What Lambda's SQS poller does with the function's role.
const QUEUE_POLLER: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

type Grant = (String, String); // (action, resource: "table", "index/<name>", "secret:<LogicalId>")

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A module's source: the file itself, or every `.rs` file under the directory (sorted, each cut
/// before its `#[cfg(test)]`), so that a module split into use-case files reads as one.
fn read_module(rel: &str) -> String {
    let path = root().join(rel);
    if !path.is_dir() {
        return read(rel);
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&path, &mut files);
    files
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            text.split("#[cfg(test)]").next().unwrap().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The source without whitespace, cut before `#[cfg(test)]`, split into functions by name.
fn functions_of(src: &str) -> BTreeMap<String, String> {
    let src = src.split("#[cfg(test)]").next().unwrap();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in src.lines() {
        let t = line.trim_start();
        let t = t.strip_prefix("pub(crate) ").unwrap_or(t);
        let t = t.strip_prefix("pub ").unwrap_or(t);
        let t = t.strip_prefix("async ").unwrap_or(t);
        if let Some(rest) = t.strip_prefix("fn ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            current = Some(name.clone());
            out.entry(name).or_default();
        }
        if let Some(name) = &current {
            let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            out.get_mut(name).unwrap().push_str(&squeezed);
        }
    }
    out
}

/// Names `x` in every `<prefix>x(` of `body`.
fn calls(body: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = body;
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && rest[name.len()..].starts_with('(') {
            out.insert(name);
        }
    }
    out
}

/// Follows `self.f(` inside one file from `roots`; returns every `store.m(` reached.
fn store_methods_reached(
    file: &BTreeMap<String, String>,
    roots: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.iter().cloned().collect();
    let mut store = BTreeSet::new();
    while let Some(f) = todo.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        let Some(body) = file.get(&f) else {
            panic!("no fn {f} found where the function crate calls it");
        };
        store.extend(calls(body, "store."));
        for callee in calls(body, "self.") {
            if file.contains_key(&callee) {
                todo.push(callee);
            }
        }
    }
    store
}

/// A store method's grants, following `self.<helper>(` in the store.
fn store_grants(
    store: &BTreeMap<String, String>,
    indexes: &BTreeMap<String, String>,
    method: &str,
    seen: &mut BTreeSet<String>,
) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    if !seen.insert(method.to_string()) {
        return out;
    }
    let body = store
        .get(method)
        .unwrap_or_else(|| panic!("store method {method} not found in shared/src/store/"));
    for (call, action) in OPERATIONS {
        if !body.contains(call) {
            continue;
        }
        if *action == "dynamodb:Query" && body.contains(".index_name(") {
            let named: Vec<&String> = indexes
                .iter()
                .filter(|(constant, _)| body.contains(&format!("keys::{constant}")))
                .map(|(_, name)| name)
                .collect();
            assert!(
                !named.is_empty(),
                "{method}: a query on an index this test cannot name"
            );
            for name in named {
                out.insert((action.to_string(), format!("index/{name}")));
            }
            if body.matches(".query()").count() > body.matches(".index_name(").count() {
                out.insert((action.to_string(), "table".into()));
            }
        } else {
            out.insert((action.to_string(), "table".into()));
        }
    }
    // Any other SDK call in the store must be classified above.
    for sdk_call in calls(body, ".client.") {
        let written = format!(".{sdk_call}()");
        assert!(
            OPERATIONS.iter().any(|(c, _)| *c == written) || NO_ACTION.contains(&written.as_str()),
            "{method} calls {written}, which tools/devstack/tests/iam_policy.rs does not map to an IAM action"
        );
    }
    for helper in calls(body, "self.") {
        if store.contains_key(&helper) && helper != "client" && helper != "table" {
            out.extend(store_grants(store, indexes, &helper, seen));
        }
    }
    out
}

/// Every function body reached from `roots` through `self.f(` in one file.
fn bodies_reached<'a>(
    file: &'a BTreeMap<String, String>,
    roots: &BTreeSet<String>,
) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.iter().cloned().collect();
    let mut out = Vec::new();
    while let Some(f) = todo.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        let Some(body) = file.get(&f) else { continue };
        out.push(body.as_str());
        for callee in calls(body, "self.") {
            if file.contains_key(&callee) {
                todo.push(callee);
            }
        }
    }
    out
}

/// The S3 grants of the documents methods the service code reached from `roots` calls, on `bucket`.
fn s3_required(roots: &BTreeSet<String>, bucket: Option<&str>) -> BTreeSet<Grant> {
    let service = functions_of(&read_module("shared/src/service"));
    let documents = functions_of(&read("shared/src/documents.rs"));
    let mut out = BTreeSet::new();
    for body in bodies_reached(&service, roots) {
        for method in calls(body, ".") {
            let Some(doc_body) = documents.get(&method) else {
                continue;
            };
            if method == "new" || method == "bucket" {
                continue;
            }
            for (call, action, on_objects) in S3_OPERATIONS {
                if doc_body.contains(call) {
                    let bucket = bucket.unwrap_or_else(|| {
                        panic!("the code calls documents::{method}, but the function has no CLAIMS_BUCKET: !Ref <bucket>")
                    });
                    let resource = if *on_objects {
                        format!("bucket:{bucket}/{DOCUMENTS_PREFIX}")
                    } else {
                        format!("bucket:{bucket}")
                    };
                    out.insert((action.to_string(), resource));
                }
            }
        }
    }
    out
}

/// What the code of the function built from `binary` calls.
fn required(binary: &str) -> BTreeSet<Grant> {
    required_with_bucket(binary, None)
}

fn required_with_bucket(binary: &str, bucket: Option<&str>) -> BTreeSet<Grant> {
    let main = read(&format!("functions/{binary}/src/main.rs"));
    let main_squeezed: String = main.chars().filter(|c| !c.is_whitespace()).collect();
    let service = functions_of(&read_module("shared/src/service"));
    let oauth = functions_of(&read("shared/src/oauth.rs"));
    let store = functions_of(&read_module("shared/src/store"));
    let indexes: BTreeMap<String, String> = read("shared/src/store/keys.rs")
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("pub const BY_")?;
            let (name, value) = rest.split_once(": &str = \"")?;
            Some((
                format!("BY_{name}"),
                value.trim_end_matches("\";").to_string(),
            ))
        })
        .collect();
    assert!(indexes.len() >= 3, "index names not found in keys.rs");

    let mut roots = calls(&main_squeezed, "app.");
    roots.extend(calls(&main_squeezed, "processor."));
    roots.extend(calls(&main_squeezed, "sender."));
    roots.remove("clone");
    let mut methods = store_methods_reached(&service, &roots);
    methods.extend(store_methods_reached(
        &oauth,
        &calls(&main_squeezed, "oauth::"),
    ));
    methods.extend(
        calls(&main_squeezed, "store.")
            .into_iter()
            .filter(|m| m != "clone"),
    );
    // The public certificate function enters through shared::certificate::Certificates.
    if main_squeezed.contains("shared::certificate::Certificates") {
        let certificate = functions_of(&read("shared/src/certificate/mod.rs"));
        methods.extend(store_methods_reached(
            &certificate,
            &calls(&main_squeezed, "certificates."),
        ));
    }

    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for m in methods {
        out.extend(store_grants(&store, &indexes, &m, &mut seen));
    }
    let secret = |id: &str| {
        (
            "secretsmanager:GetSecretValue".to_string(),
            format!("secret:{id}"),
        )
    };
    if main_squeezed.contains("signing_keys()") {
        out.insert(secret("SigningKeysSecret"));
    }
    if main_squeezed.contains("into_app()")
        || main_squeezed.contains("into_claims_app()")
        || main_squeezed.contains("into_webhooks_app()")
        || main_squeezed.contains("link_keys()")
    {
        out.insert(secret("LinkKeySecret"));
    }
    if main_squeezed.contains("webhook_keys()") || main_squeezed.contains("into_webhooks_app()") {
        out.insert(secret("WebhookKeySecret"));
    }
    out.extend(s3_required(&calls(&main_squeezed, "app."), bucket));
    out.extend(webhook_required(binary, &service, &roots));
    out
}

/// Webhooks (issue 14): SQS through `queue.` on the function's WEBHOOK_QUEUE_URL queue, and what
/// the pollers of the function's event source mappings do with its role.
fn webhook_required(
    binary: &str,
    service: &BTreeMap<String, String>,
    roots: &BTreeSet<String>,
) -> BTreeSet<Grant> {
    let doc: Value = serde_yaml::from_str(&read("infra/template.yaml")).unwrap();
    let resources = doc["Resources"].as_mapping().unwrap();
    let (id, function) = resources
        .iter()
        .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("no function with Binary {binary} in the template"));
    let id = id.as_str().unwrap();
    let mut out = BTreeSet::new();
    let queue_methods = reached(service, roots, "queue.");
    if !queue_methods.is_empty() {
        let queue = match &function["Properties"]["Environment"]["Variables"]["WEBHOOK_QUEUE_URL"] {
            Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().unwrap_or("").to_string(),
            other => panic!(
                "{binary} sends to the queue but WEBHOOK_QUEUE_URL is not !Ref <Queue>: {other:?}"
            ),
        };
        let queue_src = functions_of(&read("shared/src/queue.rs"));
        for m in queue_methods {
            let body = queue_src
                .get(&m)
                .unwrap_or_else(|| panic!("queue method {m} not found in shared/src/queue.rs"));
            for sdk_call in calls(body, ".client.") {
                let written = format!(".{sdk_call}()");
                let action = SQS_OPERATIONS
                    .iter()
                    .find(|(c, _)| *c == written)
                    .map(|(_, a)| *a)
                    .unwrap_or_else(|| panic!("Queue::{m} calls {written}, which iam_policy.rs does not map to an IAM action"));
                out.insert((action.to_string(), format!("queue:{queue}")));
            }
        }
    }
    for (_, r) in resources {
        if r["Type"].as_str() != Some("AWS::Lambda::EventSourceMapping") {
            continue;
        }
        let p = &r["Properties"];
        let target = match &p["FunctionName"] {
            Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().unwrap_or(""),
            _ => "",
        };
        if target != id {
            continue;
        }
        let (source, attr) = getatt(&p["EventSourceArn"]).expect("EventSourceArn is !GetAtt");
        if attr == "StreamArn" {
            out.extend(
                STREAM_POLLER
                    .iter()
                    .map(|a| (a.to_string(), "stream".to_string())),
            );
        } else {
            out.extend(
                QUEUE_POLLER
                    .iter()
                    .map(|a| (a.to_string(), format!("queue:{source}"))),
            );
        }
        if let Some((dest, _)) = getatt(&p["DestinationConfig"]["OnFailure"]["Destination"]) {
            out.insert(("sqs:SendMessage".into(), format!("queue:{dest}")));
        }
    }
    out
}

/// `!GetAtt X.Attr` -> (X, Attr).
fn getatt(v: &Value) -> Option<(String, String)> {
    match v {
        Value::Tagged(t) if t.tag == "GetAtt" => t
            .value
            .as_str()?
            .split_once('.')
            .map(|(a, b)| (a.to_string(), b.to_string())),
        _ => None,
    }
}

/// Follows `self.f(` inside one file from `roots`; returns every `<prefix>m(` reached.
fn reached(
    file: &BTreeMap<String, String>,
    roots: &BTreeSet<String>,
    prefix: &str,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for body in bodies_reached(file, roots) {
        out.extend(calls(body, prefix));
    }
    out
}

fn resource_of(function: &str, v: &Value) -> String {
    let bad = || {
        panic!("{function}: resource {v:?} is not the table, one of its indexes, a secret or a bucket of this stack")
    };
    match v {
        Value::Tagged(t) if t.tag == "GetAtt" && t.value.as_str() == Some("Table.Arn") => {
            "table".into()
        }
        Value::Tagged(t) if t.tag == "GetAtt" && t.value.as_str() == Some("Table.StreamArn") => {
            "stream".into()
        }
        Value::Tagged(t)
            if t.tag == "GetAtt" && t.value.as_str().is_some_and(|a| a.ends_with("Queue.Arn")) =>
        {
            format!(
                "queue:{}",
                t.value.as_str().unwrap().trim_end_matches(".Arn")
            )
        }
        Value::Tagged(t)
            if t.tag == "GetAtt" && t.value.as_str().is_some_and(|a| a.ends_with("Bucket.Arn")) =>
        {
            format!(
                "bucket:{}",
                t.value.as_str().unwrap().trim_end_matches(".Arn")
            )
        }
        Value::Tagged(t)
            if t.tag == "Sub"
                && t.value
                    .as_str()
                    .is_some_and(|a| a.starts_with("${") && a.contains("Bucket.Arn}/")) =>
        {
            let text = t.value.as_str().unwrap();
            let (bucket, path) = text[2..].split_once(".Arn}/").unwrap();
            format!("bucket:{bucket}/{path}")
        }
        Value::Tagged(t) if t.tag == "Ref" => match t.value.as_str() {
            Some(id) if id.ends_with("Secret") => format!("secret:{id}"),
            _ => bad(),
        },
        Value::Tagged(t) if t.tag == "Sub" => match t
            .value
            .as_str()
            .and_then(|s| s.strip_prefix("${Table.Arn}/index/"))
        {
            Some(name) if !name.contains('*') && !name.is_empty() => format!("index/{name}"),
            _ => bad(),
        },
        _ => bad(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(seq) => seq.iter().flat_map(strings).collect(),
        other => panic!("expected a string or a list, found {other:?}"),
    }
}

/// The DynamoDB and Secrets Manager grants of a function's `Policies`.
fn granted(function: &str, props: &Value) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    let Some(policies) = props.get("Policies") else {
        return out;
    };
    let policies = policies
        .as_sequence()
        .unwrap_or_else(|| panic!("{function}: Policies must be a list"));
    for policy in policies {
        let statements = policy
            .get("Statement")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{function}: write policies as inline `- Statement:` lists so they can be checked, not {policy:?}"));
        for st in statements {
            assert_eq!(st["Effect"].as_str(), Some("Allow"), "{function}: {st:?}");
            let actions = strings(&st["Action"]);
            let data_actions: Vec<&String> = actions
                .iter()
                .filter(|a| {
                    a.starts_with("dynamodb:")
                        || a.starts_with("secretsmanager:")
                        || a.starts_with("s3:")
                        || a.starts_with("sqs:")
                        || a.contains('*')
                })
                .collect();
            if data_actions.is_empty() {
                continue;
            }
            for a in &data_actions {
                assert!(!a.contains('*'), "{function}: wildcard action {a}");
            }
            let resources: Vec<&Value> = match &st["Resource"] {
                Value::Sequence(seq) => seq.iter().collect(),
                other => vec![other],
            };
            if data_actions.iter().any(|a| *a == "s3:ListBucket") {
                let prefix = st["Condition"]["StringLike"]["s3:prefix"].as_str();
                assert_eq!(
                    prefix,
                    Some(DOCUMENTS_PREFIX),
                    "{function}: s3:ListBucket must be limited to the documents' prefix by a condition"
                );
            }
            for r in resources {
                let r = resource_of(function, r);
                for a in &data_actions {
                    out.insert(((*a).clone(), r.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn every_functions_policy_allows_exactly_the_calls_its_code_makes() {
    let doc: Value = serde_yaml::from_str(&read("infra/template.yaml")).unwrap();
    let resources = doc["Resources"].as_mapping().unwrap();
    let mut checked = 0;
    let mut problems = Vec::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no Metadata.BuildProperties.Binary"));
        let bucket = match &resource["Properties"]["Environment"]["Variables"]["CLAIMS_BUCKET"] {
            Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_string),
            _ => None,
        };
        let need = required_with_bucket(binary, bucket.as_deref());
        let have = granted(id, &resource["Properties"]);
        let missing: Vec<_> = need.difference(&have).collect();
        let extra: Vec<_> = have.difference(&need).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{id} ({binary}) calls but is not allowed: {missing:?}"
            ));
        }
        if !extra.is_empty() {
            problems.push(format!(
                "{id} ({binary}) is allowed but never calls: {extra:?}"
            ));
        }
        eprintln!("{id}: {need:?}");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} functions found");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_scanner_sees_the_calls_it_must() {
    // The control: if the source layout changes so that the scanner finds nothing, the test
    // above would pass vacuously for empty policies. Pin a few facts of today's code.
    let deliveries = required("deliveries");
    assert!(deliveries.contains(&("dynamodb:PutItem".into(), "table".into())));
    assert!(deliveries.contains(&("dynamodb:GetItem".into(), "table".into())));
    let control = required("control-tower");
    assert!(control.contains(&("dynamodb:Query".into(), "index/by-policy".into())));
    let token = required("token");
    assert!(token.contains(&(
        "secretsmanager:GetSecretValue".into(),
        "secret:SigningKeysSecret".into()
    )));
    assert!(required("authorizer")
        .iter()
        .all(|(a, _)| a.starts_with("secretsmanager:")));
    let claims = required_with_bucket("claims", Some("ClaimsBucket"));
    for grant in [
        ("s3:PutObject", "bucket:ClaimsBucket/claims/*"),
        ("s3:ListBucket", "bucket:ClaimsBucket"),
        ("dynamodb:UpdateItem", "table"),
        ("dynamodb:Query", "index/list-status"),
    ] {
        assert!(
            claims.contains(&(grant.0.to_string(), grant.1.to_string())),
            "{grant:?} in {claims:?}"
        );
    }
    assert!(
        !claims.iter().any(|(a, _)| a == "s3:GetObject"),
        "{claims:?}"
    );
    // Webhooks: the queue, the stream poller, the sealing key.
    let events = required("events");
    assert!(events.contains(&("sqs:SendMessage".into(), "queue:WebhookQueue".into())));
    assert!(events.contains(&("sqs:SendMessage".into(), "queue:StreamFailureQueue".into())));
    assert!(events.contains(&("dynamodb:GetRecords".into(), "stream".into())));
    let sender = required("sender");
    assert!(sender.contains(&(
        "sqs:ChangeMessageVisibility".into(),
        "queue:WebhookQueue".into()
    )));
    assert!(sender.contains(&("sqs:ReceiveMessage".into(), "queue:WebhookQueue".into())));
    assert!(sender.contains(&(
        "secretsmanager:GetSecretValue".into(),
        "secret:WebhookKeySecret".into()
    )));
    assert!(required("webhooks").contains(&("dynamodb:DeleteItem".into(), "table".into())));
}
