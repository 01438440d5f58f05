//! The operator commands on partners, clients, products, signing keys and the audit log.
//! Each change is one DynamoDB transaction: the records, conditional on the revision they were
//! read at, and the audit entry (`Store::operator_write`).

use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine;
use clap::Subcommand;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::auth::{Scope, Scopes};
use shared::domain::{PremiumRule, Product, ProductCode};
use shared::keys::{random_bytes, SigningKeySet, SIGNING_KEY_ACTIVATION_DELAY_SECONDS};
use shared::oauth::hash_secret;
use shared::store::{
    still_valid, AuditQuery, AuditRecord, ClientRecord, Expect, OperatorWrite, PartnerRecord,
    CLIENT_ACTIVE, CLIENT_REVOKED, CLIENT_SUSPENDED, PARTNER_ACTIVE, PARTNER_SUSPENDED,
};
use shared::time_fmt;

use crate::{store_err, Ctx, Failure, Outcome};

// ---- command line -------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum PartnerCommand {
    /// Onboard a partner: create it with one client and print its credentials kit (the secret is shown once).
    Onboard {
        #[arg(long)]
        name: String,
        /// Comma-separated: insurance, tracking, control_tower.
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

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Create another client for a partner; prints its client_id and secret once.
    Create {
        #[arg(long)]
        partner: String,
        /// Comma-separated: insurance, tracking, control_tower.
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

#[derive(Subcommand)]
pub enum ProductCommand {
    /// Create a product (fails if the code exists).
    Create {
        #[command(flatten)]
        terms: ProductTerms,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Change a product's terms for new submissions (existing policies keep the terms they were sold under).
    Update {
        #[arg(long)]
        code: String,
        #[arg(long)]
        currency: Option<String>,
        #[arg(long)]
        max_item_value: Option<u64>,
        #[arg(long)]
        premium_rate_bps: Option<u32>,
        #[arg(long)]
        min_premium: Option<u64>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Create or replace a product (idempotent; used by the local stack's setup).
    Put {
        #[command(flatten)]
        terms: ProductTerms,
    },
    /// List products.
    List,
}

/// A product's whole terms, as `product create` and `product put` take them.
#[derive(clap::Args)]
pub struct ProductTerms {
    #[arg(long)]
    code: String,
    /// ISO 4217 currency code; amounts are integers in its smallest unit.
    #[arg(long)]
    currency: String,
    #[arg(long)]
    max_item_value: u64,
    /// Premium rate on item_value in basis points (50 = 0.5 %).
    #[arg(long)]
    premium_rate_bps: u32,
    #[arg(long)]
    min_premium: u64,
}

impl ProductTerms {
    fn product(&self) -> Result<Product, String> {
        build_product(
            &self.code,
            &self.currency,
            self.max_item_value,
            self.premium_rate_bps,
            self.min_premium,
        )
    }
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Audit entries, newest first.
    List {
        /// Only actions on this partner (and its clients).
        #[arg(long)]
        partner: Option<String>,
        /// Only actions on this target (`client:<id>`, `partner:<id>`, `product:<code>`, `signing-keys`).
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        /// An action (`client.revoke`) or a prefix ending in `.` (`client.`).
        #[arg(long)]
        action: Option<String>,
        /// RFC 3339 time, inclusive.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

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

fn parse_subscriptions(items: &[String]) -> Result<Scopes, Failure> {
    let subs: Vec<Scope> = items
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Scope::parse(s).ok_or_else(|| {
                format!("unknown subscription {s:?}: use insurance, tracking, control_tower")
            })
        })
        .collect::<Result<_, _>>()?;
    let scopes = Scopes(subs.into_iter().collect());
    if scopes.is_empty() {
        return Err("give at least one subscription: insurance, tracking, control_tower".into());
    }
    Ok(scopes)
}

fn scope_names(s: &Scopes) -> Vec<String> {
    s.0.iter().map(|s| s.as_str().to_string()).collect()
}

// ---- views without secrets ------------------------------------------------------------------

/// A short, non-reversible fingerprint of a key, so operators can tell keys apart.
fn fingerprint(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes())[..6])
}

fn now() -> time::OffsetDateTime {
    time_fmt::now()
}

fn now_text() -> String {
    time_fmt::format(now())
}

fn after_seconds(seconds: i64) -> String {
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

fn client_line(c: &ClientRecord) -> String {
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

fn partner_line(p: &PartnerRecord) -> String {
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

fn product_line(p: &Product) -> String {
    format!(
        "{:<16} {:<4} max item value {:>15}  premium {} bps, minimum {}",
        p.product_code.as_str(),
        p.currency,
        p.max_item_value,
        p.rule.premium_rate_bps,
        p.rule.min_premium
    )
}

// ---- audit ----------------------------------------------------------------------------------

struct Change {
    action: &'static str,
    target: String,
    partner_id: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    reason: Option<String>,
}

async fn audit_record(ctx: &Ctx, c: Change) -> Result<AuditRecord, Failure> {
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

async fn commit(ctx: &Ctx, writes: Vec<OperatorWrite>, change: Change) -> Result<(), Failure> {
    let audit = audit_record(ctx, change).await?;
    ctx.store
        .operator_write(writes, &audit)
        .await
        .map_err(store_err)
}

/// Writes a changed client with its audit entry (the whole client view before and after).
async fn commit_client(
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

fn audit_view(a: &AuditRecord) -> Value {
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

async fn partner_of(ctx: &Ctx, partner_id: &str) -> Result<PartnerRecord, Failure> {
    ctx.store
        .partner(partner_id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| format!("no partner {partner_id} in {}\nnext: `opsctl partner list` shows the partners (check --env)", ctx.target.describe()))
}

async fn client_of(ctx: &Ctx, client_id: &str) -> Result<ClientRecord, Failure> {
    ctx.store
        .client_record(client_id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| format!("no client {client_id} in {}\nnext: `opsctl partner list` shows every partner's clients (check --env)", ctx.target.describe()))
}

async fn clients_of(ctx: &Ctx, partner_id: &str) -> Result<Vec<ClientRecord>, Failure> {
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

fn bump_partner(p: &PartnerRecord) -> (PartnerRecord, Expect) {
    let mut next = p.clone();
    next.revision = p.revision + 1;
    (next, Expect::Revision(p.revision))
}

fn bump_client(c: &ClientRecord) -> (ClientRecord, Expect) {
    let mut next = c.clone();
    next.revision = c.revision + 1;
    (next, Expect::Revision(c.revision))
}

// ---- partners --------------------------------------------------------------------------------

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
}

fn urls(ctx: &Ctx) -> Result<(String, String), Failure> {
    let t = &ctx.target;
    let base = t.api_base_url.clone().ok_or(
        "no API base URL: pass --api-base-url (the stack's ApiBaseUrl output + /api/v1), --env or --stack-file",
    )?;
    let base = base.trim_end_matches('/').to_string();
    let token = match &t.token_url {
        Some(u) => u.clone(),
        None => format!("{}/oauth/token", base.trim_end_matches("/api/v1")),
    };
    Ok((base, token))
}

fn new_client_id() -> String {
    format!("cli_{}", hex::encode(random_bytes::<12>()))
}

fn new_client_secret() -> String {
    format!("cs_{}", B64U.encode(random_bytes::<32>()))
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
    let (api_base_url, token_url) = urls(ctx)?;
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
    };
    if let Some(path) = &kit_file {
        write_private(
            path,
            &serde_json::to_string_pretty(&kit).expect("serialises"),
        )?;
    }
    let mut text = format!(
        "Partner onboarded: {name}\n  partner_id     {}\n  client_id      {}\n  client_secret  {}   (shown once; stored only as a hash)\n  api_token_key  {}\n  subscriptions  {}\n  token_url      {}\n  api_base_url   {}",
        kit.partner_id,
        kit.client_id,
        kit.client_secret,
        kit.api_token_key,
        kit.subscriptions.join(", "),
        kit.token_url,
        kit.api_base_url
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

// ---- clients ---------------------------------------------------------------------------------

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

// ---- products --------------------------------------------------------------------------------

fn build_product(
    code: &str,
    currency: &str,
    max_item_value: u64,
    premium_rate_bps: u32,
    min_premium: u64,
) -> Result<Product, Failure> {
    let product_code = ProductCode::parse(code)
        .map_err(|_| format!("--code {code:?}: use 1 to 64 of a-z, 0-9, '-' and '_'"))?;
    let currency = currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "--currency {currency:?}: use an ISO 4217 code such as VND"
        ));
    }
    if max_item_value == 0 {
        return Err("--max-item-value must be at least 1".into());
    }
    if premium_rate_bps > 10_000 {
        return Err("--premium-rate-bps must be at most 10000 (100 %)".into());
    }
    Ok(Product {
        product_code,
        currency,
        max_item_value,
        rule: PremiumRule {
            premium_rate_bps,
            min_premium,
        },
    })
}

fn product_json(p: &Product) -> Value {
    serde_json::to_value(p).expect("serialises")
}

pub async fn product(ctx: &Ctx, cmd: ProductCommand) -> Result<Outcome, Failure> {
    match cmd {
        ProductCommand::Create { terms, reason } => {
            let p = terms.product()?;
            let code = terms.code;
            if ctx.store.product(&code).await.map_err(store_err)?.is_some() {
                return Err(format!("product {code} exists\nnext: `opsctl product update --code {code} ...` changes its terms"));
            }
            commit(
                ctx,
                vec![OperatorWrite::product(&p, Expect::Absent).map_err(store_err)?],
                Change {
                    action: "product.create",
                    target: format!("product:{code}"),
                    partner_id: None,
                    before: None,
                    after: Some(product_json(&p)),
                    reason,
                },
            )
            .await?;
            Ok(Outcome {
                json: product_json(&p),
                text: format!("created {}", product_line(&p)),
            })
        }
        ProductCommand::Update {
            code,
            currency,
            max_item_value,
            premium_rate_bps,
            min_premium,
            reason,
        } => {
            let old = ctx.store.product(&code).await.map_err(store_err)?.ok_or_else(|| {
                format!("no product {code}\nnext: `opsctl product list` shows the products; `opsctl product create` makes one")
            })?;
            let p = build_product(
                &code,
                currency.as_deref().unwrap_or(&old.currency),
                max_item_value.unwrap_or(old.max_item_value),
                premium_rate_bps.unwrap_or(old.rule.premium_rate_bps),
                min_premium.unwrap_or(old.rule.min_premium),
            )?;
            if p == old {
                return Ok(Outcome {
                    json: json!({"product": product_json(&p), "changed": false}),
                    text: format!("unchanged {}", product_line(&p)),
                });
            }
            ctx.confirm(&format!(
                "change product {code} for new submissions (within 60 s): {} -> {}",
                product_line(&old),
                product_line(&p)
            ))?;
            commit(
                ctx,
                vec![OperatorWrite::product(&p, Expect::Present).map_err(store_err)?],
                Change {
                    action: "product.update",
                    target: format!("product:{code}"),
                    partner_id: None,
                    before: Some(product_json(&old)),
                    after: Some(product_json(&p)),
                    reason,
                },
            )
            .await?;
            Ok(Outcome {
                json: json!({"product": product_json(&p), "changed": true}),
                text: format!(
                    "updated {}\n(new submissions use it within 60 s; existing policies keep the terms they were sold under)",
                    product_line(&p)
                ),
            })
        }
        ProductCommand::Put { terms } => {
            let p = terms.product()?;
            let code = terms.code;
            let old = ctx.store.product(&code).await.map_err(store_err)?;
            if old.as_ref() != Some(&p) {
                let expect = if old.is_some() {
                    Expect::Present
                } else {
                    Expect::Absent
                };
                commit(
                    ctx,
                    vec![OperatorWrite::product(&p, expect).map_err(store_err)?],
                    Change {
                        action: "product.put",
                        target: format!("product:{code}"),
                        partner_id: None,
                        before: old.as_ref().map(product_json),
                        after: Some(product_json(&p)),
                        reason: None,
                    },
                )
                .await?;
            }
            Ok(Outcome {
                json: product_json(&p),
                text: product_line(&p),
            })
        }
        ProductCommand::List => {
            let mut ps = ctx.store.products().await.map_err(store_err)?;
            ps.sort_by(|a, b| a.product_code.as_str().cmp(b.product_code.as_str()));
            Ok(Outcome {
                json: json!(ps),
                text: ps.iter().map(product_line).collect::<Vec<_>>().join("\n"),
            })
        }
    }
}

// ---- signing keys ----------------------------------------------------------------------------

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

// ---- audit -----------------------------------------------------------------------------------

fn time_arg(flag: &str, v: Option<String>) -> Result<Option<String>, Failure> {
    v.map(|s| {
        time_fmt::parse(&s).map(time_fmt::format).ok_or_else(|| {
            format!("--{flag} {s:?}: use an RFC 3339 time such as 2026-11-25T00:00:00Z")
        })
    })
    .transpose()
}

pub async fn audit(ctx: &Ctx, cmd: AuditCommand) -> Result<Outcome, Failure> {
    let AuditCommand::List {
        partner,
        target,
        actor,
        action,
        since,
        until,
        limit,
    } = cmd;
    if !(1..=1000).contains(&limit) {
        return Err("--limit must be from 1 to 1000".into());
    }
    let q = AuditQuery {
        since: time_arg("since", since)?,
        until: time_arg("until", until)?,
        partner_id: partner,
        actor,
        action,
        target,
        limit,
    };
    let entries = ctx.store.audit(&q).await.map_err(store_err)?;
    let text = if entries.is_empty() {
        "no audit entries match".to_string()
    } else {
        entries
            .iter()
            .map(|a| {
                let mut line =
                    format!("{}  {:<26} {:<36} by {}", a.at, a.action, a.target, a.actor);
                if let Some(r) = &a.reason {
                    line.push_str(&format!("  reason: {r}"));
                }
                if let (Some(b), Some(af)) = (&a.before, &a.after) {
                    line.push_str(&format!("\n    before {b}\n    after  {af}"));
                } else if let Some(af) = &a.after {
                    line.push_str(&format!("\n    after  {af}"));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Outcome {
        json: json!({"entries": entries.iter().map(audit_view).collect::<Vec<_>>()}),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
