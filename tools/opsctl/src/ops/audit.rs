//! `opsctl audit list`: the audit log of operator actions, newest first, with filters.

use clap::Subcommand;
use serde_json::json;
use shared::store::AuditQuery;
use shared::time_fmt;

use super::*;
use crate::Outcome;

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
