//! Build the local table from the SAM template's `Table` resource, so the local and deployed
//! tables cannot drift: attribute definitions, key schema, indexes and projections come from there.

use std::path::Path;

use aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableProperties {
    attribute_definitions: Vec<AttrDef>,
    key_schema: Vec<KeyElem>,
    #[serde(default)]
    global_secondary_indexes: Vec<Gsi>,
    #[serde(default)]
    stream_specification: Option<StreamSpec>,
    #[serde(default)]
    time_to_live_specification: Option<Ttl>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamSpec {
    stream_view_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ttl {
    attribute_name: String,
    #[serde(default)]
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttrDef {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyElem {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Gsi {
    index_name: String,
    key_schema: Vec<KeyElem>,
    projection: Proj,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Proj {
    projection_type: String,
    #[serde(default)]
    non_key_attributes: Vec<String>,
}

/// The `Properties` of the `Table` resource.
fn table_properties(template: &Path) -> Result<TableProperties, String> {
    let text = std::fs::read_to_string(template)
        .map_err(|e| format!("reading {}: {e}", template.display()))?;
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("parsing {}: {e}", template.display()))?;
    let table = doc
        .get("Resources")
        .and_then(|r| r.get("Table"))
        .filter(|t| t.get("Type").and_then(|v| v.as_str()) == Some("AWS::DynamoDB::Table"))
        .ok_or_else(|| {
            format!(
                "{} has no AWS::DynamoDB::Table resource named Table",
                template.display()
            )
        })?;
    let props = table
        .get("Properties")
        .cloned()
        .ok_or("the Table resource has no Properties")?;
    serde_yaml::from_value(props).map_err(|e| format!("the Table resource's properties: {e}"))
}

/// The TTL attribute of the `Table` resource (`TimeToLiveSpecification`), when enabled.
pub fn ttl_attribute(template: &Path) -> Result<Option<String>, String> {
    Ok(table_properties(template)?
        .time_to_live_specification
        .filter(|t| t.enabled)
        .map(|t| t.attribute_name))
}

fn key_schema(k: &[KeyElem]) -> Result<Vec<KeySchemaElement>, String> {
    k.iter()
        .map(|e| {
            KeySchemaElement::builder()
                .attribute_name(&e.attribute_name)
                .key_type(KeyType::from(e.key_type.as_str()))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

pub fn create_table(
    client: &aws_sdk_dynamodb::Client,
    template: &Path,
    table_name: &str,
) -> Result<CreateTableFluentBuilder, String> {
    let p = table_properties(template)?;
    let mut req = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&p.key_schema)?));
    if let Some(st) = &p.stream_specification {
        req = req.stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(
                    st.stream_view_type.as_str(),
                ))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    for a in &p.attribute_definitions {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    for g in &p.global_secondary_indexes {
        let mut proj = Projection::builder()
            .projection_type(ProjectionType::from(g.projection.projection_type.as_str()));
        for a in &g.projection.non_key_attributes {
            proj = proj.non_key_attributes(a);
        }
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&g.index_name)
                .set_key_schema(Some(key_schema(&g.key_schema)?))
                .projection(proj.build())
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(req)
}

/// The `Properties` of an `AWS::S3::Bucket` resource.
fn bucket_properties(template: &Path, resource: &str) -> Result<serde_yaml::Value, String> {
    let text = std::fs::read_to_string(template)
        .map_err(|e| format!("reading {}: {e}", template.display()))?;
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("parsing {}: {e}", template.display()))?;
    let r = doc
        .get("Resources")
        .and_then(|r| r.get(resource))
        .filter(|t| t.get("Type").and_then(|v| v.as_str()) == Some("AWS::S3::Bucket"))
        .ok_or_else(|| {
            format!(
                "{} has no AWS::S3::Bucket resource named {resource}",
                template.display()
            )
        })?;
    Ok(r.get("Properties").cloned().unwrap_or_default())
}

/// Create a bucket of the template (local stacks: moto) and apply what the resource says of
/// public access, ownership, default encryption and versioning, so that the local bucket is
/// set up as the deployed one. (Lifecycle rules and the bucket policy are not applied: moto
/// does not act on them.)
pub async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    template: &Path,
    resource: &str,
    name: &str,
) -> Result<crate::Outcome, String> {
    use aws_sdk_s3::types::{
        BucketVersioningStatus, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
        PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
        ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
    };
    let props = bucket_properties(template, resource)?;
    let fail = |what: &str, e: String| format!("bucket {name}: {what}: {e}");
    let status = match s3.create_bucket().bucket(name).send().await {
        Ok(_) => "created",
        Err(e) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_string);
            match code.as_deref() {
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => "exists",
                _ => {
                    return Err(fail(
                        "CreateBucket",
                        aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                    ))
                }
            }
        }
    };
    let flag = |v: &serde_yaml::Value, k: &str| v.get(k).and_then(|b| b.as_bool()).unwrap_or(false);
    if let Some(p) = props.get("PublicAccessBlockConfiguration") {
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(flag(p, "BlockPublicAcls"))
                    .block_public_policy(flag(p, "BlockPublicPolicy"))
                    .ignore_public_acls(flag(p, "IgnorePublicAcls"))
                    .restrict_public_buckets(flag(p, "RestrictPublicBuckets"))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                fail(
                    "PutPublicAccessBlock",
                    aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                )
            })?;
    }
    let ownership = props
        .get("OwnershipControls")
        .and_then(|o| o.get("Rules"))
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("ObjectOwnership"))
        .and_then(|o| o.as_str());
    if let Some(o) = ownership {
        s3.put_bucket_ownership_controls()
            .bucket(name)
            .ownership_controls(
                OwnershipControls::builder()
                    .rules(
                        OwnershipControlsRule::builder()
                            .object_ownership(ObjectOwnership::from(o))
                            .build()
                            .map_err(|e| e.to_string())?,
                    )
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| {
                fail(
                    "PutBucketOwnershipControls",
                    aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                )
            })?;
    }
    let algorithm = props
        .get("BucketEncryption")
        .and_then(|b| b.get("ServerSideEncryptionConfiguration"))
        .and_then(|c| c.get(0))
        .and_then(|r| r.get("ServerSideEncryptionByDefault"))
        .and_then(|d| d.get("SSEAlgorithm"))
        .and_then(|a| a.as_str());
    if let Some(a) = algorithm {
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::from(a))
                                    .build()
                                    .map_err(|e| e.to_string())?,
                            )
                            .build(),
                    )
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| {
                fail(
                    "PutBucketEncryption",
                    aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                )
            })?;
    }
    let versioning = props
        .get("VersioningConfiguration")
        .and_then(|v| v.get("Status"))
        .and_then(|v| v.as_str());
    if versioning == Some("Enabled") {
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                fail(
                    "PutBucketVersioning",
                    aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                )
            })?;
    }
    Ok(crate::Outcome {
        json: serde_json::json!({"bucket": name, "resource": resource, "status": status}),
        text: format!("bucket {name} ({resource}) {status}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_template_has_the_indexes_the_store_uses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
        let p = table_properties(&path).unwrap();
        let names: Vec<&str> = p
            .global_secondary_indexes
            .iter()
            .map(|g| g.index_name.as_str())
            .collect();
        use shared::store::keys::{BY_CREATED, BY_POLICY, BY_STATUS};
        for idx in [BY_CREATED, BY_STATUS, BY_POLICY] {
            assert!(names.contains(&idx), "{idx} missing from the template");
        }
        assert_eq!(p.key_schema[0].attribute_name, shared::store::keys::PK);
        // Quotes expire through the table's one TTL attribute.
        assert_eq!(
            ttl_attribute(&path).unwrap().as_deref(),
            Some("expires_at"),
            "TimeToLiveSpecification"
        );
    }
}
