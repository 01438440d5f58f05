//! Every storage key of the table, built here and nowhere else (layout: docs/architecture.md).
//! Ids placed in keys are of restricted alphabets (no `#`), so keys cannot collide.

use crate::domain::DeliveryStatus;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const BY_CREATED: &str = "by-created";
pub const BY_STATUS: &str = "by-status";
pub const BY_POLICY: &str = "by-policy";

pub const DELIVERY_SK: &str = "DELIVERY";
pub const EVENTS_SK_PREFIX: &str = "EVENTS#";

pub const PARTNER_PREFIX: &str = "PARTNER#";
pub const PARTNER_SK: &str = "PROFILE";
pub const CLIENT_PREFIX: &str = "CLIENT#";
pub const CLIENT_SK: &str = "CLIENT";
/// Every product in one partition, so the catalogue is one Query (products are few).
pub const PRODUCTS_PK: &str = "PRODUCTS";
pub const PRODUCT_SK_PREFIX: &str = "PRODUCT#";
/// Products were keyed `PRODUCT#<code>` / `PRODUCT` before the catalogue; `opsctl product
/// migrate-keys` moves such items into `PRODUCTS`.
pub const LEGACY_PRODUCT_PREFIX: &str = "PRODUCT#";
pub const LEGACY_PRODUCT_SK: &str = "PRODUCT";
pub const QUOTE_SK: &str = "QUOTE";
/// The operators' audit log: one partition, sorted by time.
pub const AUDIT_PK: &str = "AUDIT";

pub fn partner(partner_id: &str) -> (String, String) {
    (format!("{PARTNER_PREFIX}{partner_id}"), PARTNER_SK.into())
}

pub fn client(client_id: &str) -> (String, String) {
    (format!("{CLIENT_PREFIX}{client_id}"), CLIENT_SK.into())
}

pub fn product(code: &str) -> (String, String) {
    (PRODUCTS_PK.into(), format!("{PRODUCT_SK_PREFIX}{code}"))
}

/// Where a product was stored before the catalogue (read and deleted by the migration only).
pub fn legacy_product(code: &str) -> (String, String) {
    (
        format!("{LEGACY_PRODUCT_PREFIX}{code}"),
        LEGACY_PRODUCT_SK.into(),
    )
}

/// A partner's quote: its own partition, so another partner's quote id reads as absent.
pub fn quote(partner_id: &str, quote_id: &str) -> (String, String) {
    (format!("QUOTE#{partner_id}#{quote_id}"), QUOTE_SK.into())
}

/// An audit entry: sorted by its time (sortable text), then its id.
pub fn audit(at: &str, audit_id: &str) -> (String, String) {
    (AUDIT_PK.into(), format!("{at}#{audit_id}"))
}

/// Lower and upper bounds of audit sort keys for entries from `since` to `until` (inclusive).
pub fn audit_range(since: &str, until: &str) -> (String, String) {
    (since.to_string(), format!("{until}~"))
}

pub fn delivery_pk(partner_id: &str, tracking_number: &str) -> String {
    format!("DELIVERY#{partner_id}#{tracking_number}")
}

/// The delivery's partition prefix for one partner (a policy found by id must start with it).
pub fn delivery_pk_prefix(partner_id: &str) -> String {
    format!("DELIVERY#{partner_id}#")
}

/// Sort key of the events accepted by the update that produced `version`.
pub fn events_sk(version: u64) -> String {
    format!("{EVENTS_SK_PREFIX}{version:010}")
}

pub fn by_created_pk(partner_id: &str) -> String {
    format!("PARTNER#{partner_id}")
}

pub fn by_status_pk(partner_id: &str, status: DeliveryStatus) -> String {
    format!("PARTNER#{partner_id}#STATUS#{status}")
}

/// Sort key of both list indexes: the creation time (sortable text) then the tracking number.
pub fn created_sk(created_at: &str, tracking_number: &str) -> String {
    format!("{created_at}#{tracking_number}")
}

/// The partner id and tracking number of a delivery partition key.
pub fn parse_delivery_pk(pk: &str) -> Option<(String, String)> {
    let (partner_id, tracking_number) = pk.strip_prefix("DELIVERY#")?.split_once('#')?;
    Some((partner_id.to_string(), tracking_number.to_string()))
}

pub fn by_policy_pk(policy_id: &str) -> String {
    format!("POLICY#{policy_id}")
}

// ---- webhooks (issue 14) ------------------------------------------------------------------

