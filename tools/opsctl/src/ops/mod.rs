//! The operator commands, one module per noun: partners, clients, products, signing keys and the
//! audit log. Each change is one DynamoDB transaction: the records, conditional on the revision
//! they were read at, and the audit entry (`Store::operator_write`). This module holds what the
//! nouns share: argument parsing, views without secrets, the audit commit, and lookups.

mod audit;
mod claims;
mod clients;
mod keys;
mod migrate;
mod partners;
mod products;
mod webhooks;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::auth::{Scope, Scopes};
use shared::keys::random_bytes;
use shared::store::{still_valid, AuditRecord, ClientRecord, Expect, OperatorWrite, PartnerRecord};
use shared::time_fmt;

use crate::{store_err, Ctx, Failure};

pub use audit::{audit, AuditCommand};
pub use claims::{claim, ClaimCommand};
pub use clients::{client, ClientCommand};
pub use keys::keys_rotate;
pub use migrate::{migrate, template_command, MigrateCommand};
pub use partners::{partner, PartnerCommand};
pub use products::{product, ProductCommand};
pub use webhooks::{webhook, WebhookCommand};

// ---- command line -------------------------------------------------------------------------

/// `90s`, `15m`, `24h`, `7d`, or plain seconds; `0` for none.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: use e.g. 90s, 15m, 24h, 7d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    n.checked_mul(mult)
        .filter(|v| *v <= 90 * 86_400)
        .ok_or_else(|| format!("{s:?} is too long: at most 90d"))
}

