//! RFC 3339 timestamps: parsing what partners send, and the one format the API writes.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Parse an RFC 3339 timestamp (any offset).
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Format as UTC with exactly three fractional digits (`2022-04-06T06:05:00.528Z`), so that the
/// text sorts in time order (used in index sort keys).
pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sortable_utc_with_millis() {
        let t = parse("2022-04-06T13:05:00.5+07:00").unwrap();
        assert_eq!(format(t), "2022-04-06T06:05:00.500Z");
        assert!(parse("2022-04-06 06:05").is_none());
    }
}
