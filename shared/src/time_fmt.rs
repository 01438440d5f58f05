//! RFC 3339 timestamps: parsing what partners send, and the one format the API writes.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Parse an RFC 3339 timestamp (any offset). A timestamp whose UTC instant is outside years
/// -9999..=9999 (`9999-12-31T23:59:59-01:00`) is refused: it cannot be converted to UTC, and
/// converting it (to format it, or to order tracking events) would panic. Found by fuzzing.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .filter(|t| t.checked_to_offset(UtcOffset::UTC).is_some())
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

    #[test]
    fn timestamps_beyond_the_utc_range_are_refused_not_a_panic() {
        for s in [
            "9999-12-31T23:59:59.999999999-23:59",
            "9999-12-31T23:00:00-01:00",
            "-0001-01-01T00:00:00Z",
        ] {
            assert!(parse(s).is_none(), "{s}");
        }
        let edge = parse("9999-12-31T23:59:59.999Z").unwrap();
        assert_eq!(format(edge), "9999-12-31T23:59:59.999Z");
        assert!(parse("0000-01-01T00:00:00+01:00").is_some());
    }
}
