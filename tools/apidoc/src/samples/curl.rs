//! The curl (with jq and md5sum for the signature) sample of an operation.

use super::*;

fn shell_single_quoted(s: &str) -> String {
    s.replace('\'', r"'\''")
}

pub(super) fn curl(c: &Call) -> String {
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
