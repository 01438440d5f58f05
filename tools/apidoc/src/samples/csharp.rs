//! The C# (HttpClient) sample of an operation.

use super::*;

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

pub(super) fn csharp(c: &Call) -> String {
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
