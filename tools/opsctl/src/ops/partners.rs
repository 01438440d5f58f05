//! `opsctl partner`: onboard (prints the credentials kit), list, show, suspend, reactivate, rotate the signature key.

use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;
use serde_json::json;
use shared::oauth::hash_secret;
use shared::store::{
    AuditQuery, ClientRecord, Expect, OperatorWrite, PartnerRecord, CLIENT_ACTIVE,
    CLIENT_SUSPENDED, PARTNER_ACTIVE, PARTNER_SUSPENDED,
};

use super::*;
use crate::Outcome;

#[derive(Subcommand)]
pub enum PartnerCommand {
    /// Onboard a partner: create it with one client and print its credentials kit (the secret is shown once).
    Onboard {
        #[arg(long)]
        name: String,
        /// Comma-separated: insurance, tracking, control_tower, claims.
        #[arg(long, default_value = "insurance,tracking,control_tower")]
        subscriptions: String,
        /// Also write the kit as JSON to this file (mode 0600).
        #[arg(long)]
        kit_file: Option<PathBuf>,
    },
    /// List partners and their clients (never a secret).
    List,
    /// One partner, its clients and its latest audit entries.
    Show { partner_id: String },
    /// Suspend a partner: its clients get no tokens, and its tokens are refused within 10 s.
    Suspend {
        partner_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reactivate a suspended partner (its revoked clients stay revoked).
    Reactivate {
        partner_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Rotate the partner's api_token_key (request signatures); prints the new key once.
    RotateKey {
        partner_id: String,
        /// How long the previous key keeps verifying (e.g. 30m, 24h, 7d; default 0: it stops within 10 s).
        #[arg(long, default_value = "0", value_parser = parse_duration)]
        overlap: i64,
        #[arg(long)]
        reason: Option<String>,
    },
}

/// The credentials kit handed to a partner.
#[derive(Serialize)]
struct Kit {
    partner_id: String,
    client_id: String,
    client_secret: String,
    api_token_key: String,
    subscriptions: Vec<String>,
    token_url: String,
    api_base_url: String,
    developer_portal_url: String,
}

/// The kit's URLs: (api_base_url, token_url, developer_portal_url).
fn urls(ctx: &Ctx) -> Result<(String, String, String), Failure> {
    let t = &ctx.target;
    let base = t.api_base_url.clone().ok_or(
        "no API base URL: pass --api-base-url (the stack's ApiBaseUrl output + /api/v1), --env or --stack-file",
    )?;
    let base = base.trim_end_matches('/').to_string();
    let token = match &t.token_url {
        Some(u) => u.clone(),
        None => format!("{}/oauth/token", base.trim_end_matches("/api/v1")),
    };
    let portal = match &t.developer_portal_url {
        Some(u) => u.clone(),
        None => format!("{}/docs", base.trim_end_matches("/api/v1")),
    };
    Ok((base, token, portal))
}

fn new_api_token_key() -> String {
    hex::encode(random_bytes::<16>())
}

fn write_private(path: &std::path::Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

async fn onboard(
    ctx: &Ctx,
    name: &str,
    subscriptions: &str,
    kit_file: Option<PathBuf>,
) -> Result<Outcome, Failure> {
    let scopes = parse_subscriptions(&[subscriptions.to_string()])?;
    let name = name.trim();
    if name.is_empty() {
        return Err("--name must not be empty".into());
    }
    let (api_base_url, token_url, developer_portal_url) = urls(ctx)?;
    let now = now_text();
    let partner_id = format!("ptn_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let client_id = new_client_id();
    let client_secret = new_client_secret();
    let api_token_key = new_api_token_key();
    let subscriptions = scope_names(&scopes);
    let partner = PartnerRecord {
        partner_id: partner_id.clone(),
        name: name.to_string(),
        status: PARTNER_ACTIVE.into(),
        api_token_key: api_token_key.clone(),
        created_at: now.clone(),
        previous_api_token_key: None,
        previous_api_token_key_until: None,
        revision: 1,
    };
    let client = ClientRecord {
        client_id: client_id.clone(),
        partner_id: partner_id.clone(),
        secret_hash: hash_secret(&client_secret),
        subscriptions: subscriptions.clone(),
        status: CLIENT_ACTIVE.into(),
        created_at: now,
        previous_secret_hash: None,
        previous_secret_until: None,
        revision: 1,
    };
    commit(
        ctx,
        vec![
            OperatorWrite::partner(&partner, Expect::Absent).map_err(store_err)?,
            OperatorWrite::client(&client, Expect::Absent).map_err(store_err)?,
        ],
        Change {
            action: "partner.onboard",
            target: format!("partner:{partner_id}"),
            partner_id: Some(partner_id.clone()),
            before: None,
            after: Some(json!({"partner": partner_view(&partner), "client": client_view(&client)})),
            reason: None,
        },
    )
    .await?;
    let kit = Kit {
        partner_id,
        client_id,
        client_secret,
        api_token_key,
        subscriptions,
        token_url,
        api_base_url,
        developer_portal_url,
    };
    if let Some(path) = &kit_file {
        write_private(
            path,
            &serde_json::to_string_pretty(&kit).expect("serialises"),
        )?;
    }
    let mut text = format!(
        "Partner onboarded: {name}\n  partner_id     {}\n  client_id      {}\n  client_secret  {}   (shown once; stored only as a hash)\n  api_token_key  {}\n  subscriptions  {}\n  token_url      {}\n  api_base_url   {}\n  developer_portal_url {}",
        kit.partner_id,
        kit.client_id,
        kit.client_secret,
        kit.api_token_key,
        kit.subscriptions.join(", "),
        kit.token_url,
        kit.api_base_url,
        kit.developer_portal_url
    );
    if let Some(p) = &kit_file {
        text.push_str(&format!("\n  kit written to {}", p.display()));
    }
    Ok(Outcome {
        json: serde_json::to_value(&kit).expect("serialises"),
        text,
    })
}

pub async fn partner(ctx: &Ctx, cmd: PartnerCommand) -> Result<Outcome, Failure> {
    match cmd {
        PartnerCommand::Onboard {
            name,
            subscriptions,
            kit_file,
        } => onboard(ctx, &name, &subscriptions, kit_file).await,
        PartnerCommand::List => {
            let (mut partners, clients) =
                tokio::try_join!(ctx.store.partners(), ctx.store.clients()).map_err(store_err)?;
            partners.sort_by(|a, b| a.created_at.cmp(&b.created_at));
            let mut out = Vec::new();
            let mut text = Vec::new();
            for p in &partners {
                let mut mine: Vec<&ClientRecord> = clients
                    .iter()
                    .filter(|c| c.partner_id == p.partner_id)
                    .collect();
                mine.sort_by(|a, b| a.created_at.cmp(&b.created_at));
                let mut v = partner_view(p);
                v["clients"] = json!(mine.iter().map(|c| client_view(c)).collect::<Vec<_>>());
                out.push(v);
                text.push(partner_line(p));
                text.extend(mine.iter().map(|c| client_line(c)));
            }
            if partners.is_empty() {
                text.push(
                    "no partners yet: `opsctl partner onboard --name ...` creates one".into(),
                );
            }
            Ok(Outcome {
                json: json!({"partners": out}),
                text: text.join("\n"),
            })
        }
        PartnerCommand::Show { partner_id } => {
            let p = partner_of(ctx, &partner_id).await?;
            let clients = clients_of(ctx, &partner_id).await?;
            let audit = ctx
                .store
                .audit(&AuditQuery {
                    partner_id: Some(partner_id.clone()),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .map_err(store_err)?;
            let mut v = partner_view(&p);
            v["clients"] = json!(clients.iter().map(client_view).collect::<Vec<_>>());
            v["recent_audit"] = json!(audit.iter().map(audit_view).collect::<Vec<_>>());
            let mut text = vec![partner_line(&p)];
            text.extend(clients.iter().map(client_line));
            if !audit.is_empty() {
                text.push("  latest actions:".into());
                text.extend(audit.iter().map(|a| {
                    format!(
                        "    {}  {:<28} {}  by {}",
                        a.at, a.action, a.target, a.actor
                    )
                }));
            }
            Ok(Outcome {
                json: v,
                text: text.join("\n"),
            })
        }
        PartnerCommand::Suspend { partner_id, reason } => {
            set_partner_status(ctx, &partner_id, true, reason).await
        }
        PartnerCommand::Reactivate { partner_id, reason } => {
            set_partner_status(ctx, &partner_id, false, reason).await
        }
        PartnerCommand::RotateKey {
            partner_id,
            overlap,
            reason,
        } => {
            let p = partner_of(ctx, &partner_id).await?;
            ctx.confirm(&format!(
                "rotate the api_token_key of partner {partner_id} ({}); the previous key {}",
                p.name,
                if overlap > 0 {
                    format!("keeps verifying for {overlap} s")
                } else {
                    "stops verifying within 10 s".into()
                }
            ))?;
            let (mut next, expect) = bump_partner(&p);
            let key = new_api_token_key();
            if overlap > 0 {
                next.previous_api_token_key = Some(p.api_token_key.clone());
                next.previous_api_token_key_until = Some(after_seconds(overlap));
            } else {
                next.previous_api_token_key = None;
                next.previous_api_token_key_until = None;
            }
            next.api_token_key = key.clone();
            commit(
                ctx,
                vec![OperatorWrite::partner(&next, expect).map_err(store_err)?],
                Change {
                    action: "partner.rotate-key",
                    target: format!("partner:{partner_id}"),
                    partner_id: Some(partner_id.clone()),
                    before: Some(partner_view(&p)),
                    after: Some(partner_view(&next)),
                    reason,
                },
            )
            .await?;
            let until = next.previous_api_token_key_until.clone();
            Ok(Outcome {
                json: json!({"partner_id": partner_id, "api_token_key": key, "previous_key_valid_until": until}),
                text: format!(
                    "New api_token_key for {partner_id}: {key}   (shown once; hand it to the partner over a channel fit for secrets)\n{}",
                    match &until {
                        Some(u) => format!("The previous key keeps verifying until {u}."),
                        None => "The previous key stops verifying within 10 s.".into(),
                    }
                ),
            })
        }
    }
}

async fn set_partner_status(
    ctx: &Ctx,
    partner_id: &str,
    suspend: bool,
    reason: Option<String>,
) -> Result<Outcome, Failure> {
    let p = partner_of(ctx, partner_id).await?;
    let (want, from_client, to_client, action) = if suspend {
        (
            PARTNER_SUSPENDED,
            CLIENT_ACTIVE,
            CLIENT_SUSPENDED,
            "partner.suspend",
        )
    } else {
        (
            PARTNER_ACTIVE,
            CLIENT_SUSPENDED,
            CLIENT_ACTIVE,
            "partner.reactivate",
        )
    };
    if p.status == want {
        return Ok(Outcome {
            json: json!({"partner": partner_view(&p), "changed": false}),
            text: format!("partner {partner_id} is already {want}; nothing changed"),
        });
    }
    if suspend {
        ctx.confirm(&format!(
            "suspend partner {partner_id} ({}): no new tokens, and its tokens refused within 10 s",
            p.name
        ))?;
    }
    let clients = clients_of(ctx, partner_id).await?;
    let (mut next, expect) = bump_partner(&p);
    next.status = want.into();
    let mut writes = vec![OperatorWrite::partner(&next, expect).map_err(store_err)?];
    let mut changed_clients = Vec::new();
    for c in clients.iter().filter(|c| c.status == from_client) {
        let (mut nc, e) = bump_client(c);
        nc.status = to_client.into();
        writes.push(OperatorWrite::client(&nc, e).map_err(store_err)?);
        changed_clients.push(c.client_id.clone());
    }
    commit(
        ctx,
        writes,
        Change {
            action,
            target: format!("partner:{partner_id}"),
            partner_id: Some(partner_id.into()),
            before: Some(json!({"status": p.status, "clients": changed_clients.iter().map(|c| json!({"client_id": c, "status": from_client})).collect::<Vec<_>>()})),
            after: Some(json!({"status": want, "clients": changed_clients.iter().map(|c| json!({"client_id": c, "status": to_client})).collect::<Vec<_>>()})),
            reason,
        },
    )
    .await?;
    Ok(Outcome {
        json: json!({"partner": partner_view(&next), "changed": true, "clients": changed_clients}),
        text: if suspend {
            format!("partner {partner_id} suspended: {} client(s) get no tokens; issued tokens are refused within 10 s", changed_clients.len())
        } else {
            format!("partner {partner_id} reactivated: {} client(s) can get tokens again (revoked clients stay revoked)", changed_clients.len())
        },
    })
}
