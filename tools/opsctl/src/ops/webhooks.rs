//! `opsctl webhook ...`: a partner's webhook endpoints (list, disable, enable) and the delivery
//! attempts of one endpoint. Never prints an endpoint secret (the views are the API's).

use clap::Subcommand;
use serde_json::{json, Value};
use shared::service::endpoint_json;
use shared::store::{EndpointRecord, Expect, OperatorWrite};

use super::*;
use crate::Outcome;

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// A partner's webhook endpoints (never their secrets).
    List {
        #[arg(long)]
        partner: String,
    },
    /// Disable an endpoint: it receives no more events (queued deliveries are dropped) until
    /// the partner or an operator enables it again; the reason is shown on it.
    Disable {
        endpoint_id: String,
        #[arg(long)]
        partner: String,
        #[arg(long)]
        reason: String,
    },
    /// Enable a disabled endpoint again: it receives new events from now on.
    Enable {
        endpoint_id: String,
        #[arg(long)]
        partner: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The delivery attempts to one endpoint, newest first (event, time, status or error, duration).
    Deliveries {
        endpoint_id: String,
        #[arg(long)]
        partner: String,
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
}

async fn endpoint_of(ctx: &Ctx, partner: &str, id: &str) -> Result<EndpointRecord, Failure> {
    ctx.store
        .endpoint(partner, id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| {
            format!(
                "no webhook endpoint {id} of partner {partner} in {}\nnext: `opsctl webhook list --partner {partner}`",
                ctx.target.describe()
            )
        })
}

fn endpoint_line(e: &EndpointRecord) -> String {
    let state = if e.enabled { "enabled" } else { "disabled" };
    let mut line = format!("{}  {:<8}  {}", e.endpoint_id, state, e.url);
    if let Some(since) = &e.failing_since {
        line.push_str(&format!("  (failing since {since})"));
    }
    if let Some(r) = &e.disabled_reason {
        line.push_str(&format!("\n    reason: {r}"));
    }
    line
}

async fn set_enabled(
    ctx: &Ctx,
    partner: &str,
    id: &str,
    enabled: bool,
    reason: Option<String>,
) -> Result<Outcome, Failure> {
    let before = endpoint_of(ctx, partner, id).await?;
    if before.enabled == enabled {
        return Err(format!(
            "endpoint {id} is already {}; nothing was changed",
            if enabled { "enabled" } else { "disabled" }
        ));
    }
    if !enabled {
        ctx.confirm(&format!(
            "disable webhook endpoint {id} of partner {partner}"
        ))?;
    }
    let now = now_text();
    let mut next = before.clone();
    next.enabled = enabled;
    next.revision = before.revision + 1;
    next.updated_at = now.clone();
    if enabled {
        next.disabled_reason = None;
        next.disabled_at = None;
        next.failing_since = None;
    } else {
        next.disabled_reason = Some(format!(
            "Disabled by an operator: {}",
            reason.as_deref().unwrap_or("no reason given")
        ));
        next.disabled_at = Some(now);
    }
    commit(
        ctx,
        vec![OperatorWrite::endpoint(&next, Expect::Revision(before.revision)).map_err(store_err)?],
        Change {
            action: if enabled {
                "webhook.enable"
            } else {
                "webhook.disable"
            },
            target: format!("webhook-endpoint:{id}"),
            partner_id: Some(partner.to_string()),
            before: Some(endpoint_json(&before)),
            after: Some(endpoint_json(&next)),
            reason,
        },
    )
    .await?;
    Ok(Outcome {
        json: endpoint_json(&next),
        text: endpoint_line(&next),
    })
}

pub async fn webhook(ctx: &Ctx, cmd: WebhookCommand) -> Result<Outcome, Failure> {
    match cmd {
        WebhookCommand::List { partner } => {
            partner_of(ctx, &partner).await?;
            let endpoints = ctx.store.endpoints(&partner).await.map_err(store_err)?;
            let text = if endpoints.is_empty() {
                format!("partner {partner} has no webhook endpoints")
            } else {
                endpoints
                    .iter()
                    .map(endpoint_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Outcome {
                json: json!({"partner_id": partner, "items": endpoints.iter().map(endpoint_json).collect::<Vec<_>>()}),
                text,
            })
        }
        WebhookCommand::Disable {
            endpoint_id,
            partner,
            reason,
        } => set_enabled(ctx, &partner, &endpoint_id, false, Some(reason)).await,
        WebhookCommand::Enable {
            endpoint_id,
            partner,
            reason,
        } => set_enabled(ctx, &partner, &endpoint_id, true, reason).await,
        WebhookCommand::Deliveries {
            endpoint_id,
            partner,
            limit,
        } => {
            if !(1..=100).contains(&limit) {
                return Err("--limit must be from 1 to 100".into());
            }
            endpoint_of(ctx, &partner, &endpoint_id).await?;
            let now = now().unix_timestamp();
            let (items, _) = ctx
                .store
                .list_attempts(
                    &partner,
                    &endpoint_id,
                    now,
                    limit,
                    &shared::store::ListPosition::start_of(shared::store::keys::EVENT_LOG_SHARDS),
                )
                .await
                .map_err(store_err)?;
            let rows: Vec<Value> = items
                .iter()
                .map(|a| json!({"event_id": a.event_id, "event_type": a.event_type, "attempted_at": a.attempted_at, "attempt": a.attempt, "success": a.success, "status_code": a.status_code, "error": a.error, "duration_ms": a.duration_ms}))
                .collect();
            let text = if items.is_empty() {
                format!("no delivery attempts to {endpoint_id} in the last 30 days")
            } else {
                items
                    .iter()
                    .map(|a| {
                        format!(
                            "{}  {}  {:<26} attempt {:>2}  {}  {} ms",
                            a.attempted_at,
                            a.event_id,
                            a.event_type,
                            a.attempt,
                            match (a.status_code, &a.error) {
                                (_, Some(e)) => e.clone(),
                                (Some(s), None) => format!("HTTP {s}"),
                                (None, None) => "-".into(),
                            },
                            a.duration_ms
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Outcome {
                json: json!({"endpoint_id": endpoint_id, "items": rows}),
                text,
            })
        }
    }
}
