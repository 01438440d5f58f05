//! The PHP (curl extension) sample of an operation.

use super::*;

fn php_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

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

pub(super) fn php(c: &Call) -> String {
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
