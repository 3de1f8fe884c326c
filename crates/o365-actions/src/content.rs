//! List Content: the blobs available for one content type in a time range.

use std::time::Instant;

use chrono::{DateTime, Utc};
use o365_api::{ContentType, Subscription};

use crate::details::{ContentDetails, Details};
use crate::input::{ActionKind, CaseContext, InputError};
use crate::result::{ActionResult, Failure};
use crate::{stamp, Runner};

impl Runner {
    /// List available content of one type in `[start, end)` (default: the last 24 hours, service
    /// time). Ranges longer than 24 hours are split into the service's 24-hour windows.
    pub async fn content(
        &self,
        mut ctx: CaseContext,
        ct: ContentType,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        progress: Option<crate::runner::Progress>,
    ) -> ActionResult {
        let t0 = Instant::now();
        let started = Utc::now();
        let kind = ActionKind::ListContent;
        let client = match self.prepare(kind, &mut ctx, started) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let refuse = |e: InputError| self.refuse(kind, &ctx, started, Failure::input(&e));
        // What can be judged without the service's clock is judged before any request.
        let local_floor = Utc::now() - o365_api::window::retention();
        match (start, end) {
            (Some(s), Some(e)) if s >= e => {
                return refuse(InputError::new(
                    "start_time",
                    Some(stamp(s)),
                    format!("must be before end_time ({})", stamp(e)),
                ))
            }
            (Some(s), _) if s < local_floor => {
                return refuse(InputError::new(
                    "start_time",
                    Some(stamp(s)),
                    format!(
                        "content is kept for 7 days: start at {} or later",
                        stamp(local_floor)
                    ),
                ))
            }
            _ => {}
        }
        let mut r = ActionResult::new(kind.display(), &ctx, started);
        let failed = |blobs| {
            Details::Content(ContentDetails {
                content_type: ct.as_str().into(),
                start_time: None,
                end_time: None,
                windows: None,
                count: None,
                blobs,
            })
        };
        // One listing first: it says whether the type is subscribed at all, and its `Date` header
        // gives the service's clock, which the default window is measured on.
        match client.list_subscriptions().await {
            Ok(subs) if !Subscription::enabled_in(&subs, ct) => r.warnings.push(format!(
                "{ct} is not subscribed: no new content is produced for it until `start-subscription {ct}`"
            )),
            Ok(_) => {}
            Err(e) => {
                self.failed_by(&mut r, kind, &e);
                r.details = failed(vec![]);
                return self.finish(r, t0, &[ct]);
            }
        }
        let now = client.server_now();
        let end_t = end.unwrap_or(now);
        let start_t = start.unwrap_or(end_t - chrono::Duration::hours(24));
        let bad = |field: &str, problem: String| InputError::new(field, None, problem);
        // Judged on the service's clock: the result keeps the listing's warnings.
        let refuse = |mut r: ActionResult, e: InputError| {
            r.tenant_id = self.tenant();
            r.fail(Some(kind), Failure::input(&e));
            r
        };
        if start_t >= end_t {
            return refuse(
                r,
                bad(
                    "start_time",
                    format!(
                        "must be before end_time ({} >= {})",
                        stamp(start_t),
                        stamp(end_t)
                    ),
                ),
            );
        }
        if end_t > now + chrono::Duration::minutes(5) {
            return refuse(
                r,
                bad(
                    "end_time",
                    format!(
                        "{} is in the future (service time is {})",
                        stamp(end_t),
                        stamp(now)
                    ),
                ),
            );
        }
        let plan = o365_api::window::plan(start_t, end_t, now);
        if let Some(w) = plan.out_of_reach {
            return refuse(r, bad("start_time", format!(
                "content is kept for 7 days: [{}, {}) can no longer be listed; start at {} or later",
                stamp(w.start),
                stamp(w.end),
                stamp(w.end)
            )));
        }
        let mut blobs = Vec::new();
        let (mut pages, windows) = (0u64, plan.windows.len());
        for (i, w) in plan.windows.iter().enumerate() {
            let mut listing = std::pin::pin!(client.list_content(ct, *w));
            while let Some(page) = futures::StreamExt::next(&mut listing).await {
                match page {
                    Ok(b) => {
                        blobs.extend(b);
                        pages += 1;
                        if let Some(p) = &progress {
                            p(
                                pages,
                                None,
                                format!(
                                    "window {} of {windows}, {pages} page(s) listed, {} blob(s) so far",
                                    i + 1,
                                    blobs.len()
                                ),
                            );
                        }
                    }
                    Err(e) => {
                        self.failed_by(&mut r, kind, &e);
                        r.details = failed(blobs);
                        return self.finish(r, t0, &[ct]);
                    }
                }
            }
        }
        r.result_value = true;
        r.output_message = format!(
            "{} content blob(s) of {} available in [{}, {}).",
            blobs.len(),
            ct,
            stamp(start_t),
            stamp(end_t)
        );
        r.details = Details::Content(ContentDetails {
            content_type: ct.as_str().into(),
            start_time: Some(stamp(start_t)),
            end_time: Some(stamp(end_t)),
            windows: Some(plan.windows.len()),
            count: Some(blobs.len()),
            blobs,
        });
        self.finish(r, t0, &[ct])
    }
}
