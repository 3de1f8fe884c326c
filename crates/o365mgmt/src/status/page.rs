//! The status page: per tenant, one lane per content type on a 7-day time axis (gaps red,
//! collected green, pending grey, a "now" marker, events per hour as a sparkline), and the same
//! facts as a table. Static HTML and SVG that read without JavaScript (hover texts are SVG
//! `<title>`s); a meta refresh reloads it, no script at all. Every value is escaped.

use chrono::{DateTime, Utc};

use super::model::{Lane, Span, Status, TenantView};

/// Width of the drawing, the label column, and one lane's height.
const W: f64 = 960.0;
const LABEL: f64 = 190.0;
const LANE: f64 = 34.0;

/// Escape for HTML and XML text and attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// As in the JSON (`/api/status`), so the page's data attributes match it.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn human(secs: i64) -> String {
    o365_actions::human_seconds(secs)
}

/// The x of a time on the axis.
fn x(st: &Status, t: DateTime<Utc>) -> f64 {
    let span = (st.now - st.from).num_seconds().max(1) as f64;
    let at = (t - st.from)
        .num_seconds()
        .clamp(0, (st.now - st.from).num_seconds()) as f64;
    LABEL + (W - LABEL - 10.0) * at / span
}

fn span_text(s: &Span) -> String {
    format!(
        "{} to {}",
        stamp(s.from),
        s.to.map(stamp).unwrap_or_else(|| "now".into())
    )
}

fn lane_svg(st: &Status, lane: &Lane, y: f64) -> String {
    let ct = esc(lane.content_type);
    let (x0, xn) = (x(st, st.from), x(st, st.now));
    let mut g = format!(
        "<g class=\"lane\" data-content-type=\"{ct}\"><text class=\"label\" x=\"4\" y=\"{:.1}\">{ct}</text>",
        y + 20.0
    );
    g.push_str(&format!(
        "<rect class=\"pending\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\"><title>{ct}: not collected yet</title></rect>",
        y + 8.0,
        xn - x0
    ));
    if let Some(c) = &lane.collected {
        let (a, b) = (x(st, c.from), x(st, c.to.unwrap_or(st.now)));
        g.push_str(&format!(
            "<rect class=\"collected\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\"><title>{ct}: collected from {}</title></rect>",
            y + 8.0,
            (b - a).max(1.0),
            esc(&span_text(c))
        ));
    }
    for gap in &lane.gaps {
        let (a, b) = (x(st, gap.from), x(st, gap.to.unwrap_or(st.now)));
        // A gap filled from Graph's audit search is drawn hatched-green, named so.
        let (class, what) = match gap.repaired {
            Some(n) => (
                "gap repaired",
                format!("data gap repaired from the audit search ({n} events recovered):"),
            ),
            None => ("gap", "data gap, no content from".to_string()),
        };
        g.push_str(&format!(
            "<rect class=\"{class}\" data-from=\"{}\" data-to=\"{}\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"22\"><title>{ct}: {what} {} ({})</title></rect>",
            esc(&rfc3339(gap.from)),
            esc(&gap.to.map(rfc3339).unwrap_or_default()),
            y + 4.0,
            (b - a).max(2.0),
            esc(&span_text(gap)),
            esc(gap.source.as_deref().unwrap_or(""))
        ));
    }
    // Events per hour, as a line under the lane.
    let max = lane.hourly.iter().map(|h| h.events).max().unwrap_or(0);
    if max > 0 {
        let pts: Vec<String> = lane
            .hourly
            .iter()
            .filter(|h| h.hour >= st.from)
            .map(|h| {
                format!(
                    "{:.1},{:.1}",
                    x(st, h.hour),
                    y + LANE - 2.0 - 8.0 * h.events as f64 / max as f64
                )
            })
            .collect();
        g.push_str(&format!(
            "<polyline class=\"spark\" points=\"{}\"><title>{ct}: events per hour, at most {max}</title></polyline>",
            pts.join(" ")
        ));
    }
    g.push_str("</g>");
    g
}

