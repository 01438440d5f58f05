//! The floor of each endpoint: the DynamoDB round trips it needs, made directly with the SDK
//! (same SDK configuration as the functions) against the same DynamoDB Local, on items copied
//! from what the API itself stored, so sizes and index updates match. The floor's writes also
//! ask for their capacity per index (`ReturnConsumedCapacity=INDEXES`): the write units each
//! list key takes per call, for the hot-key arithmetic.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use shared::domain::DeliveryStatus;
use shared::store::keys;

type Item = HashMap<String, AttributeValue>;

/// Write units per call by where they land (`table` or an index name), per kind of write.
pub type IndexUnits = BTreeMap<&'static str, BTreeMap<String, Vec<f64>>>;

pub struct Floor {
    pub client: Client,
    pub table: String,
    pub partner_id: String,
    pub client_id: String,
    /// A delivery as the API stored it (its tracking history inside it).
    pub delivery_pk: String,
    delivery: Item,
    /// A quote as the API stored it (`load_quote`).
    quote: Option<Item>,
    n: u64,
    pub index_units: IndexUnits,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

const TOTAL: ReturnConsumedCapacity = ReturnConsumedCapacity::Total;

impl Floor {
    pub async fn new(
        client: Client,
        table: String,
        partner_id: String,
        client_id: String,
        tracking_number: &str,
    ) -> Result<Floor, String> {
        let delivery_pk = keys::delivery_pk(&partner_id, tracking_number);
        let items = client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(delivery_pk.clone()))
            .send()
            .await
            .map_err(err)?
            .items
            .unwrap_or_default();
        let sk = |i: &Item| i.get(keys::SK).and_then(|v| v.as_s().ok()).cloned();
        let delivery = items
            .iter()
            .find(|i| sk(i).as_deref() == Some(keys::DELIVERY_SK))
            .cloned()
            .ok_or("floor: the sample delivery is not in the table")?;
        if !delivery.contains_key("e") {
            return Err("floor: the sample delivery holds no tracking events".into());
        }
        Ok(Floor {
            client,
            table,
            partner_id,
            client_id,
            delivery_pk,
            delivery,
            quote: None,
            n: 0,
            index_units: IndexUnits::new(),
        })
    }

    /// Keep a copy of a quote the API stored, for the quote floors.
    pub async fn load_quote(&mut self, quote_id: &str) -> Result<(), String> {
        let (pk, sk) = keys::quote(&self.partner_id, quote_id);
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .send()
            .await
            .map_err(err)?
            .item
            .ok_or("floor: the sample quote is not in the table")?;
        self.quote = Some(item);
        Ok(())
    }

    fn quote_item(&self) -> Result<&Item, String> {
        self.quote
            .as_ref()
            .ok_or_else(|| "floor: no quote loaded".into())
    }

    /// What a quote needs: one conditional put of a new quote item (a copy of the API's).
    pub async fn quote(&mut self) -> Result<f64, String> {
        self.n += 1;
        let mut item = self.quote_item()?.clone();
        let id = format!("quo_floor{}x{}", std::process::id(), self.n);
        let (pk, _) = keys::quote(FLOOR_PARTNER, &id);
        item.insert(keys::PK.into(), s(pk));
        let t = Instant::now();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        Ok(ms(t))
    }

