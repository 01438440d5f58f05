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

const PYTHON: Literal = Literal {
    pad: "    ",
    obj: ("{", "}"),
    arr: ("[", "]"),
    key: |k| format!("{}: ", json_str(k)),
    scalar: |v| match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    },
};

const JAVASCRIPT: Literal = Literal {
    pad: "  ",
    obj: ("{", "}"),
    arr: ("[", "]"),
    key: |k| format!("{k}: "),
    scalar: |v| v.to_string(),
};

const GO: Literal = Literal {
    pad: "\t",
    obj: ("map[string]any{", "}"),
    arr: ("[]any{", "}"),
    key: |k| format!("{}: ", json_str(k)),
    scalar: |v| match v {
        Value::Null => "nil".into(),
        other => other.to_string(),
    },
};

const PHP: Literal = Literal {
    pad: "    ",
    obj: ("[", "]"),
    arr: ("[", "]"),
    key: |k| format!("{} => ", php_str(k)),
    scalar: |v| match v {
        Value::Null => "null".into(),
        Value::String(s) => php_str(s),
        other => other.to_string(),
    },
};

const CSHARP: Literal = Literal {
    pad: "    ",
    obj: ("new JsonObject\n{", "}"),
    arr: ("new JsonArray\n{", "}"),
    key: |k| format!("[{}] = ", json_str(k)),
    scalar: |v| match v {
        Value::Null => "null".into(),
        other => other.to_string(),
    },
};

fn php_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn shell_single_quoted(s: &str) -> String {
    s.replace('\'', r"'\''")
}

// ---- curl -----------------------------------------------------------------------------------

