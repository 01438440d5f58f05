//! Field-by-field reading of a JSON object, so that every error names its field.
//!
//! Unknown fields are ignored. Required strings must hold more than whitespace; strings are
//! stored exactly as sent (not trimmed). Integers must be JSON integers (not strings, not
//! fractions) within range.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::time_fmt;

/// Upper bound for any money or count field: keeps arithmetic far from overflow.
pub const MAX_INTEGER: u64 = 1_000_000_000_000_000;

pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            prefix: String::new(),
        }
    }

    /// Fields of a nested object; errors name `prefix.field`.
    pub fn nested(map: &'a Map<String, Value>, prefix: String) -> Self {
        Fields { map, prefix }
    }

    pub fn name(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    fn err(&self, field: &str, problem: impl std::fmt::Display) -> ApiError {
        ApiError::validation(&self.name(field), problem)
    }

    fn present(&self, field: &str) -> Option<&'a Value> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// A required string of 1..=max characters, not only whitespace; returned as sent.
    pub fn string(&self, field: &str, max: usize) -> Result<String, ApiError> {
        self.opt_string(field, max)?
            .ok_or_else(|| self.err(field, "is required."))
    }

    /// An optional string: absent, null or "" mean absent.
    pub fn opt_string(&self, field: &str, max: usize) -> Result<Option<String>, ApiError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => {
                if s.trim().is_empty() {
                    return Ok(None);
                }
                if s.chars().count() > max {
                    return Err(self.err(field, format!("must be at most {max} characters.")));
                }
                if s.chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
                {
                    return Err(self.err(field, "must not contain control characters."));
                }
                Ok(Some(s.clone()))
            }
            Some(_) => Err(self.err(field, "must be a string.")),
        }
    }

    /// A required string that must be present and non-empty: "" is reported as empty, not missing.
    pub fn required_string(&self, field: &str, max: usize) -> Result<String, ApiError> {
        match self.present(field) {
            None => Err(self.err(field, "is required.")),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(self.err(field, "must not be empty."))
            }
            Some(_) => self.string(field, max),
        }
    }

    /// A required integer in `min..=MAX_INTEGER`.
    pub fn integer(&self, field: &str, min: u64) -> Result<u64, ApiError> {
        match self.present(field) {
            None => Err(self.err(field, "is required.")),
            Some(Value::Number(n)) => {
                let Some(v) = n.as_u64() else {
                    return Err(if n.is_i64() {
                        self.err(field, format!("must be at least {min}."))
                    } else {
                        self.err(field, "must be an integer.")
                    });
                };
                if v < min {
                    return Err(self.err(field, format!("must be at least {min}.")));
                }
                if v > MAX_INTEGER {
                    return Err(self.err(field, format!("must be at most {MAX_INTEGER}.")));
                }
                Ok(v)
            }
            Some(_) => Err(self.err(field, "must be an integer.")),
        }
    }

    /// A required RFC 3339 timestamp; returns the text as sent and its instant.
    pub fn timestamp(&self, field: &str) -> Result<(String, OffsetDateTime), ApiError> {
        let s = self.required_string(field, 64)?;
        let t = time_fmt::parse(&s).ok_or_else(|| {
            self.err(
                field,
                "must be an RFC 3339 timestamp such as 2022-04-06T06:05:00.528Z.",
            )
        })?;
        Ok((s, t))
    }

    /// A required array; returns its elements.
    pub fn array(&self, field: &str) -> Result<&'a Vec<Value>, ApiError> {
        match self.present(field) {
            None => Err(self.err(field, "is required.")),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(self.err(field, "must be an array.")),
        }
    }

    /// An optional e-mail address (loosely checked: one `@` with text on both sides).
    pub fn opt_email(&self, field: &str) -> Result<Option<String>, ApiError> {
        let v = self.opt_string(field, 254)?;
        if let Some(e) = &v {
            let mut parts = e.split('@');
            let ok = matches!((parts.next(), parts.next(), parts.next()),
                (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty() && !e.contains(' '));
            if !ok {
                return Err(self.err(field, "must be an e-mail address."));
            }
        }
        Ok(v)
    }

    /// A phone number: digits with optional `+`, spaces, dashes, dots and parentheses; 3 to 32 characters.
    pub fn phone(&self, field: &str, required: bool) -> Result<Option<String>, ApiError> {
        let v = if required {
            Some(self.required_string(field, 32)?)
        } else {
            self.opt_string(field, 32)?
        };
        if let Some(p) = &v {
            let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
            let ok = digits >= 3
                && p.chars()
                    .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
            if !ok {
                return Err(self.err(
                    field,
                    "must be a phone number (digits, optionally with + - . ( ) and spaces).",
                ));
            }
        }
        Ok(v)
    }
}