    /// What a Submit with a quote needs: read the quote, then submit's conditional put.
    pub async fn submit_quoted(&mut self) -> Result<f64, String> {
        let quote = self.quote_item()?;
        let key = [keys::PK, keys::SK].map(|k| (k.to_string(), quote[k].clone()));
        let (_, mut item) = self.delivery_copy(DeliveryStatus::Created);
        item.remove("e");
        let t = Instant::now();
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.into_iter().collect()))
            .consistent_read(true)
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        self.put_new_delivery(item).await?;
        Ok(ms(t))
    }

    /// A copy of the sample delivery in `status` under a partition and partner of the floor's
    /// own (so that the partner's listings do not see it), with its index keys.
    fn delivery_copy(&mut self, status: DeliveryStatus) -> (String, Item) {
        self.n += 1;
        let partner = FLOOR_PARTNER;
        let tn = format!("FLOOR-{}-{}", std::process::id(), self.n);
        let shard = keys::list_shard(&tn);
        let pk = keys::delivery_pk(partner, &tn);
        let mut item = self.delivery.clone();
        item.insert(keys::PK.into(), s(pk.clone()));
        item.insert("delivery_status".into(), s(status.as_str()));
        item.insert(
            keys::CREATED_PK.into(),
            s(keys::by_created_pk(partner, shard)),
        );
        item.insert(
            keys::STATUS_PK.into(),
            s(keys::by_status_pk(partner, status, shard)),
        );
        item.insert(
            keys::LIST_SK.into(),
            s(keys::list_sk("2026-01-01T00:00:00.000Z", &tn)),
        );
        item.insert(
            keys::POLICY_PK.into(),
            s(format!("POLICY#pol_floor{}", self.n)),
        );
        (pk, item)
    }

    /// Adds a write's capacity per table and index to `index_units[kind]`.
    fn count(&mut self, kind: &'static str, c: Option<&ConsumedCapacity>) {
        let Some(c) = c else { return };
        let by = self.index_units.entry(kind).or_default();
        if let Some(t) = c.table.as_ref().and_then(|t| t.capacity_units) {
            by.entry("table".into()).or_default().push(t);
        }
        for (name, cap) in c.global_secondary_indexes.iter().flatten() {
            if let Some(u) = cap.capacity_units {
                by.entry(name.clone()).or_default().push(u);
            }
        }
    }

    /// What `POST /oauth/token` needs: read the client.
    pub async fn token(&mut self) -> Result<f64, String> {
        let (pk, sk) = keys::client(&self.client_id);
        let t = Instant::now();
        self.client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .consistent_read(true)
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        Ok(ms(t))
    }

    /// What submit needs: one conditional put of a new delivery (a copy of the sample, whose
    /// events are removed: a new delivery has none).
    pub async fn submit(&mut self) -> Result<f64, String> {
        let (_, mut item) = self.delivery_copy(DeliveryStatus::Created);
        item.remove("e");
        let t = Instant::now();
        let capacity = self.put_new_delivery(item).await?;
        let elapsed = ms(t);
        self.count("submit", capacity.as_ref());
        Ok(elapsed)
    }

    /// Submit's write: the conditional put of a new delivery (the existing item back on
    /// failure); its capacity per table and index.
    async fn put_new_delivery(&self, item: Item) -> Result<Option<ConsumedCapacity>, String> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await
            .map_err(err)?;
        Ok(out.consumed_capacity)
    }

    async fn read_delivery(&self, pk: &str) -> Result<(), String> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .consistent_read(true)
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    /// A fresh copy of the delivery to update (written outside the timing).
    async fn scratch(&mut self, status: DeliveryStatus) -> Result<String, String> {
        let (pk, item) = self.delivery_copy(status);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(err)?;
        Ok(pk)
    }

    /// What a tracking update needs: read the delivery, then one conditional UpdateItem that
    /// writes its status, events and version (moving it to another `list-status` key when the
    /// status changes). On a fresh copy of the delivery, written before the timing.
    pub async fn tracking(&mut self, status_changes: bool) -> Result<f64, String> {
        let from = if status_changes {
            DeliveryStatus::InDelivery
        } else {
            DeliveryStatus::Success
        };
        let pk = self.scratch(from).await?;
        let pk = pk.as_str();
        let tn = pk.rsplit('#').next().unwrap_or_default().to_string();
        let events = self.delivery.get("e").cloned().ok_or("no events")?;
        let t = Instant::now();
        self.read_delivery(pk).await?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .update_expression(
                "SET delivery_status = :st, #spk = :spk, updated_at = :now, version = :nv, e = :e",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#spk", keys::STATUS_PK)
            .expression_attribute_values(":st", s("success"))
            .expression_attribute_values(
                ":spk",
                s(keys::by_status_pk(
                    FLOOR_PARTNER,
                    DeliveryStatus::Success,
                    keys::list_shard(&tn),
                )),
            )
            .expression_attribute_values(":now", s("2026-01-01T00:00:01.000Z"))
            .expression_attribute_values(":nv", AttributeValue::N("100".into()))
            .expression_attribute_values(":e", events)
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await
            .map_err(err)?;
        let elapsed = ms(t);
        let kind = if status_changes {
            "tracking, status changes"
        } else {
            "tracking, same status"
        };
        self.count(kind, out.consumed_capacity());
        Ok(elapsed)
    }

    /// What filing a claim needs: read the delivery, then one two-item transaction (the
    /// delivery's claims part and version, and a new item: here a copy of the delivery stands
    /// for the claim item). On a fresh copy of the delivery, written before the timing.
    pub async fn read_and_transact(&mut self) -> Result<f64, String> {
        let pk = self.scratch(DeliveryStatus::Fail).await?;
        let mut other = self.delivery.clone();
        other.insert(
            keys::PK.into(),
            s(format!("CLAIM#{FLOOR_PARTNER}#{}", self.n)),
        );
        // Not sk CLAIM: the table's stream passes claim items to the events function, which
        // would have to read this stand-in as a claim (it cannot, and would retry it, holding
        // back the stream's later records). Same size, same write.
        other.insert(keys::SK.into(), s("FLOOR"));
        let update = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(pk.as_str()))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .update_expression("SET open_claim = :o, version = :nv")
            .condition_expression("attribute_exists(pk)")
            // The shape the claims store writes (`OpenClaim`): the table's stream hands this
            // item to the events function, which must read it like any other.
            .expression_attribute_values(
                ":o",
                AttributeValue::M(
                    [
                        ("claim_id".to_string(), s("clm_floor")),
                        ("fingerprint".to_string(), s("0".repeat(64))),
                    ]
                    .into_iter()
                    .collect(),
                ),
            )
            .expression_attribute_values(":nv", AttributeValue::N("101".into()))
            .build()
            .map_err(err)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(other))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(err)?;
        let t = Instant::now();
        self.read_delivery(&pk).await?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        Ok(ms(t))
    }

    /// What cancel needs: read the delivery, then one conditional update. On a fresh copy.
    pub async fn cancel(&mut self) -> Result<f64, String> {
        let pk = self.scratch(DeliveryStatus::Created).await?;
        let pk = pk.as_str();
        let t = Instant::now();
        self.read_delivery(pk).await?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .update_expression("SET updated_at = :now, policy_status = :c")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", s("2026-01-01T00:00:00.000Z"))
            .expression_attribute_values(":c", s("cancelled"))
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        Ok(ms(t))
    }

    /// What get delivery needs: one query of the delivery's partition.
    pub async fn get_delivery(&mut self) -> Result<f64, String> {
        let t = Instant::now();
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(self.delivery_pk.clone()))
            .consistent_read(true)
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        Ok(ms(t))
    }

    /// What list needs: one query per list shard of the partner's newest deliveries (the
    /// default page), side by side.
    pub async fn list(&mut self, limit: i32) -> Result<f64, String> {
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for shard in 0..keys::LIST_SHARDS {
            let q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::BY_CREATED)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", keys::CREATED_PK)
                .expression_attribute_values(":pk", s(keys::by_created_pk(&self.partner_id, shard)))
                .scan_index_forward(false)
                .limit(limit)
                .return_consumed_capacity(TOTAL);
            tasks.spawn(q.send());
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(err)?.map_err(err)?;
        }
        Ok(ms(t))
    }
}

const FLOOR_PARTNER: &str = "ptn_benchfloor";

/// An item's size as DynamoDB counts it for capacity (attribute names + values; numbers
/// approximated by their digits).
pub fn item_size(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(l) => 3 + l.iter().map(|x| 1 + value(x)).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, x)| 1 + k.len() + value(x)).sum::<usize>()
            }
            AttributeValue::Ss(l) => l.iter().map(String::len).sum(),
            AttributeValue::Ns(l) => l.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

impl Floor {
    /// Sizes of the sample delivery item (after 5 tracking updates) and of its copy in a list
    /// index (projection ALL: the same item, its list keys aside).
    pub fn item_sizes(&self) -> (usize, usize) {
        let copy: Item = self
            .delivery
            .iter()
            .filter(|(k, _)| k.as_str() != keys::STATUS_PK && k.as_str() != keys::POLICY_PK)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (item_size(&self.delivery), item_size(&copy))
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
