//! `opsctl product`: create, update, put and list insurance products, and move products of the
//! former key layout into the catalogue partition (`migrate-keys`).

use clap::Subcommand;
use serde_json::{json, Value};
use shared::domain::{PremiumRule, Product, ProductCode};
use shared::store::{Expect, LegacyMigration, OperatorWrite};

use super::*;
use crate::Outcome;

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
        /// Days without a tracking event after which a delivery may be claimed as lost.
        #[arg(long)]
        loss_after_days: Option<u32>,
        /// Days after delivery within which damage may be claimed.
        #[arg(long)]
        damage_claim_days: Option<u32>,
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
    /// Move products stored under the former keys (`PRODUCT#<code>`, before the catalogue)
    /// into the catalogue partition, one audited transaction each. Run once after deploying the
    /// version with the product catalogue; it does nothing when there is nothing to move.
    MigrateKeys,
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
    /// Claim terms: days without a tracking event after which a delivery may be claimed as lost.
    #[arg(long, default_value_t = 7)]
    loss_after_days: u32,
    /// Claim terms: days after delivery (the success event's tracking_time) within which damage may be claimed.
    #[arg(long, default_value_t = 14)]
    damage_claim_days: u32,
}

impl ProductTerms {
    fn product(&self) -> Result<Product, String> {
        build_product(
            &self.code,
            &self.currency,
            self.max_item_value,
            self.premium_rate_bps,
            self.min_premium,
            (self.loss_after_days, self.damage_claim_days),
        )
    }
}

fn product_line(p: &Product) -> String {
    format!(
        "{:<16} {:<4} max item value {:>15}  premium {} bps, minimum {}  claims: loss after {} d, damage within {} d",
        p.product_code.as_str(),
        p.currency,
        p.max_item_value,
        p.rule.premium_rate_bps,
        p.rule.min_premium,
        p.loss_after_days,
        p.damage_claim_days
    )
}

/// Longest claim window an operator may set (ten years).
const MAX_CLAIM_DAYS: u32 = 3650;

fn build_product(
    code: &str,
    currency: &str,
    max_item_value: u64,
    premium_rate_bps: u32,
    min_premium: u64,
    (loss_after_days, damage_claim_days): (u32, u32),
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
    if loss_after_days > MAX_CLAIM_DAYS || damage_claim_days > MAX_CLAIM_DAYS {
        return Err(format!(
            "--loss-after-days and --damage-claim-days must be at most {MAX_CLAIM_DAYS}"
        ));
    }
    Ok(Product {
        product_code,
        currency,
        max_item_value,
        rule: PremiumRule {
            premium_rate_bps,
            min_premium,
        },
        loss_after_days,
        damage_claim_days,
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
            loss_after_days,
            damage_claim_days,
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
                (
                    loss_after_days.unwrap_or(old.loss_after_days),
                    damage_claim_days.unwrap_or(old.damage_claim_days),
                ),
            )?;
            if p == old {
                return Ok(Outcome {
                    json: json!({"product": product_json(&p), "changed": false}),
                    text: format!("unchanged {}", product_line(&p)),
                });
            }
            ctx.confirm(&format!(
                "change product {code} for new submissions, quotes and the catalogue (within 60 s): {} -> {}",
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
                    "updated {}\n(new submissions, quotes and the catalogue use it within 60 s; existing policies keep the terms they were sold under, and quotes already given keep their premium until their valid_until)",
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
                text: ps
                    .iter()
                    .map(|p| format!("{}  updated {}", product_line(p), p.updated_at))
                    .collect::<Vec<_>>()
                    .join("\n"),
            })
        }
        ProductCommand::MigrateKeys => migrate_keys(ctx).await,
    }
}

async fn migrate_keys(ctx: &Ctx) -> Result<Outcome, Failure> {
    let mut legacy = ctx.store.legacy_products().await.map_err(store_err)?;
    legacy.sort_by(|a, b| a.product_code.as_str().cmp(b.product_code.as_str()));
    let (mut moved, mut kept) = (Vec::new(), Vec::new());
    for p in &legacy {
        let code = p.product_code.as_str().to_string();
        let audit = audit_record(
            ctx,
            Change {
                action: "product.migrate-keys",
                target: format!("product:{code}"),
                partner_id: None,
                before: Some(product_json(p)),
                after: Some(product_json(p)),
                reason: Some("moved into the catalogue partition".into()),
            },
        )
        .await?;
        match ctx
            .store
            .migrate_legacy_product(p, &now_text(), &audit)
            .await
            .map_err(store_err)?
        {
            LegacyMigration::Moved => moved.push(code),
            LegacyMigration::AlreadyInCatalogue => kept.push(code),
        }
    }
    let mut text = match moved.len() {
        0 => "no product to move: every product is in the catalogue partition".to_string(),
        _ => format!("moved into the catalogue: {}", moved.join(", ")),
    };
    if !kept.is_empty() {
        text.push_str(&format!(
            "\nleft under the former key, because the catalogue already has a product with that code (compare, then delete the old item by hand): {}",
            kept.join(", ")
        ));
    }
    Ok(Outcome {
        json: json!({"moved": moved, "already_in_catalogue": kept}),
        text,
    })
}