/// One tenant's timeline as SVG (`standalone` adds the XML namespace, for a file).
pub fn tenant_svg(st: &Status, t: &TenantView, standalone: bool) -> String {
    let h = LANE * t.types.len() as f64 + 30.0;
    let mut s = format!(
        "<svg {}class=\"timeline\" role=\"img\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" aria-label=\"Audit feeds of {} over the last 7 days: data gaps red, collected green, pending grey\"><title>Audit feeds of {} from {} to {}</title>",
        if standalone { "xmlns=\"http://www.w3.org/2000/svg\" " } else { "" },
        esc(&t.name),
        esc(&t.name),
        stamp(st.from),
        stamp(st.now)
    );
    if standalone {
        s.push_str(&format!("<style>{}</style>", STYLE_SVG));
    }
    for (i, lane) in t.types.iter().enumerate() {
        s.push_str(&lane_svg(st, lane, i as f64 * LANE));
    }
    let base = LANE * t.types.len() as f64;
    for d in 0..=7 {
        let at = st.from + chrono::Duration::days(d);
        let xx = x(st, at);
        s.push_str(&format!(
            "<text class=\"tick\" x=\"{xx:.1}\" y=\"{:.1}\">{}</text>",
            base + 16.0,
            at.format("%d %b")
        ));
    }
    let xn = x(st, st.now);
    s.push_str(&format!(
        "<line class=\"now\" x1=\"{xn:.1}\" y1=\"0\" x2=\"{xn:.1}\" y2=\"{base:.1}\"><title>now: {}</title></line></svg>",
        stamp(st.now)
    ));
    s
}

const STYLE_SVG: &str = ".label{font:12px sans-serif;fill:#222}.tick{font:10px sans-serif;fill:#555;text-anchor:middle}.pending{fill:#d9d9d9}.collected{fill:#4caf50}.gap{fill:#d32f2f}.gap.repaired{fill:#81c784;stroke:#2e7d32;stroke-dasharray:3 2}.now{stroke:#1565c0;stroke-width:2}.spark{fill:none;stroke:#37474f;stroke-width:1}";

fn lane_row(lane: &Lane) -> String {
    let gaps: Vec<String> = lane
        .gaps
        .iter()
        .map(|g| {
            let repaired = g
                .repaired
                .map(|n| format!(", repaired: {n} events recovered"))
                .unwrap_or_default();
            format!(
                "{} ({}{repaired})",
                span_text(g),
                g.source.as_deref().unwrap_or("")
            )
        })
        .collect();
    format!(
        "<tr data-content-type=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(lane.content_type),
        esc(lane.content_type),
        esc(&lane.subscription),
        esc(&lane.collected.as_ref().map(span_text).unwrap_or_else(|| "nothing yet".into())),
        esc(&lane.lag_seconds.map(human).unwrap_or_else(|| "-".into())),
        lane.events_written,
        esc(&if gaps.is_empty() { "none".to_string() } else { gaps.join("; ") }),
        esc(&match (&lane.last_error, lane.last_error_at) {
            (Some(e), Some(at)) => format!("{} ({e})", stamp(at)),
            (Some(e), None) => e.clone(),
            _ => String::new(),
        }),
    )
}

