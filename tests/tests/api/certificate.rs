//! `GET /certificates/{token}` (the page behind `url_certificate`): public, HTML or PDF, current
//! status, 404 for any link that is not the link. The rendering tests need Debian's `chromium`
//! and `poppler-utils` (`scripts/install` installs them); without them they fail, saying so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use blackbox::{client, onboard_kit_json, send, unique_name, Delivery, Partner, Resp};
use serde_json::json;

/// A GET of a certificate link, with no credentials.
async fn get(url: &str, accept: Option<&str>) -> Resp {
    let mut rb = client().get(url);
    if let Some(a) = accept {
        rb = rb.header("Accept", a);
    }
    send(format!("GET {url} (Accept {accept:?})"), rb).await
}

/// The whole body as bytes (for PDFs), with status and headers.
async fn get_bytes(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("reading body").to_vec();
    (status, headers, body)
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A partner whose name is on its certificates, and one delivery of it.
async fn partner_and_delivery(name: &str) -> (Partner, Delivery) {
    let p = Partner::from_kit(onboard_kit_json(name, &blackbox::ALL_SUBSCRIPTIONS).await);
    let mut body = p.submit_body();
    body["customer_name"] = json!("Công ty <b>Hải Âu</b> & Co");
    p.resign(&mut body);
    let d = p.create_from(body).await;
    (p, d)
}

fn assert_html_certificate(resp: &Resp, d: &Delivery, status_label: &str) {
    resp.expect(200);
    let ct = resp.header("content-type").unwrap_or("");
    if !ct.starts_with("text/html") {
        resp.fail("a certificate page is text/html");
    }
    let html = &resp.text;
    for want in [
        d.policy_id.as_str(),
        status_label,
        "3,000,000 VND",
        "15,000 VND",
        "Điện thoại di động",
        "Công ty &lt;b&gt;Hải Âu&lt;/b&gt; &amp; Co",
        "@page",
        "Verification",
    ] {
        if !html.contains(want) {
            resp.fail(&format!("the page does not show {want:?}"));
        }
    }
    if html.contains("<script") || html.contains("<b>Hải") {
        resp.fail("partner text reached the page unescaped");
    }
    // No full phone number (0901234567), no external asset.
    if html.contains("0901234567") || html.contains("901234567") {
        resp.fail("the page shows a full phone number");
    }
    for external in ["src=", "href=", "url(", "@import"] {
        if html.contains(external) {
            resp.fail(&format!(
                "the page refers to an external asset ({external})"
            ));
        }
    }
    let cc = resp.header("cache-control").unwrap_or("");
    if !cc.contains("no-cache") {
        resp.fail(
            "a certificate that can change status must be revalidated: Cache-Control no-cache",
        );
    }
    if resp.header("etag").is_none_or(str::is_empty) {
        resp.fail("a certificate has an ETag");
    }
}

#[tokio::test]
async fn the_link_opens_the_certificate_page_without_credentials() {
    let name = format!("Giao Hàng <Nhanh> {}", unique_name("cert"));
    let (p, d) = partner_and_delivery(&name).await;
    let resp = get(&d.url_certificate, Some("text/html")).await;
    assert_html_certificate(&resp, &d, "ACTIVE");
    let escaped_name = name.replace('<', "&lt;").replace('>', "&gt;");
    if !resp.text.contains(&escaped_name) {
        resp.fail("the page names the partner");
    }
    // Nothing secret of the partner is on it.
    for secret in [&p.kit.api_token_key, &p.kit.client_secret, &p.kit.client_id] {
        if resp.text.contains(secret.as_str()) {
            resp.fail("the page shows a partner credential");
        }
    }

    // Revalidation: same ETag -> 304; a browser without Accept gets the page too.
    let etag = resp.header("etag").unwrap().to_string();
    let again = send(
        "GET (If-None-Match)".into(),
        client()
            .get(&d.url_certificate)
            .header("If-None-Match", &etag),
    )
    .await;
    again.expect(304);
    assert_html_certificate(&get(&d.url_certificate, None).await, &d, "ACTIVE");
}

#[tokio::test]
async fn the_same_certificate_is_a_pdf_by_path_or_by_query() {
    let (_p, d) = partner_and_delivery(&unique_name("cert-pdf")).await;
    for url in [
        format!("{}.pdf", d.url_certificate),
        format!("{}?format=pdf", d.url_certificate),
    ] {
        let (status, h, body) = get_bytes(&url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(header(&h, "content-type"), "application/pdf", "{url}");
        let cd = header(&h, "content-disposition");
        assert!(
            cd.contains(&format!("filename=\"certificate-{}.pdf\"", d.policy_id)),
            "{url}: Content-Disposition {cd:?}"
        );
        assert!(body.starts_with(b"%PDF-"), "{url}: not a PDF");
        assert!(header(&h, "cache-control").contains("no-cache"), "{url}");
        assert!(!header(&h, "etag").is_empty(), "{url}");
    }
    let resp = get(&format!("{}?format=docx", d.url_certificate), None).await;
    resp.expect_validation("format");
}

/// Every way a link can be wrong, each a 404 that looks exactly like the others.
#[tokio::test]
async fn altered_truncated_and_other_partner_links_are_the_same_404() {
    let (_a, da) = partner_and_delivery(&unique_name("cert-a")).await;
    let (_b, db) = partner_and_delivery(&unique_name("cert-b")).await;
    let (base, token_a) = da.url_certificate.rsplit_once('/').unwrap();
    let token_b = db.url_certificate.rsplit_once('/').unwrap().1;
    let (pol_a, tag_a) = token_a.split_once('.').unwrap();
    let (pol_b, tag_b) = token_b.split_once('.').unwrap();
    let flip = |s: &str, i: usize| {
        let mut c: Vec<char> = s.chars().collect();
        c[i] = if c[i] == '0' { '1' } else { '0' };
        c.into_iter().collect::<String>()
    };
    let bad_tokens = [
        format!("{pol_a}.{}", flip(tag_a, 0)),
        format!("{pol_a}.{}", flip(tag_a, tag_a.len() - 1)),
        token_a[..token_a.len() - 1].to_string(),
        format!("{pol_a}.{}", &tag_a[..16]),
        pol_a.to_string(),
        format!("{pol_a}."),
        format!("{pol_a}.{}", tag_a.to_uppercase()),
        format!("{pol_a}.{tag_a}00"),
        // Another partner's policy with this partner's tag, and the reverse.
        format!("{pol_b}.{tag_a}"),
        format!("{pol_a}.{tag_b}"),
        // A policy that does not exist.
        format!("pol_01aaaaaaaaaaaaaaaaaaaaaaaa.{tag_a}"),
        "x".to_string(),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for t in &bad_tokens {
        for suffix in ["", ".pdf", "?format=pdf"] {
            let url = format!("{base}/{t}{suffix}");
            let resp = get(&url, Some("application/json")).await;
            messages.insert(resp.expect_error(404, "not_found").to_string());
            assert_eq!(resp.header("cache-control"), Some("no-store"), "{url}");
        }
        let page = get(&format!("{base}/{t}"), Some("text/html")).await;
        page.expect(404);
        assert!(
            page.header("content-type")
                .unwrap_or("")
                .starts_with("text/html"),
            "{t}"
        );
        assert!(
            !page.text.contains(pol_a) && !page.text.contains(pol_b),
            "{t}"
        );
    }
    assert_eq!(messages.len(), 1, "every 404 says the same: {messages:?}");
    // The good links still work.
    get(&da.url_certificate, None).await.expect(200);
    get(&db.url_certificate, None).await.expect(200);
}

#[tokio::test]
async fn the_page_shows_the_current_status_cancelled_or_delivered() {
    let (p, d) = partner_and_delivery(&unique_name("cert-status")).await;
    let before = get(&d.url_certificate, None).await;
    assert_html_certificate(&before, &d, "ACTIVE");
    let etag = before.header("etag").unwrap().to_string();

    p.cancel(&p.cancel_body(&d)).await.expect_success(200);
    let after = send(
        "GET after cancel (If-None-Match old ETag)".into(),
        client()
            .get(&d.url_certificate)
            .header("If-None-Match", &etag),
    )
    .await;
    assert_html_certificate(&after, &d, "CANCELLED");
    assert!(after.text.contains("data-status=\"cancelled\""));
    assert_ne!(after.header("etag"), Some(etag.as_str()));

    let mut body = p.submit_body();
    body["customer_name"] = json!("Công ty <b>Hải Âu</b> & Co");
    p.resign(&mut body);
    let d2 = p.create_from(body).await;
    p.advance(&d2, &["in_process", "in_delivery", "success"])
        .await;
    let delivered = get(&d2.url_certificate, None).await;
    assert_html_certificate(&delivered, &d2, "DELIVERED");
}

// ---- rendering in real tools -------------------------------------------------------------

/// A command from Debian's packages, or a failure that says how to get it.
fn tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is not installed: run scripts/install (it installs the Debian package `{package}` with apt-get)");
}

async fn run(cmd: &Path, args: &[&str]) -> std::process::Output {
    let fut = tokio::process::Command::new(cmd)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(90), fut).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("running {}: {e}", cmd.display()),
        Err(_) => panic!("{} {args:?} did not finish within 90 s", cmd.display()),
    }
}

