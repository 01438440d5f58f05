//! CSV for reporting tools: any list answer (`{"items": [...], "next_cursor": ...}`) as an
//! RFC 4180 document, chosen with `Accept: text/csv` or `format=csv`. Used by the delivery list
//! (`functions/control-tower`) and the claims list (`functions/claims`), each with its own columns.
//!
//! - Columns are fixed per list (a header row on every page, the same on every page), each a
//!   JSON pointer into the item as the JSON list returns it: numbers as numbers, text as text,
//!   absent or `null` as an empty field, arrays and objects as their JSON.
//! - Formula injection (OWASP "CSV injection"): a text field that starts with `=`, `+`, `-`, `@`,
//!   a tab or a carriage return gets a leading `'`, so a spreadsheet shows it instead of
//!   evaluating it. Numbers are never touched (they are never negative here).
//! - Paging: same `limit` and cursor as JSON; the next page's cursor is in the `X-Next-Cursor`
//!   header (absent on the last page) and `Link: <url>; rel="next"` holds the next page's URL.

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::http::{self, RequestMeta, REQUEST_ID_HEADER};
use crate::lambda::Render;

pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8; header=present";
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// One column: its header and where its value is in a list item.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// JSON pointer into the item (`/policy/policy_id`).
    pub pointer: &'static str,
}

const fn col(name: &'static str, pointer: &'static str) -> Column {
    Column { name, pointer }
}

/// The columns of `GET /api/v1/sme-deliveries` (the OpenAPI document lists them in
/// `x-csv-columns`; apidoc's tests keep the two equal).
pub const DELIVERY_COLUMNS: &[Column] = &[
    col("tracking_number", "/tracking_number"),
    col("delivery_status", "/delivery_status"),
    col("created_at", "/created_at"),
    col("updated_at", "/updated_at"),
    col("policy_id", "/policy/policy_id"),
    col("policy_status", "/policy/policy_status"),
    col("product_code", "/product_code"),
    col("currency", "/policy/currency"),
    col("item_value", "/item_value"),
    col("premium_amount", "/premium_amount"),
    col("cod_amount", "/cod_amount"),
    col("good_quantity", "/good_quantity"),
    col("type_of_goods", "/type_of_goods"),
    col("goods_description", "/goods_description"),
    col("customer_name", "/customer_name"),
    col("customer_phone", "/customer_phone"),
    col("customer_email", "/customer_email"),
    col("sender_name", "/sender_name"),
    col("sender_phone", "/sender_phone"),
    col("sender_email", "/sender_email"),
    col("recipient_name", "/recipient_name"),
    col("recipient_phone", "/recipient_phone"),
    col("pickup_address", "/pickup_address"),
    col("drop_up_address", "/drop_up_address"),
    col("order_created_time", "/order_created_time"),
    col("issued_at", "/policy/issued_at"),
    col("cancelled_at", "/policy/cancelled_at"),
    col("canceled_by", "/policy/cancellation/canceled_by"),
    col(
        "cancellation_reason",
        "/policy/cancellation/cancellation_reason",
    ),
    col(
        "cancellation_time",
        "/policy/cancellation/cancellation_time",
    ),
    col("url_certificate", "/policy/url_certificate"),
];

/// The columns of `GET /api/v1/claims` (the list item as the JSON list returns it; documented in
/// `x-csv-columns` like the delivery list's).
pub const CLAIM_COLUMNS: &[Column] = &[
    col("claim_id", "/claim_id"),
    col("claim_status", "/claim_status"),
    col("claim_type", "/claim_type"),
    col("tracking_number", "/tracking_number"),
    col("policy_id", "/policy_id"),
    col("currency", "/currency"),
    col("claimed_amount", "/claimed_amount"),
    col("approved_amount", "/approved_amount"),
    col("paid_amount", "/paid_amount"),
    col("payment_reference", "/payment_reference"),
    col("paid_at", "/paid_at"),
    col("decision_reason", "/decision_reason"),
    col("incident_time", "/incident_time"),
    col("created_at", "/created_at"),
    col("updated_at", "/updated_at"),
    col("claimant_name", "/claimant_name"),
    col("claimant_phone", "/claimant_phone"),
    col("claimant_email", "/claimant_email"),
    col("description", "/description"),
    col("document_count", "/document_count"),
    col("note_count", "/note_count"),
];

