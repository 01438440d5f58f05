//! The template's `AWS::SQS::Queue` and `AWS::Lambda::EventSourceMapping` resources, as devstack
//! runs them (what is emulated: `super`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use serde_yaml::Mapping;

use crate::template::{
    as_ref_target, err, key_str, parse_u64, scalar_string, FunctionDef, TemplateError,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    pub logical_id: String,
    pub visibility_timeout: Option<u64>,
    pub retention: Option<u64>,
    /// The dead-letter queue's logical id and `maxReceiveCount`.
    pub redrive: Option<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `!GetAtt <Table>.StreamArn`.
    TableStream(String),
    /// `!GetAtt <Queue>.Arn`.
    Queue(String),
}

/// An `AWS::Lambda::EventSourceMapping` of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingDef {
    pub logical_id: String,
    /// The function's logical id (`FunctionName: !Ref <Function>`).
    pub function: String,
    pub source: Source,
    pub batch_size: usize,
    pub bisect: bool,
    /// `None`: retry until the record leaves the stream (`-1`).
    pub max_retries: Option<u64>,
    pub report_batch_item_failures: bool,
    pub filters: Vec<Value>,
    /// The on-failure destination queue's logical id.
    pub on_failure: Option<String>,
    pub max_concurrency: usize,
}

/// `!GetAtt X.Attr` (or `[X, Attr]`) -> (X, Attr).
fn getatt(v: &serde_yaml::Value) -> Option<(String, String)> {
    use serde_yaml::Value as Y;
    let inner = match v {
        Y::Tagged(t) if t.tag == "GetAtt" => &t.value,
        Y::Mapping(m) if m.len() == 1 => m.get("Fn::GetAtt")?,
        _ => return None,
    };
    match inner {
        Y::String(s) => s
            .split_once('.')
            .map(|(a, b)| (a.to_string(), b.to_string())),
        Y::Sequence(seq) if seq.len() == 2 => {
            Some((seq[0].as_str()?.to_string(), seq[1].as_str()?.to_string()))
        }
        _ => None,
    }
}

const MAPPING_PROPERTIES: [&str; 12] = [
    "FunctionName",
    "EventSourceArn",
    "StartingPosition",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "FilterCriteria",
    "DestinationConfig",
    "ScalingConfig",
];