fn curl(c: &Call) -> String {
    let mut out = c.header_comment("#", "Needs curl, jq and md5sum (macOS: `md5 -q -s`)");
    let url = match c.base_var {
        "API_ROOT" => format!("${{API_BASE_URL%/api/v1}}{}", c.rest),
        v => format!("${v}{}", c.rest),
    };
    let mut args = vec![format!(
        "curl -sS --fail-with-body -X {} \"{url}\"",
        c.method
    )];
    match c.auth {
        Auth::Basic => args.push(r#"-u "$CLIENT_ID:$CLIENT_SECRET""#.into()),
        Auth::Bearer => {
            out.push_str(
                "TOKEN=$(curl -sS --fail-with-body -u \"$CLIENT_ID:$CLIENT_SECRET\" \\\n  -d grant_type=client_credentials \"$TOKEN_URL\" | jq -r .access_token)\n",
            );
            args.push(r#"-H "Authorization: Bearer $TOKEN""#.into());
        }
        Auth::None => {}
    }
    if let Some(sig) = &c.signature {
        out.push_str(&format!("# {}\n", c.signature_comment()));
        out.push_str(&format!(
            "SIGNATURE=$(printf '%s' \"$API_TOKEN_KEY\"'{}{}' | md5sum | cut -d' ' -f1)\n",
            shell_single_quoted(&c.literal(&sig.tracking_number)),
            shell_single_quoted(&c.literal(&sig.amount)),
        ));
    }
    match &c.body {
        Some(BodyKind::Form(fields)) => {
            for (k, v) in fields {
                args.push(format!(
                    "--data-urlencode '{}={}'",
                    shell_single_quoted(k),
                    shell_single_quoted(v)
                ));
            }
        }
        Some(BodyKind::Json(fields)) => {
            args.push("-H 'Content-Type: application/json'".into());
            let mut fields = fields.clone();
            if c.signature.is_some() {
                fields.push(("signature".into(), json!("@@SIGNATURE@@")));
            }
            let text = strict_json(&fields);
            let text =
                shell_single_quoted(&text).replace("\"@@SIGNATURE@@\"", "\"'\"$SIGNATURE\"'\"");
            args.push(format!("-d '{text}'"));
        }
        None => {}
    }
    out.push_str(&args.join(" \\\n  "));
    out.push('\n');
    out
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

// ---- Python ---------------------------------------------------------------------------------

fn python(c: &Call) -> String {
    let mut out = c.header_comment("#", "Python 3.9 or newer, standard library only");
    let mut imports = vec!["json", "os", "urllib.error", "urllib.request"];
    if matches!(c.auth, Auth::Basic | Auth::Bearer) {
        imports.push("base64");
    }
    if c.signature.is_some() {
        imports.push("hashlib");
    }
    if matches!(c.body, Some(BodyKind::Form(_))) {
        imports.push("urllib.parse");
    }
    imports.sort_unstable();
    out.push_str(&format!("import {}\n\n", imports.join(", ")));
    out.push_str("API_BASE_URL = os.environ[\"API_BASE_URL\"]\n");
    let basic = "\"Basic \" + base64.b64encode(\n        (os.environ[\"CLIENT_ID\"] + \":\" + os.environ[\"CLIENT_SECRET\"]).encode()\n    ).decode()";
    if matches!(c.auth, Auth::Bearer) {
        out.push_str(&format!(
            "\n\ndef access_token():\n    auth = {basic}\n    req = urllib.request.Request(\n        os.environ[\"TOKEN_URL\"],\n        data=b\"grant_type=client_credentials\",\n        headers={{\"Authorization\": auth, \"Content-Type\": \"application/x-www-form-urlencoded\"}},\n    )\n    with urllib.request.urlopen(req) as resp:\n        return json.load(resp)[\"access_token\"]\n\n\n"
        ));
    } else {
        out.push('\n');
    }
    let mut headers = Vec::new();
    let mut data = "None".to_string();
    match &c.body {
        Some(BodyKind::Json(fields)) => {
            out.push_str(&format!("body = {}\n", PYTHON.fields(fields)));
            if let Some(sig) = &c.signature {
                let op = |o: &Operand| match o {
                    Operand::Field(n) => format!("str(body[{}])", json_str(n)),
                    Operand::Given(v, _) => json_str(v),
                };
                out.push_str(&format!(
                    "# {}\nbody[\"signature\"] = hashlib.md5(\n    (os.environ[\"API_TOKEN_KEY\"] + {} + {}).encode()\n).hexdigest()\n",
                    c.signature_comment(),
                    op(&sig.tracking_number),
                    op(&sig.amount)
                ));
            }
            data = "json.dumps(body).encode()".into();
            headers.push("\"Content-Type\": \"application/json\"".to_string());
        }
        Some(BodyKind::Form(fields)) => {
            let pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", json_str(k), json_str(v)))
                .collect();
            data = format!("urllib.parse.urlencode({{{}}}).encode()", pairs.join(", "));
            headers.push("\"Content-Type\": \"application/x-www-form-urlencoded\"".to_string());
        }
        None => {}
    }
    match c.auth {
        Auth::Bearer => headers.insert(0, "\"Authorization\": \"Bearer \" + access_token()".into()),
        Auth::Basic => headers.insert(
            0,
            format!(
                "\"Authorization\": {}",
                basic.replace("\n    ", "\n        ")
            ),
        ),
        Auth::None => {}
    }
    let url = match c.base_var {
        "TOKEN_URL" => "os.environ[\"TOKEN_URL\"]".to_string(),
        "API_ROOT" => format!(
            "API_BASE_URL.removesuffix(\"/api/v1\") + {}",
            json_str(&c.rest)
        ),
        _ => format!("API_BASE_URL + {}", json_str(&c.rest)),
    };
    out.push_str(&format!(
        "req = urllib.request.Request(\n    {url},\n    method={},\n    data={data},\n    headers={{{}}},\n)\n",
        json_str(&c.method),
        headers.join(", ")
    ));
    out.push_str(
        "try:\n    with urllib.request.urlopen(req) as resp:\n        print(resp.status, resp.read().decode(errors=\"replace\"))\nexcept urllib.error.HTTPError as e:\n    print(e.code, e.read().decode(errors=\"replace\"))\n    raise SystemExit(1)\n",
    );
    out
}

// ---- JavaScript (Node.js) -------------------------------------------------------------------

fn javascript(c: &Call) -> String {
    let mut out = c.header_comment(
        "//",
        "Node.js 18 or newer (built-in fetch), no package needed",
    );
    if c.signature.is_some() {
        out.push_str("const crypto = require(\"node:crypto\");\n");
    }
    out.push_str("const { API_BASE_URL, TOKEN_URL, CLIENT_ID, CLIENT_SECRET, API_TOKEN_KEY } = process.env;\n");
    let basic = "\"Basic \" + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString(\"base64\")";
    if matches!(c.auth, Auth::Bearer) {
        out.push_str(&format!(
            "\nasync function accessToken() {{\n  const res = await fetch(TOKEN_URL, {{\n    method: \"POST\",\n    headers: {{\n      Authorization: {basic},\n      \"Content-Type\": \"application/x-www-form-urlencoded\",\n    }},\n    body: \"grant_type=client_credentials\",\n  }});\n  if (!res.ok) throw new Error(`token: ${{res.status}} ${{await res.text()}}`);\n  return (await res.json()).access_token;\n}}\n"
        ));
    }
    out.push_str("\nasync function main() {\n");
    let mut body_expr = None;
    let mut headers = Vec::new();
    match &c.body {
        Some(BodyKind::Json(fields)) => {
            out.push_str(&format!(
                "  const body = {};\n",
                indent(&JAVASCRIPT.fields(fields), "  ").trim_start()
            ));
            if let Some(sig) = &c.signature {
                let op = |o: &Operand| match o {
                    Operand::Field(n) => format!("String(body.{n})"),
                    Operand::Given(v, _) => json_str(v),
                };
                out.push_str(&format!(
                    "  // {}\n  body.signature = crypto\n    .createHash(\"md5\")\n    .update(API_TOKEN_KEY + {} + {})\n    .digest(\"hex\");\n",
                    c.signature_comment(),
                    op(&sig.tracking_number),
                    op(&sig.amount)
                ));
            }
            body_expr = Some("JSON.stringify(body)".to_string());
            headers.push("\"Content-Type\": \"application/json\"".to_string());
        }
        Some(BodyKind::Form(fields)) => {
            let pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", json_str(v)))
                .collect();
            body_expr = Some(format!("new URLSearchParams({{ {} }})", pairs.join(", ")));
            headers.push("\"Content-Type\": \"application/x-www-form-urlencoded\"".to_string());
        }
        None => {}
    }
    match c.auth {
        Auth::Bearer => headers.insert(
            0,
            "Authorization: \"Bearer \" + (await accessToken())".into(),
        ),
        Auth::Basic => headers.insert(0, format!("Authorization: {basic}")),
        Auth::None => {}
    }
    let url = match c.base_var {
        "TOKEN_URL" => "TOKEN_URL".to_string(),
        "API_ROOT" => format!(
            "API_BASE_URL.replace(/\\/api\\/v1$/, \"\") + {}",
            json_str(&c.rest)
        ),
        _ => format!("API_BASE_URL + {}", json_str(&c.rest)),
    };
    out.push_str(&format!(
        "  const res = await fetch({url}, {{\n    method: {},\n",
        json_str(&c.method)
    ));
    if !headers.is_empty() {
        out.push_str(&format!(
            "    headers: {{\n      {},\n    }},\n",
            headers.join(",\n      ")
        ));
    }
    if let Some(b) = body_expr {
        out.push_str(&format!("    body: {b},\n"));
    }
    out.push_str("  });\n  console.log(res.status, await res.text());\n  if (!res.ok) process.exit(1);\n}\n\nmain().catch((e) => {\n  console.error(e);\n  process.exit(1);\n});\n");
    out
}

// ---- Go -------------------------------------------------------------------------------------

fn go(c: &Call) -> String {
    let mut out = c.header_comment(
        "//",
        "Go 1.18 or newer, standard library only (go run main.go)",
    );
    let mut imports = vec!["fmt", "io", "net/http", "os"];
    let bearer = matches!(c.auth, Auth::Bearer);
    if bearer {
        imports.extend(["encoding/json", "strings"]);
    }
    match &c.body {
        Some(BodyKind::Json(_)) => imports.extend(["bytes", "encoding/json"]),
        Some(BodyKind::Form(_)) => imports.extend(["net/url", "strings"]),
        None => {}
    }
    if c.signature.is_some() {
        imports.extend(["crypto/md5", "encoding/hex"]);
    }
    imports.sort_unstable();
    imports.dedup();
    out.push_str("package main\n\nimport (\n");
    for i in &imports {
        out.push_str(&format!("\t\"{i}\"\n"));
    }
    out.push_str(")\n");
    if bearer {
        out.push_str("\nfunc accessToken() string {\n\treq, err := http.NewRequest(\"POST\", os.Getenv(\"TOKEN_URL\"), strings.NewReader(\"grant_type=client_credentials\"))\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\treq.SetBasicAuth(os.Getenv(\"CLIENT_ID\"), os.Getenv(\"CLIENT_SECRET\"))\n\treq.Header.Set(\"Content-Type\", \"application/x-www-form-urlencoded\")\n\tres, err := http.DefaultClient.Do(req)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\tdefer res.Body.Close()\n\tvar token struct {\n\t\tAccessToken string `json:\"access_token\"`\n\t}\n\tif err := json.NewDecoder(res.Body).Decode(&token); err != nil {\n\t\tpanic(err)\n\t}\n\treturn token.AccessToken\n}\n");
    }
    out.push_str("\nfunc main() {\n");
    let mut reader = "nil".to_string();
    let mut content_type = None;
    match &c.body {
        Some(BodyKind::Json(fields)) => {
            out.push_str(&format!(
                "\tbody := {}\n",
                indent(&GO.fields(fields), "\t").trim_start()
            ));
            if let Some(sig) = &c.signature {
                let op = |o: &Operand| match o {
                    Operand::Field(n) => format!("fmt.Sprint(body[{}])", json_str(n)),
                    Operand::Given(v, _) => json_str(v),
                };
                out.push_str(&format!(
                    "\t// {}\n\tsum := md5.Sum([]byte(os.Getenv(\"API_TOKEN_KEY\") + {} + {}))\n\tbody[\"signature\"] = hex.EncodeToString(sum[:])\n",
                    c.signature_comment(),
                    op(&sig.tracking_number),
                    op(&sig.amount)
                ));
            }
            out.push_str(
                "\tpayload, err := json.Marshal(body)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n",
            );
            reader = "bytes.NewReader(payload)".into();
            content_type = Some("application/json");
        }
        Some(BodyKind::Form(fields)) => {
            let pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {{{}}}", json_str(k), json_str(v)))
                .collect();
            out.push_str(&format!("\tform := url.Values{{{}}}\n", pairs.join(", ")));
            reader = "strings.NewReader(form.Encode())".into();
            content_type = Some("application/x-www-form-urlencoded");
        }
        None => {}
    }
    let url = match c.base_var {
        "TOKEN_URL" => "os.Getenv(\"TOKEN_URL\")".to_string(),
        "API_ROOT" => {
            // strings is imported only with a bearer token or a form; build the root without it.
            format!(
                "apiRoot(os.Getenv(\"API_BASE_URL\")) + {}",
                json_str(&c.rest)
            )
        }
        _ => format!("os.Getenv(\"API_BASE_URL\") + {}", json_str(&c.rest)),
    };
    out.push_str(&format!(
        "\treq, err := http.NewRequest({}, {url}, {reader})\n\tif err != nil {{\n\t\tpanic(err)\n\t}}\n",
        json_str(&c.method)
    ));
    match c.auth {
        Auth::Bearer => {
            out.push_str("\treq.Header.Set(\"Authorization\", \"Bearer \"+accessToken())\n")
        }
        Auth::Basic => out.push_str(
            "\treq.SetBasicAuth(os.Getenv(\"CLIENT_ID\"), os.Getenv(\"CLIENT_SECRET\"))\n",
        ),
        Auth::None => {}
    }
    if let Some(ct) = content_type {
        out.push_str(&format!("\treq.Header.Set(\"Content-Type\", \"{ct}\")\n"));
    }
    out.push_str("\tres, err := http.DefaultClient.Do(req)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\tdefer res.Body.Close()\n\tanswer, _ := io.ReadAll(res.Body)\n\tfmt.Println(res.StatusCode, string(answer))\n\tif res.StatusCode >= 300 {\n\t\tos.Exit(1)\n\t}\n}\n");
    if c.base_var == "API_ROOT" {
        out.push_str("\n// apiRoot is the kit's api_base_url without its /api/v1.\nfunc apiRoot(base string) string {\n\tif len(base) >= 7 && base[len(base)-7:] == \"/api/v1\" {\n\t\treturn base[:len(base)-7]\n\t}\n\treturn base\n}\n");
    }
    out
}

// ---- Java -----------------------------------------------------------------------------------

fn pascal(op_id: &str) -> String {
    let mut s = String::new();
    let mut up = true;
    for ch in op_id.chars() {
        if ch.is_ascii_alphanumeric() {
            if up {
                s.extend(ch.to_uppercase());
                up = false;
            } else {
                s.push(ch);
            }
        } else {
            up = true;
        }
    }
    s
}

fn java(c: &Call) -> String {
    let class = pascal(&c.op_id);
    let mut out = c.header_comment(
        "//",
        &format!("Java 17 or newer, no library needed (java {class}.java)"),
    );
    let mut imports = vec![
        "java.net.URI",
        "java.net.http.HttpClient",
        "java.net.http.HttpRequest",
        "java.net.http.HttpResponse",
    ];
    if !matches!(c.auth, Auth::None) {
        imports.extend(["java.nio.charset.StandardCharsets", "java.util.Base64"]);
    }
    if c.signature.is_some() {
        imports.extend([
            "java.nio.charset.StandardCharsets",
            "java.security.MessageDigest",
            "java.util.HexFormat",
        ]);
    }
    if matches!(c.body, Some(BodyKind::Form(_))) {
        imports.extend(["java.net.URLEncoder", "java.nio.charset.StandardCharsets"]);
    }
    imports.sort_unstable();
    imports.dedup();
    for i in &imports {
        out.push_str(&format!("import {i};\n"));
    }
    out.push_str(&format!("\npublic class {class} {{\n    static final HttpClient HTTP = HttpClient.newHttpClient();\n"));
    let basic = "\"Basic \" + Base64.getEncoder().encodeToString(\n            (System.getenv(\"CLIENT_ID\") + \":\" + System.getenv(\"CLIENT_SECRET\")).getBytes(StandardCharsets.UTF_8))";
    if matches!(c.auth, Auth::Bearer) {
        out.push_str(&format!(
            "\n    static String accessToken() throws Exception {{\n        HttpRequest req = HttpRequest.newBuilder(URI.create(System.getenv(\"TOKEN_URL\")))\n            .header(\"Authorization\", {basic})\n            .header(\"Content-Type\", \"application/x-www-form-urlencoded\")\n            .POST(HttpRequest.BodyPublishers.ofString(\"grant_type=client_credentials\"))\n            .build();\n        String json = HTTP.send(req, HttpResponse.BodyHandlers.ofString()).body();\n        // With a JSON library (Jackson, Gson): parse it and read access_token.\n        return json.replaceAll(\"(?s).*\\\"access_token\\\"\\\\s*:\\\\s*\\\"([^\\\"]+)\\\".*\", \"$1\");\n    }}\n",
            basic = basic.replace("\n            ", "\n                ")
        ));
    }
    out.push_str("\n    public static void main(String[] args) throws Exception {\n");
    let mut publisher = "HttpRequest.BodyPublishers.noBody()".to_string();
    let mut content_type = None;
    match &c.body {
        Some(BodyKind::Json(fields)) => {
            let mut fields = fields.clone();
            if let Some(sig) = &c.signature {
                out.push_str(&format!(
                    "        // {}\n        String signature = HexFormat.of().formatHex(MessageDigest.getInstance(\"MD5\").digest(\n            (System.getenv(\"API_TOKEN_KEY\") + {} + {}).getBytes(StandardCharsets.UTF_8)));\n",
                    c.signature_comment(),
                    json_str(&c.literal(&sig.tracking_number)),
                    json_str(&c.literal(&sig.amount))
                ));
                fields.push(("signature".into(), json!("@@SIGNATURE@@")));
            }
            let text = strict_json(&fields)
                .replace('\\', "\\\\")
                .replace('%', "%%");
            let text = text.replace("\"@@SIGNATURE@@\"", "\"%s\"");
            let formatted = if c.signature.is_some() {
                ".formatted(signature)"
            } else {
                ".formatted()"
            };
            out.push_str(&format!(
                "        String body = \"\"\"\n{}\"\"\"{formatted};\n",
                indent(&text, "            ") + "\n            "
            ));
            publisher = "HttpRequest.BodyPublishers.ofString(body)".into();
            content_type = Some("application/json");
        }
        Some(BodyKind::Form(fields)) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| {
                    format!(
                        "\"{k}=\" + URLEncoder.encode({}, StandardCharsets.UTF_8)",
                        json_str(v)
                    )
                })
                .collect();
            out.push_str(&format!(
                "        String form = {};\n",
                parts.join(" + \"&\" + ")
            ));
            publisher = "HttpRequest.BodyPublishers.ofString(form)".into();
            content_type = Some("application/x-www-form-urlencoded");
        }
        None => {}
    }
    let url = match c.base_var {
        "TOKEN_URL" => "System.getenv(\"TOKEN_URL\")".to_string(),
        "API_ROOT" => format!(
            "System.getenv(\"API_BASE_URL\").replaceFirst(\"/api/v1$\", \"\") + {}",
            json_str(&c.rest)
        ),
        _ => format!("System.getenv(\"API_BASE_URL\") + {}", json_str(&c.rest)),
    };
    out.push_str(&format!("        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create({url}))\n            .method({}, {publisher});\n", json_str(&c.method)));
    match c.auth {
        Auth::Bearer => {
            out.push_str("        req.header(\"Authorization\", \"Bearer \" + accessToken());\n")
        }
        Auth::Basic => out.push_str(&format!(
            "        req.header(\"Authorization\", {});\n",
            basic.replace("\n            ", "\n                ")
        )),
        Auth::None => {}
    }
    if let Some(ct) = content_type {
        out.push_str(&format!(
            "        req.header(\"Content-Type\", \"{ct}\");\n"
        ));
    }
    out.push_str("        HttpResponse<String> res = HTTP.send(req.build(), HttpResponse.BodyHandlers.ofString());\n        System.out.println(res.statusCode() + \" \" + res.body());\n        if (res.statusCode() >= 300) System.exit(1);\n    }\n}\n");
    out
}

// ---- PHP ------------------------------------------------------------------------------------

fn php(c: &Call) -> String {
    let mut out = String::from("<?php\n");
    out.push_str(&c.header_comment("//", "PHP 8 with the curl extension"));
    let userpwd = "getenv('CLIENT_ID') . ':' . getenv('CLIENT_SECRET')";
    if matches!(c.auth, Auth::Bearer) {
        out.push_str(&format!(
            "\nfunction accessToken(): string\n{{\n    $ch = curl_init(getenv('TOKEN_URL'));\n    curl_setopt_array($ch, [\n        CURLOPT_POST => true,\n        CURLOPT_USERPWD => {userpwd},\n        CURLOPT_POSTFIELDS => 'grant_type=client_credentials',\n        CURLOPT_RETURNTRANSFER => true,\n    ]);\n    return json_decode(curl_exec($ch), true)['access_token'];\n}}\n"
        ));
    }
    out.push('\n');
    let mut opts = vec![
        format!("CURLOPT_CUSTOMREQUEST => {}", php_str(&c.method)),
        "CURLOPT_RETURNTRANSFER => true".to_string(),
    ];
    let mut headers = Vec::new();
    match &c.body {
        Some(BodyKind::Json(fields)) => {
            out.push_str(&format!("$body = {};\n", PHP.fields(fields)));
            if let Some(sig) = &c.signature {
                let op = |o: &Operand| match o {
                    Operand::Field(n) => format!("$body[{}]", php_str(n)),
                    Operand::Given(v, _) => php_str(v),
                };
                out.push_str(&format!(
                    "// {}\n$body['signature'] = md5(getenv('API_TOKEN_KEY') . {} . {});\n",
                    c.signature_comment(),
                    op(&sig.tracking_number),
                    op(&sig.amount)
                ));
            }
            opts.push("CURLOPT_POSTFIELDS => json_encode($body)".into());
            headers.push("'Content-Type: application/json'".to_string());
        }
        Some(BodyKind::Form(fields)) => {
            let pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{} => {}", php_str(k), php_str(v)))
                .collect();
            opts.push(format!(
                "CURLOPT_POSTFIELDS => http_build_query([{}])",
                pairs.join(", ")
            ));
        }
        None => {}
    }
    match c.auth {
        Auth::Bearer => headers.insert(0, "'Authorization: Bearer ' . accessToken()".into()),
        Auth::Basic => opts.push(format!("CURLOPT_USERPWD => {userpwd}")),
        Auth::None => {}
    }
    if !headers.is_empty() {
        opts.push(format!("CURLOPT_HTTPHEADER => [{}]", headers.join(", ")));
    }
    let url = match c.base_var {
        "TOKEN_URL" => "getenv('TOKEN_URL')".to_string(),
        "API_ROOT" => format!(
            "preg_replace('#/api/v1$#', '', getenv('API_BASE_URL')) . {}",
            php_str(&c.rest)
        ),
        _ => format!("getenv('API_BASE_URL') . {}", php_str(&c.rest)),
    };
    out.push_str(&format!(
        "$ch = curl_init({url});\ncurl_setopt_array($ch, [\n    {},\n]);\n$response = curl_exec($ch);\n$status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);\necho $status, ' ', $response, PHP_EOL;\nexit($status >= 200 && $status < 300 ? 0 : 1);\n",
        opts.join(",\n    ")
    ));
    out
}

// ---- C# -------------------------------------------------------------------------------------

fn csharp(c: &Call) -> String {
    let mut out = c.header_comment(
        "//",
        ".NET 6 or newer, no package needed (a console project's Program.cs)",
    );
    let mut usings = vec!["System", "System.Net.Http", "System.Threading.Tasks"];
    if !matches!(c.auth, Auth::None) {
        usings.extend(["System.Net.Http.Headers", "System.Text"]);
    }
    if matches!(c.auth, Auth::Bearer) {
        usings.extend(["System.Collections.Generic", "System.Text.Json"]);
    }
    if matches!(c.body, Some(BodyKind::Form(_))) {
        usings.push("System.Collections.Generic");
    }
    if matches!(c.body, Some(BodyKind::Json(_))) {
        usings.extend(["System.Text", "System.Text.Json.Nodes"]);
    }
    if c.signature.is_some() {
        usings.push("System.Security.Cryptography");
    }
    usings.sort_unstable();
    usings.dedup();
    for u in &usings {
        out.push_str(&format!("using {u};\n"));
    }
    out.push_str("\nvar http = new HttpClient();\nstring Env(string name) => Environment.GetEnvironmentVariable(name) ?? throw new Exception($\"set {name} from your kit\");\n");
    let basic = "new AuthenticationHeaderValue(\"Basic\",\n    Convert.ToBase64String(Encoding.UTF8.GetBytes(Env(\"CLIENT_ID\") + \":\" + Env(\"CLIENT_SECRET\"))))";
    if matches!(c.auth, Auth::Bearer) {
        out.push_str(&format!(
            "\nasync Task<string> AccessToken()\n{{\n    var req = new HttpRequestMessage(HttpMethod.Post, Env(\"TOKEN_URL\"));\n    req.Headers.Authorization = {};\n    req.Content = new FormUrlEncodedContent(new Dictionary<string, string> {{ [\"grant_type\"] = \"client_credentials\" }});\n    var res = await http.SendAsync(req);\n    res.EnsureSuccessStatusCode();\n    using var token = JsonDocument.Parse(await res.Content.ReadAsStringAsync());\n    return token.RootElement.GetProperty(\"access_token\").GetString()!;\n}}\n",
            basic.replace("\n    ", "\n        ")
        ));
    }
    out.push('\n');
    let url = match c.base_var {
        "TOKEN_URL" => "Env(\"TOKEN_URL\")".to_string(),
        "API_ROOT" => format!(
            "Env(\"API_BASE_URL\").Replace(\"/api/v1\", \"\") + {}",
            json_str(&c.rest)
        ),
        _ => format!("Env(\"API_BASE_URL\") + {}", json_str(&c.rest)),
    };
    let method = match c.method.as_str() {
        "GET" => "HttpMethod.Get".to_string(),
        "POST" => "HttpMethod.Post".to_string(),
        "PUT" => "HttpMethod.Put".to_string(),
        "DELETE" => "HttpMethod.Delete".to_string(),
        "PATCH" => "HttpMethod.Patch".to_string(),
        other => format!("new HttpMethod({})", json_str(other)),
    };
    match &c.body {
        Some(BodyKind::Json(fields)) => {
            out.push_str(&format!("var body = {};\n", CSHARP.fields(fields)));
            if let Some(sig) = &c.signature {
                out.push_str(&format!(
                    "// {}\nbody[\"signature\"] = Convert.ToHexString(MD5.HashData(Encoding.UTF8.GetBytes(\n    Env(\"API_TOKEN_KEY\") + {} + {}))).ToLowerInvariant();\n",
                    c.signature_comment(),
                    json_str(&c.literal(&sig.tracking_number)),
                    json_str(&c.literal(&sig.amount))
                ));
            }
        }
        Some(BodyKind::Form(_)) | None => {}
    }
    out.push_str(&format!(
        "var request = new HttpRequestMessage({method}, {url});\n"
    ));
    match c.auth {
        Auth::Bearer => out.push_str("request.Headers.Authorization = new AuthenticationHeaderValue(\"Bearer\", await AccessToken());\n"),
        Auth::Basic => out.push_str(&format!("request.Headers.Authorization = {basic};\n")),
        Auth::None => {}
    }
    match &c.body {
        Some(BodyKind::Json(_)) => {
            out.push_str("request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, \"application/json\");\n");
        }
        Some(BodyKind::Form(fields)) => {
            let pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("[{}] = {}", json_str(k), json_str(v)))
                .collect();
            out.push_str(&format!(
                "request.Content = new FormUrlEncodedContent(new Dictionary<string, string> {{ {} }});\n",
                pairs.join(", ")
            ));
        }
        None => {}
    }
    out.push_str("var response = await http.SendAsync(request);\nConsole.WriteLine($\"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\");\nreturn response.IsSuccessStatusCode ? 0 : 1;\n");
    out
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