/// The whole page.
pub fn html(st: &Status) -> String {
    let mut b = String::new();
    if let Some(f) = &st.fleet {
        let text = |k: &str| esc(f[k].to_string().trim_matches('"'));
        b.push_str(&format!(
            "<p class=\"fleet\" data-instance=\"{i}\">This is instance <b>{i}</b> of a fleet (Kafka group {g}, generation {gen}; last rebalance {last}): it collects the {n} tenants below, those of partitions {p} of {count}. The group's other instances collect the rest.</p>",
            i = text("instance"),
            g = text("group"),
            gen = text("generation"),
            last = text("last_rebalance"),
            n = st.tenants.len(),
            p = text("partitions"),
            count = text("partition_count"),
        ));
    }
    for t in &st.tenants {
        b.push_str(&format!(
            "<section class=\"tenant\" data-tenant=\"{}\"><h2>{} <small>{}{}</small></h2>",
            esc(&t.name),
            esc(&t.name),
            esc(&t.tenant_id),
            t.state
                .as_ref()
                .map(|s| format!(" · {}", esc(s)))
                .unwrap_or_default()
        ));
        if let Some(e) = &t.last_error {
            b.push_str(&format!(
                "<p class=\"error\">Last error{}: {}</p>",
                t.last_error_at
                    .map(|at| format!(" (failing since {})", stamp(at)))
                    .unwrap_or_default(),
                esc(e)
            ));
        }
        b.push_str(&tenant_svg(st, t, false));
        b.push_str("<table><caption>The same, as text</caption><thead><tr><th>Content type</th><th>Subscription</th><th>Collected</th><th>Lag</th><th>Events</th><th>Data gaps</th><th>Last error</th></tr></thead><tbody>");
        for lane in &t.types {
            b.push_str(&lane_row(lane));
        }
        b.push_str("</tbody></table></section>");
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><meta http-equiv=\"refresh\" content=\"30\"><title>o365mgmt: audit feeds</title><style>body{{font:14px sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse;margin:.5em 0 2em}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-size:13px}}caption{{text-align:left;color:#555}}.error{{color:#b71c1c}}small{{color:#666;font-weight:normal}}{STYLE_SVG}</style></head><body><h1>Audit feeds</h1><p>From {} to {} (the service keeps 7 days). <span class=\"legend\">Red: data gap (no content exists) · pale green, dashed: a gap repaired from the audit search · green: collected · grey: not collected yet · blue line: now.</span> <a href=\"api/status\">JSON</a></p>{b}</body></html>",
        stamp(st.from),
        stamp(st.now)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::model::{Lane, Span, Status, TenantView};

    #[test]
    fn every_value_is_escaped() {
        let now = Utc::now();
        let st = Status {
            now,
            from: now - chrono::Duration::days(7),
            fleet: None,
            tenants: vec![TenantView {
                name: "<script>alert(1)</script>".into(),
                tenant_id: "x\"><img src=x onerror=alert(2)>".into(),
                sink: "sqlite:/x".into(),
                state: Some("<b>failing</b>".into()),
                last_error: Some("<script>alert(3)</script>".into()),
                last_error_at: Some(now),
                types: vec![Lane {
                    content_type: "Audit.General",
                    subscription: "enabled".into(),
                    gaps: vec![
                        Span {
                            from: now - chrono::Duration::hours(5),
                            to: Some(now - chrono::Duration::hours(2)),
                            source: Some("<i>action</i>".into()),
                            repaired: None,
                        },
                        Span {
                            from: now - chrono::Duration::hours(40),
                            to: Some(now - chrono::Duration::hours(30)),
                            source: Some("observed".into()),
                            repaired: Some(1234),
                        },
                    ],
                    collected: None,
                    cursor: None,
                    lag_seconds: None,
                    events_written: 0,
                    blobs_done: 0,
                    hourly: vec![],
                    last_error: Some("AF<script>x</script>".into()),
                    last_error_at: None,
                }],
            }],
        };
        let h = html(&st);
        // The page's own script is the only one.
        assert_eq!(h.matches("<script>").count(), 0, "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(!h.contains("<b>failing"), "{h}");
        assert!(!h.contains("<i>action"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(h.contains("AF&lt;script&gt;x&lt;/script&gt;"));
        let svg = tenant_svg(&st, &st.tenants[0], true);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("class=\"gap\""));
        assert!(
            svg.contains("class=\"gap repaired\"") && svg.contains("1234 events recovered"),
            "a repaired gap is drawn and named apart"
        );
    }
}
