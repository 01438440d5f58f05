//! A partner's deliveries, newest first, from the sharded list indexes (`keys.rs`, "list
//! indexes"): one query per shard, side by side, merged by sort key into one exact page.
//!
//! A page's items are the newest of the union: a shard asked for `limit` items answers its
//! newest `limit`, and an item a shard did not return is older than everything it returned.
//! With `policy_status` (a filter applied after the read) a shard may evaluate items it does
//! not return; its answer is then complete only down to the last item it evaluated, so the
//! merge stops at the newest such frontier among the shards that have more, and the page may
//! hold fewer than `limit` items (as documented for that filter). `ListPosition` records, for
//! each shard with more to read, where it resumes; it is what the sealed cursor carries.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{classify, from_item, keys, s, Item, Store, StoreError};
use crate::domain::{DeliveryStatus, PolicyStatus};
use crate::store::DeliveryRecord;

/// Filters of a delivery list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub delivery_status: Option<DeliveryStatus>,
    pub policy_status: Option<PolicyStatus>,
    /// Inclusive bounds on `created_at`, as sortable text (`time_fmt::format`).
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub limit: i32,
}

/// Where a list goes on: each shard with more to read, and the list sort key after which it
/// resumes (`None`: from its newest item). A shard not named is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPosition(pub BTreeMap<u8, Option<String>>);

impl ListPosition {
    /// The first page: every shard from its newest item.
    pub fn start() -> Self {
        ListPosition((0..keys::LIST_SHARDS).map(|s| (s, None)).collect())
    }

    /// A position this code could have produced (a cursor is sealed, so anything else is a bug
    /// or a cursor of an older layout).
    pub fn is_valid(&self) -> bool {
        self.0.keys().all(|s| *s < keys::LIST_SHARDS)
            && self
                .0
                .values()
                .flatten()
                .all(|sk| keys::list_sk_tracking_number(sk).is_some())
    }
}

/// One shard's answer: its items with their sort keys (newest first), and the sort key of the
/// last item it evaluated when it has more.
struct ShardPage {
    items: Vec<(String, Item)>,
    more_after: Option<String>,
}

impl Store {
    /// A page of a partner's deliveries, newest first, from the list indexes (never a scan),
    /// and where the next page starts (`None`: nothing more).
    pub async fn list_deliveries(
        &self,
        partner_id: &str,
        q: &ListQuery,
        from: &ListPosition,
    ) -> Result<(Vec<DeliveryRecord>, Option<ListPosition>), StoreError> {
        let mut tasks = tokio::task::JoinSet::new();
        for (&shard, after) in &from.0 {
            let query = self.shard_query(partner_id, q, shard, after.as_deref());
            tasks.spawn(async move { (shard, query.await) });
        }
        let mut pages: BTreeMap<u8, ShardPage> = BTreeMap::new();
        while let Some(done) = tasks.join_next().await {
            let (shard, page) =
                done.map_err(|e| StoreError::Internal(format!("list query task: {e}")))?;
            pages.insert(shard, page?);
        }
        let (chosen, next) = merge(&pages, from, q.limit as usize);
        let mut out = Vec::with_capacity(chosen.len());
        for (shard, i) in chosen {
            out.push(from_item(pages[&shard].items[i].1.clone())?);
        }
        Ok((out, next))
    }

