//! The cost per million lifecycles, and the write and read units before and after issue 17.

use super::*;

/// Request units per call before issue 17, from bench/RESULTS.md of 2026-12-01 (table layout
/// with both list indexes projecting ALL attributes and tracking in a transaction): (endpoint
/// prefix, RRU, WRU). Tracking then was measured on a delivery's first update only.
const BEFORE_ISSUE_17: [(&str, f64, f64); 6] = [
    ("POST /sme-deliveries (submit)", 0.0, 7.0),
    ("POST /tracking-details", 1.0, 18.0),
    ("POST /sme-deliveries/cancel", 1.0, 6.0),
    ("GET /sme-deliveries/{tn}", 1.0, 0.0),
    ("GET /sme-deliveries (list", 8.0, 0.0),
    ("POST /oauth/token", 1.0, 0.0),
];
/// The cost per million lifecycles then: DynamoDB (RRU + WRU) and the total.
const BEFORE_ISSUE_17_COST: (f64, f64) = (61.38, 87.68);

/// Request units per call, before issue 17 and in this run.
pub(super) fn before_after(r: &Results) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nBefore and after issue 17 (request units per call, means; before: bench/RESULTS.md of \
         2026-12-01, whose tracking figure was a delivery's first update, the most expensive \
         kind then; cost per million lifecycles then: DynamoDB ${:.2}, total ${:.2}):\n",
        BEFORE_ISSUE_17_COST.0, BEFORE_ISSUE_17_COST.1
    );
    let _ = writeln!(
        o,
        "| endpoint | RRU before | WRU before | RRU now | WRU now |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|");
    for (prefix, rru, wru) in BEFORE_ISSUE_17 {
        let Some(e) = r.endpoints.iter().find(|e| e.name.starts_with(prefix)) else {
            continue;
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            e.name,
            f2(rru),
            f2(wru),
            f2(mean(&e.read_units)),
            f2(mean(&e.write_units))
        );
    }
    o
}

pub(super) fn cost(r: &Results) -> String {
    let mut o = String::new();
    let ep = |prefix: &str| r.endpoints.iter().find(|e| e.name.starts_with(prefix));
    let token_share = 7.0 / 100.0;
    // (endpoint, calls per lifecycle)
    let parts = [
        ("POST /sme-deliveries (submit)", 1.0),
        ("POST /tracking-details", crate::LIFECYCLE.len() as f64),
        ("GET /sme-deliveries/{tn}", 1.0),
        ("POST /oauth/token", token_share),
        ("authorizer", token_share),
        // A claim on 2 % of deliveries: filed, one document, one note, read twice.
        ("POST /claims (file)", CLAIM_RATE),
        ("POST /claims/{id}/documents", CLAIM_RATE),
        ("POST /claims/{id}/notes", CLAIM_RATE),
        ("GET /claims/{id}", 2.0 * CLAIM_RATE),
    ];
    // S3 per claim: the document's PUT (by the partner, pre-signed) and a ListObjectsV2 per read.
    let s3_requests = CLAIM_RATE * (1.0 + 2.0);
    let mut api_requests = 0.0;
    let mut invocations = 0.0;
    let mut gb_s = 0.0;
    let mut rru = 0.0;
    let mut wru = 0.0;
    let _ = writeln!(
        o,
        "A lifecycle: submit, 5 tracking updates, 1 get delivery, and one token per 100 calls \
         (0.07 token calls; the gateway caches each token's authorization for its TTL, so one \
         authorizer invocation per token); and on 2 % of deliveries a claim: filed, one document \
         (its pre-signed PUT to S3), one note, read twice (each read lists the claim's objects in \
         S3). The operators' three moves per claim (review, approve, pay: one transaction each with \
         the audit entry, run by opsctl, no API request) are left out. Billed duration: each \
         measured invocation rounded up to 1 ms, at the template's memory size; request units as \
         DynamoDB Local reported them.\n"
    );
    let _ = writeln!(
        o,
        "| call | per lifecycle | billed ms (mean) | MemorySize MB | RRU | WRU |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for (prefix, per) in parts {
        let Some(e) = ep(prefix) else { continue };
        let mem = r.memory_mb.get(&e.function).copied().unwrap_or(256) as f64;
        let billed = e.duration.billed_mean;
        let (ru, wu) = (mean(&e.read_units), mean(&e.write_units));
        if !prefix.starts_with("authorizer") {
            api_requests += per;
        }
        invocations += per;
        gb_s += per * billed / 1000.0 * mem / 1024.0;
        rru += per * ru;
        wru += per * wu;
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            e.name,
            per,
            f2(billed),
            mem,
            f2(ru),
            f2(wu)
        );
    }
    let m = 1_000_000.0;
    let lines = [
        (
            "API Gateway REST requests",
            api_requests * m,
            api_requests * Prices::APIGW_REST_PER_M,
        ),
        (
            "Lambda requests",
            invocations * m,
            invocations * Prices::LAMBDA_PER_M_REQUESTS,
        ),
        (
            "Lambda arm64 GB-s",
            gb_s * m,
            gb_s * m * Prices::LAMBDA_ARM_GB_S,
        ),
        ("DynamoDB RRU", rru * m, rru * Prices::DDB_PER_M_RRU),
        ("DynamoDB WRU", wru * m, wru * Prices::DDB_PER_M_WRU),
        (
            "S3 PUT + LIST requests (claims)",
            s3_requests * m,
            s3_requests * Prices::S3_PER_M_PUT_LIST,
        ),
    ];
    let total: f64 = lines.iter().map(|l| l.2).sum();
    let _ = writeln!(o, "\n| item | quantity per 1M lifecycles | USD |");
    let _ = writeln!(o, "|---|---|---|");
    for (what, q, usd) in lines {
        let _ = writeln!(o, "| {what} | {q:.0} | {usd:.2} |");
    }
    let _ = writeln!(o, "| **total** | | **{total:.2}** |");
    let _ = writeln!(
        o,
        "\nPrices: US East (N. Virginia) on-demand, published by AWS, looked up {}: Lambda arm64 \
         ${}/GB-s (first 7.5 billion GB-s a month) and ${:.2} per million requests; API Gateway REST \
         ${:.2} per million requests (first 333 million a month); DynamoDB on-demand ${} per million \
         WRU and ${} per million RRU (in effect since 2024-11-01); S3 Standard ${:.2} per million PUT \
         and LIST requests. Free tiers, data transfer, \
         CloudWatch Logs and storage are left out. Durations are this machine's x86_64 ones; a \
         256 MB arm64 Lambda has a fraction of a vCPU, so real durations, and the GB-s line, will be \
         higher.",
        Prices::DATE,
        Prices::LAMBDA_ARM_GB_S,
        Prices::LAMBDA_PER_M_REQUESTS,
        Prices::APIGW_REST_PER_M,
        Prices::DDB_PER_M_WRU,
        Prices::DDB_PER_M_RRU,
        Prices::S3_PER_M_PUT_LIST
    );
    o
}
