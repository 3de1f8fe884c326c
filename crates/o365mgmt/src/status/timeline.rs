//! One tenant's feeds on a time axis, as SVG: a lane per content type with the time before
//! collection began, what is collected, what is not yet, the data gaps (repaired ones apart),
//! the events per hour and a "now" line. Meaning never rests on colour alone: every lane starts
//! with its verdict's sign, wide enough spans are labelled in words, every shape has a hover
//! text, and the page's table says the same. Every value is escaped.

use chrono::{DateTime, Duration, Utc};

use super::model::{Lane, Span, Status, TenantView};
use super::page::esc;

/// Width of the drawing, the label column, and one lane's height.
const W: f64 = 960.0;
const LABEL: f64 = 230.0;
const LANE: f64 = 38.0;
/// Space right of the axis, so the last label is not cut off.
const RIGHT: f64 = 24.0;

/// The span of time a drawing shows.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// Its start.
    pub from: DateTime<Utc>,
    /// Its end: the service's now.
    pub to: DateTime<Utc>,
    /// Its name in attributes: `24h` or `7d`.
    pub key: &'static str,
    /// Its name in words.
    pub words: &'static str,
    /// Between two axis labels.
    step: Duration,
    /// How an axis label reads.
    tick: &'static str,
}

impl Range {
    /// The last 7 days (what the service keeps).
    pub fn week(st: &Status) -> Range {
        Range {
            from: st.from,
            to: st.now,
            key: "7d",
            words: "the last 7 days",
            step: Duration::days(1),
            tick: "%d %b",
        }
    }

    /// The last 24 hours.
    pub fn day(st: &Status) -> Range {
        Range {
            from: st.now - Duration::hours(24),
            to: st.now,
            key: "24h",
            words: "the last 24 hours",
            step: Duration::hours(3),
            tick: "%H:%M",
        }
    }

