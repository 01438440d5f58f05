//! Identifiers shaped like AWS's.

use rand::Rng;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random (version 4) UUID, like API Gateway and Lambda request ids.
pub fn uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Random lowercase hex of `n` bytes.
pub fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
    hex(&bytes)
}

/// An X-Ray trace header value: `Root=1-<epoch seconds hex>-<96 random bits>;Sampled=0`.
pub fn trace_id(epoch_secs: u64) -> String {
    format!("Root=1-{epoch_secs:08x}-{};Sampled=0", random_hex(12))
}

/// API Gateway's short extended request id (e.g. `BQGojGkkoAMFL8g=`).
pub fn extended_request_id() -> String {
    use base64::Engine;
    let b: [u8; 10] = rand::rng().random();
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(uuid(), uuid());
        assert!(trace_id(0x5f000000).starts_with("Root=1-5f000000-"));
        assert_eq!(extended_request_id().len(), 16);
    }
}
