//! The floor of each endpoint: the DynamoDB round trips it needs, made directly with the SDK
//! (same SDK configuration as the functions) against the same DynamoDB Local, on items copied
//! from what the API itself stored, so sizes and index updates match.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use shared::store::keys;

type Item = HashMap<String, AttributeValue>;

pub struct Floor {
    pub client: Client,
    pub table: String,
    pub partner_id: String,
    pub client_id: String,
    /// A delivery as the API stored it (with its tracking history under the same pk).
    pub delivery_pk: String,
    delivery: Item,
    events: Item,
    /// A quote as the API stored it (`load_quote`).
    quote: Option<Item>,
    n: u64,
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
        let events = items
            .iter()
            .find(|i| {
                sk(i)
                    .map(|k| k.starts_with(keys::EVENTS_SK_PREFIX))
                    .unwrap_or(false)
            })
            .cloned()
            .ok_or("floor: the sample delivery has no tracking events")?;
        Ok(Floor {
            client,
            table,
            partner_id,
            client_id,
            delivery_pk,
            delivery,
            events,
            quote: None,
            n: 0,
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
        let (pk, _) = keys::quote("ptn_benchfloor", &id);
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
        let (_, item) = self.delivery_copy();
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

    /// A copy of the sample delivery under a partition and partner of the floor's own (so that
    /// the partner's listings do not see it), with its index keys.
    fn delivery_copy(&mut self) -> (String, Item) {
        self.n += 1;
        let partner = "ptn_benchfloor";
        let tn = format!("FLOOR-{}-{}", std::process::id(), self.n);
        let pk = keys::delivery_pk(partner, &tn);
        let mut item = self.delivery.clone();
        item.insert(keys::PK.into(), s(pk.clone()));
        item.insert("gsi1pk".into(), s(keys::by_created_pk(partner)));
        item.insert("gsi1sk".into(), s(format!("2026-01-01T00:00:00.000Z#{tn}")));
        item.insert(
            "gsi2pk".into(),
            s(format!("PARTNER#{partner}#STATUS#created")),
        );
        item.insert("gsi2sk".into(), s(format!("2026-01-01T00:00:00.000Z#{tn}")));
        item.insert("gsi3pk".into(), s(format!("POLICY#pol_floor{}", self.n)));
        (pk, item)
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

    /// What submit needs: one conditional put of a new delivery.
    pub async fn submit(&mut self) -> Result<f64, String> {
        let (_, item) = self.delivery_copy();
        let t = Instant::now();
        self.put_new_delivery(item).await?;
        Ok(ms(t))
    }

    /// Submit's write: the conditional put of a new delivery (the existing item back on failure).
    async fn put_new_delivery(&self, item: Item) -> Result<(), String> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        Ok(())
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
    async fn scratch(&mut self) -> Result<String, String> {
        let (pk, item) = self.delivery_copy();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(err)?;
        Ok(pk)
    }

    /// What a tracking update needs: read the delivery, then one transaction (update the
    /// delivery, moving it to another status index partition and appending the event id; add
    /// the events item). On a fresh copy of the delivery, written before the timing.
    pub async fn tracking(&mut self) -> Result<f64, String> {
        let pk = self.scratch().await?;
        let pk = pk.as_str();
        let version = 100;
        let update = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .update_expression(
                "SET delivery_status = :st, gsi2pk = :g2, updated_at = :now, version = :nv, event_ids = list_append(if_not_exists(event_ids, :empty), :ids)",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":st", s("in_process"))
            .expression_attribute_values(":g2", s("PARTNER#ptn_benchfloor#STATUS#in_process"))
            .expression_attribute_values(":now", s("2026-01-01T00:00:00.000Z"))
            .expression_attribute_values(":nv", AttributeValue::N(version.to_string()))
            .expression_attribute_values(
                ":ids",
                AttributeValue::L(vec![s("in_process|2026-01-01T00:00:00.000Z|moved")]),
            )
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .build()
            .map_err(err)?;
        let mut events = self.events.clone();
        events.insert(keys::PK.into(), s(pk));
        events.insert(keys::SK.into(), s(keys::events_sk(version)));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(events))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(err)?;
        let t = Instant::now();
        self.read_delivery(pk).await?;
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
        let pk = self.scratch().await?;
        let pk = pk.as_str();
        let t = Instant::now();
        self.read_delivery(pk).await?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .update_expression("SET updated_at = :now, policy.policy_status = :c")
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

    /// What list needs: one query of the partner's newest deliveries (the default page).
    pub async fn list(&mut self, limit: i32) -> Result<f64, String> {
        let t = Instant::now();
        self.client
            .query()
            .table_name(&self.table)
            .index_name(keys::BY_CREATED)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(keys::by_created_pk(&self.partner_id)))
            .scan_index_forward(false)
            .limit(limit)
            .return_consumed_capacity(TOTAL)
            .send()
            .await
            .map_err(err)?;
        Ok(ms(t))
    }
}

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
    /// Sizes of the sample delivery item and of one tracking events item.
    pub fn item_sizes(&self) -> (usize, usize) {
        (item_size(&self.delivery), item_size(&self.events))
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
