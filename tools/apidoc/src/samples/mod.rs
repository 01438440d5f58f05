//! Code samples for every operation of the document, in curl, Python, JavaScript, Go, Java, PHP
//! and C#, as `x-codeSamples` (the renderer of the developer portal shows them beside each
//! operation). Generated from each operation's method, path, first request example and
//! security, so a new operation gets its samples without anyone writing them.
//!
//! Every sample is a complete program a partner can run as shown, with the values of the
//! credentials kit in environment variables (`API_BASE_URL`, `TOKEN_URL`, `CLIENT_ID`,
//! `CLIENT_SECRET`, `API_TOKEN_KEY`): it gets an access token (client credentials, HTTP Basic),
//! computes the request signature where the operation's body has a `signature` field, sends the
//! document's example, prints the status and the body, and exits non-zero unless the answer is
//! a success. The browser tests run the curl and Python samples of Submit and Tracking against
//! the local stack; `tests/doc_vs_code.rs` compiles or syntax-checks the others where it can.

use serde_json::{json, Map, Value};

use crate::{deref, first_example, operations};

mod csharp;
mod curl;
mod go;
mod java;
mod javascript;
mod php;
mod python;

use csharp::csharp;
use curl::curl;
use go::go;
use java::java;
use javascript::javascript;
use php::php;
use python::python;

/// (x-codeSamples `lang`, `label`): `lang` is what the renderer highlights with.
pub const LANGUAGES: [(&str, &str); 7] = [
    ("shell", "curl"),
    ("python", "Python"),
    ("javascript", "JavaScript"),
    ("go", "Go"),
    ("java", "Java"),
    ("php", "PHP"),
    ("csharp", "C#"),
];

/// The environment variables every sample reads (the kit's fields, upper-cased).
pub const KIT_ENV: [&str; 5] = [
    "API_BASE_URL",
    "TOKEN_URL",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "API_TOKEN_KEY",
];

const SIGNATURE_RULE: &str =
    "signature = lowercase_hex(MD5(api_token_key + tracking_number + amount))";