pub(crate) fn parse_subscriptions(items: &[String]) -> Result<Scopes, Failure> {
    let subs: Vec<Scope> = items
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Scope::parse(s).ok_or_else(|| {
                format!(
                    "unknown subscription {s:?}: use insurance, tracking, control_tower, claims"
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let scopes = Scopes(subs.into_iter().collect());
    if scopes.is_empty() {
        return Err(
            "give at least one subscription: insurance, tracking, control_tower, claims".into(),
        );
    }
    Ok(scopes)
}

pub(crate) fn scope_names(s: &Scopes) -> Vec<String> {
    s.0.iter().map(|s| s.as_str().to_string()).collect()
}

pub(crate) fn new_client_id() -> String {
    format!("cli_{}", hex::encode(random_bytes::<12>()))
}

pub(crate) fn new_client_secret() -> String {
    format!("cs_{}", B64U.encode(random_bytes::<32>()))
}

// ---- views without secrets ------------------------------------------------------------------

/// A short, non-reversible fingerprint of a key, so operators can tell keys apart.
pub(crate) fn fingerprint(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes())[..6])
}

pub(crate) fn now() -> time::OffsetDateTime {
    time_fmt::now()
}

pub(crate) fn now_text() -> String {
    time_fmt::format(now())
}

pub(crate) fn after_seconds(seconds: i64) -> String {
    time_fmt::format(now() + time::Duration::seconds(seconds))
}

pub fn partner_view(p: &PartnerRecord) -> Value {
    let mut v = json!({
        "partner_id": p.partner_id,
        "name": p.name,
        "status": p.status,
        "created_at": p.created_at,
        "revision": p.revision,
        "api_token_key_fingerprint": fingerprint(&p.api_token_key),
    });
    if let (Some(prev), true) = (
        &p.previous_api_token_key,
        still_valid(p.previous_api_token_key_until.as_deref(), now()),
    ) {
        v["previous_api_token_key_fingerprint"] = json!(fingerprint(prev));
        v["previous_api_token_key_until"] = json!(p.previous_api_token_key_until);
    }
    v
}

pub fn client_view(c: &ClientRecord) -> Value {
    let mut v = json!({
        "client_id": c.client_id,
        "partner_id": c.partner_id,
        "status": c.status,
        "subscriptions": c.subscriptions,
        "created_at": c.created_at,
        "revision": c.revision,
    });
    if c.previous_secret_hash.is_some() && still_valid(c.previous_secret_until.as_deref(), now()) {
        v["previous_secret_until"] = json!(c.previous_secret_until);
    }
    v
}

pub(crate) fn client_line(c: &ClientRecord) -> String {
    let grace = if c.previous_secret_hash.is_some()
        && still_valid(c.previous_secret_until.as_deref(), now())
    {
        format!(
            "  (previous secret works until {})",
            c.previous_secret_until.as_deref().unwrap_or("")
        )
    } else {
        String::new()
    };
    format!(
        "    client {}  {:<9}  {}{grace}",
        c.client_id,
        c.status,
        c.subscriptions.join(",")
    )
}

pub(crate) fn partner_line(p: &PartnerRecord) -> String {
    let overlap = if still_valid(p.previous_api_token_key_until.as_deref(), now()) {
        format!(
            "  (previous key verifies until {})",
            p.previous_api_token_key_until.as_deref().unwrap_or("")
        )
    } else {
        String::new()
    };
    format!(
        "{}  {:<9}  {}  key {}{overlap}",
        p.partner_id,
        p.status,
        p.name,
        fingerprint(&p.api_token_key)
    )
}

// ---- audit ----------------------------------------------------------------------------------

pub(crate) struct Change {
    action: &'static str,
    target: String,
    partner_id: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    reason: Option<String>,
}

pub(crate) async fn audit_record(ctx: &Ctx, c: Change) -> Result<AuditRecord, Failure> {
    Ok(AuditRecord {
        audit_id: format!("aud_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()),
        at: now_text(),
        actor: ctx.actor().await?,
        action: c.action.into(),
        target: c.target,
        partner_id: c.partner_id,
        before: c.before.map(|v| v.to_string()),
        after: c.after.map(|v| v.to_string()),
        reason: c.reason,
    })
}

pub(crate) async fn commit(
    ctx: &Ctx,
    writes: Vec<OperatorWrite>,
    change: Change,
) -> Result<(), Failure> {
    let audit = audit_record(ctx, change).await?;
    ctx.store
        .operator_write(writes, &audit)
        .await
        .map_err(store_err)
}

/// Writes a changed client with its audit entry (the whole client view before and after).
pub(crate) async fn commit_client(
    ctx: &Ctx,
    before: &ClientRecord,
    next: &ClientRecord,
    expect: Expect,
    action: &'static str,
    reason: Option<String>,
) -> Result<(), Failure> {
    commit(
        ctx,
        vec![OperatorWrite::client(next, expect).map_err(store_err)?],
        Change {
            action,
            target: format!("client:{}", before.client_id),
            partner_id: Some(before.partner_id.clone()),
            before: Some(client_view(before)),
            after: Some(client_view(next)),
            reason,
        },
    )
    .await
}

pub(crate) fn audit_view(a: &AuditRecord) -> Value {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .map(|t| serde_json::from_str::<Value>(t).unwrap_or(Value::String(t.into())))
    };
    json!({
        "audit_id": a.audit_id,
        "at": a.at,
        "actor": a.actor,
        "action": a.action,
        "target": a.target,
        "partner_id": a.partner_id,
        "reason": a.reason,
        "before": parse(&a.before),
        "after": parse(&a.after),
    })
}

// ---- lookups ---------------------------------------------------------------------------------

pub(crate) async fn partner_of(ctx: &Ctx, partner_id: &str) -> Result<PartnerRecord, Failure> {
    ctx.store
        .partner(partner_id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| format!("no partner {partner_id} in {}\nnext: `opsctl partner list` shows the partners (check --env)", ctx.target.describe()))
}

pub(crate) async fn client_of(ctx: &Ctx, client_id: &str) -> Result<ClientRecord, Failure> {
    ctx.store
        .client_record(client_id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| format!("no client {client_id} in {}\nnext: `opsctl partner list` shows every partner's clients (check --env)", ctx.target.describe()))
}

pub(crate) async fn clients_of(ctx: &Ctx, partner_id: &str) -> Result<Vec<ClientRecord>, Failure> {
    let mut cs: Vec<ClientRecord> = ctx
        .store
        .clients()
        .await
        .map_err(store_err)?
        .into_iter()
        .filter(|c| c.partner_id == partner_id)
        .collect();
    cs.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(cs)
}

pub(crate) fn bump_partner(p: &PartnerRecord) -> (PartnerRecord, Expect) {
    let mut next = p.clone();
    next.revision = p.revision + 1;
    (next, Expect::Revision(p.revision))
}

pub(crate) fn bump_client(c: &ClientRecord) -> (ClientRecord, Expect) {
    let mut next = c.clone();
    next.revision = c.revision + 1;
    (next, Expect::Revision(c.revision))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::oauth::hash_secret;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("91d").is_err());
    }

    #[test]
    fn views_never_hold_secrets() {
        let p = PartnerRecord {
            partner_id: "ptn_1".into(),
            name: "P".into(),
            status: "active".into(),
            api_token_key: "0123456789abcdef0123456789abcdef".into(),
            created_at: now_text(),
            previous_api_token_key: Some("fedcba9876543210fedcba9876543210".into()),
            previous_api_token_key_until: Some(after_seconds(60)),
            revision: 3,
        };
        let shown = partner_view(&p).to_string();
        assert!(!shown.contains(&p.api_token_key));
        assert!(!shown.contains(p.previous_api_token_key.as_deref().unwrap()));
        assert!(shown.contains("previous_api_token_key_until"));
        let c = ClientRecord {
            client_id: "cli_1".into(),
            partner_id: "ptn_1".into(),
            secret_hash: hash_secret("cs_x"),
            subscriptions: vec!["insurance".into()],
            status: "active".into(),
            created_at: now_text(),
            previous_secret_hash: Some(hash_secret("cs_y")),
            previous_secret_until: Some(after_seconds(60)),
            revision: 1,
        };
        let shown = client_view(&c).to_string();
        assert!(!shown.contains("sha256"));
        assert!(shown.contains("previous_secret_until"));
    }

    #[test]
    fn subscriptions_parse_and_name_the_bad_one() {
        let s =
            parse_subscriptions(&["insurance,tracking".into(), "control_tower".into()]).unwrap();
        assert_eq!(s.0.len(), 3);
        assert!(parse_subscriptions(&["billing".into()])
            .unwrap_err()
            .contains("billing"));
        assert!(parse_subscriptions(&[]).is_err());
    }
}
