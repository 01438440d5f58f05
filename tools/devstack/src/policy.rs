//! The Lambda authorizer's output and API Gateway's evaluation of its IAM policy against a
//! method ARN (`arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`).
//!
//! IAM rules as API Gateway applies them: a statement applies when one of its actions matches
//! `execute-api:Invoke` (case-insensitive, `*`/`?` wildcards) and one of its resources matches the
//! method ARN (case-sensitive, `*`/`?` wildcards); an explicit `Deny` wins; without a matching
//! `Allow` the request is denied.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A validated authorizer result.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizerOutput {
    pub principal_id: String,
    pub statements: Vec<Statement>,
    /// The `context` values, already turned into the strings API Gateway hands to the
    /// integration (numbers and booleans become strings).
    pub context: Map<String, Value>,
}

/// Parses and validates the authorizer's response payload. An `Err` is what API Gateway reports
/// as an authorizer configuration error (the client gets the authorizer-failure response).
pub fn parse_output(payload: &[u8]) -> Result<AuthorizerOutput, String> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| format!("output is not JSON: {e}"))?;
    let obj = v.as_object().ok_or("output is not a JSON object")?;
    let principal_id = match obj.get("principalId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("principalId is missing or not a string".into()),
    };
    // The API key that names the caller to usage plans (ApiKeySourceType AUTHORIZER). Usage
    // plans are not emulated; a value API Gateway would refuse still fails here.
    match obj.get("usageIdentifierKey") {
        None | Some(Value::String(_)) => {}
        Some(_) => return Err("usageIdentifierKey is not a string".into()),
    }
    let doc = obj
        .get("policyDocument")
        .and_then(Value::as_object)
        .ok_or("policyDocument is missing or not an object")?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) => items
            .iter()
            .map(parse_statement)
            .collect::<Result<Vec<_>, _>>()?,
        Some(single @ Value::Object(_)) => vec![parse_statement(single)?],
        _ => return Err("policyDocument.Statement is missing".into()),
    };
    let mut context = Map::new();
    match obj.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => continue,
                    _ => {
                        return Err(format!(
                            "context.{k} is an object or array; API Gateway accepts only strings, numbers and booleans"
                        ))
                    }
                };
                context.insert(k.clone(), Value::String(s));
            }
        }
        Some(_) => return Err("context is not an object".into()),
    }
    Ok(AuthorizerOutput {
        principal_id,
        statements,
        context,
    })
}

fn string_or_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what} must hold strings"))
            })
            .collect(),
        _ => Err(format!("{what} is missing")),
    }
}

fn parse_statement(v: &Value) -> Result<Statement, String> {
    let obj = v.as_object().ok_or("a Statement is not an object")?;
    for unsupported in ["NotAction", "NotResource", "Condition"] {
        if obj.contains_key(unsupported) {
            return Err(format!("Statement.{unsupported} is not emulated"));
        }
    }
    let effect = match obj.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => {
            return Err(format!(
                "Statement.Effect must be Allow or Deny, found {other:?}"
            ))
        }
    };
    Ok(Statement {
        effect,
        actions: string_or_list(obj.get("Action"), "Statement.Action")?,
        resources: string_or_list(obj.get("Resource"), "Statement.Resource")?,
    })
}

/// IAM wildcard match: `*` matches any run of characters (including none), `?` exactly one.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

const INVOKE_ACTION: &str = "execute-api:invoke";

fn applies(statement: &Statement, method_arn: &str) -> bool {
    statement
        .actions
        .iter()
        .any(|a| wildcard_match(&a.to_ascii_lowercase(), INVOKE_ACTION))
        && statement
            .resources
            .iter()
            .any(|r| wildcard_match(r, method_arn))
}

/// Whether the policy allows invoking `method_arn`.
pub fn allows(statements: &[Statement], method_arn: &str) -> bool {
    let mut allowed = false;
    for s in statements.iter().filter(|s| applies(s, method_arn)) {
        match s.effect {
            Effect::Deny => return false,
            Effect::Allow => allowed = true,
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a*c", "ac"));
        assert!(!wildcard_match("a*c", "acb"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match(
            "*/api/v1/*",
            "arn:x:local/local/GET/api/v1/sme-deliveries/1"
        ));
        assert!(!wildcard_match(
            "*/api/v1/*",
            "arn:x:local/local/POST/oauth/token"
        ));
        assert!(wildcard_match("a**b", "ab"));
        assert!(wildcard_match("*a*b*", "xxaxxbxx"));
        assert!(!wildcard_match("*a*b*", "xxbxxaxx"));
        assert!(!wildcard_match("ABC", "abc"));
    }

    const ARN: &str =
        "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/api/v1/sme-deliveries/TN1";

    fn output(v: Value) -> AuthorizerOutput {
        parse_output(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn allow_deny_and_default_deny() {
        let allow_all = output(json!({
            "principalId": "p",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow",
                 "Resource": "arn:aws:execute-api:us-east-1:123456789012:local/local/*/api/v1/*"}
            ]}
        }));
        assert!(allows(&allow_all.statements, ARN));
        assert!(!allows(
            &allow_all.statements,
            "arn:aws:execute-api:us-east-1:123456789012:local/local/POST/oauth/token"
        ));

        let with_deny = output(json!({
            "principalId": "p",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": ["execute-api:*"], "Effect": "Allow", "Resource": ["*"]},
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ["*/GET/api/v1/sme-deliveries/*"]}
            ]}
        }));
        assert!(!allows(&with_deny.statements, ARN));
        assert!(allows(
            &with_deny.statements,
            "arn:aws:execute-api:us-east-1:123456789012:local/local/POST/api/v1/sme-deliveries"
        ));

        let other_action = output(json!({
            "principalId": "p",
            "policyDocument": {"Statement": {"Action": "execute-api:ManageConnections", "Effect": "Allow", "Resource": "*"}}
        }));
        assert!(!allows(&other_action.statements, ARN));

        let action_case = output(json!({
            "principalId": "p",
            "policyDocument": {"Statement": [{"Action": "Execute-API:invoke", "Effect": "Allow", "Resource": ARN}]}
        }));
        assert!(allows(&action_case.statements, ARN));
    }

    #[test]
    fn context_values_become_strings() {
        let out = output(json!({
            "principalId": "p",
            "policyDocument": {"Statement": []},
            "context": {"partner_id": "P1", "n": 3, "b": true, "skip": null}
        }));
        assert_eq!(
            out.context,
            json!({"partner_id": "P1", "n": "3", "b": "true"})
                .as_object()
                .unwrap()
                .clone()
        );
    }

    #[test]
    fn invalid_outputs() {
        for bad in [
            json!("Allow"),
            json!({"policyDocument": {"Statement": []}}),
            json!({"principalId": "p"}),
            json!({"principalId": "p", "policyDocument": {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}}),
            json!({"principalId": "p", "policyDocument": {"Statement": [{"Effect": "Allow", "Resource": "*"}]}}),
            json!({"principalId": "p", "policyDocument": {"Statement": []}, "context": {"o": {"a": 1}}}),
            json!({"principalId": "p", "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}]}}),
            json!({"principalId": "p", "usageIdentifierKey": 7, "policyDocument": {"Statement": []}}),
        ] {
            assert!(parse_output(bad.to_string().as_bytes()).is_err(), "{bad}");
        }
        assert!(parse_output(b"not json").is_err());
        let with_key = json!({"principalId": "p", "usageIdentifierKey": "ptn_x", "policyDocument": {"Statement": []}});
        assert!(parse_output(with_key.to_string().as_bytes()).is_ok());
    }
}
