//! Lists over keys split into shards, newest first: a partner's deliveries from the sharded
//! list indexes (`keys.rs`, "list indexes"), and its event log and delivery attempts
//! (`keys.rs`, "event log"; `webhooks.rs`). One query per shard, side by side, merged by sort
//! key into one exact page (`fan_out`, the one merge every sharded list uses).
//!
//! A shard answers its newest items, and an item a shard did not return is older than
//! everything it returned. So a shard that has more is complete only down to the last item it
//! evaluated (its frontier), and the merge stops at the newest frontier among the shards that
//! have more. A shard is asked for about its share of the page (`shard_limit`: the page's size
//! over the shards, plus a margin), not the whole page, which reads several times fewer items
//! (issue 17: the list's read units); should the merged page come out short because one shard
//! held more than that share, the shards are asked again from where the page stopped, so an
//! unfiltered page is always full while more exists. With a filter applied after the read
//! (`policy_status`, an event type) a shard is asked for the whole page and asked once: such a
//! page may hold fewer than `limit` items (as documented for those filters). `ListPosition`
//! records, for each shard with more to read, where it resumes; it is what the sealed cursor
//! carries.

use std::collections::BTreeMap;
use std::future::Future;

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
    /// The first page of a delivery list: every shard from its newest item.
    pub fn start() -> Self {
        Self::start_of(keys::LIST_SHARDS)
    }

    /// The first page of a list over `shards` shards.
    pub fn start_of(shards: u8) -> Self {
        ListPosition((0..shards).map(|s| (s, None)).collect())
    }

    /// A position of a delivery list this code could have produced (a cursor is sealed, so
    /// anything else is a bug or a cursor of an older layout).
    pub fn is_valid(&self) -> bool {
        self.is_valid_for(keys::LIST_SHARDS, |sk| {
            keys::list_sk_tracking_number(sk).is_some()
        })
    }

    /// A position of a list over `shards` shards whose sort keys pass `sk_ok`.
    pub fn is_valid_for(&self, shards: u8, sk_ok: impl Fn(&str) -> bool) -> bool {
        self.0.keys().all(|s| *s < shards) && self.0.values().flatten().all(|sk| sk_ok(sk))
    }
}

/// One shard's answer: its items with their sort keys (newest first), and the sort key of the
/// last item it evaluated when it has more.
pub(super) struct ShardPage {
    items: Vec<(String, Item)>,
    more_after: Option<String>,
}

impl ShardPage {
    /// A query's answer, each item's sort key read from `sk_attr`.
    pub(super) fn of(
        items: Option<Vec<Item>>,
        last_evaluated_key: Option<Item>,
        sk_attr: &str,
    ) -> Result<Self, StoreError> {
        let sk_of = |i: &Item| -> Option<String> {
            i.get(sk_attr)
                .and_then(|v: &AttributeValue| v.as_s().ok())
                .cloned()
        };
        let more_after = last_evaluated_key.as_ref().and_then(sk_of);
        let items = items
            .unwrap_or_default()
            .into_iter()
            .map(|i| {
                sk_of(&i)
                    .map(|sk| (sk, i))
                    .ok_or_else(|| StoreError::Internal("a list item without its sort key".into()))
            })
            .collect::<Result<_, _>>()?;
        Ok(ShardPage { items, more_after })
    }
}

/// How many items to ask one of `shards` shards for, for a page of `limit` (`filtered`: a
/// filter is applied after the read, so the whole page). Unfiltered, the page's share plus a
/// margin of four standard deviations of that share and two: with items spread evenly over the
/// shards (the shard is a hash), a shard rarely holds more of a page than that, and when it
/// does, `fan_out` asks again.
pub fn shard_limit(limit: usize, shards: u8, filtered: bool) -> usize {
    let shards = f64::from(shards.max(1));
    let share = limit as f64 / shards;
    let margin = 4.0 * (share * (1.0 - 1.0 / shards)).sqrt() + 2.0;
    if filtered {
        limit
    } else {
        ((share + margin).ceil() as usize).clamp(1, limit.max(1))
    }
}

/// Asking again for a short unfiltered page stops after this many rounds (the page is then
/// returned short, with its cursor: still exact, nothing skipped).
const MAX_ROUNDS: usize = 4;