    /// The query of one shard: up to `limit` items older than `after`, newest first.
    fn shard_query(
        &self,
        partner_id: &str,
        q: &ListQuery,
        shard: u8,
        after: Option<&str>,
    ) -> impl std::future::Future<Output = Result<ShardPage, StoreError>> + Send + 'static {
        let (index, pk_attr, pk) = match q.delivery_status {
            Some(st) => (
                keys::BY_STATUS,
                keys::STATUS_PK,
                keys::by_status_pk(partner_id, st, shard),
            ),
            None => (
                keys::BY_CREATED,
                keys::CREATED_PK,
                keys::by_created_pk(partner_id, shard),
            ),
        };
        let sk_attr = keys::LIST_SK;
        let mut cond = format!("{pk_attr} = :pk");
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .scan_index_forward(false)
            .limit(q.limit)
            .expression_attribute_values(":pk", s(pk.clone()));
        match (&q.created_from, &q.created_to) {
            (Some(from), Some(to)) => {
                cond.push_str(&format!(" AND {sk_attr} BETWEEN :from AND :to"));
                req = req
                    .expression_attribute_values(":from", s(from.clone()))
                    .expression_attribute_values(":to", s(format!("{to}~")));
            }
            (Some(from), None) => {
                cond.push_str(&format!(" AND {sk_attr} >= :from"));
                req = req.expression_attribute_values(":from", s(from.clone()));
            }
            (None, Some(to)) => {
                cond.push_str(&format!(" AND {sk_attr} <= :to"));
                req = req.expression_attribute_values(":to", s(format!("{to}~")));
            }
            (None, None) => {}
        }
        if let Some(ps) = q.policy_status {
            req = req
                .filter_expression("policy_status = :ps")
                .expression_attribute_values(":ps", s(ps.as_str()));
        }
        if let Some(after) = after {
            // The index key and the table key of the item to resume after.
            let tn = keys::list_sk_tracking_number(after).unwrap_or_default();
            let start: Item = [
                (pk_attr.to_string(), s(pk)),
                (sk_attr.to_string(), s(after)),
                (keys::PK.to_string(), s(keys::delivery_pk(partner_id, tn))),
                (keys::SK.to_string(), s(keys::DELIVERY_SK)),
            ]
            .into();
            req = req.set_exclusive_start_key(Some(start));
        }
        let req = req.key_condition_expression(cond);
        async move {
            let out = req.send().await.map_err(|e| classify("Query", e))?;
            let sk_of = |i: &Item| -> Option<String> {
                i.get(sk_attr)
                    .and_then(|v: &AttributeValue| v.as_s().ok())
                    .cloned()
            };
            let more_after = out.last_evaluated_key.as_ref().and_then(sk_of);
            let items = out
                .items
                .unwrap_or_default()
                .into_iter()
                .map(|i| {
                    sk_of(&i).map(|sk| (sk, i)).ok_or_else(|| {
                        StoreError::Internal("a list item without its sort key".into())
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(ShardPage { items, more_after })
        }
    }
}

/// The page (shard, index into that shard's items), newest first, and the next position.
fn merge(
    pages: &BTreeMap<u8, ShardPage>,
    from: &ListPosition,
    limit: usize,
) -> (Vec<(u8, usize)>, Option<ListPosition>) {
    // Items older than a shard's frontier may still exist in that shard, unread.
    let frontier = pages.values().filter_map(|p| p.more_after.as_deref()).max();
    let mut all: Vec<(&str, u8, usize)> = pages
        .iter()
        .flat_map(|(shard, p)| {
            p.items
                .iter()
                .enumerate()
                .map(move |(i, (sk, _))| (sk.as_str(), *shard, i))
        })
        .filter(|(sk, _, _)| frontier.is_none_or(|f| *sk >= f))
        .collect();
    all.sort_by(|a, b| b.0.cmp(a.0));
    all.truncate(limit);
    let mut next = BTreeMap::new();
    for (shard, page) in pages {
        let taken = all.iter().filter(|(_, s, _)| s == shard).count();
        let resume = if taken < page.items.len() {
            // Items of this shard were read but not shown: resume after the last one shown.
            match taken {
                0 => from.0.get(shard).cloned().flatten(),
                n => Some(page.items[n - 1].0.clone()),
            }
        } else {
            match &page.more_after {
                None => continue,
                Some(sk) => Some(sk.clone()),
            }
        };
        next.insert(*shard, resume);
    }
    let chosen = all.into_iter().map(|(_, s, i)| (s, i)).collect();
    (chosen, (!next.is_empty()).then_some(ListPosition(next)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(sks: &[&str], more_after: Option<&str>) -> ShardPage {
        ShardPage {
            items: sks.iter().map(|s| (s.to_string(), Item::new())).collect(),
            more_after: more_after.map(str::to_string),
        }
    }

    fn sks(pages: &BTreeMap<u8, ShardPage>, chosen: &[(u8, usize)]) -> Vec<String> {
        chosen
            .iter()
            .map(|(s, i)| pages[s].items[*i].0.clone())
            .collect()
    }

    #[test]
    fn merges_newest_first_and_resumes_each_shard_after_what_it_showed() {
        let pages = BTreeMap::from([
            (0, page(&["9#a", "5#b", "1#c"], Some("1#c"))),
            (1, page(&["8#d", "7#e", "2#f"], Some("2#f"))),
            (2, page(&["3#g"], None)),
        ]);
        let (chosen, next) = merge(&pages, &ListPosition::start(), 3);
        assert_eq!(sks(&pages, &chosen), ["9#a", "8#d", "7#e"]);
        let next = next.unwrap();
        assert_eq!(next.0[&0], Some("9#a".into()));
        assert_eq!(next.0[&1], Some("7#e".into()));
        assert_eq!(
            next.0[&2], None,
            "shard 2 showed nothing: it starts again where it was"
        );
    }

    #[test]
    fn a_shard_that_ran_out_is_dropped_and_the_last_page_has_no_cursor() {
        let pages = BTreeMap::from([(0, page(&["9#a"], None)), (3, page(&["8#b"], None))]);
        let (chosen, next) = merge(&pages, &ListPosition::start(), 50);
        assert_eq!(sks(&pages, &chosen), ["9#a", "8#b"]);
        assert!(next.is_none());
    }

    #[test]
    fn a_filtered_shard_bounds_what_the_others_may_show() {
        // Shard 0 evaluated down to 6#x and returned one match; shard 1 returned older ones.
        let pages = BTreeMap::from([
            (0, page(&["9#a"], Some("6#x"))),
            (1, page(&["5#b", "4#c"], None)),
        ]);
        let (chosen, next) = merge(&pages, &ListPosition::start(), 10);
        assert_eq!(sks(&pages, &chosen), ["9#a"]);
        let next = next.unwrap();
        assert_eq!(next.0[&0], Some("6#x".into()), "resume after the frontier");
        assert_eq!(next.0[&1], None, "shard 1 read again from where it was");
    }

    #[test]
    fn positions_are_checked() {
        assert!(ListPosition::start().is_valid());
        assert!(!ListPosition(BTreeMap::from([(keys::LIST_SHARDS, None)])).is_valid());
        assert!(!ListPosition(BTreeMap::from([(0, Some("no-hash".into()))])).is_valid());
    }
}
