//! Ping: a token **and** `subscriptions/list`, reporting what was checked.

use std::time::Instant;

use chrono::Utc;

use crate::details::{Check, Checks, Details, PingDetails};
use crate::input::{ActionKind, CaseContext};
use crate::result::ActionResult;
use crate::Runner;

impl Runner {
    /// Ping: sign in and list subscriptions, so success means the other actions will work.
    pub async fn ping(&self, mut ctx: CaseContext) -> ActionResult {
        let t0 = Instant::now();
        let started = Utc::now();
        let kind = ActionKind::Ping;
        let client = match self.prepare(kind, &mut ctx, started) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut r = ActionResult::new(kind.display(), &ctx, started);
        let ms = |t: Instant| t.elapsed().as_millis() as u64;
        let mut d = PingDetails {
            cloud: self.settings.cloud.value.name().into(),
            api_root: client.api_root().into(),
            login_endpoint: client.login_endpoint().into(),
            proxy: client.proxy().cloned(),
            checks: Checks {
                token: Check::passed(0),
                subscriptions_list: None,
                audit_search: None,
            },
            roles: None,
            tenant_id: None,
            subscriptions: None,
        };
        let t_token = Instant::now();
        let info = match client.token_info().await {
            Ok(i) => i,
            Err(e) => {
                d.checks.token = Check::failed(ms(t_token), e.to_string());
                self.failed_by(&mut r, kind, &e);
                r.details = Details::Ping(Box::new(d));
                return self.finish(r, t0, &[]);
            }
        };
        d.checks.token = Check {
            roles: Some(info.roles.clone()),
            tenant_id: Some(info.tenant_id.clone()),
            expires_in_s: Some(info.expires_in.as_secs()),
            ..Check::passed(ms(t_token))
        };
        self.remember_tenant(&info.tenant_id);
        let t_list = Instant::now();
        match client.list_subscriptions().await {
            Ok(subs) => {
                d.checks.subscriptions_list = Some(Check {
                    count: Some(subs.len()),
                    ..Check::passed(ms(t_list))
                });
                self.observe(client, &subs, &mut r);
                if !info.roles.iter().any(|x| x == "ActivityFeed.ReadDlp") {
                    r.warnings.push("the token lacks ActivityFeed.ReadDlp: DLP.All will fail with AF10001 until it is granted (with admin consent)".into());
                }
                d.subscriptions = Some(subs);
                r.result_value = true;
                r.output_message = "Successfully connected to the O365 Management API with the provided connection parameters!".into();
            }
            Err(e) => {
                d.checks.subscriptions_list = Some(Check::failed(ms(t_list), e.to_string()));
                self.failed_by(&mut r, kind, &e);
            }
        }
        d.checks.audit_search = Some(audit_search(client).await);
        d.roles = Some(info.roles);
        d.tenant_id = Some(info.tenant_id);
        r.details = Details::Ping(Box::new(d));
        self.finish(r, t0, &[])
    }
}

/// Whether Graph's audit search is usable: the cloud has it, a Graph token can be had, and it
/// carries an AuditLogsQuery role (no query is submitted: they count against a daily quota).
async fn audit_search(client: &o365_api::Client) -> Check {
    let t = Instant::now();
    let ms = |t: Instant| t.elapsed().as_millis() as u64;
    let search = match client.audit_search() {
        Ok(s) => s,
        // Refused before any request: the cloud has no such search.
        Err(e) => {
            return Check {
                unavailable: true,
                ..Check::failed(ms(t), e.to_string())
            }
        }
    };
    match search.client().token_info().await {
        Err(e) => Check::failed(ms(t), format!("sign-in to Microsoft Graph: {e}")),
        Ok(info) if !info.roles.iter().any(|r| r.starts_with("AuditLogsQuery")) => Check {
            roles: Some(info.roles),
            ..Check::failed(
                ms(t),
                "the Graph token carries no AuditLogsQuery role: backfill and gap repair need the application permission AuditLogsQuery.Read.All (Microsoft Graph) with admin consent".into(),
            )
        },
        Ok(info) => Check {
            roles: Some(info.roles),
            ..Check::passed(ms(t))
        },
    }
}
