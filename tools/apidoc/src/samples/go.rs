//! The Go (standard library) sample of an operation.

use super::*;

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

pub(super) fn go(c: &Call) -> String {
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
