//! What a certificate says, formatted for people, and its HTML page.
//!
//! Everything shown comes from the stored delivery and its policy (partner-supplied strings are
//! HTML-escaped). Deliberately left off: addresses, e-mail addresses, full phone numbers (only
//! the last three digits of the customer's phone), the request signature and any key.

use sha2::{Digest, Sha256};

use crate::domain::{DeliveryStatus, PolicyStatus};
use crate::store::DeliveryRecord;
use crate::time_fmt;

/// Bumped when the page or PDF layout changes, so that ETags of old renderings stop matching.
const RENDER_VERSION: &str = "1";

/// The coverage status a certificate shows: the policy's status, and once the insured journey
/// has ended, how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    Active,
    Cancelled,
    Delivered,
    Returned,
}

impl Coverage {
    pub fn of(policy: PolicyStatus, delivery: DeliveryStatus) -> Self {
        match (policy, delivery) {
            (PolicyStatus::Cancelled, _) => Coverage::Cancelled,
            (_, DeliveryStatus::Success) => Coverage::Delivered,
            (_, DeliveryStatus::Returned) => Coverage::Returned,
            _ => Coverage::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Active => "active",
            Coverage::Cancelled => "cancelled",
            Coverage::Delivered => "delivered",
            Coverage::Returned => "returned",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Coverage::Active => "ACTIVE",
            Coverage::Cancelled => "CANCELLED",
            Coverage::Delivered => "DELIVERED",
            Coverage::Returned => "RETURNED",
        }
    }

    /// One sentence that says what the status means for the insured.
    pub fn meaning(self) -> &'static str {
        match self {
            Coverage::Active => "The goods below are insured while the parcel is in transit.",
            Coverage::Cancelled => {
                "This policy was cancelled: the goods below are not insured under it."
            }
            Coverage::Delivered => "The parcel was delivered: the insured journey is complete.",
            Coverage::Returned => {
                "The parcel was returned to the sender: the insured journey is complete."
            }
        }
    }

    /// Accent colour (RGB) of the status, chosen to stay legible in greyscale print.
    pub fn colour(self) -> (u8, u8, u8) {
        match self {
            Coverage::Active => (0x1b, 0x6e, 0x3a),
            Coverage::Cancelled => (0xa1, 0x1d, 0x1d),
            Coverage::Delivered => (0x1d, 0x4e, 0x89),
            Coverage::Returned => (0x6b, 0x4a, 0x12),
        }
    }
}

/// A certificate of insurance, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub policy_id: String,
    pub partner_name: String,
    pub product_code: String,
    pub tracking_number: String,
    pub insured_name: String,
    /// `"ending in 567"`, never the whole number.
    pub contact_phone: Option<String>,
    pub type_of_goods: String,
    pub goods_description: String,
    pub quantity: u64,
    pub item_value: u64,
    pub premium: u64,
    pub currency: String,
    pub coverage: Coverage,
    pub order_created_at: String,
    pub issued_at: String,
    pub cancelled_at: Option<String>,
    pub status_updated_at: String,
    /// The certificate's own link (the HTML page).
    pub url: String,
    /// When this copy was produced ("status as of").
    pub checked_at: String,
    /// Claims on the policy (issue 13): whether one is open, and what was paid.
    pub claim: Option<String>,
}

impl Certificate {
    pub fn new(
        rec: &DeliveryRecord,
        partner_name: &str,
        url: &str,
        checked_at: time::OffsetDateTime,
    ) -> Self {
        let s = &rec.submission;
        let p = &rec.policy;
        Certificate {
            policy_id: p.policy_id.clone(),
            partner_name: partner_name.to_string(),
            product_code: p.product_code.clone(),
            tracking_number: s.tracking_number.as_str().to_string(),
            insured_name: s.customer_name.clone(),
            contact_phone: mask_phone(&s.customer_phone),
            type_of_goods: s.type_of_goods.clone(),
            goods_description: s.goods_description.clone(),
            quantity: s.good_quantity,
            item_value: s.item_value,
            premium: p.premium_amount,
            currency: p.currency.clone(),
            coverage: Coverage::of(p.policy_status, rec.delivery_status),
            order_created_at: s.order_created_time.clone(),
            issued_at: p.issued_at.clone(),
            cancelled_at: p.cancelled_at.clone(),
            status_updated_at: rec.updated_at.clone(),
            url: url.to_string(),
            checked_at: time_fmt::format(checked_at),
            claim: claim_line(rec),
        }
    }