/// The queues and event source mappings of the template's resources.
pub fn parse(
    resources: &Mapping,
    functions: &BTreeMap<String, FunctionDef>,
) -> Result<(BTreeMap<String, QueueDef>, Vec<MappingDef>), TemplateError> {
    let mut queues = BTreeMap::new();
    let mut tables = BTreeSet::new();
    for (key, r) in resources {
        let id = key_str(key)?;
        match r.get("Type").and_then(serde_yaml::Value::as_str) {
            Some("AWS::DynamoDB::Table") => {
                tables.insert(id.to_string());
            }
            Some("AWS::SQS::Queue") => {
                let p = r.get("Properties");
                let num = |k: &str| -> Result<Option<u64>, TemplateError> {
                    p.and_then(|p| p.get(k))
                        .map(|v| parse_u64(v, &format!("{id}.{k}")))
                        .transpose()
                };
                let redrive = match p.and_then(|p| p.get("RedrivePolicy")) {
                    None => None,
                    Some(rp) => {
                        let (dlq, attr) = rp
                            .get("deadLetterTargetArn")
                            .and_then(getatt)
                            .filter(|(_, a)| a == "Arn")
                            .ok_or_else(|| TemplateError(format!("{id}.RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn")))?;
                        let _ = attr;
                        let max = rp
                            .get("maxReceiveCount")
                            .map(|v| parse_u64(v, &format!("{id}.RedrivePolicy.maxReceiveCount")))
                            .transpose()?
                            .ok_or_else(|| {
                                TemplateError(format!(
                                    "{id}.RedrivePolicy.maxReceiveCount is missing"
                                ))
                            })?;
                        Some((dlq, max))
                    }
                };
                if p.and_then(|p| p.get("FifoQueue")).is_some() {
                    return err(format!("{id}: FIFO queues are not emulated"));
                }
                queues.insert(
                    id.to_string(),
                    QueueDef {
                        logical_id: id.to_string(),
                        visibility_timeout: num("VisibilityTimeout")?,
                        retention: num("MessageRetentionPeriod")?,
                        redrive,
                    },
                );
            }
            _ => {}
        }
    }
    for q in queues.values() {
        if let Some((dlq, _)) = &q.redrive {
            if !queues.contains_key(dlq) {
                return err(format!(
                    "{}: dead-letter queue {dlq} is not an AWS::SQS::Queue of this template",
                    q.logical_id
                ));
            }
        }
    }
    let mut mappings = Vec::new();
    for (key, r) in resources {
        let id = key_str(key)?;
        if r.get("Type").and_then(serde_yaml::Value::as_str)
            != Some("AWS::Lambda::EventSourceMapping")
        {
            continue;
        }
        let p = r
            .get("Properties")
            .and_then(serde_yaml::Value::as_mapping)
            .ok_or_else(|| TemplateError(format!("{id}: Properties is missing")))?;
        for k in p.keys() {
            let k = key_str(k)?;
            if !MAPPING_PROPERTIES.contains(&k) {
                return err(format!(
                    "{id}: {k} is not emulated by devstack (tools/devstack/src/esm/mod.rs)"
                ));
            }
        }
        let function = p
            .get("FunctionName")
            .and_then(as_ref_target)
            .filter(|f| functions.contains_key(*f))
            .ok_or_else(|| TemplateError(format!("{id}: FunctionName must be !Ref <an AWS::Serverless::Function of this template>")))?
            .to_string();
        let source = match p.get("EventSourceArn").and_then(getatt) {
            Some((t, a)) if a == "StreamArn" && tables.contains(&t) => Source::TableStream(t),
            Some((q, a)) if a == "Arn" && queues.contains_key(&q) => Source::Queue(q),
            _ => {
                return err(format!(
                    "{id}: EventSourceArn must be !GetAtt <Table>.StreamArn or !GetAtt <Queue>.Arn"
                ))
            }
        };
        let batch_size = p
            .get("BatchSize")
            .map(|v| parse_u64(v, &format!("{id}.BatchSize")))
            .transpose()?
            .unwrap_or(match source {
                Source::TableStream(_) => 100,
                Source::Queue(_) => 10,
            }) as usize;
        let bisect = p
            .get("BisectBatchOnFunctionError")
            .and_then(serde_yaml::Value::as_bool)
            .unwrap_or(false);
        let max_retries = match p.get("MaximumRetryAttempts") {
            None => None,
            Some(v) => match v.as_i64() {
                Some(-1) => None,
                Some(n) if n >= 0 => Some(n as u64),
                _ => return err(format!("{id}.MaximumRetryAttempts must be -1 or a count")),
            },
        };
        let report_batch_item_failures = match p.get("FunctionResponseTypes") {
            None => false,
            Some(v) => v.as_sequence().is_some_and(|s| {
                s.iter()
                    .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
            }),
        };
        let mut filters = Vec::new();
        if let Some(fs) = p
            .get("FilterCriteria")
            .and_then(|f| f.get("Filters"))
            .and_then(serde_yaml::Value::as_sequence)
        {
            for f in fs {
                let text = f
                    .get("Pattern")
                    .map(|v| scalar_string(v, &format!("{id}.FilterCriteria")))
                    .transpose()?
                    .unwrap_or_default();
                let pattern: Value = serde_json::from_str(&text).map_err(|e| {
                    TemplateError(format!("{id}: a FilterCriteria pattern is not JSON: {e}"))
                })?;
                filters.push(pattern);
            }
        }
        if matches!(source, Source::Queue(_)) && !filters.is_empty() {
            return err(format!("{id}: filters on an SQS source are not emulated"));
        }
        let on_failure = match p.get("DestinationConfig").and_then(|d| d.get("OnFailure")).and_then(|o| o.get("Destination")) {
            None => None,
            Some(v) => match getatt(v) {
                Some((q, a)) if a == "Arn" && queues.contains_key(&q) => Some(q),
                _ => return err(format!("{id}: DestinationConfig.OnFailure.Destination must be !GetAtt <Queue>.Arn (other destinations are not emulated)")),
            },
        };
        let max_concurrency = p
            .get("ScalingConfig")
            .and_then(|s| s.get("MaximumConcurrency"))
            .map(|v| parse_u64(v, &format!("{id}.ScalingConfig.MaximumConcurrency")))
            .transpose()?
            .unwrap_or(5)
            .clamp(1, 5) as usize;
        mappings.push(MappingDef {
            logical_id: id.to_string(),
            function,
            source,
            batch_size: batch_size.max(1),
            bisect,
            max_retries,
            report_batch_item_failures,
            filters,
            on_failure,
            max_concurrency,
        });
    }
    Ok((queues, mappings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_templates_mappings() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
        let t = crate::template::Template::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let stream = t
            .event_source_mappings
            .iter()
            .find(|m| m.function == "EventsFunction")
            .expect("events mapping");
        assert_eq!(stream.source, Source::TableStream("Table".into()));
        assert!(stream.bisect && stream.report_batch_item_failures && stream.max_retries.is_none());
        assert_eq!(stream.on_failure.as_deref(), Some("StreamFailureQueue"));
        assert_eq!(stream.filters.len(), 1);
        let queue = t
            .event_source_mappings
            .iter()
            .find(|m| m.function == "SenderFunction")
            .expect("sender mapping");
        assert_eq!(queue.source, Source::Queue("WebhookQueue".into()));
        assert!(queue.report_batch_item_failures);
        assert_eq!(
            t.queues["WebhookQueue"].redrive,
            Some(("WebhookDeadLetterQueue".into(), 13))
        );
        assert_eq!(
            t.queues["WebhookQueue"]
                .redrive
                .as_ref()
                .map(|r| r.1 as u32),
            Some(shared_retry_attempts()),
            "maxReceiveCount is the retry schedule's attempt count"
        );
    }

    /// `shared::webhooks::retry::ATTEMPTS`, without devstack depending on shared: 12 delays + 1.
    fn shared_retry_attempts() -> u32 {
        let src = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/src/webhooks/retry.rs"
        ))
        .unwrap();
        let delays = src.split("pub const DELAYS: [u32; ").nth(1).unwrap();
        delays.split(']').next().unwrap().parse::<u32>().unwrap() + 1
    }
}
