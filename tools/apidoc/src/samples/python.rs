//! The Python (requests) sample of an operation.

use super::*;

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

pub(super) fn python(c: &Call) -> String {
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
