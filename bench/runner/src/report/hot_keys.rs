//! The per-key arithmetic of a large partner at peak (issue 17).

use super::*;

/// The per-key arithmetic of a large partner at peak (issue 17), from the measured write units
/// per index.
pub(super) fn hot_keys(r: &Results) -> String {
    use shared::store::keys::{
        BY_CREATED, BY_POLICY, BY_STATUS, EVENT_LOG_SHARDS, EVENT_SHARD_BITS, LIST_SHARDS,
    };
    let mut o = String::new();
    const PARCELS_PER_DAY: f64 = 2_000_000.0; // also written out in the text below
    const PEAK: f64 = 10.0;
    let updates = crate::LIFECYCLE.len() as f64;
    let submits = PARCELS_PER_DAY / 86_400.0 * PEAK;
    let tracking = submits * updates;
    let unit = |kind: &str, on: &str| -> f64 {
        r.index_units
            .get(kind)
            .and_then(|m| m.get(on))
            .map(|v| mean(v))
            .unwrap_or(f64::NAN)
    };
    let change = "tracking, status changes";
    let same = "tracking, same status";
    let _ = writeln!(o, "\n## Hot keys at a large partner's peak\n");
    let _ = writeln!(
        o,
        "A partner shipping 2,000,000 parcels a day with {} tracking updates each, at {}x the mean rate: \
         {:.1} submits/s and {:.1} tracking updates/s. DynamoDB serves at most 1,000 WCU/s and \
         3,000 RCU/s per partition key, of the table or of an index (a throttled index throttles \
         the table's writes). Write units per call where they land, measured on the floor's \
         copies of the API's items (`ReturnConsumedCapacity=INDEXES`, mean of the calls):\n",
        updates, PEAK, submits, tracking
    );
    let _ = writeln!(
        o,
        "| write | table | {BY_CREATED} | {BY_STATUS} | {BY_POLICY} |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|");
    for kind in ["submit", change, same] {
        let cell = |on: &str| {
            let u = unit(kind, on);
            if u.is_nan() {
                "0".to_string()
            } else {
                f2(u)
            }
        };
        let _ = writeln!(
            o,
            "| {kind} | {} | {} | {} | {} |",
            cell("table"),
            cell(BY_CREATED),
            cell(BY_STATUS),
            cell(BY_POLICY)
        );
    }
    let z = |x: f64| if x.is_nan() { 0.0 } else { x };
    let created_unit = |k: &str| z(unit(k, BY_CREATED));
    // A status key: a status change deletes from one key and puts into another (half of the
    // units each); a same-status update rewrites the item in place.
    let status_move = z(unit(change, BY_STATUS)) / 2.0;
    let status_same = z(unit(same, BY_STATUS));
    let status_enter = z(unit("submit", BY_STATUS));
    let per_created = submits * created_unit("submit")
        + tracking * (created_unit(change) + created_unit(same)) / 2.0;
    // Worst status key: every parcel enters it and makes all its updates in it.
    let worst_status = submits * (status_enter + updates * status_same);
    // The bench lifecycle's busiest status key: in_process (entered, one update, left).
    let lifecycle_status = submits * (status_move + status_same + status_move);
    let shards = LIST_SHARDS as f64;
    let verdict = |x: f64| {
        if x <= 1000.0 {
            "ok"
        } else {
            "**over**"
        }
    };
    let _ = writeln!(
        o,
        "\nPer key at the peak (WCU/s), before and after splitting each partner list key into {} \
         shards by the tracking number (`shared::store::keys::list_shard`; a list queries the \
         shards side by side and merges them behind the same sealed cursor):\n",
        LIST_SHARDS
    );
    let _ = writeln!(
        o,
        "| key | what writes it | one key | per shard | limit 1,000 |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|");
    let row = |o: &mut String, key: &str, what: &str, one: f64, sharded: Option<f64>| {
        let after = sharded.unwrap_or(one);
        let _ = writeln!(
            o,
            "| {key} | {what} | {:.0} | {} | {} |",
            one,
            sharded.map(|x| format!("{x:.0}")).unwrap_or("-".into()),
            verdict(after)
        );
    };
    row(
        &mut o,
        "table `DELIVERY#<partner>#<tn>`",
        "one delivery's submit and updates, over its journey (shown: spread over a day)",
        (1.0 + updates) * z(unit(change, "table")) / 86_400.0,
        None,
    );
    row(
        &mut o,
        &format!("{BY_CREATED} `PARTNER#<partner>`"),
        "every submit and every tracking update of the partner",
        per_created,
        Some(per_created / shards),
    );
    row(
        &mut o,
        &format!("{BY_STATUS} `PARTNER#<partner>#STATUS#<s>`, worst case"),
        "every parcel enters the status and makes all its updates in it",
        worst_status,
        Some(worst_status / shards),
    );
    row(
        &mut o,
        &format!("{BY_STATUS}, `in_process` in the lifecycle above"),
        "enter, one update, leave",
        lifecycle_status,
        Some(lifecycle_status / shards),
    );
    row(
        &mut o,
        &format!("{BY_POLICY} `POLICY#<policy_id>`"),
        "one submit (shown: per second over a day)",
        z(unit("submit", BY_POLICY)) / 86_400.0,
        None,
    );
    // ---- the event log and delivery attempts (issue 14), split like the list keys ----------
    // Worst case: every tracking update changes the status, so each lifecycle makes
    // 1 (policy.issued) + `updates` events. An event item holds the delivery view (~2 KB:
    // 2 WRU, as the webhooks section prices it); an attempt record is under 1 KB (1 WRU), one
    // per event and subscribed endpoint, two when the first attempt fails (the schedule's
    // immediate retry).
    let events = submits * (1.0 + updates);
    let log_shards = EVENT_LOG_SHARDS as f64;
    row(
        &mut o,
        "event log `EVENTS#<partner>`",
        &format!(
            "every event of the partner ({events:.0}/s: 1 + {updates} per lifecycle), 2 WRU each"
        ),
        events * 2.0,
        Some(events * 2.0 / log_shards),
    );
    row(
        &mut o,
        "attempts `ATTEMPTS#<partner>#<endpoint>`",
        "every event to an endpoint subscribed to all, 1 WRU an attempt (shown: failing, two attempts each)",
        events * 2.0,
        Some(events * 2.0 / log_shards),
    );
    let (_, index_item) = r.item_bytes;
    let page_rcu = |limit: f64| (limit * index_item as f64 / 4096.0).ceil() * 0.5;
    let share = shared::store::shard_limit(50, LIST_SHARDS, false) as f64;
    let _ = writeln!(
        o,
        "\nThe event log and the attempts are split {EVENT_LOG_SHARDS} ways \
         (`EVENTS#<partner>#<shard>`, `ATTEMPTS#<partner>#<endpoint>#<shard>`), the shard a hash \
         of the resource (`keys::event_log_shard`: one resource's events share a key) carried in \
         the event id (the top {EVENT_SHARD_BITS} bits of its ULID's random part), so reading or \
         redelivering one event is one GetItem; `GET /events` and an endpoint's deliveries fan \
         out and merge like the delivery list. The endpoint items (`WEBHOOKS#<partner>`) are \
         read by the sender once per delivery job (a consistent GetItem, 1 RCU): {events:.0} \
         RCU/s per endpoint subscribed to every event, under 3,000 per item but over it per key \
         from three such endpoints (not split: see the report of the cost merge).\n"
    );
    let _ = writeln!(
        o,
        "Reads: a list page asks each shard for about its share of the page ({share:.0} index \
         items for a page of 50, `lists::shard_limit`; asked again in the rare case one shard \
         holds more; a page filtered after the read, by `policy_status`, reads `limit` per \
         shard), ≈ {index_item} bytes each, eventually consistent: 0.5 RCU per 4 KB, at most {} \
         RCU per shard for a page of 50, so one shard key serves about {:.0} pages/s before \
         3,000 RCU/s; gets and tracking reads land on each delivery's own key.\n",
        page_rcu(share),
        3000.0 / page_rcu(share),
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hot_key_table_has_the_split_event_log_and_attempts() {
        let out = hot_keys(&Results::default());
        for row in [
            "| event log `EVENTS#<partner>` | every event of the partner (1389/s: 1 + 5 per lifecycle), 2 WRU each | 2778 | 347 | ok |",
            "| attempts `ATTEMPTS#<partner>#<endpoint>` |",
        ] {
            assert!(out.contains(row), "{row} not in:\n{out}");
        }
    }
}