/// One operand of the signature: a field of the body, or a value the body does not carry.
#[derive(Debug, Clone)]
enum Operand {
    Field(String),
    /// The value (as text) and where it comes from.
    Given(String, &'static str),
}

#[derive(Debug, Clone)]
struct Signature {
    tracking_number: Operand,
    amount: Operand,
}

#[derive(Debug, Clone)]
enum Auth {
    Bearer,
    Basic,
    None,
}

#[derive(Debug, Clone)]
enum BodyKind {
    Json(Vec<(String, Value)>),
    Form(Vec<(String, String)>),
}

/// What a sample sends, language-independent.
#[derive(Debug, Clone)]
struct Call {
    title: String,
    op_id: String,
    method: String,
    /// The URL expression: the kit variable it starts from and the rest of the path.
    base_var: &'static str,
    /// Appended to `base_var` (may be empty), query string included.
    rest: String,
    auth: Auth,
    body: Option<BodyKind>,
    signature: Option<Signature>,
}

impl Call {
    fn from_operation(doc: &Value, method: &str, path: &str, op: &Value) -> Call {
        let mut rest = path.to_string();
        let mut query = Vec::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            let p = deref(doc, p);
            let example = match p.get("example") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            match p["in"].as_str() {
                Some("path") => {
                    rest = rest.replace(
                        &format!("{{{}}}", p["name"].as_str().unwrap_or("")),
                        &example,
                    );
                }
                Some("query") if p["required"] == true || p["name"] == "limit" => {
                    query.push(format!("{}={}", p["name"].as_str().unwrap_or(""), example));
                }
                _ => {}
            }
        }
        let (base_var, mut rest) = if path == "/oauth/token" {
            ("TOKEN_URL", String::new())
        } else if let Some(r) = rest.strip_prefix("/api/v1") {
            ("API_BASE_URL", r.to_string())
        } else {
            // Outside /api/v1 (the certificate, the portal): the stack's root, which is the
            // kit's api_base_url without its /api/v1.
            ("API_ROOT", rest.clone())
        };
        if !query.is_empty() {
            rest = format!("{rest}?{}", query.join("&"));
        }
        let public = op
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.is_empty() || s.iter().all(|r| r.as_object().is_none_or(Map::is_empty))
            });
        let auth = if path == "/oauth/token" {
            Auth::Basic
        } else if public {
            Auth::None
        } else {
            Auth::Bearer
        };
        let mut body = None;
        let mut signature = None;
        if let Some(content) = op["requestBody"]["content"].as_object() {
            if let Some(media) = content.get("application/json") {
                let example = runnable_example(doc, media).unwrap_or(json!({}));
                let schema = deref(doc, &media["schema"]);
                let fields = ordered_fields(&example, &schema["required"]);
                let has = |k: &str| fields.iter().any(|(n, _)| n == k);
                if schema["properties"].get("signature").is_some() || has("signature") {
                    let tracking_number = if has("tracking_number") {
                        Operand::Field("tracking_number".into())
                    } else {
                        Operand::Given("TN001".into(), "the tracking number of the claim")
                    };
                    let amount = if has("premium_amount") {
                        Operand::Field("premium_amount".into())
                    } else if has("claimed_amount") {
                        Operand::Field("claimed_amount".into())
                    } else if path.contains("/claims") {
                        Operand::Given("15000".into(), "the claimed_amount of the claim")
                    } else {
                        Operand::Given(
                            "15000".into(),
                            "the premium_amount of the delivery's policy (GET /sme-deliveries/{tracking_number})",
                        )
                    };
                    signature = Some(Signature {
                        tracking_number,
                        amount,
                    });
                }
                let fields = fields
                    .into_iter()
                    .filter(|(k, _)| k != "signature")
                    .collect();
                body = Some(BodyKind::Json(fields));
            } else if let Some(media) = content.get("application/x-www-form-urlencoded") {
                let example = first_example(doc, media).cloned().unwrap_or(json!({}));
                let fields = example
                    .as_object()
                    .into_iter()
                    .flatten()
                    // Credentials go in the Basic header, never in the body (one method per request).
                    .filter(|(k, _)| !k.starts_with("client_"))
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect::<Vec<_>>();
                let grant_first: Vec<(String, String)> = if fields.is_empty() {
                    vec![("grant_type".into(), "client_credentials".into())]
                } else {
                    fields
                };
                body = Some(BodyKind::Form(grant_first));
            }
        }
        Call {
            title: op["summary"].as_str().unwrap_or(path).to_string(),
            op_id: op["operationId"].as_str().unwrap_or("call").to_string(),
            method: method.to_string(),
            base_var,
            rest,
            auth,
            body,
            signature,
        }
    }

    fn json_fields(&self) -> Option<&[(String, Value)]> {
        match &self.body {
            Some(BodyKind::Json(f)) => Some(f),
            _ => None,
        }
    }

    /// The operand's value as text in the example (for the languages that use literals).
    fn literal(&self, o: &Operand) -> String {
        match o {
            Operand::Given(v, _) => v.clone(),
            Operand::Field(name) => self
                .json_fields()
                .and_then(|f| f.iter().find(|(k, _)| k == name))
                .map(|(_, v)| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default(),
        }
    }

    fn amount_name(&self) -> &str {
        match self.signature.as_ref().map(|s| &s.amount) {
            Some(Operand::Field(n)) => n,
            _ => "amount",
        }
    }

    fn header_comment(&self, prefix: &str, runtime: &str) -> String {
        let mut out = format!(
            "{prefix} {}: {} {}\n",
            self.title,
            self.method,
            self.path_for_comment()
        );
        out.push_str(&format!(
            "{prefix} {runtime}. The kit's values in the environment: {}.\n",
            KIT_ENV.join(", ")
        ));
        out
    }

    fn path_for_comment(&self) -> String {
        match self.base_var {
            "TOKEN_URL" => "$TOKEN_URL".into(),
            v => format!("${v}{}", self.rest),
        }
    }

    fn signature_comment(&self) -> String {
        let sig = self
            .signature
            .as_ref()
            .expect("only called with a signature");
        let mut s = SIGNATURE_RULE.replace("amount", self.amount_name());
        for o in [&sig.tracking_number, &sig.amount] {
            if let Operand::Given(v, why) = o {
                s.push_str(&format!("; {v} is {why}"));
            }
        }
        s
    }
}

