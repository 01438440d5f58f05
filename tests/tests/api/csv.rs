//! The delivery list as CSV (`Accept: text/csv` or `format=csv`): the same items, filters and
//! cursor as the JSON list, RFC 4180, formulas neutralised, the cursor in `X-Next-Cursor`/`Link`.

use blackbox::Partner;
use serde_json::Value;

fn rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    // A minimal RFC 4180 reader for the test (quoted fields, doubled quotes, CRLF).
    let mut records = Vec::new();
    let (mut record, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    let header = records.remove(0);
    (header, records)
}

#[tokio::test]
async fn the_list_as_csv_matches_the_json_list_page_by_page() {
    let p = Partner::onboard(&["insurance", "control_tower"]).await;
    let mut made = Vec::new();
    for i in 0..3 {
        let mut body = p.submit_body();
        // A formula a spreadsheet would run, and text that needs quoting.
        body["customer_name"] = Value::from(format!("=HYPERLINK(\"http://evil.example\",\"{i}\")"));
        body["goods_description"] = Value::from("Phone, \"boxed\"\nsecond line");
        p.resign(&mut body);
        made.push(p.create_from(body).await);
    }
    // Page by page with limit 2, following X-Next-Cursor, against the JSON pages.
    let token = p.token().await;
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let q = match &cursor {
            None => "/sme-deliveries?limit=2&format=csv".to_string(),
            Some(c) => format!("/sme-deliveries?limit=2&format=csv&cursor={c}"),
        };
        let csv = p.get_with(&q, Some(&token)).await;
        assert_eq!(csv.status, 200, "{}", csv.text);
        assert_eq!(
            csv.headers["content-type"],
            "text/csv; charset=utf-8; header=present"
        );
        assert!(csv.text.contains("\r\n"));
        let json = p
            .get_with(&q.replace("&format=csv", ""), Some(&token))
            .await;
        let json_items = json.json["items"].as_array().unwrap().clone();
        let (header, records) = rows(&csv.text);
        assert_eq!(header[0], "tracking_number");
        assert_eq!(records.len(), json_items.len());
        for (r, item) in records.iter().zip(&json_items) {
            let get = |name: &str| &r[header.iter().position(|h| h == name).unwrap()];
            assert_eq!(
                get("tracking_number"),
                item["tracking_number"].as_str().unwrap()
            );
            assert_eq!(
                get("policy_id"),
                item["policy"]["policy_id"].as_str().unwrap()
            );
            assert_eq!(get("item_value"), &item["item_value"].to_string());
            assert!(get("customer_name").starts_with("'=HYPERLINK("), "{r:?}");
            assert_eq!(get("goods_description"), "Phone, \"boxed\"\nsecond line");
            seen.push(get("tracking_number").clone());
        }
        let next = csv
            .headers
            .get("x-next-cursor")
            .map(|v| v.to_str().unwrap().to_string());
        // Same position (the cursor's text may differ: it seals an unordered key map).
        assert_eq!(next.is_some(), json.json["next_cursor"].is_string());
        match &next {
            Some(c) => {
                let link = csv.headers["link"].to_str().unwrap();
                assert!(link.ends_with("; rel=\"next\""), "{link}");
                assert!(
                    link.contains("format=csv") && link.contains("limit=2"),
                    "{link}"
                );
                assert!(
                    link.contains(
                        &form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
                    ),
                    "{link}"
                );
            }
            None => assert!(csv.headers.get("link").is_none()),
        }
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    let mut want: Vec<String> = made.iter().map(|d| d.tracking_number.clone()).collect();
    want.reverse();
    assert_eq!(seen, want, "newest first, every delivery once");
}

#[tokio::test]
async fn accept_text_csv_chooses_csv_and_errors_stay_json() {
    let p = Partner::onboard(&["insurance", "control_tower"]).await;
    let token = p.token().await;
    let resp = p
        .http
        .get(p.url("/sme-deliveries?limit=5"))
        .bearer_auth(&token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let bad = p.get_with("/sme-deliveries?format=xml", Some(&token)).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.json["code"], "validation_error");
    assert!(bad.json["message"].as_str().unwrap().starts_with("format"));
    let bad_filter = p
        .get_with(
            "/sme-deliveries?format=csv&delivery_status=lost",
            Some(&token),
        )
        .await;
    assert_eq!(bad_filter.status, 400);
    assert_eq!(
        bad_filter.json["code"], "validation_error",
        "errors stay JSON"
    );
}
