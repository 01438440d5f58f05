//! The TOKEN authorizer's decision: verify the bearer token, then allow every `/api/v1` route of
//! this API stage. API Gateway caches the answer per token, so the policy must fit every route the
//! token may call; the handlers check the scope and answer 403 `insufficient_scope` themselves.

use serde_json::{json, Value};

use crate::jwt::Claims;

/// The bearer token of an `Authorization` header value; `None` unless it is `Bearer <token>`.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// `arn:aws:execute-api:region:account:api/stage/METHOD/path` -> `arn:...:api/stage/*/api/v1/*`.
pub fn api_resource(method_arn: &str) -> Option<String> {
    let mut parts = method_arn.splitn(3, '/');
    let (api, stage) = (parts.next()?, parts.next()?);
    (api.starts_with("arn:aws") && api.contains(":execute-api:") && !stage.is_empty())
        .then(|| format!("{api}/{stage}/*/api/v1/*"))
}

/// The value of a partner's API Gateway API key: its partner id (30 characters, over API
/// Gateway's minimum of 20). The API takes keys from the authorizer (`ApiKeySourceType:
/// AUTHORIZER` in infra/template.yaml), so partners never send or see it; it only names the
/// partner to the usage plan that throttles it (README "Deploying" > "Throttling").
pub fn usage_identifier_key(claims: &Claims) -> &str {
    &claims.partner_id
}

/// The authorizer's Allow answer, with the caller in the context (flat strings).
pub fn allow(claims: &Claims, resource: &str) -> Value {
    json!({
        "principalId": claims.sub,
        "usageIdentifierKey": usage_identifier_key(claims),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [resource]}]
        },
        "context": {
            "partner_id": claims.partner_id,
            "client_id": claims.sub,
            "scope": claims.scope,
            "jti": claims.jti,
            // API Gateway caches this answer per token (ReauthorizeEvery); the handlers check
            // `exp` themselves so the cache never extends a token's life.
            "exp": claims.exp.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_only() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn allow_names_the_partner_to_usage_plans() {
        let claims = Claims::new(
            "staging",
            "cli_1",
            "ptn_01jabcdefghjkmnpqrstvwxyz0",
            &crate::auth::Scopes::parse("insurance").unwrap(),
            0,
        );
        let v = allow(&claims, "arn:aws:execute-api:r:1:a/s/*/api/v1/*");
        assert_eq!(v["usageIdentifierKey"], "ptn_01jabcdefghjkmnpqrstvwxyz0");
        assert!(usage_identifier_key(&claims).len() >= 20);
        assert_eq!(v["context"]["partner_id"], v["usageIdentifierKey"]);
    }

    #[test]
    fn policy_covers_every_api_route_of_the_stage() {
        let r = api_resource(
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/staging/POST/api/v1/sme-deliveries",
        )
        .unwrap();
        assert_eq!(
            r,
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/staging/*/api/v1/*"
        );
        assert_eq!(api_resource("nonsense"), None);
    }
}
