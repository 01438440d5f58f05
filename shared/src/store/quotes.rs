//! Quotes: one item each, in the partner's own partition (`keys::quote`), expiring through the
//! table's TTL attribute `expires_at` (see `domain::Quote`).

use aws_sdk_dynamodb::operation::put_item::PutItemError;

use super::{classify, keys, to_item, with_keys, Store, StoreError};
use crate::domain::Quote;

impl Store {
    /// Store a new quote: one PutItem. Its id is new, so the condition only guards against a
    /// (theoretical) id collision overwriting another quote.
    pub async fn insert_quote(&self, q: &Quote) -> Result<(), StoreError> {
        let item = with_keys(to_item(q)?, keys::quote(&q.partner_id, q.quote_id.as_str()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => StoreError::Conflict,
                _ => classify("PutItem", e),
            })
    }

    /// A partner's quote as stored (strongly consistent: a quote is used right after it is
    /// made). An expired one may still be there; the caller checks `Quote::on_record`.
    pub async fn quote(
        &self,
        partner_id: &str,
        quote_id: &str,
    ) -> Result<Option<Quote>, StoreError> {
        self.get(keys::quote(partner_id, quote_id)).await
    }
}
