//! The control tower reads (scope `control_tower`): one delivery, one policy, and the filtered
//! list of a partner's deliveries with its tamper-proof cursor.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{not_found_tracking, App, Reply};
use crate::auth::{Principal, Scope};
use crate::domain::{DeliveryStatus, PolicyStatus, TrackingEvent, TrackingNumber};
use crate::error::ApiError;
use crate::store::{DeliveryRecord, ListPosition, ListQuery};
use crate::time_fmt;

pub const DEFAULT_LIST_LIMIT: i32 = 50;
pub const MAX_LIST_LIMIT: i32 = 100;

impl App {
    /// `GET /api/v1/sme-deliveries/{tracking_number}`.
    pub async fn get_delivery(
        &self,
        p: &Principal,
        tracking_number: &str,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        // A malformed tracking number cannot exist: 404 without a storage round trip.
        TrackingNumber::parse(tracking_number).map_err(|_| not_found_tracking(tracking_number))?;
        self.caller(p).await?;
        let (rec, history) = self
            .store
            .delivery_with_history(&p.partner_id, tracking_number)
            .await?
            .ok_or_else(|| not_found_tracking(tracking_number))?;
        let url = self
            .certificate_url(base_url, &p.partner_id, &rec.policy.policy_id)
            .await?;
        Ok((200, delivery_json(&rec, Some(&history), &url)))
    }

    /// `GET /api/v1/policies/{policy_id}`.
    pub async fn get_policy(
        &self,
        p: &Principal,
        policy_id: &str,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        let not_found = || ApiError::NotFound(format!("policy_id {policy_id} was not found."));
        let plausible = !policy_id.is_empty()
            && policy_id.len() <= 64
            && policy_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plausible {
            return Err(not_found());
        }
        self.caller(p).await?;
        let pk = self
            .store
            .policy_delivery_pk(&p.partner_id, policy_id)
            .await?
            .ok_or_else(not_found)?;
        let tn = crate::store::keys::parse_delivery_pk(&pk)
            .map(|(_, t)| t)
            .ok_or_else(not_found)?;
        let (rec, history) = self
            .store
            .delivery_with_history(&p.partner_id, &tn)
            .await?
            .filter(|(r, _)| r.policy.policy_id == policy_id)
            .ok_or_else(not_found)?;
        let url = self
            .certificate_url(base_url, &p.partner_id, &rec.policy.policy_id)
            .await?;
        Ok((200, delivery_json(&rec, Some(&history), &url)))
    }

    /// `GET /api/v1/sme-deliveries?delivery_status=&policy_status=&created_from=&created_to=&limit=&cursor=`.
    pub async fn list(
        &self,
        p: &Principal,
        params: &HashMap<String, String>,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        let q = parse_list_query(params)?;
        self.caller(p).await?;
        let shape = query_shape(&q);
        let key = self.links.get().await?;
        // The cursor carries where each list shard resumes (a cursor sealed before issue 17
        // carried one index key instead: it no longer parses, and is refused like any other).
        let from = match params.get("cursor").filter(|c| !c.is_empty()) {
            None => ListPosition::start(),
            Some(c) => key
                .open_cursor(&p.partner_id, &shape, c)
                .and_then(|payload| serde_json::from_str::<ListPosition>(&payload).ok())
                .filter(ListPosition::is_valid)
                .ok_or(ApiError::InvalidCursor)?,
        };
        let (items, next) = self.store.list_deliveries(&p.partner_id, &q, &from).await?;
        let mut out = Vec::with_capacity(items.len());
        for rec in &items {
            let url = format!(
                "{base_url}/certificates/{}",
                key.certificate_token(&p.partner_id, &rec.policy.policy_id)
            );
            out.push(delivery_json(rec, None, &url));
        }
        let next_cursor = next.map(|k| {
            key.seal_cursor(
                &p.partner_id,
                &shape,
                &serde_json::to_string(&k).expect("a list position serialises"),
            )
        });
        Ok((200, json!({"items": out, "next_cursor": next_cursor})))
    }
}

/// The control tower's view of a delivery and its policy.
pub fn delivery_json(
    rec: &DeliveryRecord,
    history: Option<&[TrackingEvent]>,
    url_certificate: &str,
) -> Value {
    let mut v = serde_json::to_value(&rec.submission).expect("submission serialises");
    let o = v.as_object_mut().expect("submission is an object");
    o.insert("delivery_status".into(), json!(rec.delivery_status));
    o.insert("created_at".into(), json!(rec.created_at));
    o.insert("updated_at".into(), json!(rec.updated_at));
    let pol = &rec.policy;
    o.insert(
        "policy".into(),
        json!({
            "policy_id": pol.policy_id,
            "policy_status": pol.policy_status,
            "premium_amount": pol.premium_amount,
            "currency": pol.currency,
            "product_code": pol.product_code,
            "premium_rate_bps": pol.premium_rate_bps,
            "min_premium": pol.min_premium,
            "issued_at": pol.issued_at,
            "url_certificate": url_certificate,
            "cancellation": pol.cancellation,
            "cancelled_at": pol.cancelled_at,
        }),
    );
    if let Some(h) = history {
        o.insert("tracking_history".into(), json!(h));
    }
    // Claims on this policy (issue 13): id, type, status and amounts of each.
    o.insert("claims".into(), super::claims_summary_json(rec));
    v
}

