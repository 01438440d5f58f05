//! The status machines of the portal as inline SVG (no script, no other origin): boxes on a
//! grid, arrows between them, a title and a description for screen readers, and the same moves
//! as a list beside the picture.

/// A state machine to draw: states at grid positions (column, row), and the allowed moves.
pub struct Machine {
    pub id: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub states: &'static [(&'static str, f32, f32)],
    pub moves: &'static [(&'static str, &'static str)],
    pub finals: &'static [&'static str],
    pub notes: &'static str,
}

/// Delivery statuses (Insert Tracking Detail). Staying in the same status is always allowed
/// and not drawn. `tests/doc_vs_code.rs` checks these moves against `shared::domain::status`.
pub const DELIVERY: Machine = Machine {
    id: "delivery",
    title: "Delivery status",
    intro: "Set by Insert Tracking Detail (`delivery_status`). A move that is not drawn is `409 invalid_status_transition` and stores nothing.",
    states: &[
        ("created", 0.0, 0.0),
        ("in_process", 1.0, 0.0),
        ("in_delivery", 2.0, 0.0),
        ("success", 3.0, 0.0),
        ("fail", 2.0, 1.2),
        ("in_return", 3.0, 1.2),
        ("returned", 4.0, 1.2),
    ],
    moves: &[
        ("created", "in_process"),
        ("created", "in_delivery"),
        ("created", "success"),
        ("created", "fail"),
        ("in_process", "in_delivery"),
        ("in_process", "success"),
        ("in_process", "fail"),
        ("in_delivery", "success"),
        ("in_delivery", "fail"),
        ("fail", "in_delivery"),
        ("fail", "in_return"),
        ("in_return", "returned"),
    ],
    finals: &["success", "returned"],
    notes: "Staying in the same status is always allowed (events can still be added). `success` and `returned` are final.",
};

/// Policy statuses.
pub const POLICY: Machine = Machine {
    id: "policy",
    title: "Policy status",
    intro: "A policy is issued `active` by Submit. Cancel SME Delivery Order cancels it while the delivery is `created` or `in_process` (later: `409 cancellation_not_allowed`); cancelling again returns the first cancellation.",
    states: &[("active", 0.0, 0.0), ("cancelled", 1.4, 0.0)],
    moves: &[("active", "cancelled")],
    finals: &["cancelled"],
    notes: "A cancelled policy accepts no tracking details (`409 policy_cancelled`) and cannot be claimed on. The certificate shows the coverage as `active`, `cancelled`, `delivered` (delivery `success`) or `returned` (delivery `returned`).",
};

/// Claim statuses (the contract's "Claims" section).
pub const CLAIM: Machine = Machine {
    id: "claim",
    title: "Claim status",
    intro: "A claim is filed `submitted`; operators review and decide it, the partner can add notes and documents or withdraw it. Any other move is `409 invalid_claim_transition`.",
    states: &[
        ("information_requested", 1.0, 0.0),
        ("submitted", 0.0, 1.0),
        ("in_review", 1.0, 1.0),
        ("approved", 2.0, 1.0),
        ("paid", 3.0, 1.0),
        ("rejected", 0.5, 2.1),
        ("withdrawn", 1.6, 2.1),
    ],
    moves: &[
        ("submitted", "in_review"),
        ("in_review", "approved"),
        ("approved", "paid"),
        ("in_review", "information_requested"),
        ("information_requested", "in_review"),
        ("submitted", "rejected"),
        ("in_review", "rejected"),
        ("submitted", "withdrawn"),
        ("in_review", "withdrawn"),
        ("information_requested", "withdrawn"),
    ],
    finals: &["rejected", "withdrawn", "paid"],
    notes: "`approved` carries `approved_amount` (at most `claimed_amount`), `rejected` a `decision_reason`, `paid` the `paid_amount`, `payment_reference` and `paid_at`. A note added to an `information_requested` claim returns it to `in_review`. At most one open claim (not `rejected`, `withdrawn` or `paid`) per policy.",
};

const BOX_W: f32 = 132.0;
const BOX_H: f32 = 36.0;
const COL: f32 = 168.0;
const ROW: f32 = 78.0;
const MARGIN: f32 = 14.0;

fn center(m: &Machine, name: &str) -> (f32, f32) {
    let (_, c, r) = m
        .states
        .iter()
        .find(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("{}: unknown state {name}", m.id));
    (
        MARGIN + c * COL + BOX_W / 2.0,
        MARGIN + 40.0 + r * ROW + BOX_H / 2.0,
    )
}