/// Fields whose value only an earlier answer can give (a quote's id): a sample sending a fixed
/// one could not run as shown.
const FROM_AN_EARLIER_ANSWER: [&str; 1] = ["quote_id"];

/// The first request example (by name) that runs as shown: without a field of
/// `FROM_AN_EARLIER_ANSWER`; else the first example.
fn runnable_example(doc: &Value, media: &Value) -> Option<Value> {
    let runnable = |v: &Value| !FROM_AN_EARLIER_ANSWER.iter().any(|f| v.get(f).is_some());
    media
        .get("examples")
        .and_then(Value::as_object)
        .and_then(|examples| {
            examples
                .values()
                .filter_map(|e| deref(doc, e).get("value"))
                .find(|v| runnable(v))
                .cloned()
        })
        .or_else(|| first_example(doc, media).cloned())
}

/// The example's top-level fields, required ones first in the schema's order, then by name.
fn ordered_fields(example: &Value, required: &Value) -> Vec<(String, Value)> {
    let Some(o) = example.as_object() else {
        return Vec::new();
    };
    let mut keys: Vec<String> = required
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|k| o.contains_key(*k))
        .map(str::to_string)
        .collect();
    for k in o.keys() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys.into_iter()
        .map(|k| (k.clone(), o[&k].clone()))
        .collect()
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn indent(text: &str, pad: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON value as a literal of a language, pretty-printed. `obj` opens/closes an object with its
/// entries, `arr` an array, `key` writes an entry's key, `scalar` writes null/bool/number/string.
struct Literal {
    pad: &'static str,
    obj: (&'static str, &'static str),
    arr: (&'static str, &'static str),
    key: fn(&str) -> String,
    scalar: fn(&Value) -> String,
}

impl Literal {
    fn fields(&self, fields: &[(String, Value)]) -> String {
        let inner: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}{}", (self.key)(k), self.value(v)))
            .collect();
        format!(
            "{}\n{},\n{}",
            self.obj.0,
            indent(&inner.join(",\n"), self.pad),
            self.obj.1
        )
    }

    fn value(&self, v: &Value) -> String {
        match v {
            Value::Object(o) => {
                let f: Vec<(String, Value)> =
                    o.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                if f.is_empty() {
                    format!("{}{}", self.obj.0, self.obj.1)
                } else {
                    self.fields(&f)
                }
            }
            Value::Array(a) => {
                let inner: Vec<String> = a.iter().map(|v| self.value(v)).collect();
                format!(
                    "{}\n{},\n{}",
                    self.arr.0,
                    indent(&inner.join(",\n"), self.pad),
                    self.arr.1
                )
            }
            other => (self.scalar)(other),
        }
    }
}

/// The pretty JSON of `fields` in the given order, without the trailing commas `Literal` writes
/// (JSON allows none).
fn strict_json(fields: &[(String, Value)]) -> String {
    let entries: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}: {}",
                json_str(k),
                serde_json::to_string_pretty(v)
                    .expect("JSON")
                    .replace('\n', "\n  ")
            )
        })
        .collect();
    format!("{{\n  {}\n}}", entries.join(",\n  "))
}

/// The samples of one operation, as `x-codeSamples` entries (`lang`, `label`, `source`).
pub fn code_samples(doc: &Value, method: &str, path: &str, op: &Value) -> Vec<Value> {
    let call = Call::from_operation(doc, method, path, op);
    let sources = [
        curl(&call),
        python(&call),
        javascript(&call),
        go(&call),
        java(&call),
        php(&call),
        csharp(&call),
    ];
    LANGUAGES
        .iter()
        .zip(sources)
        .map(|((lang, label), source)| json!({"lang": lang, "label": label, "source": source}))
        .collect()
}

/// The document with `x-codeSamples` on every operation (what the portal renders).
pub fn with_code_samples(doc: &Value) -> Value {
    let mut out = doc.clone();
    for (method, path, op) in operations(doc) {
        let samples = code_samples(doc, &method, &path, op);
        out["paths"][&path][method.to_ascii_lowercase()]["x-codeSamples"] = json!(samples);
    }
    out
}
