//! The request signature: `lowercase_hex(MD5(api_token_key + tracking_number + premium_amount))`.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

pub fn compute(api_token_key: &str, tracking_number: &str, premium_amount: u64) -> String {
    let mut h = Md5::new();
    h.update(api_token_key.as_bytes());
    h.update(tracking_number.as_bytes());
    h.update(premium_amount.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// True when `provided` matches the signature under any of `keys` (more than one during a key
/// rotation's overlap). Compared in constant time; hex case is ignored.
pub fn verify<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    tracking_number: &str,
    premium_amount: u64,
    provided: &str,
) -> bool {
    let provided = provided.to_ascii_lowercase();
    let mut ok = subtle::Choice::from(0);
    for key in keys {
        let expected = compute(key, tracking_number, premium_amount);
        ok |= expected.as_bytes().ct_eq(provided.as_bytes());
    }
    ok.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // python3 -c "import hashlib; print(hashlib.md5(b'secretkeyTN00115000').hexdigest())"
        assert_eq!(
            compute("secretkey", "TN001", 15000),
            "4977b20cb177efa8bd9d597f4014ce06"
        );
    }

    #[test]
    fn verifies_any_current_key_and_ignores_case() {
        let sig = compute("new", "TN1", 15000);
        assert!(verify(["old", "new"], "TN1", 15000, &sig));
        assert!(verify(["new"], "TN1", 15000, &sig.to_uppercase()));
        assert!(!verify(["old"], "TN1", 15000, &sig));
        assert!(!verify(["new"], "TN1", 15001, &sig));
        assert!(!verify(["new"], "TN1", 15000, ""));
    }
}
