//! Compressed attributes of the delivery item (issue 17): a record serialised as JSON (its own
//! serde names, so nothing new to learn), then raw deflate with a preset dictionary of the
//! names and values every delivery repeats. A delivery's submission and policy shrink from about
//! 900 to about 280 bytes, five tracking events from about 1,500 to about 170, which keeps a
//! delivery item and its list-index copies under 1 KB, the unit DynamoDB bills a write in.
//!
//! The first byte names the format. Format 1's dictionary (`blob_dictionary_v1.txt`) must never
//! change: stored items depend on it (a test pins its digest). A better dictionary is a new
//! format byte beside it, and readers keep reading every format ever written.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use serde::de::DeserializeOwned;
use serde::{Deserializer, Serialize, Serializer};

/// Raw deflate (no zlib header) with `DICTIONARY_V1`.
const FORMAT_V1: u8 = 1;
static DICTIONARY_V1: &[u8] = include_bytes!("blob_dictionary_v1.txt");
/// A decoded attribute larger than this is refused (an item is at most 400 KB).
const MAX_DECODED: usize = 4 << 20;

/// `value` as JSON, compressed, behind its format byte.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let json = serde_json::to_vec(value).expect("stored records serialise as JSON");
    let mut c = Compress::new(Compression::best(), false);
    c.set_dictionary(DICTIONARY_V1)
        .expect("a preset dictionary is accepted before any input");
    let mut out = Vec::with_capacity(json.len() / 2 + 64);
    out.push(FORMAT_V1);
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&json[consumed..], &mut out, FlushCompress::Finish)
            .expect("deflate into a vector cannot fail");
        if status == Status::StreamEnd {
            return out;
        }
        out.reserve(out.capacity().max(256));
    }
}

/// The JSON bytes inside a compressed attribute.
pub fn decode_bytes(blob: &[u8]) -> Result<Vec<u8>, String> {
    let (format, data) = blob.split_first().ok_or("an empty compressed attribute")?;
    if *format != FORMAT_V1 {
        return Err(format!("unknown compressed attribute format {format}"));
    }
    let mut d = Decompress::new(false);
    d.set_dictionary(DICTIONARY_V1)
        .map_err(|e| format!("inflate dictionary: {e}"))?;
    let mut out = Vec::with_capacity(data.len() * 4 + 64);
    loop {
        let consumed = d.total_in() as usize;
        let before = d.total_out();
        let status = d
            .decompress_vec(&data[consumed..], &mut out, FlushDecompress::Finish)
            .map_err(|e| format!("inflate: {e}"))?;
        match status {
            Status::StreamEnd => return Ok(out),
            _ if out.len() >= MAX_DECODED => {
                return Err("a compressed attribute decodes to more than 4 MiB".into())
            }
            Status::BufError if d.total_out() == before && out.len() < out.capacity() => {
                return Err("a truncated compressed attribute".into())
            }
            _ => out.reserve(out.capacity().max(256)),
        }
    }
}

pub fn decode<T: DeserializeOwned>(blob: &[u8]) -> Result<T, String> {
    serde_json::from_slice(&decode_bytes(blob)?).map_err(|e| format!("decoded attribute: {e}"))
}

/// A compressed attribute as JSON: for operators' tools and the black-box tests, which read the
/// table directly (DynamoDB JSON gives a binary attribute as base64).
pub fn decode_json(blob: &[u8]) -> Result<serde_json::Value, String> {
    decode(blob)
}

/// Bytes as a serde value: serde_dynamo turns them into a binary (`B`) attribute and back.
pub(crate) fn serialize_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(bytes)
}

pub(crate) fn deserialize_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a binary attribute")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
    }
    d.deserialize_byte_buf(V)
}

/// `#[serde(with = "blob::attr")]`: a field stored as a compressed binary attribute.
pub(crate) mod attr {
    use serde::de::DeserializeOwned;
    use serde::{Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        super::serialize_bytes(&super::encode(v), s)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let bytes = super::deserialize_bytes(d)?;
        super::decode(&bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_format_1_dictionary_never_changes() {
        // Stored items depend on these exact bytes: add a new format instead of editing it.
        assert_eq!(
            hex::encode(Sha256::digest(DICTIONARY_V1)),
            "2b53b726be4e70b0295b07bfff5203ebb5cdc01c610eee360ad4f3602b2b532c"
        );
    }

    #[test]
    fn round_trips_small_and_large_values() {
        for v in [
            serde_json::json!({}),
            serde_json::json!({"tracking_time": "2026-12-01T00:00:00.000Z", "tracking_status": "in_process"}),
            serde_json::json!({"text": "Nguyễn Văn A ".repeat(20_000)}),
        ] {
            let blob = encode(&v);
            assert_eq!(blob[0], FORMAT_V1);
            assert_eq!(decode_json(&blob).unwrap(), v);
        }
    }

    #[test]
    fn the_dictionary_pays_on_a_delivery_sized_value() {
        let v = serde_json::json!({"submission": {"tracking_number": "SPX0001", "product_code": "ahasme", "customer_name": "Cong ty ABC", "customer_phone": "+84 901234567", "pickup_address": "1 Le Loi, District 1, HCMC", "drop_up_address": "2 Tran Hung Dao, Hanoi", "type_of_goods": "electronics", "cod_amount": 0, "item_value": 3000000, "premium_amount": 15000, "order_created_time": "2022-04-06T06:05:00.528Z", "goods_description": "Phone", "good_quantity": 1}});
        let json = serde_json::to_vec(&v).unwrap();
        assert!(
            encode(&v).len() * 2 < json.len(),
            "{} vs {}",
            encode(&v).len(),
            json.len()
        );
    }

    #[test]
    fn damaged_attributes_are_errors_not_panics() {
        let blob = encode(&serde_json::json!({"a": "b".repeat(100)}));
        assert!(decode_json(&[]).is_err());
        assert!(decode_json(&[9, 1, 2]).is_err());
        assert!(decode_json(&blob[..blob.len() / 2]).is_err());
        let mut flipped = blob.clone();
        flipped[3] ^= 0xff;
        assert!(decode_json(&flipped).is_err());
    }
}