    /// The x of a time (clamped to the range).
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.to - self.from).num_seconds().max(1);
        let at = (t - self.from).num_seconds().clamp(0, span) as f64;
        LABEL + (W - LABEL - RIGHT) * at / span as f64
    }

    /// Whether `s` shows in the range at all.
    fn shows(&self, s: &Span) -> bool {
        s.from < self.to && s.to.is_none_or(|to| to > self.from)
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// As in the JSON (`/api/status`), so the page's data attributes match it.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `from to to` of a span, in words.
pub fn span_text(s: &Span) -> String {
    format!(
        "{} to {}",
        stamp(s.from),
        s.to.map(stamp).unwrap_or_else(|| "now".into())
    )
}

/// A rectangle from `a` to `b` at `y`, with a class, a hover text and, where it is wide enough,
/// its name written inside.
fn rect(
    class: &str,
    (a, b): (f64, f64),
    (y, h): (f64, f64),
    title: &str,
    word: &str,
    attrs: &str,
) -> String {
    let w = (b - a).max(2.0);
    let mut r = format!(
        "<rect class=\"{class}\"{attrs} x=\"{a:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h}\"><title>{}</title></rect>",
        esc(title)
    );
    if !word.is_empty() && w > 7.0 * word.len() as f64 + 8.0 {
        r.push_str(&format!(
            "<text class=\"in {class}\" x=\"{:.1}\" y=\"{:.1}\">{word}</text>",
            a + w / 2.0,
            y + h / 2.0 + 4.0
        ));
    }
    r
}

fn lane_svg(r: &Range, lane: &Lane, y: f64) -> String {
    let ct = esc(lane.content_type);
    let (x0, xn) = (r.x(r.from), r.x(r.to));
    let sign = lane.verdict.map(|v| v.sign()).unwrap_or("–");
    let what = match lane.verdict {
        Some(v) => v.word(),
        None => "not collected by this tenant",
    };
    let mut g = format!(
        "<g class=\"lane\" data-content-type=\"{ct}\" data-verdict=\"{}\"><text class=\"label\" x=\"4\" y=\"{:.1}\"><title>{ct}: {what}</title>{sign} {ct}{}</text>",
        lane.verdict.map(|v| v.word()).unwrap_or("not_collected"),
        y + 21.0,
        if lane.collects { "" } else { " (not collected)" }
    );
    let bar = y + 9.0;
    if !lane.collects {
        g.push_str(&rect(
            "notcollected",
            (x0, xn),
            (bar, 14.0),
            &format!(
                "{}: not collected by this tenant (not in its content_types)",
                lane.content_type
            ),
            "not collected",
            "",
        ));
        g.push_str("</g>");
        return g;
    }
    match &lane.collected {
        Some(c) => {
            let (a, b) = (r.x(c.from), r.x(c.to.unwrap_or(r.to)));
            if a > x0 {
                g.push_str(&rect(
                    "before",
                    (x0, a),
                    (bar, 14.0),
                    &format!(
                        "{}: before collection start ({})",
                        lane.content_type,
                        stamp(c.from)
                    ),
                    "before start",
                    "",
                ));
            }
            g.push_str(&rect(
                "collected",
                (a, b),
                (bar, 14.0),
                &format!("{}: collected from {}", lane.content_type, span_text(c)),
                "collected",
                "",
            ));
            if b < xn {
                g.push_str(&rect(
                    "pending",
                    (b, xn),
                    (bar, 14.0),
                    &format!("{}: not collected yet", lane.content_type),
                    "",
                    "",
                ));
            }
        }
        None => g.push_str(&rect(
            "pending",
            (x0, xn),
            (bar, 14.0),
            &format!("{}: nothing collected yet", lane.content_type),
            "nothing collected yet",
            "",
        )),
    }
    for gap in lane.gaps.iter().filter(|s| r.shows(s)) {
        let (a, b) = (r.x(gap.from), r.x(gap.to.unwrap_or(r.to)));
        // A gap filled from Graph's audit search is drawn apart, named so.
        let (class, what, word) = match gap.repaired {
            Some(n) => (
                "gap repaired",
                format!("data gap repaired from the audit search ({n} events recovered):"),
                "repaired",
            ),
            None => ("gap", "data gap, no content from".to_string(), "gap"),
        };
        let attrs = format!(
            " data-from=\"{}\" data-to=\"{}\"",
            esc(&rfc3339(gap.from)),
            esc(&gap.to.map(rfc3339).unwrap_or_default())
        );
        g.push_str(&rect(
            class,
            (a, b),
            (y + 5.0, 22.0),
            &format!(
                "{}: {what} {} ({})",
                lane.content_type,
                span_text(gap),
                gap.source.as_deref().unwrap_or("")
            ),
            word,
            &attrs,
        ));
    }
    // Events per hour, as an area under the lane.
    let hours: Vec<_> = lane
        .hourly
        .iter()
        .filter(|h| h.hour >= r.from && h.hour <= r.to)
        .collect();
    let max = hours.iter().map(|h| h.events).max().unwrap_or(0);
    if max > 0 {
        let base = y + LANE - 1.0;
        let mut pts = vec![format!("{:.1},{base:.1}", r.x(hours[0].hour))];
        pts.extend(hours.iter().map(|h| {
            format!(
                "{:.1},{:.1}",
                r.x(h.hour),
                base - 9.0 * h.events as f64 / max as f64
            )
        }));
        pts.push(format!("{:.1},{base:.1}", r.x(hours[hours.len() - 1].hour)));
        g.push_str(&format!(
            "<polygon class=\"spark\" points=\"{}\"><title>{ct}: events per hour over {}, at most {max}</title></polygon>",
            pts.join(" "),
            r.words
        ));
    }
    g.push_str("</g>");
    g
}

/// The legend, for a drawing that stands alone (`gaps --svg`).
fn legend(y: f64) -> String {
    let items = [
        ("gap", "data gap (no content exists)"),
        ("gap repaired", "gap repaired from the audit search"),
        ("collected", "collected"),
        ("pending", "not collected yet"),
        ("before", "before collection start"),
        ("notcollected", "not collected by this tenant"),
    ];
    let mut s = String::new();
    let mut x = 4.0;
    for (class, words) in items {
        s.push_str(&format!(
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"14\" height=\"10\"/><text class=\"tick start\" x=\"{:.1}\" y=\"{:.1}\">{words}</text>",
            x + 18.0,
            y + 9.0
        ));
        x += 18.0 + 5.6 * words.len() as f64 + 14.0;
    }
    s
}

/// One tenant's lanes over `r` as SVG. `standalone` (a file) adds the XML namespace, its style,
/// a heading naming the tenant and the range, and a legend.
pub fn svg(r: &Range, t: &TenantView, standalone: bool) -> String {
    let top = if standalone { 24.0 } else { 0.0 };
    let base = top + LANE * t.types.len() as f64;
    let h = base + if standalone { 48.0 } else { 24.0 };
    let label = format!(
        "Audit feeds of {} ({}) over {}, {} to {}",
        t.name,
        t.tenant_id,
        r.words,
        stamp(r.from),
        stamp(r.to)
    );
    let mut s = if standalone {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" data-range=\"{}\" role=\"img\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" aria-label=\"{}\"><title>{}</title><style>{STYLE}</style><text class=\"heading\" x=\"4\" y=\"16\">{}</text>",
            r.key,
            esc(&label),
            esc(&label),
            esc(&label)
        )
    } else {
        format!(
            "<svg class=\"timeline\" data-range=\"{}\" role=\"img\" viewBox=\"0 0 {W} {h}\" preserveAspectRatio=\"xMinYMin meet\" aria-label=\"{}\"><title>{}</title>",
            r.key,
            esc(&label),
            esc(&label)
        )
    };
    for (i, lane) in t.types.iter().enumerate() {
        s.push_str(&lane_svg(r, lane, top + i as f64 * LANE));
    }
    let mut at = r.from;
    while at <= r.to {
        let xx = r.x(at);
        // The first label starts at its time, the last ends there: neither is cut off.
        let anchor = if at == r.from {
            " start"
        } else if at + r.step > r.to {
            " end"
        } else {
            ""
        };
        s.push_str(&format!(
            "<text class=\"tick{anchor}\" x=\"{xx:.1}\" y=\"{:.1}\">{}</text>",
            base + 16.0,
            at.format(r.tick)
        ));
        at += r.step;
    }
    let xn = r.x(r.to);
    s.push_str(&format!(
        "<line class=\"now\" x1=\"{xn:.1}\" y1=\"{top:.1}\" x2=\"{xn:.1}\" y2=\"{base:.1}\"><title>now: {}</title></line>",
        stamp(r.to)
    ));
    if standalone {
        s.push_str(&legend(base + 28.0));
    }
    s.push_str("</svg>");
    s
}

