//! Products: the items operators manage (`opsctl product`, written through `OperatorWrite`),
//! read by Submit, the catalogue and quotes. All of them live in one partition
//! (`keys::PRODUCTS_PK`), so the catalogue is one Query, never a scan of the table.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{classify, from_item, keys, s, to_item, with_keys, AuditRecord, Store, StoreError};
use crate::domain::Product;

/// A product as stored: its terms, and when an operator last wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRecord {
    #[serde(flatten)]
    pub product: Product,
    /// `time_fmt::format` of the last operator write (stamped by `OperatorWrite::product`).
    pub updated_at: String,
}

/// A stored product is used as its terms (`record.check(..)`, `record.currency`).
impl std::ops::Deref for ProductRecord {
    type Target = Product;
    fn deref(&self) -> &Product {
        &self.product
    }
}

/// What `migrate_legacy_product` did with one item of the former layout.
#[derive(Debug, PartialEq, Eq)]
pub enum LegacyMigration {
    /// Copied into the catalogue partition and deleted from its old key, with its audit entry.
    Moved,
    /// The catalogue already holds a product with that code: the old item was left as it is.
    AlreadyInCatalogue,
}

impl Store {
    /// A product's terms (strongly consistent).
    pub async fn product(&self, code: &str) -> Result<Option<Product>, StoreError> {
        self.get(keys::product(code)).await
    }

    /// A product with its `updated_at` (strongly consistent).
    pub async fn product_record(&self, code: &str) -> Result<Option<ProductRecord>, StoreError> {
        self.get(keys::product(code)).await
    }

    /// Every product, ordered by code: one Query of the products partition (strongly
    /// consistent; more pages only past 1 MB of products).
    pub async fn products(&self) -> Result<Vec<ProductRecord>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", s(keys::PRODUCTS_PK))
            .expression_attribute_values(":p", s(keys::PRODUCT_SK_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("Query", e))?;
        items.into_iter().map(from_item).collect()
    }

    /// Products still stored under the former keys (`PRODUCT#<code>` / `PRODUCT`). A filtered
    /// scan of the table: for the one-off migration only, never on a request path.
    pub async fn legacy_products(&self) -> Result<Vec<Product>, StoreError> {
        self.scan_kind(keys::LEGACY_PRODUCT_PREFIX, keys::LEGACY_PRODUCT_SK)
            .await
    }

    /// Move one product of the former layout into the catalogue partition, atomically with its
    /// audit entry: put it under its new key (unless one is there), delete the old item.
    pub async fn migrate_legacy_product(
        &self,
        product: &Product,
        updated_at: &str,
        audit: &AuditRecord,
    ) -> Result<LegacyMigration, StoreError> {
        let code = product.product_code.as_str();
        let record = ProductRecord {
            product: product.clone(),
            updated_at: updated_at.to_string(),
        };
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Internal(e.to_string());
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(with_keys(to_item(&record)?, keys::product(code))))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(built)?;
        let (pk, sk) = keys::legacy_product(code);
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(built)?;
        let result = self
            .transact(vec![
                TransactWriteItem::builder().put(put).build(),
                TransactWriteItem::builder().delete(delete).build(),
                self.audit_put(audit)?,
            ])
            .await;
        match result {
            Ok(()) => Ok(LegacyMigration::Moved),
            Err(StoreError::Conflict) if self.product(code).await?.is_some() => {
                Ok(LegacyMigration::AlreadyInCatalogue)
            }
            Err(e) => Err(e),
        }
    }
}
