//! Every storage key of the table, built here and nowhere else (layout: docs/architecture.md).
//! Ids placed in keys are of restricted alphabets (no `#`), so keys cannot collide.

use crate::domain::DeliveryStatus;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// A partner's deliveries, newest first, in `LIST_SHARDS` partitions (see "list indexes" below).
pub const BY_CREATED: &str = "list-created";
/// The same, per delivery status.
pub const BY_STATUS: &str = "list-status";
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

/// The partner id and tracking number of a delivery partition key.
pub fn parse_delivery_pk(pk: &str) -> Option<(String, String)> {
    let (partner_id, tracking_number) = pk.strip_prefix("DELIVERY#")?.split_once('#')?;
    Some((partner_id.to_string(), tracking_number.to_string()))
}

pub fn by_policy_pk(policy_id: &str) -> String {
    format!("POLICY#{policy_id}")
}

// ---- list indexes (issue 17) --------------------------------------------------------------
//
// A large partner's deliveries would all land on one `list-created` key and one `list-status`
// key per status, and every submit and tracking update writes there: at 2 million parcels a
// day with 5 updates each and a 10x peak that is ~1,400 writes/s on one key, over DynamoDB's
// 1,000 WCU/s per partition (bench/RESULTS.md, "Hot keys"). So each key is split into
// `LIST_SHARDS` keys by a fixed function of the tracking number, and a list queries every
// shard and merges the answers by sort key. Changing `LIST_SHARDS` or `list_shard` moves every
// stored delivery to another key: both are part of the table's layout, like the key strings.

/// Shards of each list key.
pub const LIST_SHARDS: u8 = 8;
/// Attribute of the `list-created` partition key.
pub const CREATED_PK: &str = "cpk";
/// Attribute of the `list-status` partition key.
pub const STATUS_PK: &str = "spk";
/// Attribute of the sort key of both list indexes: `<created_at>#<tracking_number>`.
pub const LIST_SK: &str = "lsk";
/// Attribute of the `by-policy` partition key.
pub const POLICY_PK: &str = "gsi3pk";
/// Index key attributes of the layout before issue 17 (`by-created`, `by-status`), removed
/// when an item is rewritten.
pub const LEGACY_INDEX_ATTRIBUTES: [&str; 4] = ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"];

/// The list shard of a tracking number: the first byte of its SHA-256, modulo `LIST_SHARDS`
/// (a divisor of 256, so every shard is equally likely).
pub fn list_shard(tracking_number: &str) -> u8 {
    use sha2::{Digest, Sha256};
    Sha256::digest(tracking_number.as_bytes())[0] % LIST_SHARDS
}

pub fn by_created_pk(partner_id: &str, shard: u8) -> String {
    format!("PARTNER#{partner_id}#{shard}")
}

pub fn by_status_pk(partner_id: &str, status: DeliveryStatus, shard: u8) -> String {
    format!("PARTNER#{partner_id}#STATUS#{status}#{shard}")
}

/// Sort key of both list indexes: the creation time (sortable text) then the tracking number.
pub fn list_sk(created_at: &str, tracking_number: &str) -> String {
    format!("{created_at}#{tracking_number}")
}