/// Parse a body as a JSON object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::InvalidJson(
            "The request body must be a JSON object.".into(),
        )),
        Err(e) => Err(ApiError::InvalidJson(format!(
            "The request body is not valid JSON ({e})."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn missing_and_empty_strings_name_the_field() {
        let m = obj(json!({"a": "", "b": "  ", "c": 5}));
        let f = Fields::new(&m);
        assert_eq!(
            f.required_string("a", 10).unwrap_err().to_string(),
            "a must not be empty."
        );
        assert!(f
            .required_string("b", 10)
            .unwrap_err()
            .to_string()
            .starts_with("b "));
        assert_eq!(
            f.required_string("x", 10).unwrap_err().to_string(),
            "x is required."
        );
        assert_eq!(
            f.string("c", 10).unwrap_err().to_string(),
            "c must be a string."
        );
    }

    #[test]
    fn integers_are_strict() {
        let m = obj(json!({"s": "15000", "f": 1.5, "n": -1, "z": 0, "ok": 15000, "big": 1e30}));
        let f = Fields::new(&m);
        assert!(f
            .integer("s", 0)
            .unwrap_err()
            .to_string()
            .starts_with("s must be an integer"));
        assert!(f
            .integer("f", 0)
            .unwrap_err()
            .to_string()
            .starts_with("f must be an integer"));
        assert!(f
            .integer("n", 0)
            .unwrap_err()
            .to_string()
            .starts_with("n must be at least 0"));
        assert!(f
            .integer("z", 1)
            .unwrap_err()
            .to_string()
            .starts_with("z must be at least 1"));
        assert_eq!(f.integer("ok", 1).unwrap(), 15000);
        assert!(f.integer("big", 0).is_err());
    }

    #[test]
    fn nested_names_carry_the_prefix() {
        let m = obj(json!({}));
        let f = Fields::nested(&m, "tracking_detail[3]".into());
        assert_eq!(
            f.timestamp("tracking_time").unwrap_err().to_string(),
            "tracking_detail[3].tracking_time is required."
        );
    }

    #[test]
    fn timestamps_must_be_rfc3339() {
        let m = obj(json!({"t": "2022-04-06T06:05:00.528Z", "bad": "yesterday"}));
        let f = Fields::new(&m);
        assert_eq!(f.timestamp("t").unwrap().0, "2022-04-06T06:05:00.528Z");
        assert!(f.timestamp("bad").is_err());
    }

    #[test]
    fn phones_and_emails() {
        let m = obj(json!({"p": "+84 (90) 123-4567", "q": "call me", "e": "a@b.vn", "x": "nope"}));
        let f = Fields::new(&m);
        assert!(f.phone("p", true).is_ok());
        assert!(f.phone("q", true).is_err());
        assert!(f.opt_email("e").is_ok());
        assert!(f.opt_email("x").is_err());
    }

    #[test]
    fn bodies_must_be_objects() {
        assert_eq!(json_object(b"[]").unwrap_err().code(), "invalid_json");
        assert_eq!(json_object(b"{").unwrap_err().code(), "invalid_json");
        assert!(json_object(b"{}").is_ok());
    }
}
