//! The certificate as a one-page PDF, drawn with krilla (fonts subset and embedded, so every
//! Vietnamese letter prints; nothing is fetched).
//!
//! The page is A4; the content stays inside the margins of US Letter too (it is narrower than
//! 595 - 2 x 50 pt and shorter than 792 pt), so it prints on either without scaling.

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;

use super::view::{format_time, Certificate};

/// DejaVu Sans, subset to Latin, Latin Extended and Vietnamese (see `assets/fonts/README.md`).
static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold-subset.ttf");

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 50.0;
const LABEL_W: f32 = 140.0;
const GAP: f32 = 12.0;

/// A font for drawing (krilla) and for measuring (ttf-parser), from the same bytes.
struct Face {
    font: Font,
    parsed: ttf_parser::Face<'static>,
}

impl Face {
    fn load(bytes: &'static [u8]) -> Result<Face, String> {
        Ok(Face {
            font: Font::new(bytes.into(), 0).ok_or("embedded font does not load")?,
            parsed: ttf_parser::Face::parse(bytes, 0)
                .map_err(|e| format!("embedded font does not parse: {e}"))?,
        })
    }

    /// Advance width of `text` at `size` points (no kerning: the same as krilla's simple text).
    fn width(&self, text: &str, size: f32) -> f32 {
        let upem = self.parsed.units_per_em() as f32;
        let units: f32 = text
            .chars()
            .map(|c| {
                self.parsed
                    .glyph_index(c)
                    .and_then(|g| self.parsed.glyph_hor_advance(g))
                    .unwrap_or(0) as f32
            })
            .sum();
        units * size / upem
    }

    /// Lines of at most `max` points: words where they fit, characters where a word does not.
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: break it by characters if it is still too wide.
            for c in word.chars() {
                line.push(c);
                if self.width(&line, size) > max && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }
}

fn fill(r: u8, g: u8, b: u8) -> Fill {
    Fill {
        paint: rgb::Color::new(r, g, b).into(),
        ..Fill::default()
    }
}

fn text(s: &mut Surface<'_>, face: &Face, x: f32, y: f32, size: f32, t: &str) {
    s.draw_text(
        Point::from_xy(x, y),
        face.font.clone(),
        size,
        t,
        false,
        TextDirection::Auto,
    );
}

fn rect(s: &mut Surface<'_>, x: f32, y: f32, w: f32, h: f32) {
    if let Some(r) = Rect::from_xywh(x, y, w, h) {
        let mut pb = PathBuilder::new();
        pb.push_rect(r);
        if let Some(path) = pb.finish() {
            s.draw_path(&path);
        }
    }
}

fn hline(s: &mut Surface<'_>, x1: f32, x2: f32, y: f32, grey: u8, width: f32) {
    let mut pb = PathBuilder::new();
    pb.move_to(x1, y);
    pb.line_to(x2, y);
    if let Some(path) = pb.finish() {
        s.set_fill(None);
        s.set_stroke(Some(Stroke {
            paint: rgb::Color::new(grey, grey, grey).into(),
            width,
            ..Stroke::default()
        }));
        s.draw_path(&path);
        s.set_stroke(None);
    }
}