/// The tracking number in a list sort key.
pub fn list_sk_tracking_number(sk: &str) -> Option<&str> {
    sk.split_once('#')
        .map(|(_, tn)| tn)
        .filter(|tn| !tn.is_empty())
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

// The event log (issue 14), split like the list keys (issue 17): at the peak a large
// partner makes ~1,389 events/s (about 6 per lifecycle), each Put 1 to 2 write units, over
// DynamoDB's 1,000 WCU/s per partition on one key (bench/RESULTS.md, "Hot keys"). So the log is
// `EVENT_LOG_SHARDS` keys `EVENTS#<partner_id>#<shard>`, the shard a fixed function of the
// resource id (one resource's events stay on one key), and the list queries every shard and
// merges (`lists.rs`). The shard is also written into the event id (the top bits of the ULID's
// random part, `webhooks::event::event_id`), so `GET /events/{id}` and redeliver find the key
// from the id alone: one GetItem. Part of the stored layout, like the key strings.

/// Shards of a partner's event log.
pub const EVENT_LOG_SHARDS: u8 = 8;
/// Bits of the ULID's random part (from the top) that carry the shard: `EVENT_LOG_SHARDS` is
/// `1 << EVENT_SHARD_BITS`.
pub const EVENT_SHARD_BITS: u32 = 3;

/// The event log shard of a resource (`delivery` + tracking number, `claim` + claim id): the
/// first byte of the SHA-256 of `<kind>#<id>`, modulo `EVENT_LOG_SHARDS`.
pub fn event_log_shard(resource_kind: &str, resource_id: &str) -> u8 {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(resource_kind.as_bytes())
        .chain_update(b"#")
        .chain_update(resource_id.as_bytes())
        .finalize()[0]
        % EVENT_LOG_SHARDS
}

/// The shard an event id carries (`None`: not an `evt_` ULID).
pub fn event_id_shard(event_id: &str) -> Option<u8> {
    let ulid = ulid::Ulid::from_string(event_id.strip_prefix("evt_")?).ok()?;
    Some((ulid.random() >> (80 - EVENT_SHARD_BITS)) as u8)
}

/// One shard of a partner's event log: sort key = the event id (a ULID: sorted by time).
pub fn events_pk(partner_id: &str, shard: u8) -> String {
    format!("EVENTS#{partner_id}#{shard}")
}

/// The key of a logged event (`None`: the id is no event id, so no event has it).
pub fn event(partner_id: &str, event_id: &str) -> Option<(String, String)> {
    let shard = event_id_shard(event_id)?;
    Some((events_pk(partner_id, shard), event_id.to_string()))
}

/// The delivery attempts to one endpoint, sorted by time, split like the event log and by the
/// same shard (the one the event id carries): every event a partner's endpoint subscribes to
/// makes at least one attempt, ~1,389/s at the peak on one key otherwise.
pub fn attempts_pk(partner_id: &str, endpoint_id: &str, shard: u8) -> String {
    format!("ATTEMPTS#{partner_id}#{endpoint_id}#{shard}")
}

pub fn attempt(
    partner_id: &str,
    endpoint_id: &str,
    shard: u8,
    at: &str,
    nonce: &str,
) -> (String, String) {
    (
        attempts_pk(partner_id, endpoint_id, shard),
        format!("{at}#{nonce}"),
    )
}

// ---- claims (issue 13) ------------------------------------------------------------------------
// A claim item: pk `CLAIM#<partner_id>#<claim_id>`, sk `CLAIM`; in the list indexes under
// `CLAIMS#<partner_id>` (list-created, `cpk`) and `CLAIMS#<partner_id>#STATUS#<claim_status>`
// (list-status, `spk`), sorted by `<created_at>#<claim_id>` (`lsk`), apart from the partner's
// deliveries (`PARTNER#...`). One key each, not sharded: claims are a few percent of deliveries
// (bench/RESULTS.md, "Hot keys").

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
    fn list_shards_are_fixed_and_spread() {
        // Part of the stored layout: these must never change.
        assert_eq!(list_shard("SPX0001"), list_shard("SPX0001"));
        let mut seen = [0usize; LIST_SHARDS as usize];
        for i in 0..8000 {
            seen[list_shard(&format!("TN{i:06}")) as usize] += 1;
        }
        for n in seen {
            assert!((800..1200).contains(&n), "{seen:?}");
        }
        let sk = list_sk("2026-12-01T00:00:00.000Z", "T.1");
        assert_eq!(list_sk_tracking_number(&sk), Some("T.1"));
        assert!(by_created_pk("p1", 3) != by_created_pk("p13", 0));
    }

    #[test]
    fn claim_keys_stay_apart_from_deliveries_and_other_partners() {
        assert_ne!(claims_by_created_pk("p1"), by_created_pk("p1", 0));
        let st = crate::domain::ClaimStatus::InReview;
        assert_eq!(claims_by_status_pk("p1", st), "CLAIMS#p1#STATUS#in_review");
        let key = claim_document("ptn_a", "clm_1", "doc_1");
        assert!(key.starts_with(&claim_documents_prefix("ptn_a", "clm_1")));
        assert!(!key.starts_with("claims/ptn_a/clm_10/"));
        assert_eq!(key, "claims/ptn_a/clm_1/doc_1");
    }
}
