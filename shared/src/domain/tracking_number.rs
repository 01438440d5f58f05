use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// 1 to 64 characters of `A-Z a-z 0-9 - _ .`. Cannot hold anything else, so it is safe inside storage keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingNumber(String);

impl TrackingNumber {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if ok {
            Ok(TrackingNumber(s.to_string()))
        } else {
            Err(ApiError::validation(
                "tracking_number",
                "must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.'.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TrackingNumber {
    type Error = ApiError;
    fn try_from(s: String) -> Result<Self, ApiError> {
        TrackingNumber::parse(&s)
    }
}

impl From<TrackingNumber> for String {
    fn from(t: TrackingNumber) -> String {
        t.0
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_contract_alphabet() {
        assert!(TrackingNumber::parse("SPX-VN_0001.a").is_ok());
        assert!(TrackingNumber::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn rejects_everything_else() {
        for bad in ["", "a#b", "a b", "ä", "a/b", &"a".repeat(65)] {
            let e = TrackingNumber::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with("tracking_number "), "{bad}");
        }
    }
}