fn parse_list_query(params: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let get = |k: &str| params.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let delivery_status = get("delivery_status")
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                ApiError::validation("delivery_status", "must be one of created, in_process, in_delivery, success, fail, in_return, returned.")
            })
        })
        .transpose()?;
    let policy_status = get("policy_status")
        .map(|s| {
            PolicyStatus::parse(s).ok_or_else(|| {
                ApiError::validation("policy_status", "must be active or cancelled.")
            })
        })
        .transpose()?;
    let (created_from, created_to, limit) = parse_common_list_params(params)?;
    Ok(ListQuery {
        delivery_status,
        policy_status,
        created_from,
        created_to,
        limit,
    })
}

/// `created_from`, `created_to` (RFC 3339, as sortable text) and `limit`, as every list takes them.
pub(super) fn parse_common_list_params(
    params: &HashMap<String, String>,
) -> Result<(Option<String>, Option<String>, i32), ApiError> {
    let get = |k: &str| params.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let time = |k: &str| {
        get(k)
            .map(|s| {
                time_fmt::parse(s).map(time_fmt::format).ok_or_else(|| {
                    ApiError::validation(
                        k,
                        "must be an RFC 3339 timestamp such as 2022-04-06T06:05:00.528Z.",
                    )
                })
            })
            .transpose()
    };
    let created_from = time("created_from")?;
    let created_to = time("created_to")?;
    if let (Some(f), Some(t)) = (&created_from, &created_to) {
        if f > t {
            return Err(ApiError::validation(
                "created_from",
                "must not be after created_to.",
            ));
        }
    }
    let limit = match get("limit") {
        None => DEFAULT_LIST_LIMIT,
        Some(s) => s
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::validation(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIST_LIMIT}."),
                )
            })?,
    };
    Ok((created_from, created_to, limit))
}

/// What a cursor is bound to besides the partner: the filters (not the page size).
fn query_shape(q: &ListQuery) -> String {
    format!(
        "{}|{}|{}|{}",
        q.delivery_status.map(|s| s.as_str()).unwrap_or(""),
        q.policy_status.map(|s| s.as_str()).unwrap_or(""),
        q.created_from.as_deref().unwrap_or(""),
        q.created_to.as_deref().unwrap_or("")
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::service) fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn list_query_defaults_and_limits() {
        let q = parse_list_query(&params(&[])).unwrap();
        assert_eq!(q.limit, 50);
        for bad in ["0", "101", "x", "1.5"] {
            let e = parse_list_query(&params(&[("limit", bad)])).unwrap_err();
            assert!(e.to_string().starts_with("limit "), "{bad}");
        }
        assert_eq!(
            parse_list_query(&params(&[("limit", "100")]))
                .unwrap()
                .limit,
            100
        );
    }

    #[test]
    fn list_query_filters_are_checked_and_named() {
        assert!(parse_list_query(&params(&[("delivery_status", "lost")]))
            .unwrap_err()
            .to_string()
            .starts_with("delivery_status"));
        assert!(parse_list_query(&params(&[("policy_status", "x")]))
            .unwrap_err()
            .to_string()
            .starts_with("policy_status"));
        assert!(parse_list_query(&params(&[("created_from", "today")]))
            .unwrap_err()
            .to_string()
            .starts_with("created_from"));
        let q =
            parse_list_query(&params(&[("created_from", "2022-04-06T13:00:00+07:00")])).unwrap();
        assert_eq!(q.created_from.as_deref(), Some("2022-04-06T06:00:00.000Z"));
        assert!(parse_list_query(&params(&[
            ("created_from", "2022-04-07T00:00:00Z"),
            ("created_to", "2022-04-06T00:00:00Z")
        ]))
        .is_err());
    }

    #[test]
    fn cursor_shape_depends_on_filters_not_limit() {
        let a = parse_list_query(&params(&[("limit", "5")])).unwrap();
        let b = parse_list_query(&params(&[("limit", "7")])).unwrap();
        let c = parse_list_query(&params(&[("delivery_status", "created")])).unwrap();
        assert_eq!(query_shape(&a), query_shape(&b));
        assert_ne!(query_shape(&a), query_shape(&c));
    }
}
