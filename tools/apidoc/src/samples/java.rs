//! The Java (java.net.http) sample of an operation.

use super::*;

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

pub(super) fn java(c: &Call) -> String {
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
