//! Lambda's event filtering (`FilterCriteria`), the subset of patterns the template uses.

use serde_json::Value;

/// Whether a record matches a filter pattern (Lambda's event filtering, the subset used here).
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(p) = pattern.as_object() else {
        return false;
    };
    p.iter().all(|(k, sub)| {
        let v = event.get(k);
        match sub {
            Value::Array(options) => options.iter().any(|o| leaf(o, v)),
            Value::Object(_) => v.is_some_and(|v| matches(sub, v)),
            _ => false,
        }
    })
}

fn leaf(option: &Value, v: Option<&Value>) -> bool {
    let equal = |x: &Value| match v {
        Some(Value::Array(items)) => items.contains(x),
        Some(y) => y == x,
        None => false,
    };
    match option {
        Value::Object(o) => {
            if let Some(e) = o.get("exists") {
                return e.as_bool() == Some(v.is_some());
            }
            if let Some(Value::String(prefix)) = o.get("prefix") {
                return v
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with(prefix.as_str()));
            }
            if let Some(but) = o.get("anything-but") {
                let excluded: Vec<&Value> = match but {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                return v.is_some() && !excluded.into_iter().any(equal);
            }
            false
        }
        other => equal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filter_patterns() {
        let p: Value = serde_json::from_str(r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["DELIVERY", "CLAIM"]}}}}"#).unwrap();
        let rec = |name: &str, sk: &str| json!({"eventName": name, "dynamodb": {"Keys": {"pk": {"S": "x"}, "sk": {"S": sk}}}});
        assert!(matches(&p, &rec("INSERT", "DELIVERY")));
        assert!(matches(&p, &rec("MODIFY", "CLAIM")));
        assert!(!matches(&p, &rec("REMOVE", "DELIVERY")));
        assert!(!matches(&p, &rec("INSERT", "EVENTS#0000000001")));
        let prefix: Value = serde_json::from_str(
            r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "DELIVERY#"}]}}}}"#,
        )
        .unwrap();
        assert!(matches(
            &prefix,
            &json!({"dynamodb": {"Keys": {"pk": {"S": "DELIVERY#p#t"}}}})
        ));
        assert!(!matches(
            &prefix,
            &json!({"dynamodb": {"Keys": {"pk": {"S": "EVENTS#p"}}}})
        ));
        let exists: Value =
            serde_json::from_str(r#"{"dynamodb": {"OldImage": [{"exists": false}]}}"#).unwrap();
        assert!(matches(&exists, &json!({"dynamodb": {}})));
        assert!(!matches(&exists, &json!({"dynamodb": {"OldImage": {}}})));
        let but: Value =
            serde_json::from_str(r#"{"eventName": [{"anything-but": "REMOVE"}]}"#).unwrap();
        assert!(matches(&but, &json!({"eventName": "INSERT"})));
        assert!(!matches(&but, &json!({"eventName": "REMOVE"})));
    }
}
