//! `opsctl client`: create, add and remove subscriptions, rotate the secret, revoke.

use clap::Subcommand;
use serde_json::json;
use shared::auth::Scopes;
use shared::oauth::hash_secret;
use shared::store::{
    ClientRecord, Expect, OperatorWrite, CLIENT_ACTIVE, CLIENT_REVOKED, CLIENT_SUSPENDED,
    PARTNER_ACTIVE,
};

use super::*;
use crate::Outcome;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Create another client for a partner; prints its client_id and secret once.
    Create {
        #[arg(long)]
        partner: String,
        /// Comma-separated: insurance, tracking, control_tower, claims.
        #[arg(long, default_value = "insurance,tracking,control_tower")]
        subscriptions: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Add subscriptions to a client (effective from its next token).
    AddSubscription {
        client_id: String,
        /// insurance, tracking, control_tower (one or more, or comma-separated).
        #[arg(required = true, num_args = 1..)]
        subscriptions: Vec<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove subscriptions from a client (its next token lacks them; tokens already issued keep their scope until they expire, at most 1 h).
    RemoveSubscription {
        client_id: String,
        #[arg(required = true, num_args = 1..)]
        subscriptions: Vec<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Rotate a client's secret; prints the new secret once.
    RotateSecret {
        client_id: String,
        /// How long the previous secret keeps working at the token endpoint (e.g. 15m, 24h; default 0: it stops at once).
        #[arg(long, default_value = "0", value_parser = parse_duration)]
        grace: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke a client for good: no new tokens at once; its issued tokens are refused within 10 s.
    Revoke {
        client_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

pub async fn client(ctx: &Ctx, cmd: ClientCommand) -> Result<Outcome, Failure> {
    match cmd {
        ClientCommand::Create {
            partner,
            subscriptions,
            reason,
        } => {
            let p = partner_of(ctx, &partner).await?;
            let scopes = parse_subscriptions(&[subscriptions])?;
            let secret = new_client_secret();
            let c = ClientRecord {
                client_id: new_client_id(),
                partner_id: partner.clone(),
                secret_hash: hash_secret(&secret),
                subscriptions: scope_names(&scopes),
                status: if p.status == PARTNER_ACTIVE {
                    CLIENT_ACTIVE
                } else {
                    CLIENT_SUSPENDED
                }
                .into(),
                created_at: now_text(),
                previous_secret_hash: None,
                previous_secret_until: None,
                revision: 1,
            };
            commit(
                ctx,
                vec![OperatorWrite::client(&c, Expect::Absent).map_err(store_err)?],
                Change {
                    action: "client.create",
                    target: format!("client:{}", c.client_id),
                    partner_id: Some(partner.clone()),
                    before: None,
                    after: Some(client_view(&c)),
                    reason,
                },
            )
            .await?;
            Ok(Outcome {
                json: json!({"partner_id": partner, "client_id": c.client_id, "client_secret": secret, "subscriptions": c.subscriptions, "status": c.status}),
                text: format!(
                    "New client for {partner}:\n  client_id      {}\n  client_secret  {secret}   (shown once; stored only as a hash)\n  subscriptions  {}",
                    c.client_id,
                    c.subscriptions.join(", ")
                ),
            })
        }
        ClientCommand::AddSubscription {
            client_id,
            subscriptions,
            reason,
        } => change_subscriptions(ctx, &client_id, &subscriptions, true, reason).await,
        ClientCommand::RemoveSubscription {
            client_id,
            subscriptions,
            reason,
        } => change_subscriptions(ctx, &client_id, &subscriptions, false, reason).await,
        ClientCommand::RotateSecret {
            client_id,
            grace,
            reason,
        } => {
            let c = client_of(ctx, &client_id).await?;
            if c.status == CLIENT_REVOKED {
                return Err(format!("client {client_id} is revoked; a revoked client stays revoked\nnext: `opsctl client create --partner {}` gives the partner a new client", c.partner_id));
            }
            ctx.confirm(&format!(
                "rotate the secret of client {client_id} (partner {}); the current secret {}",
                c.partner_id,
                if grace > 0 {
                    format!("keeps working for {grace} s")
                } else {
                    "stops working at once".into()
                }
            ))?;
            let secret = new_client_secret();
            let (mut next, expect) = bump_client(&c);
            if grace > 0 {
                next.previous_secret_hash = Some(c.secret_hash.clone());
                next.previous_secret_until = Some(after_seconds(grace));
            } else {
                next.previous_secret_hash = None;
                next.previous_secret_until = None;
            }
            next.secret_hash = hash_secret(&secret);
            commit_client(ctx, &c, &next, expect, "client.rotate-secret", reason).await?;
            let until = next.previous_secret_until.clone();
            Ok(Outcome {
                json: json!({"client_id": client_id, "client_secret": secret, "previous_secret_valid_until": until}),
                text: format!(
                    "New secret for client {client_id}: {secret}   (shown once; stored only as a hash)\n{}",
                    match &until {
                        Some(u) => format!("The previous secret keeps working until {u}."),
                        None => "The previous secret no longer works.".into(),
                    }
                ),
            })
        }
        ClientCommand::Revoke { client_id, reason } => {
            let c = client_of(ctx, &client_id).await?;
            if c.status == CLIENT_REVOKED {
                return Ok(Outcome {
                    json: json!({"client": client_view(&c), "changed": false}),
                    text: format!("client {client_id} is already revoked; nothing changed"),
                });
            }
            ctx.confirm(&format!(
                "revoke client {client_id} of partner {} for good: no new tokens, issued tokens refused within 10 s",
                c.partner_id
            ))?;
            let (mut next, expect) = bump_client(&c);
            next.status = CLIENT_REVOKED.into();
            next.previous_secret_hash = None;
            next.previous_secret_until = None;
            commit_client(ctx, &c, &next, expect, "client.revoke", reason).await?;
            Ok(Outcome {
                json: json!({"client": client_view(&next), "changed": true}),
                text: format!("client {client_id} revoked: the token endpoint refuses it now; its issued tokens are refused within 10 s"),
            })
        }
    }
}

async fn change_subscriptions(
    ctx: &Ctx,
    client_id: &str,
    subscriptions: &[String],
    add: bool,
    reason: Option<String>,
) -> Result<Outcome, Failure> {
    let given = parse_subscriptions(subscriptions)?;
    let c = client_of(ctx, client_id).await?;
    let current = Scopes::parse(&c.subscriptions.join(" "))
        .map_err(|w| format!("client {client_id} has an unknown subscription {w} stored"))?;
    let mut wanted = current.clone();
    for s in &given.0 {
        if add {
            wanted.0.insert(*s);
        } else {
            wanted.0.remove(s);
        }
    }
    if wanted == current {
        return Ok(Outcome {
            json: json!({"client": client_view(&c), "changed": false}),
            text: format!(
                "client {client_id} subscriptions unchanged: {}",
                c.subscriptions.join(", ")
            ),
        });
    }
    if wanted.is_empty() {
        return Err(format!("removing {} would leave client {client_id} without any subscription\nnext: `opsctl client revoke {client_id}` if it should get no tokens at all", scope_names(&given).join(", ")));
    }
    if !add {
        ctx.confirm(&format!(
            "remove {} from client {client_id} (partner {}), effective from its next token",
            scope_names(&given).join(", "),
            c.partner_id
        ))?;
    }
    let (mut next, expect) = bump_client(&c);
    next.subscriptions = scope_names(&wanted);
    commit(
        ctx,
        vec![OperatorWrite::client(&next, expect).map_err(store_err)?],
        Change {
            action: if add {
                "client.add-subscription"
            } else {
                "client.remove-subscription"
            },
            target: format!("client:{client_id}"),
            partner_id: Some(c.partner_id.clone()),
            before: Some(json!({"subscriptions": c.subscriptions})),
            after: Some(json!({"subscriptions": next.subscriptions})),
            reason,
        },
    )
    .await?;
    Ok(Outcome {
        json: json!({"client": client_view(&next), "changed": true}),
        text: format!(
            "client {client_id} subscriptions: {} (from its next token; tokens already issued keep their scope until they expire, at most 1 h)",
            next.subscriptions.join(", ")
        ),
    })
}
