//! The JavaScript (Node.js, fetch) sample of an operation.

use super::*;

const JAVASCRIPT: Literal = Literal {
    pad: "  ",
    obj: ("{", "}"),
    arr: ("[", "]"),
    key: |k| format!("{k}: "),
    scalar: |v| v.to_string(),
};

pub(super) fn javascript(c: &Call) -> String {
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