fn scratch_dir(what: &str) -> PathBuf {
    let dir = blackbox::workspace_root()
        .join("target/blackbox-state")
        .join(format!(
            "{what}-{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium with the flags this machine needs (no sandbox as root, no background
/// networking on a closed network, a fresh profile).
async fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    let chromium = tool("chromium", "chromium");
    let profile_arg = format!("--user-data-dir={}", profile.display());
    let mut all = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        profile_arg.as_str(),
    ];
    all.extend_from_slice(args);
    run(&chromium, &all).await
}

#[tokio::test]
async fn the_page_renders_in_headless_chromium_with_the_policy_id_and_status() {
    let pdftotext = tool("pdftotext", "poppler-utils");
    let (p, d) = partner_and_delivery(&unique_name("cert-chromium")).await;
    p.cancel(&p.cancel_body(&d)).await.expect_success(200);
    let dir = scratch_dir("chromium");

    // The DOM as Chromium built it.
    let out = chromium(
        &dir.join("profile-dom"),
        &["--dump-dom", d.url_certificate.as_str()],
    )
    .await;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && dom.contains("id=\"policy-id\""),
        "chromium --dump-dom failed ({}):\n{dom}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains(&format!(">{}<", d.policy_id)), "{dom}");
    assert!(dom.contains("data-status=\"cancelled\""), "{dom}");

    // Printed, as a person would print it (Chromium's default paper), then read back.
    let printed = dir.join("printed.pdf");
    let print_arg = format!("--print-to-pdf={}", printed.display());
    let out = chromium(
        &dir.join("profile-print"),
        &[
            "--no-pdf-header-footer",
            print_arg.as_str(),
            d.url_certificate.as_str(),
        ],
    )
    .await;
    assert!(
        printed.is_file(),
        "chromium --print-to-pdf wrote nothing ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = run(&pdftotext, &[printed.to_str().unwrap(), "-"]).await;
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&d.policy_id), "{text}");
    assert!(text.contains("CANCELLED"), "{text}");
    assert!(text.contains("Certificate of insurance"), "{text}");
    let info = run(
        &tool("pdfinfo", "poppler-utils"),
        &[printed.to_str().unwrap()],
    )
    .await;
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Pages:") && l.trim_end().ends_with(" 1")),
        "the printed page fits on one sheet:\n{info}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_pdf_renders_to_an_image_and_its_text_has_the_certificate() {
    let pdftoppm = tool("pdftoppm", "poppler-utils");
    let pdftotext = tool("pdftotext", "poppler-utils");
    let (_p, d) = partner_and_delivery(&unique_name("cert-poppler")).await;
    let (status, _, body) = get_bytes(&format!("{}.pdf", d.url_certificate)).await;
    assert_eq!(status, 200);
    let dir = scratch_dir("poppler");
    let pdf = dir.join("certificate.pdf");
    std::fs::write(&pdf, &body).unwrap();

    let prefix = dir.join("page");
    let out = run(
        &pdftoppm,
        &[
            "-png",
            "-r",
            "50",
            "-singlefile",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "pdftoppm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(dir.join("page.png")).expect("pdftoppm wrote page.png");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );

    let out = run(&pdftotext, &["-layout", pdf.to_str().unwrap(), "-"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        d.policy_id.as_str(),
        "Certificate of insurance",
        "ACTIVE",
        "3,000,000 VND",
        "15,000 VND",
        "Điện thoại di động",
        "Công ty <b>Hải Âu</b> & Co",
        "Verification",
    ] {
        assert!(
            text.contains(want),
            "the PDF's text lacks {want:?}:\n{text}"
        );
    }
    assert!(!text.contains("0901234567"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