/// The drawing's style (the page includes it once; a standalone drawing carries it).
pub const STYLE: &str = ".label{font:12px sans-serif;fill:#222}.heading{font:bold 13px sans-serif;fill:#222}.tick{font:10px sans-serif;fill:#555;text-anchor:middle}.tick.start{text-anchor:start}.tick.end{text-anchor:end}.pending{fill:#d9d9d9}.before{fill:#f3f3f3;stroke:#bbb;stroke-dasharray:2 2}.notcollected{fill:#fff;stroke:#999;stroke-dasharray:1 3}.collected{fill:#2e7d32}.gap{fill:#c62828}.gap.repaired{fill:#a5d6a7;stroke:#2e7d32;stroke-dasharray:3 2}.now{stroke:#1565c0;stroke-width:2}.spark{fill:#90a4ae;fill-opacity:.6;stroke:#37474f;stroke-width:.8}.in{font:10px sans-serif;text-anchor:middle;fill:#fff;pointer-events:none}.in.gap,.in.collected{fill:#fff}.in.pending,.in.before,.in.notcollected,.in.gap.repaired{fill:#333}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::model::Lane;
    use crate::status::verdict::Verdict;

    fn status() -> (Status, TenantView) {
        let now = Utc::now();
        let lane = |ct: &'static str, collects: bool| Lane {
            content_type: ct,
            subscription: "enabled".into(),
            collects,
            verdict: collects.then_some(Verdict::Ok),
            gaps: vec![],
            collected: collects.then(|| Span {
                from: now - Duration::hours(30),
                to: Some(now - Duration::minutes(5)),
                source: None,
                repaired: None,
            }),
            cursor: None,
            lag_seconds: None,
            events_written: 0,
            blobs_done: 0,
            hourly: vec![],
            last_error: None,
            last_error_at: None,
        };
        let t = TenantView {
            name: "contoso".into(),
            tenant_id: "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80".into(),
            sink: "null".into(),
            state: None,
            last_error: None,
            last_error_at: None,
            last_pass: None,
            next_pass: None,
            verdict: Verdict::Ok,
            worst_lag_seconds: None,
            types: vec![lane("Audit.Exchange", true), lane("DLP.All", false)],
        };
        let st = Status {
            now,
            updated_at: now,
            verdict: Verdict::Ok,
            from: now - Duration::days(7),
            tenants: vec![t.clone()],
            fleet: None,
        };
        (st, t)
    }

    #[test]
    fn the_time_before_collection_and_types_not_collected_are_named_as_such() {
        let (st, t) = status();
        let week = svg(&Range::week(&st), &t, false);
        assert!(week.contains("class=\"before\""), "{week}");
        assert!(week.contains("before collection start"), "{week}");
        assert!(week.contains("DLP.All (not collected)"), "{week}");
        assert!(week.contains("data-verdict=\"not_collected\""), "{week}");
        // Within the last 24 hours collection had already begun.
        let day = svg(&Range::day(&st), &t, false);
        assert!(!day.contains("class=\"before\""), "{day}");
        assert!(day.contains("data-range=\"24h\""));
    }

    #[test]
    fn no_axis_label_runs_past_the_drawing() {
        let (st, t) = status();
        for r in [Range::week(&st), Range::day(&st)] {
            let s = svg(&r, &t, false);
            let ticks: Vec<&str> = s.split("<text class=\"tick").skip(1).collect();
            assert!(ticks.len() >= 7, "{s}");
            assert!(ticks[0].starts_with(" start\""), "{}", ticks[0]);
            let last = ticks[ticks.len() - 1];
            // A label centred on the axis's end would run past it: the last ends there.
            if !last.starts_with(" end\"") {
                let x: f64 = last
                    .split("x=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(x + 30.0 <= W, "{last}");
            }
        }
    }

    #[test]
    fn a_drawing_alone_names_its_tenant_and_range_and_has_a_legend() {
        let (st, t) = status();
        let s = svg(&Range::week(&st), &t, true);
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(s.contains("Audit feeds of contoso (7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80) over the last 7 days"), "{s}");
        for words in [
            "data gap (no content exists)",
            "collected",
            "not collected yet",
            "before collection start",
        ] {
            assert!(s.contains(words), "{words}: {s}");
        }
    }
}
