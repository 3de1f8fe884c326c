//! Forwarding to a webhook: each line POSTed as JSON, in order, retried with doubling pauses,
//! with its key as `Idempotency-Key`; recorded after each answer of 2xx.

use std::time::Duration;

use super::cursor::{Cursor, Position};
use super::file::advance;
use super::{shown_url, Line, Output};
use crate::sinks::SinkError;

/// Attempts per line before the run gives up (the line is sent again on the next run).
const ATTEMPTS: u32 = 5;
/// The first pause between attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(5);

pub(super) struct Webhook {
    url: url::Url,
    http: reqwest::Client,
    rt: tokio::runtime::Handle,
}

impl Webhook {
    /// The output to `url`, trusting and routed as `trust` says (the API client's `ca_file`,
    /// `proxy` and `verify_ssl`); redirects are never followed.
    pub(super) fn new(
        url: url::Url,
        trust: &o365_api::Trust,
        rt: tokio::runtime::Handle,
    ) -> Result<Self, SinkError> {
        let http = trust
            .builder()
            .map_err(|e| SinkError::Bus(format!("webhook: {e}")))?
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SinkError::Bus(format!("webhook: {e}")))?;
        Ok(Self { url, http, rt })
    }

    /// Why a redirect is refused: alerts go to the configured address only.
    fn redirect(&self, r: &reqwest::Response) -> String {
        let to = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| self.url.join(l).ok())
            .map(|u| shown_url(&u))
            .unwrap_or_else(|| "no Location".into());
        format!(
            "the receiver answered HTTP {} redirecting to {to}: redirects are not followed (alerts go only to the configured address, {}); if that address is yours, give it as the sink",
            r.status().as_u16(),
            shown_url(&self.url)
        )
    }

    /// One line, retried; why not, after the last attempt (a redirect at once).
    fn post(&self, line: &Line) -> Result<(), String> {
        let key = line.key();
        let mut pause = FIRST_PAUSE;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let r = self.rt.block_on(
                self.http
                    .post(self.url.clone())
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", &key)
                    .body(line.text.clone())
                    .send(),
            );
            match r {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().is_redirection() => return Err(self.redirect(&r)),
                Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
                // Without the URL (its query may hold a secret), with every cause: "error
                // sending request" alone says nothing of a refused connection or an unknown CA.
                Err(e) => last = causes(&e.without_url()),
            }
            tracing::warn!(attempt, error = %last, url = %shown_url(&self.url), "alert not delivered: retrying");
            if attempt < ATTEMPTS {
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
        Err(format!("{last} after {ATTEMPTS} attempts"))
    }
}

impl Output for Webhook {
    fn deliver(
        &mut self,
        lines: &[Line],
        pos: &mut Position,
        cursor: &Cursor,
    ) -> Result<(), SinkError> {
        for (i, line) in lines.iter().enumerate() {
            if let Err(why) = self.post(line) {
                return Err(SinkError::Bus(format!(
                    "{why}; this alert and the ones after it are sent again on the next run"
                )));
            }
            advance(pos, cursor, &lines[i..=i], None)?;
        }
        Ok(())
    }
}

/// An error and each of its causes, `: `-separated.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = c.source();
    }
    out
}

#[cfg(test)]
mod chain_tests {
    use super::causes;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn every_cause_is_said_once() {
        let e = E(
            "error sending request",
            Some(Box::new(E(
                "client error (Connect)",
                Some(Box::new(E("Connection refused (os error 111)", None))),
            ))),
        );
        assert_eq!(
            causes(&e),
            "error sending request: client error (Connect): Connection refused (os error 111)"
        );
        assert_eq!(causes(&E("alone", None)), "alone");
    }
}
