//! Rendering results for people (text) or programs (JSON).

use std::fmt::Write as _;

use o365_actions::result::{ActionResult, GapReport, Status};
use o365_actions::Details;
use o365_store::JournalEntry;

/// Text for an action result.
pub fn result_text(r: &ActionResult) -> String {
    let mut s = String::new();
    let verdict = match (r.status, r.result_value) {
        (Status::Failed, _) => "FAILED",
        (Status::Completed, true) => "ok",
        (Status::Completed, false) => "completed with failures",
    };
    let _ = writeln!(
        s,
        "{}: {verdict}  (case {}, {} ms)",
        r.action, r.case_id, r.duration_ms
    );
    let listing = |s: &mut String, subs: &[o365_api::Subscription]| {
        for o in subs {
            let _ = writeln!(s, "  {:<28} {:<16} ", o.content_type, o.status);
        }
    };
    match &r.details {
        Details::Change(d) => {
            for o in &d.subscriptions {
                let outcome = serde_json::to_value(o.outcome).unwrap_or_default();
                let err = o
                    .error
                    .as_ref()
                    .map(|e| format!("  {}", e.message))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {:<28} {:<16} {}{err}",
                    o.content_type,
                    outcome.as_str().unwrap_or(""),
                    o.status.as_deref().unwrap_or("")
                );
            }
        }
        Details::List(d) => listing(&mut s, &d.subscriptions),
        Details::Ping(d) => {
            listing(&mut s, d.subscriptions.as_deref().unwrap_or_default());
            let _ = writeln!(
                s,
                "  cloud {}, api root {}, login {}",
                d.cloud, d.api_root, d.login_endpoint
            );
            if let Some(p) = &d.proxy {
                let _ = writeln!(s, "  through the proxy {} (from {})", p.url, p.from);
            }
            let checks = [
                ("subscriptions_list", d.checks.subscriptions_list.as_ref()),
                ("token", Some(&d.checks.token)),
                ("audit_search", d.checks.audit_search.as_ref()),
            ];
            for (name, c) in checks.iter().filter_map(|(n, c)| Some((n, (*c)?))) {
                let ok = match (c.ok, c.unavailable) {
                    (true, _) => "ok",
                    (false, true) => "not available",
                    (false, false) => "FAILED",
                };
                let _ = writeln!(s, "  check {name:<20} {ok:<13} {} ms", c.ms);
                if *name == "audit_search" {
                    if let Some(e) = &c.error {
                        let _ = writeln!(s, "    (only backfill and gap repair need it) {e}");
                    }
                }
            }
            if let Some(roles) = &d.roles {
                let _ = writeln!(
                    s,
                    "  roles in the token: {}",
                    if roles.is_empty() {
                        "(none)".into()
                    } else {
                        roles.join(", ")
                    }
                );
            }
        }
        Details::Content(d) => {
            for b in d.blobs.iter().take(20) {
                let _ = writeln!(
                    s,
                    "  {}  {}",
                    b.content_created
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    b.content_id
                );
            }
            if d.blobs.len() > 20 {
                let _ = writeln!(
                    s,
                    "  ... and {} more (use --output json for all)",
                    d.blobs.len() - 20
                );
            }
        }
        _ => {}
    }
    let _ = writeln!(s, "{}", r.output_message);
    if let Some(e) = &r.error {
        let _ = writeln!(s, "cause: {}", e.cause);
        if !r.output_message.contains(&e.fix) {
            let _ = writeln!(s, "fix: {}", e.fix);
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// Text for the gap ledger.
pub fn gaps_text(gaps: &[GapReport]) -> String {
    if gaps.is_empty() {
        return "No data gaps recorded.\n".into();
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<28} {:<26} {:<26} {:>10}  {:<12} repair",
        "content type", "stopped at", "started at", "length", "source"
    );
    for g in gaps {
        let repair = match &g.repair {
            None => "-".to_string(),
            Some(r) if r.status == "repaired" => format!(
                "repaired: {} events recovered ({} already there)",
                r.events_recovered, r.already_there
            ),
            Some(r) => format!("not repaired: {}", r.reason),
        };
        let _ = writeln!(
            s,
            "{:<28} {:<26} {:<26} {:>10}  {:<12} {repair}",
            g.content_type,
            g.stopped_at,
            g.started_at.as_deref().unwrap_or("(still stopped)"),
            o365_actions::human_seconds(g.seconds),
            g.source.to_string()
        );
    }
    s
}

/// Text for journal rows.
pub fn journal_text(rows: &[JournalEntry]) -> String {
    if rows.is_empty() {
        return "The journal is empty.\n".into();
    }
    let mut s = String::new();
    for r in rows {
        let _ = writeln!(
            s,
            "{}  {:<19} {:<9} case {:<10} via {:<6} {}{}",
            o365_actions::stamp(r.at),
            r.action,
            r.status,
            r.case_id,
            r.via,
            if r.result_value { "ok" } else { "not ok" },
            if r.content_types.is_empty() {
                String::new()
            } else {
                format!("  [{}]", r.content_types.join(", "))
            }
        );
    }
    s
}