/// Whether the caller asked for CSV: `format=csv` (or `json`) wins; else `Accept` naming
/// `text/csv` ahead of (or without) JSON. Any other `format` is a 400 naming it.
pub fn wants_csv(format: Option<&str>, accept: Option<&str>) -> Result<bool, ApiError> {
    match format.map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) if f.eq_ignore_ascii_case("csv") => return Ok(true),
        Some(f) if f.eq_ignore_ascii_case("json") => return Ok(false),
        Some(_) => return Err(ApiError::validation("format", "must be json or csv.")),
        None => {}
    }
    let Some(accept) = accept else {
        return Ok(false);
    };
    let q = |media: &str| -> Option<f32> {
        accept.split(',').find_map(|part| {
            let mut it = part.split(';');
            let m = it.next()?.trim();
            if !m.eq_ignore_ascii_case(media) {
                return None;
            }
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some(q)
        })
    };
    Ok(match (q("text/csv"), q("application/json")) {
        (Some(c), Some(j)) => c > 0.0 && c > j,
        (Some(c), None) => c > 0.0,
        _ => false,
    })
}

/// A text field as a spreadsheet should show it (see the module doc).
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

fn field(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => neutralise(s).into_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => neutralise(&other.to_string()).into_owned(),
    }
}

/// The items as one CSV document: a header row, then one row per item (CRLF line ends).
pub fn to_csv(items: &[Value], columns: &[Column]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(columns.iter().map(|c| c.name))
        .expect("writing to memory");
    for item in items {
        w.write_record(columns.iter().map(|c| field(item.pointer(c.pointer))))
            .expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("CSV of UTF-8 text")
}

/// A list page (`{"items": [...], "next_cursor": ...}`) as the CSV answer; `next_url` builds
/// the URL of the next page from its cursor (for the `Link` header).
pub fn page_response(
    request_id: &str,
    page: &Value,
    columns: &[Column],
    next_url: impl FnOnce(&str) -> String,
) -> Response<Body> {
    let items = page["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut b = Response::builder()
        .status(200)
        .header("content-type", CONTENT_TYPE)
        .header(REQUEST_ID_HEADER, request_id);
    if let Some(cursor) = page["next_cursor"].as_str() {
        b = b
            .header(NEXT_CURSOR_HEADER, cursor)
            .header("link", format!("<{}>; rel=\"next\"", next_url(cursor)));
    }
    b.body(Body::Text(to_csv(items, columns)))
        .expect("valid response")
}

/// The `render` of a list route (`lambda::api_request*`): the success answer as CSV when the
/// request on `list_route` asks for it, `None` for every other request. A bad `format` value is
/// left to the handler, which answers it 400 like any other parameter. `list_path` is the
/// route's path after the API's base URL, for the next page's `Link`.
pub fn list_render(
    req: &Request,
    public_base_url: Option<&str>,
    list_route: &str,
    list_path: &str,
    columns: &'static [Column],
) -> Option<Render> {
    let wanted = wants_csv(
        http::query(req, "format").as_deref(),
        http::header(req, "accept"),
    );
    if RequestMeta::of(req).route() != list_route || !matches!(wanted, Ok(true)) {
        return None;
    }
    let list_url = format!("{}{list_path}", http::base_url(req, public_base_url));
    let params: Vec<(String, String)> = http::query_params(req).into_iter().collect();
    Some(Box::new(move |meta, _status, page| {
        page_response(&meta.request_id, &page, columns, |cursor| {
            format!("{list_url}?{}", next_query(&params, cursor))
        })
    }))
}

/// The query string of the next page: the request's parameters with `cursor` replaced.
pub fn next_query(params: &[(String, String)], cursor: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter().filter(|(k, _)| k != "cursor") {
        q.append_pair(k, v);
    }
    q.append_pair("cursor", cursor);
    q.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn format_and_accept_choose_csv() {
        assert!(wants_csv(Some("csv"), None).unwrap());
        assert!(wants_csv(Some("CSV"), Some("application/json")).unwrap());
        assert!(!wants_csv(Some("json"), Some("text/csv")).unwrap());
        assert!(wants_csv(None, Some("text/csv")).unwrap());
        assert!(wants_csv(None, Some("text/csv, application/json;q=0.5")).unwrap());
        assert!(!wants_csv(None, Some("application/json, text/csv;q=0.5")).unwrap());
        assert!(!wants_csv(None, Some("text/csv;q=0")).unwrap());
        assert!(!wants_csv(None, Some("*/*")).unwrap());
        assert!(!wants_csv(None, None).unwrap());
        let e = wants_csv(Some("xml"), None).unwrap_err();
        assert!(e.to_string().starts_with("format "), "{e}");
    }

    #[test]
    fn rfc4180_quoting_and_formula_neutralisation() {
        let items = vec![
            json!({"tracking_number": "TN1", "item_value": 3000000, "customer_name": "A, \"B\"\nC",
                   "customer_phone": "+84 901", "goods_description": "=HYPERLINK(\"http://x\")",
                   "policy": {"policy_id": "pol_1", "cancellation": null}}),
            json!({"tracking_number": "TN2", "sender_name": "@SUM(A1)", "type_of_goods": "-1+2",
                   "pickup_address": "\tx", "drop_up_address": "\ry"}),
        ];
        let text = to_csv(&items, DELIVERY_COLUMNS);
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(header.len(), DELIVERY_COLUMNS.len());
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let get = |row: &csv::StringRecord, name: &str| {
            row[header.iter().position(|h| h == name).unwrap()].to_string()
        };
        assert_eq!(get(&rows[0], "customer_name"), "A, \"B\"\nC");
        assert_eq!(get(&rows[0], "item_value"), "3000000");
        assert_eq!(get(&rows[0], "customer_phone"), "'+84 901");
        assert_eq!(
            get(&rows[0], "goods_description"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(get(&rows[0], "policy_id"), "pol_1");
        assert_eq!(get(&rows[0], "canceled_by"), "");
        assert_eq!(get(&rows[1], "sender_name"), "'@SUM(A1)");
        assert_eq!(get(&rows[1], "type_of_goods"), "'-1+2");
        assert_eq!(get(&rows[1], "pickup_address"), "'\tx");
        assert_eq!(get(&rows[1], "drop_up_address"), "'\ry");
        assert!(text.contains("\r\n"), "CRLF line ends");
        assert!(
            text.contains("\"A, \"\"B\"\"\nC\""),
            "RFC 4180 quoting: {text}"
        );
    }

    #[test]
    fn a_page_with_more_names_its_next_cursor() {
        let page = json!({"items": [], "next_cursor": "abc.def"});
        let r = page_response("rid", &page, DELIVERY_COLUMNS, |c| {
            format!("https://x/api/v1/sme-deliveries?cursor={c}")
        });
        assert_eq!(r.headers()["content-type"], CONTENT_TYPE);
        assert_eq!(r.headers()[NEXT_CURSOR_HEADER], "abc.def");
        assert_eq!(
            r.headers()["link"],
            "<https://x/api/v1/sme-deliveries?cursor=abc.def>; rel=\"next\""
        );
        let last = page_response(
            "rid",
            &json!({"items": [], "next_cursor": null}),
            DELIVERY_COLUMNS,
            |_| unreachable!(),
        );
        assert!(last.headers().get(NEXT_CURSOR_HEADER).is_none());
        assert!(last.headers().get("link").is_none());
    }

    #[test]
    fn the_next_query_keeps_the_filters_and_replaces_the_cursor() {
        let params = vec![
            ("delivery_status".to_string(), "success".to_string()),
            ("cursor".to_string(), "old".to_string()),
            ("format".to_string(), "csv".to_string()),
        ];
        assert_eq!(
            next_query(&params, "a+b/c"),
            "delivery_status=success&format=csv&cursor=a%2Bb%2Fc"
        );
    }
}