    /// `certificate-<policy_id>.pdf` (policy ids are `[A-Za-z0-9_]`, safe in a header).
    pub fn pdf_file_name(&self) -> String {
        let safe: String = self
            .policy_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        format!("certificate-{safe}.pdf")
    }

    /// The rows of the certificate, label and value, in reading order (shared by HTML and PDF).
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            ("Policy number", self.policy_id.clone()),
            ("Coverage status", self.coverage.label().to_string()),
            ("Insurance product", self.product_code.clone()),
            ("Issued through", self.partner_name.clone()),
            ("Insured", self.insured_name.clone()),
        ];
        if let Some(phone) = &self.contact_phone {
            rows.push(("Insured's phone", phone.clone()));
        }
        rows.extend([
            ("Tracking number", self.tracking_number.clone()),
            ("Type of goods", self.type_of_goods.clone()),
            ("Goods", self.goods_description.clone()),
            ("Quantity", group_digits(self.quantity)),
            (
                "Insured value",
                format_money(self.item_value, &self.currency),
            ),
            ("Premium", format_money(self.premium, &self.currency)),
            ("Order created", format_time(&self.order_created_at)),
            ("Issued", format_time(&self.issued_at)),
        ]);
        if let Some(claim) = &self.claim {
            rows.push(("Claim", claim.clone()));
        }
        match (&self.coverage, &self.cancelled_at) {
            (Coverage::Cancelled, Some(at)) => rows.push(("Cancelled", format_time(at))),
            (Coverage::Delivered | Coverage::Returned, _) => {
                rows.push(("Journey ended", format_time(&self.status_updated_at)))
            }
            _ => {}
        }
        rows
    }

    /// The verification line printed at the foot of the certificate.
    pub fn verification(&self) -> String {
        format!(
            "Verification: this certificate is valid only as shown at its signed link, {}. \
             Any change to the link makes it invalid. Open the link to see the current status; \
             this copy shows the status as of {}.",
            self.url,
            format_time(&self.checked_at)
        )
    }

    /// A weak ETag of what the page and the PDF show, the "status as of" time aside, so that an
    /// unchanged certificate revalidates with 304 and any change of status shows at once.
    pub fn etag(&self, format: &str) -> String {
        let mut h = Sha256::new();
        h.update(RENDER_VERSION);
        h.update([0]);
        h.update(format);
        for (label, value) in self.rows() {
            h.update([0]);
            h.update(label);
            h.update([0]);
            h.update(value);
        }
        h.update([0]);
        h.update(&self.url);
        format!("W/\"{}\"", &hex::encode(h.finalize())[..32])
    }

    /// The certificate as a self-contained HTML page: inline CSS, no scripts, no external
    /// assets; prints on one A4 or Letter page; readable on a phone.
    pub fn html(&self) -> String {
        let (r, g, b) = self.coverage.colour();
        let mut rows = String::new();
        for (label, value) in self.rows() {
            let value = if label == "Coverage status" {
                format!(
                    "<span class=\"status\" data-status=\"{}\">{}</span>",
                    self.coverage.as_str(),
                    esc(&value)
                )
            } else if label == "Policy number" {
                format!(
                    "<span class=\"mono\" id=\"policy-id\">{}</span>",
                    esc(&value)
                )
            } else {
                esc(&value)
            };
            rows.push_str(&format!(
                "<div class=\"row\"><dt>{}</dt><dd>{value}</dd></div>\n",
                esc(label)
            ));
        }
        format!(
            r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>Certificate of insurance {policy}</title>
<style>
:root {{ --accent: rgb({r}, {g}, {b}); }}
* {{ box-sizing: border-box; }}
html {{ -webkit-text-size-adjust: 100%; }}
body {{ margin: 0; background: #f3f4f6; color: #111827;
  font: 16px/1.45 "DejaVu Sans", "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif; }}
main {{ max-width: 46rem; margin: 1.5rem auto; padding: 2rem 2.25rem; background: #fff;
  border-top: .5rem solid var(--accent); box-shadow: 0 1px 3px rgba(0,0,0,.12); }}
header p {{ margin: 0; color: #4b5563; font-size: .85rem; letter-spacing: .08em; text-transform: uppercase; }}
h1 {{ margin: .2rem 0 1rem; font-size: 1.7rem; line-height: 1.2; }}
.banner {{ border: 2px solid var(--accent); border-radius: .4rem; padding: .75rem 1rem; margin: 0 0 1.25rem; }}
.banner strong {{ color: var(--accent); font-size: 1.25rem; letter-spacing: .06em; }}
.banner p {{ margin: .2rem 0 0; }}
dl {{ margin: 0; }}
.row {{ display: grid; grid-template-columns: 11.5rem 1fr; gap: 1rem; padding: .45rem 0; border-bottom: 1px solid #e5e7eb; }}
dt {{ color: #4b5563; }}
dd {{ margin: 0; font-weight: 600; overflow-wrap: anywhere; }}
.mono {{ font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }}
.status {{ color: var(--accent); }}
footer {{ margin-top: 1.5rem; font-size: .8rem; color: #4b5563; overflow-wrap: anywhere; }}
@media (max-width: 40rem) {{
  main {{ margin: 0; padding: 1.25rem 1rem; box-shadow: none; }}
  h1 {{ font-size: 1.4rem; }}
  .row {{ grid-template-columns: 1fr; gap: .1rem; }}
}}
@page {{ margin: 16mm 15mm; }}
@media print {{
  body {{ background: #fff; font-size: 11pt; }}
  main {{ max-width: none; margin: 0; padding: 0; box-shadow: none; border-top-width: 3mm; }}
  .row {{ grid-template-columns: 45mm 1fr; padding: 1.6mm 0; break-inside: avoid; }}
  .banner, footer {{ break-inside: avoid; }}
  * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
</style>
</head>
<body>
<main>
<header>
<p>Parcel delivery insurance</p>
<h1>Certificate of insurance</h1>
</header>
<section class="banner" id="coverage" data-status="{status}">
<strong>{label}</strong>
<p>{meaning}</p>
</section>
<dl>
{rows}</dl>
<footer>
<p id="verification">{verification}</p>
</footer>
</main>
</body>
</html>
"#,
            policy = esc(&self.policy_id),
            status = self.coverage.as_str(),
            label = self.coverage.label(),
            meaning = esc(self.coverage.meaning()),
            verification = esc(&self.verification()),
        )
    }
}

/// What the certificate says of claims: an open claim (and its status), and what claims on the
/// policy were paid; `None` when the policy was never claimed on (or only withdrawn/rejected).
pub fn claim_line(rec: &DeliveryRecord) -> Option<String> {
    let c = &rec.claims;
    let mut parts = Vec::new();
    if let Some(open) = c
        .open_claim
        .as_ref()
        .and_then(|o| c.claims.get(&o.claim_id))
    {
        parts.push(format!(
            "Claim open ({}), filed {}",
            open.claim_status.as_str().replace('_', " "),
            format_time(&open.created_at)
        ));
    }
    if c.claims_paid_total > 0 {
        parts.push(format!(
            "Claim paid: {}",
            format_money(c.claims_paid_total, &rec.policy.currency)
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The page served for every link that does not lead to a certificate, whatever the reason.
pub fn not_found_html() -> String {
    r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>Certificate not found</title>
<style>body{margin:0;font:16px/1.5 sans-serif;color:#111827;background:#f3f4f6}main{max-width:36rem;margin:3rem auto;padding:1.5rem;background:#fff}</style>
</head>
<body><main><h1>Certificate not found</h1>
<p>There is no certificate at this link. Check that the whole link was copied, or ask the sender for it again.</p></main></body>
</html>
"#
    .to_string()
}

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Digits of the currency's minor unit (ISO 4217). Amounts are stored in the minor unit.
pub fn minor_unit_digits(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `1234567` -> `1,234,567`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount in the currency's smallest unit, for people: `3000000 VND` -> `3,000,000 VND`,
/// `1250 USD` -> `12.50 USD`.
pub fn format_money(amount: u64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    let digits = minor_unit_digits(&code);
    if digits == 0 {
        return format!("{} {code}", group_digits(amount));
    }
    let unit = 10u64.pow(digits);
    format!(
        "{}.{:0width$} {code}",
        group_digits(amount / unit),
        amount % unit,
        width = digits as usize
    )
}

/// `2026-11-25T06:05:00.528Z` -> `25 Nov 2026, 06:05 UTC`; text that is not RFC 3339 as it is.
pub fn format_time(s: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match time_fmt::parse(s) {
        Some(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{} {} {}, {:02}:{:02} UTC",
                t.day(),
                MONTHS[u8::from(t.month()) as usize - 1],
                t.year(),
                t.hour(),
                t.minute()
            )
        }
        None => s.to_string(),
    }
}

/// `"ending in 567"`: the last three digits of a phone number, or nothing when it has fewer
/// than seven digits (too short to hide the rest).
pub fn mask_phone(phone: &str) -> Option<String> {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 7).then(|| {
        let last: String = digits[digits.len() - 3..].iter().collect();
        format!("ending in {last}")
    })
}

#[cfg(test)]
pub(crate) mod tests;