/// Where the segment from the centre of a box towards `(dx, dy)` leaves the box.
fn border(cx: f32, cy: f32, dx: f32, dy: f32) -> (f32, f32) {
    let (hw, hh) = (BOX_W / 2.0 + 3.0, BOX_H / 2.0 + 3.0);
    let tx = if dx.abs() > f32::EPSILON {
        hw / dx.abs()
    } else {
        f32::INFINITY
    };
    let ty = if dy.abs() > f32::EPSILON {
        hh / dy.abs()
    } else {
        f32::INFINITY
    };
    let t = tx.min(ty);
    (cx + dx * t, cy + dy * t)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The machine as an inline SVG element.
pub fn svg(m: &Machine) -> String {
    let cols = m.states.iter().map(|s| s.1).fold(0.0f32, f32::max);
    let rows = m.states.iter().map(|s| s.2).fold(0.0f32, f32::max);
    let width = 2.0 * MARGIN + cols * COL + BOX_W;
    let height = 2.0 * MARGIN + 40.0 + rows * ROW + BOX_H;
    let desc: Vec<String> = m.moves.iter().map(|(a, b)| format!("{a} to {b}")).collect();
    let mut out = format!(
        r##"<svg class="portal-machine" role="img" aria-labelledby="machine-{id}-title machine-{id}-desc" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" xmlns="http://www.w3.org/2000/svg"><title id="machine-{id}-title">{title}</title><desc id="machine-{id}-desc">Allowed moves: {desc}.</desc><defs><marker id="arrow-{id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#3a4a5c"/></marker></defs>"##,
        id = m.id,
        title = esc(m.title),
        desc = esc(&desc.join(", ")),
    );
    for (a, b) in m.moves {
        let (ax, ay) = center(m, a);
        let (bx, by) = center(m, b);
        let reverse = m.moves.contains(&(b, a));
        // A pair of opposite moves: two parallel arrows, each shifted to its right.
        let (len, dx, dy) = {
            let (dx, dy) = (bx - ax, by - ay);
            let len = (dx * dx + dy * dy).sqrt();
            (len, dx / len, dy / len)
        };
        let shift = if reverse { 6.0 } else { 0.0 };
        let (ox, oy) = (-dy * shift, dx * shift);
        let same_row = (ay - by).abs() < 1.0;
        let skips = same_row && (bx - ax).abs() > COL * 1.5;
        if skips {
            // Arc over the boxes in between.
            let lift = 22.0 + (bx - ax).abs() / COL * 14.0;
            let (sx, sy) = (ax + BOX_W / 4.0, ay - BOX_H / 2.0 - 3.0);
            let (ex, ey) = (bx - BOX_W / 4.0, by - BOX_H / 2.0 - 3.0);
            out.push_str(&format!(
                r##"<path d="M{sx:.1},{sy:.1} C{sx:.1},{c1:.1} {ex:.1},{c1:.1} {ex:.1},{ey:.1}" fill="none" stroke="#3a4a5c" stroke-width="1.5" marker-end="url(#arrow-{id})"/>"##,
                c1 = sy - lift,
                id = m.id
            ));
        } else {
            let _ = len;
            let (sx, sy) = border(ax, ay, dx, dy);
            let (ex, ey) = border(bx, by, -dx, -dy);
            out.push_str(&format!(
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#3a4a5c" stroke-width="1.5" marker-end="url(#arrow-{id})"/>"##,
                sx + ox,
                sy + oy,
                ex + ox,
                ey + oy,
                id = m.id
            ));
        }
    }
    for (name, _, _) in m.states {
        let (cx, cy) = center(m, name);
        let fin = m.finals.contains(name);
        out.push_str(&format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{}" stroke="#1f2d3d" stroke-width="{}"/><text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="14" fill="#111">{}</text>"##,
            cx - BOX_W / 2.0,
            cy - BOX_H / 2.0,
            if fin { "#e3ecf7" } else { "#ffffff" },
            if fin { "2.5" } else { "1.2" },
            cy + 5.0,
            esc(name)
        ));
    }
    out.push_str("</svg>");
    out
}

/// The section of the portal: per machine, the picture and the moves as a list.
pub fn section(machines: &[&Machine]) -> String {
    let mut out = String::from("Boxes with a thick border are final statuses.\n\n");
    for m in machines {
        out.push_str(&format!("## {}\n\n{}\n\n", m.title, m.intro));
        out.push_str(&format!(
            "<figure class=\"portal-figure\">{}</figure>\n\n",
            svg(m)
        ));
        let mut froms: Vec<&str> = Vec::new();
        for (a, _) in m.moves {
            if !froms.contains(a) {
                froms.push(a);
            }
        }
        out.push_str("| from | allowed moves |\n|---|---|\n");
        for a in froms {
            let tos: Vec<String> = m
                .moves
                .iter()
                .filter(|(x, _)| *x == a)
                .map(|(_, b)| format!("`{b}`"))
                .collect();
            out.push_str(&format!("| `{a}` | {} |\n", tos.join(", ")));
        }
        out.push_str(&format!("\n{}\n\n", m.notes));
    }
    out
}
