//! `opsctl keys rotate`: a new JWT signing key, recorded in the audit log.

use serde_json::{json, Value};
use shared::keys::{SigningKeySet, SIGNING_KEY_ACTIVATION_DELAY_SECONDS};
use shared::time_fmt;

use super::*;
use crate::Outcome;

fn keys_view(set: &SigningKeySet, now: i64) -> Value {
    json!({
        "signing_kid": set.signing_key(now).map(|k| k.kid.clone()),
        "keys": set.keys.iter().map(|k| json!({"kid": k.kid, "created_at": k.created_at, "activates_at": k.activates_at})).collect::<Vec<_>>(),
    })
}

pub async fn keys_rotate(ctx: &Ctx, reason: Option<String>) -> Result<Outcome, Failure> {
    let id = Ctx::secret_id(&ctx.target.signing_keys_secret_id, "signing-keys-secret-id")?;
    let mut set: SigningKeySet = shared::secrets::read_json(&ctx.secrets, &id)
        .await
        .map_err(|e| {
            format!(
                "reading the signing keys secret {id}: {}\nnext: check the target and your AWS credentials; `opsctl keys init` creates a first key",
                e.log_detail()
            )
        })?;
    if set.keys.is_empty() {
        return Err(format!(
            "the signing keys secret {id} holds no key\nnext: `opsctl keys init`"
        ));
    }
    ctx.confirm("rotate the JWT signing key (tokens already issued stay valid until they expire)")?;
    let now = time_fmt::now().unix_timestamp();
    let before = keys_view(&set, now);
    let kid = set
        .rotate_at(now, SIGNING_KEY_ACTIVATION_DELAY_SECONDS)
        .kid
        .clone();
    let activates_at = set.keys[0].activates_at.clone();
    let after = keys_view(&set, now);
    // The audit entry first: a rotation without its record must not happen, and a record of a
    // rotation that then failed says so in the next entry (the secret is not in DynamoDB, so the
    // two cannot be one transaction).
    let audit = audit_record(
        ctx,
        Change {
            action: "keys.rotate",
            target: "signing-keys".into(),
            partner_id: None,
            before: Some(before),
            after: Some(after.clone()),
            reason,
        },
    )
    .await?;
    ctx.store
        .operator_write(vec![], &audit)
        .await
        .map_err(store_err)?;
    ctx.secrets
        .put_secret_value()
        .secret_id(&id)
        .secret_string(serde_json::to_string(&set).expect("serialises"))
        .send()
        .await
        .map_err(|e| {
            format!(
                "writing the signing keys secret {id}: {}\nnothing rotated (the audit entry {} records the attempt); re-run when Secrets Manager answers",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e),
                audit.audit_id
            )
        })?;
    Ok(Outcome {
        json: json!({"kid": kid, "activates_at": activates_at, "keys": after["keys"]}),
        text: format!(
            "New signing key {kid} signs from {} (the token function picks it up within 60 s after that); tokens signed by earlier keys stay valid until they expire; {} key(s) in the secret",
            activates_at.as_deref().unwrap_or("now"),
            set.keys.len()
        ),
    })
}
