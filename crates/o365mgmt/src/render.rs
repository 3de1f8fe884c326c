//! Rendering results for people (text) or programs (JSON).

use std::fmt::Write as _;

use o365_actions::result::{ActionResult, GapReport, Status};
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
    if let Some(subs) = r
        .json_result
        .get("subscriptions")
        .and_then(|v| v.as_array())
    {
        for o in subs {
            let ct = o["contentType"].as_str().unwrap_or("?");
            let outcome = o["outcome"]
                .as_str()
                .unwrap_or_else(|| o["status"].as_str().unwrap_or(""));
            let status = if o.get("outcome").is_some() {
                o["status"].as_str().unwrap_or("")
            } else {
                ""
            };
            let err = o["error"]["message"]
                .as_str()
                .map(|m| format!("  {m}"))
                .unwrap_or_default();
            let _ = writeln!(s, "  {ct:<28} {outcome:<16} {status}{err}");
        }
    }
    if let Some(checks) = r.json_result.get("checks").and_then(|v| v.as_object()) {
        let _ = writeln!(
            s,
            "  cloud {}, api root {}, login {}",
            r.json_result["cloud"].as_str().unwrap_or("?"),
            r.json_result["api_root"].as_str().unwrap_or("?"),
            r.json_result["login_endpoint"].as_str().unwrap_or("?")
        );
        for (name, c) in checks {
            let ok = if c["ok"].as_bool() == Some(true) {
                "ok"
            } else {
                "FAILED"
            };
            let _ = writeln!(s, "  check {name:<20} {ok:<6} {} ms", c["ms"]);
        }
        if let Some(roles) = r.json_result.get("roles").and_then(|v| v.as_array()) {
            let roles: Vec<&str> = roles.iter().filter_map(|r| r.as_str()).collect();
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
    if let Some(blobs) = r.json_result.get("blobs").and_then(|v| v.as_array()) {
        for b in blobs.iter().take(20) {
            let _ = writeln!(
                s,
                "  {}  {}",
                b["contentCreated"].as_str().unwrap_or(""),
                b["contentId"].as_str().unwrap_or("")
            );
        }
        if blobs.len() > 20 {
            let _ = writeln!(
                s,
                "  ... and {} more (use --output json for all)",
                blobs.len() - 20
            );
        }
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
        "{:<28} {:<26} {:<26} {:>10}  source",
        "content type", "stopped at", "started at", "length"
    );
    for g in gaps {
        let _ = writeln!(
            s,
            "{:<28} {:<26} {:<26} {:>10}  {}",
            g.content_type,
            g.stopped_at,
            g.started_at.as_deref().unwrap_or("(still stopped)"),
            o365_actions::human_seconds(g.seconds),
            g.source
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