pub const ENDPOINT_SK_PREFIX: &str = "ENDPOINT#";
/// The item counting a partner's endpoints (at most `MAX_ENDPOINTS`, race-safe).
pub const ENDPOINT_COUNT_SK: &str = "ENDPOINT_COUNT";

/// A partner's webhook endpoints and their counter share one partition.
pub fn webhooks_pk(partner_id: &str) -> String {
    format!("WEBHOOKS#{partner_id}")
}

pub fn endpoint(partner_id: &str, endpoint_id: &str) -> (String, String) {
    (
        webhooks_pk(partner_id),
        format!("{ENDPOINT_SK_PREFIX}{endpoint_id}"),
    )
}

pub fn endpoint_count(partner_id: &str) -> (String, String) {
    (webhooks_pk(partner_id), ENDPOINT_COUNT_SK.into())
}

/// The event log of one partner: sort key = the event id (a ULID: sorted by time).
pub fn events_pk(partner_id: &str) -> String {
    format!("EVENTS#{partner_id}")
}

pub fn event(partner_id: &str, event_id: &str) -> (String, String) {
    (events_pk(partner_id), event_id.to_string())
}

/// The delivery attempts to one endpoint, sorted by time.
pub fn attempts_pk(partner_id: &str, endpoint_id: &str) -> String {
    format!("ATTEMPTS#{partner_id}#{endpoint_id}")
}

pub fn attempt(partner_id: &str, endpoint_id: &str, at: &str, nonce: &str) -> (String, String) {
    (
        attempts_pk(partner_id, endpoint_id),
        format!("{at}#{nonce}"),
    )
}

// ---- claims (issue 13) ------------------------------------------------------------------------
// A claim item: pk `CLAIM#<partner_id>#<claim_id>`, sk `CLAIM`; in the list indexes under
// `CLAIMS#<partner_id>` (by-created) and `CLAIMS#<partner_id>#STATUS#<claim_status>` (by-status),
// sorted by `<created_at>#<claim_id>`, apart from the partner's deliveries (`PARTNER#...`).

pub const CLAIM_SK: &str = "CLAIM";

pub fn claim(partner_id: &str, claim_id: &str) -> (String, String) {
    (format!("CLAIM#{partner_id}#{claim_id}"), CLAIM_SK.into())
}

pub fn claims_by_created_pk(partner_id: &str) -> String {
    format!("CLAIMS#{partner_id}")
}

pub fn claims_by_status_pk(partner_id: &str, status: crate::domain::ClaimStatus) -> String {
    format!("CLAIMS#{partner_id}#STATUS#{status}")
}

/// Sort key of a claim in both list indexes.
pub fn claim_created_sk(created_at: &str, claim_id: &str) -> String {
    format!("{created_at}#{claim_id}")
}

// S3 object keys of claim documents (the claims bucket). Built only from ids the API made
// (partner, claim and document ids: `[a-z0-9_]`), never from anything a partner sends, so a key
// names one document of one claim of one partner, and a partner's own prefix is
// `claims/<partner_id>/`.

/// The prefix of every document of one claim.
pub fn claim_documents_prefix(partner_id: &str, claim_id: &str) -> String {
    format!("claims/{partner_id}/{claim_id}/")
}

pub fn claim_document(partner_id: &str, claim_id: &str, document_id: &str) -> String {
    format!(
        "{}{document_id}",
        claim_documents_prefix(partner_id, claim_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_sort_in_version_order() {
        assert!(events_sk(9) < events_sk(10));
        assert!(delivery_pk("p1", "T").starts_with(&delivery_pk_prefix("p1")));
        assert!(!delivery_pk("p10", "T").starts_with(&delivery_pk_prefix("p1")));
        assert_eq!(
            parse_delivery_pk(&delivery_pk("p1", "T.1")),
            Some(("p1".into(), "T.1".into()))
        );
    }

    #[test]
    fn claim_keys_stay_apart_from_deliveries_and_other_partners() {
        assert_ne!(claims_by_created_pk("p1"), by_created_pk("p1"));
        let st = crate::domain::ClaimStatus::InReview;
        assert_eq!(claims_by_status_pk("p1", st), "CLAIMS#p1#STATUS#in_review");
        let key = claim_document("ptn_a", "clm_1", "doc_1");
        assert!(key.starts_with(&claim_documents_prefix("ptn_a", "clm_1")));
        assert!(!key.starts_with("claims/ptn_a/clm_10/"));
        assert_eq!(key, "claims/ptn_a/clm_1/doc_1");
    }
}
