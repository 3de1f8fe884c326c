//! The status page: an overall verdict, then per tenant its verdict (ok, lagging, gap,
//! failing; worst lag, last and next pass), its lanes over the last 24 hours beside the last 7
//! days (`timeline.rs`), and the same facts as a table. Static HTML and SVG that read without
//! JavaScript (hover texts are SVG `<title>`s); a meta refresh reloads it, no script at all.
//! Every value is escaped.

use chrono::{DateTime, Utc};

use super::model::{Lane, Status, TenantView};
use super::timeline::{self, span_text, Range};
use super::verdict::Verdict;

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

fn human(secs: i64) -> String {
    o365_actions::human_seconds(secs)
}

/// A verdict as a sign and a word, marked for style and for tests.
fn verdict_badge(v: Verdict) -> String {
    format!(
        "<span class=\"v v-{w}\" data-verdict=\"{w}\">{} {w}</span>",
        v.sign(),
        w = v.word()
    )
}

/// What the page says of a tenant in one line.
fn tenant_line(t: &TenantView) -> String {
    let mut parts = vec![verdict_badge(t.verdict)];
    let collected = t.types.iter().filter(|l| l.collects).count();
    parts.push(format!(
        "{collected} of {} content types collected",
        t.types.len()
    ));
    if let Some(l) = t.worst_lag_seconds {
        parts.push(format!("worst lag {}", esc(&human(l))));
    }
    if let Some(at) = t.last_pass {
        parts.push(format!("last pass {}", stamp(at)));
    }
    if let Some(at) = t.next_pass {
        parts.push(format!("next pass by {}", stamp(at)));
    }
    format!("<p class=\"verdict\">{}</p>", parts.join(" · "))
}

/// What the page says of everything in one line.
fn overall_line(st: &Status) -> String {
    let count = |v: Verdict| st.tenants.iter().filter(|t| t.verdict == v).count();
    let mut parts = vec![verdict_badge(st.verdict)];
    let mut each = vec![];
    for v in [
        Verdict::Failing,
        Verdict::Gap,
        Verdict::Lagging,
        Verdict::Ok,
    ] {
        let n = count(v);
        if n > 0 {
            each.push(format!("{n} {}", v.word()));
        }
    }
    parts.push(format!(
        "{} tenant{}: {}",
        st.tenants.len(),
        if st.tenants.len() == 1 { "" } else { "s" },
        each.join(", ")
    ));
    if let Some(l) = st.tenants.iter().filter_map(|t| t.worst_lag_seconds).max() {
        parts.push(format!("worst lag {}", esc(&human(l))));
    }
    parts.push(format!("updated at {}", stamp(st.updated_at)));
    format!("<p class=\"verdict overall\">{}</p>", parts.join(" · "))
}

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
    let collected = if !lane.collects {
        "not collected by this tenant".to_string()
    } else {
        lane.collected
            .as_ref()
            .map(span_text)
            .unwrap_or_else(|| "nothing yet".into())
    };
    format!(
        "<tr data-content-type=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(lane.content_type),
        esc(lane.content_type),
        lane.verdict.map(verdict_badge).unwrap_or_else(|| "– not collected".into()),
        esc(&lane.subscription),
        esc(&collected),
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
    let mut b = overall_line(st);
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
        b.push_str(&tenant_line(t));
        if let Some(e) = &t.last_error {
            b.push_str(&format!(
                "<p class=\"error\">Last error{}: {}</p>",
                t.last_error_at
                    .map(|at| format!(" (failing since {})", stamp(at)))
                    .unwrap_or_default(),
                esc(e)
            ));
        }
        b.push_str("<div class=\"views\">");
        for r in [Range::day(st), Range::week(st)] {
            b.push_str(&format!(
                "<figure><figcaption>Over {}</figcaption>{}</figure>",
                r.words,
                timeline::svg(&r, t, false)
            ));
        }
        b.push_str("</div>");
        b.push_str("<table><caption>The same, as text</caption><thead><tr><th>Content type</th><th>Verdict</th><th>Subscription</th><th>Collected</th><th>Lag</th><th>Events</th><th>Data gaps</th><th>Last error</th></tr></thead><tbody>");
        for lane in &t.types {
            b.push_str(&lane_row(lane));
        }
        b.push_str("</tbody></table></section>");
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><meta http-equiv=\"refresh\" content=\"30\"><title>o365mgmt: audit feeds</title><style>body{{font:14px sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse;margin:.5em 0 2em}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-size:13px}}caption{{text-align:left;color:#555}}.error{{color:#b71c1c}}small{{color:#666;font-weight:normal}}.views{{display:flex;flex-wrap:wrap;gap:1em}}.views figure{{flex:1 1 900px;margin:0}}figcaption{{color:#555;font-size:12px}}svg.timeline{{width:100%;height:auto}}.v{{font-weight:bold;padding:0 .3em;border-radius:3px}}.v-ok{{color:#1b5e20}}.v-lagging{{color:#8d6e00}}.v-gap,.v-failing{{color:#b71c1c}}.verdict.overall{{font-size:16px}}{style}</style></head><body><h1>Audit feeds</h1><p>From {} to {} (the service keeps 7 days). <span class=\"legend\">Each lane begins with its verdict (✔ ok, ◔ lagging: more than an hour behind, ▲ gap: content missing, ✖ failing). Red, labelled gap: data gap (no content exists) · pale green, dashed: a gap repaired from the audit search · dark green: collected · grey: not collected yet · pale, dashed: before collection start · white, dotted: not collected by this tenant · shaded area: events per hour · blue line: now. Hover for exact times.</span> <a href=\"api/status\">JSON</a></p>{b}</body></html>",
        stamp(st.from),
        stamp(st.now),
        style = timeline::STYLE
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
            updated_at: now,
            verdict: Verdict::Failing,
            from: now - chrono::Duration::days(7),
            fleet: None,
            tenants: vec![TenantView {
                name: "<script>alert(1)</script>".into(),
                tenant_id: "x\"><img src=x onerror=alert(2)>".into(),
                sink: "sqlite:/x".into(),
                state: Some("<b>failing</b>".into()),
                last_error: Some("<script>alert(3)</script>".into()),
                last_error_at: Some(now),
                last_pass: None,
                next_pass: None,
                verdict: Verdict::Failing,
                worst_lag_seconds: None,
                types: vec![Lane {
                    content_type: "Audit.General",
                    subscription: "enabled".into(),
                    collects: true,
                    verdict: Some(Verdict::Failing),
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
        let svg = timeline::svg(&Range::week(&st), &st.tenants[0], true);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("class=\"gap\""));
        assert!(
            svg.contains("class=\"gap repaired\"") && svg.contains("1234 events recovered"),
            "a repaired gap is drawn and named apart"
        );
    }
}