/// Render the certificate as PDF bytes.
pub fn render(c: &Certificate) -> Result<Vec<u8>, String> {
    let regular = Face::load(REGULAR)?;
    let bold = Face::load(BOLD)?;
    let (ar, ag, ab) = c.coverage.colour();
    let content_w = PAGE_W - 2.0 * MARGIN;
    let value_x = MARGIN + LABEL_W + GAP;
    let value_w = content_w - LABEL_W - GAP;

    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(format!("Certificate of insurance {}", c.policy_id))
            .language("en".into())
            .creator("partner-api certificates".into()),
    );
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("page size")?;
    let mut page = doc.start_page_with(settings);
    let mut s = page.surface();

    // Accent band and heading.
    s.set_fill(Some(fill(ar, ag, ab)));
    rect(&mut s, MARGIN, 36.0, content_w, 6.0);
    s.set_fill(Some(fill(0x4b, 0x55, 0x63)));
    text(
        &mut s,
        &regular,
        MARGIN,
        62.0,
        8.5,
        "PARCEL DELIVERY INSURANCE",
    );
    s.set_fill(Some(fill(0x11, 0x18, 0x27)));
    text(
        &mut s,
        &bold,
        MARGIN,
        88.0,
        22.0,
        "Certificate of insurance",
    );

    // Status banner.
    let meaning = regular.wrap(c.coverage.meaning(), 10.0, content_w - 24.0);
    let banner_top = 104.0;
    let banner_h = 30.0 + 13.0 * meaning.len() as f32;
    s.set_fill(None);
    s.set_stroke(Some(Stroke {
        paint: rgb::Color::new(ar, ag, ab).into(),
        width: 1.5,
        ..Stroke::default()
    }));
    rect(&mut s, MARGIN, banner_top, content_w, banner_h);
    s.set_stroke(None);
    s.set_fill(Some(fill(ar, ag, ab)));
    text(
        &mut s,
        &bold,
        MARGIN + 12.0,
        banner_top + 20.0,
        14.0,
        c.coverage.label(),
    );
    s.set_fill(Some(fill(0x11, 0x18, 0x27)));
    let mut y = banner_top + 34.0;
    for line in &meaning {
        text(&mut s, &regular, MARGIN + 12.0, y, 10.0, line);
        y += 13.0;
    }

    // The rows.
    let mut y = banner_top + banner_h + 26.0;
    for (label, value) in c.rows() {
        let lines = bold.wrap(&value, 10.5, value_w);
        s.set_fill(Some(fill(0x4b, 0x55, 0x63)));
        text(&mut s, &regular, MARGIN, y, 10.0, label);
        if label == "Coverage status" {
            s.set_fill(Some(fill(ar, ag, ab)));
        } else {
            s.set_fill(Some(fill(0x11, 0x18, 0x27)));
        }
        let mut ly = y;
        for line in &lines {
            text(&mut s, &bold, value_x, ly, 10.5, line);
            ly += 14.0;
        }
        let bottom = ly - 14.0 + 8.0;
        hline(&mut s, MARGIN, MARGIN + content_w, bottom, 0xe5, 0.75);
        y = bottom + 16.0;
    }

    // Verification line.
    y += 10.0;
    s.set_fill(Some(fill(0x4b, 0x55, 0x63)));
    for line in regular.wrap(&c.verification(), 8.0, content_w) {
        text(&mut s, &regular, MARGIN, y, 8.0, &line);
        y += 11.0;
    }
    text(
        &mut s,
        &regular,
        MARGIN,
        y + 4.0,
        8.0,
        &format!("PDF produced {}.", format_time(&c.checked_at)),
    );

    s.finish();
    page.finish();
    doc.finish()
        .map_err(|e| format!("PDF serialisation: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::super::view::tests::cert;
    use super::*;
    use crate::domain::{DeliveryStatus, PolicyStatus};

    #[test]
    fn renders_a_one_page_pdf_with_embedded_fonts() {
        let pdf = render(&cert(PolicyStatus::Active, DeliveryStatus::InDelivery)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.trim_end().ends_with("%%EOF"));
        assert!(text.contains("FontFile2"), "fonts are embedded");
        assert!(pdf.len() < 200_000, "{} bytes", pdf.len());
    }

    #[test]
    fn wraps_long_words_and_text() {
        let face = Face::load(REGULAR).unwrap();
        let long = "x".repeat(500);
        let lines = face.wrap(&long, 10.0, 100.0);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| face.width(l, 10.0) <= 100.0));
        assert_eq!(face.wrap("", 10.0, 100.0), vec![String::new()]);
        assert_eq!(face.wrap("a b", 10.0, 100.0), vec!["a b".to_string()]);
        assert!(face.width("Điện thoại", 10.0) > 0.0);
    }
}