/// One page of a sharded list, newest first, from `from`, and where the next page starts
/// (`None`: nothing more). `query(shard, after, limit)` reads one shard: up to `limit` items
/// older than the sort key `after` (`None`: from its newest), newest first. The shards of a
/// round are queried side by side.
pub(super) async fn fan_out<F, Fut>(
    from: &ListPosition,
    limit: usize,
    filtered: bool,
    shards: u8,
    query: F,
) -> Result<(Vec<Item>, Option<ListPosition>), StoreError>
where
    F: Fn(u8, Option<String>, i32) -> Fut,
    Fut: Future<Output = Result<ShardPage, StoreError>> + Send + 'static,
{
    let mut out: Vec<Item> = Vec::with_capacity(limit);
    let mut position = from.clone();
    for _ in 0..if filtered { 1 } else { MAX_ROUNDS } {
        let want = limit - out.len();
        let per_shard = shard_limit(want, shards, filtered) as i32;
        let mut tasks = tokio::task::JoinSet::new();
        for (&shard, after) in &position.0 {
            let q = query(shard, after.clone(), per_shard);
            tasks.spawn(async move { (shard, q.await) });
        }
        let mut pages: BTreeMap<u8, ShardPage> = BTreeMap::new();
        while let Some(done) = tasks.join_next().await {
            let (shard, page) =
                done.map_err(|e| StoreError::Internal(format!("list query task: {e}")))?;
            pages.insert(shard, page?);
        }
        let (chosen, next) = merge(&pages, &position, want);
        for (shard, i) in chosen {
            let item = std::mem::take(
                &mut pages
                    .get_mut(&shard)
                    .expect("a chosen shard answered")
                    .items[i]
                    .1,
            );
            out.push(item);
        }
        match next {
            None => return Ok((out, None)),
            Some(next) if out.len() >= limit => return Ok((out, Some(next))),
            Some(next) => position = next,
        }
    }
    Ok((out, Some(position)))
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
        let (items, next) = fan_out(
            from,
            q.limit.max(1) as usize,
            q.policy_status.is_some(),
            keys::LIST_SHARDS,
            |shard, after, limit| self.shard_query(partner_id, q, shard, after.as_deref(), limit),
        )
        .await?;
        let out = items
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((out, next))
    }

    /// The query of one shard: up to `limit` items older than `after`, newest first.
    fn shard_query(
        &self,
        partner_id: &str,
        q: &ListQuery,
        shard: u8,
        after: Option<&str>,
        limit: i32,
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
            .limit(limit)
            .expression_attribute_values(":pk", s(pk.clone()));
        req = created_range(req, &mut cond, sk_attr, &q.created_from, &q.created_to);
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
            ShardPage::of(out.items, out.last_evaluated_key, sk_attr)
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

/// The created range of a list query as a key condition on the index's sort key
/// (`<created_at>#<id>`): `to` is inclusive, `~` sorting after every `#<id>` suffix.
pub(super) fn created_range(
    req: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    cond: &mut String,
    sk_attr: &str,
    from: &Option<String>,
    to: &Option<String>,
) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    match (from, to) {
        (Some(from), Some(to)) => {
            cond.push_str(&format!(" AND {sk_attr} BETWEEN :from AND :to"));
            req.expression_attribute_values(":from", s(from.clone()))
                .expression_attribute_values(":to", s(format!("{to}~")))
        }
        (Some(from), None) => {
            cond.push_str(&format!(" AND {sk_attr} >= :from"));
            req.expression_attribute_values(":from", s(from.clone()))
        }
        (None, Some(to)) => {
            cond.push_str(&format!(" AND {sk_attr} <= :to"));
            req.expression_attribute_values(":to", s(format!("{to}~")))
        }
        (None, None) => req,
    }
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

    /// `fan_out` over in-memory shards (each: sort keys, newest first), counting the queries
    /// and the items they read.
    async fn run(
        shards: &BTreeMap<u8, Vec<String>>,
        limit: usize,
        from: &ListPosition,
    ) -> (Vec<String>, Option<ListPosition>, usize, usize) {
        let queries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (items, next) = fan_out(from, limit, false, 8, |shard, after, n| {
            let all = shards.get(&shard).cloned().unwrap_or_default();
            let (queries, read) = (queries.clone(), read.clone());
            async move {
                let rest: Vec<String> = all
                    .into_iter()
                    .filter(|sk| after.as_ref().is_none_or(|a| sk < a))
                    .collect();
                let n = n as usize;
                let items: Vec<(String, Item)> = rest
                    .iter()
                    .take(n)
                    .map(|sk| (sk.clone(), [("sk".to_string(), s(sk.clone()))].into()))
                    .collect();
                queries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                read.fetch_add(items.len(), std::sync::atomic::Ordering::Relaxed);
                let more_after = (rest.len() > n).then(|| items.last().unwrap().0.clone());
                Ok(ShardPage { items, more_after })
            }
        })
        .await
        .unwrap();
        let sks = items
            .iter()
            .map(|i| i["sk"].as_s().unwrap().clone())
            .collect();
        (
            sks,
            next,
            queries.load(std::sync::atomic::Ordering::Relaxed),
            read.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    #[tokio::test]
    async fn pages_are_full_exact_and_read_about_their_share_of_each_shard() {
        // 400 items spread over 8 shards by a hash, newest = highest.
        let mut shards: BTreeMap<u8, Vec<String>> = BTreeMap::new();
        for i in 0..400u32 {
            let sk = format!("{i:04}#t{i}");
            shards
                .entry(keys::list_shard(&format!("t{i}")))
                .or_default()
                .push(sk);
        }
        for v in shards.values_mut() {
            v.sort_by(|a, b| b.cmp(a));
        }
        let mut expected: Vec<String> = shards.values().flatten().cloned().collect();
        expected.sort_by(|a, b| b.cmp(a));
        let mut from = ListPosition::start();
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let (sks, next, queries, read) = run(&shards, 50, &from).await;
            pages += 1;
            assert_eq!(queries, 8, "one round of one query per shard");
            assert!(read <= 8 * shard_limit(50, 8, false), "{read} items read");
            seen.extend(sks);
            match next {
                Some(n) => from = n,
                None => break,
            }
        }
        assert_eq!(seen, expected, "every item once, newest first");
        assert_eq!(pages, 8, "full pages");
    }

    #[tokio::test]
    async fn a_shard_holding_more_than_its_share_is_asked_again() {
        // Shard 0 holds the 40 newest items; the others one older item each.
        let mut shards: BTreeMap<u8, Vec<String>> = BTreeMap::new();
        shards.insert(0, (0..40).rev().map(|i| format!("9{i:03}#a{i}")).collect());
        for sh in 1..8u8 {
            shards.insert(sh, vec![format!("1{sh:03}#b{sh}")]);
        }
        let (sks, next, queries, _) = run(&shards, 50, &ListPosition::start()).await;
        assert_eq!(sks.len(), 47, "the whole list, in one page");
        assert!(sks.windows(2).all(|w| w[0] > w[1]));
        assert!(next.is_none());
        assert!(queries > 8, "a second round: {queries} queries");
        let (sks, next, _, _) = run(&shards, 30, &ListPosition::start()).await;
        assert_eq!(sks.len(), 30, "full page");
        let (rest, none, _, _) = run(&shards, 30, &next.unwrap()).await;
        assert_eq!(rest.len(), 17);
        assert!(none.is_none() && rest[0] < sks[29]);
    }

    #[test]
    fn shards_are_asked_for_their_share_with_a_margin() {
        assert_eq!(shard_limit(50, 8, false), 18);
        assert_eq!(
            shard_limit(50, 8, true),
            50,
            "a filtered page reads the whole page"
        );
        assert_eq!(shard_limit(1, 8, false), 1);
        assert_eq!(shard_limit(100, 8, false), 28);
        assert!(shard_limit(20, 8, false) <= 20);
    }

    #[test]
    fn positions_are_checked() {
        assert!(ListPosition::start().is_valid());
        assert!(!ListPosition(BTreeMap::from([(keys::LIST_SHARDS, None)])).is_valid());
        assert!(!ListPosition(BTreeMap::from([(0, Some("no-hash".into()))])).is_valid());
    }
}
