//! Sending one Activity API request: pacing, the bearer token, bounded reads, classification of
//! the answer, the token refresh on 401, and retries within the policy's budget.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use secrecy::ExposeSecret as _;
use url::Url;

use crate::client::Client;
use crate::cloud::origin;
use crate::error::classify;
use crate::retry::{decide, parse_retry_after, Decision, GiveUp};
use crate::Error;

/// A successful answer.
pub(crate) struct Answer {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Client {
    /// The URL of a feed operation for the tenant GUID `tid`.
    pub(crate) fn feed_url(&self, tid: &str, op: &str) -> String {
        format!("{}/api/v1.0/{tid}/activity/feed/{op}", self.inner.resource)
    }

    /// Parse a URL and refuse it when it is off the API host (the token goes nowhere else).
    pub(crate) fn on_api_host(&self, url: &str) -> Result<Url, Error> {
        let u = Url::parse(url).map_err(|e| Error::Decode {
            what: "URL from the service".into(),
            path: url.into(),
            message: e.to_string(),
        })?;
        if origin(&u) != self.inner.api_origin {
            return Err(Error::ForeignHost {
                url: url.into(),
                expected: self.inner.api_origin.clone(),
            });
        }
        Ok(u)
    }

    /// [`Client::on_api_host`], plus `PublisherIdentifier` when the URL lacks it (any case): the
    /// configured one, else the tenant GUID `tid` from the token.
    pub(crate) fn with_publisher(&self, url: &str, tid: &str) -> Result<String, Error> {
        let mut u = self.on_api_host(url)?;
        let has = u
            .query_pairs()
            .any(|(k, _)| k.eq_ignore_ascii_case("PublisherIdentifier"));
        if !has {
            u.query_pairs_mut().append_pair(
                "PublisherIdentifier",
                self.inner.publisher.as_deref().unwrap_or(tid),
            );
        }
        Ok(u.into())
    }

    /// After attempt `attempt` failed with `err`: sleep before the next one, or say why not.
    /// Waits of a second or more are logged; every wait is counted.
    pub(crate) async fn pause(
        &self,
        what: &str,
        attempt: u32,
        err: &Error,
        started: Instant,
    ) -> Result<(), GiveUp> {
        let c = &self.inner.counters;
        if matches!(err, Error::Throttled { .. }) {
            c.throttled.fetch_add(1, Ordering::Relaxed);
        }
        let retry_after = match err {
            Error::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        };
        let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
        match decide(
            &self.inner.retry,
            attempt,
            err.is_retryable(),
            retry_after,
            started.elapsed(),
            jitter,
        ) {
            Decision::Retry(wait) => {
                c.retries.fetch_add(1, Ordering::Relaxed);
                c.retry_wait_ms
                    .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
                if wait.as_secs() >= 1 {
                    tracing::info!(what, attempt, wait_seconds = wait.as_secs_f64(), error = %err, "waiting before retrying");
                } else {
                    tracing::debug!(what, attempt, ?wait, error = %err, "retrying");
                }
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Decision::GiveUp(g) => {
                if let GiveUp::Budget { wanted, left } = g {
                    c.gave_up_on_budget.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(what, wanted_seconds = wanted.as_secs(), left_seconds = left.as_secs(), error = %err, "giving up: the wait needed is longer than the retry budget left");
                }
                Err(g)
            }
        }
    }

    /// Send one Activity API request (with its `PublisherIdentifier`) with pacing, token
    /// refresh on 401, and retries.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        what: &str,
    ) -> Result<Answer, Error> {
        let url = self.with_publisher(url, &self.tid().await?)?;
        self.exchange(method, url, body, what).await
    }

    /// Send one request to the API host as it is (Graph's, which takes no
    /// `PublisherIdentifier`), with pacing, token refresh on 401, and retries.
    pub(crate) async fn send_to_api_host(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        what: &str,
    ) -> Result<Answer, Error> {
        let url = self.on_api_host(url)?.to_string();
        self.exchange(method, url, body, what).await
    }

    async fn exchange(
        &self,
        method: Method,
        url: String,
        body: Option<String>,
        what: &str,
    ) -> Result<Answer, Error> {
        let started = Instant::now();
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            self.inner.pacer.acquire().await;
            let (tok, _) = self.token(false).await?;
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(tok.secret.expose_secret());
            req = match &body {
                Some(b) => req
                    .header("Content-Type", "application/json")
                    .body(b.clone()),
                None if method == Method::POST => req.header("Content-Length", "0"),
                None => req,
            };
            self.inner.counters.requests.fetch_add(1, Ordering::Relaxed);
            let err = match req.send().await {
                Err(e) => {
                    self.inner
                        .counters
                        .transport_errors
                        .fetch_add(1, Ordering::Relaxed);
                    transport(&url, e, self.inner.proxy.as_ref())
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    *self
                        .inner
                        .counters
                        .by_status
                        .lock()
                        .entry(status)
                        .or_default() += 1;
                    let headers = r.headers().clone();
                    self.observe_date(&headers);
                    match read_limited(r, self.inner.max_bytes, what, &url).await {
                        Err(e) => e,
                        Ok(body) if (200..300).contains(&status) => {
                            return Ok(Answer { headers, body })
                        }
                        Ok(body) => {
                            let retry_after = headers
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| parse_retry_after(v, self.server_now()));
                            let e = classify(status, &body, retry_after, what);
                            match e {
                                Error::Unauthorized { .. } if !refreshed => {
                                    // The token may have expired or been revoked: refresh once.
                                    refreshed = true;
                                    attempt -= 1;
                                    self.token(true).await?;
                                    continue;
                                }
                                Error::Unauthorized { message, .. } => Error::Unauthorized {
                                    message,
                                    token_for: crate::token::jwt_claim(
                                        tok.secret.expose_secret(),
                                        "aud",
                                    )
                                    .filter(|aud| aud.trim_end_matches('/') != self.inner.resource),
                                },
                                e => e,
                            }
                        }
                    }
                }
            };
            if self.pause(what, attempt, &err, started).await.is_err() {
                return Err(err);
            }
        }
    }
}

/// The `NextPageUri` (or `NextPageUrl`) of an answer.
pub(crate) fn next_page(h: &HeaderMap) -> Option<String> {
    ["NextPageUri", "NextPageUrl"]
        .iter()
        .find_map(|n| h.get(*n))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A transport failure, with every cause in the chain and the URL without its query. Through
/// `proxy`, a failure to connect is the proxy's (the proxy connects to the host, and says so
/// in its answer), and is named so.
pub(crate) fn transport(url: &str, e: reqwest::Error, proxy: Option<&crate::ProxyInUse>) -> Error {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    // An HTTPS request through a proxy fails to reach the proxy as "tunnel error: failed to
    // create underlying connection"; a tunnel the proxy refused (its own answer) is not that.
    let to_proxy = e.is_connect()
        && (msg.contains("failed to create underlying connection") || !msg.contains("tunnel"));
    let proxy = proxy.filter(|_| to_proxy).map(|p| p.url.clone());
    if let Some(p) = &proxy {
        msg = format!("the proxy {p} cannot be reached ({msg})");
    }
    Error::Transport {
        url: url.split('?').next().unwrap_or(url).to_string(),
        message: msg,
        timeout: e.is_timeout(),
        proxy,
    }
}

/// Read a body of at most `limit` bytes: a body that arrives in one chunk (the common case) is
/// kept as it came, a longer one is copied once into one buffer.
pub(crate) async fn read_limited(
    mut r: reqwest::Response,
    limit: usize,
    what: &str,
    url: &str,
) -> Result<Bytes, Error> {
    let too_large = || Error::TooLarge {
        what: what.into(),
        limit,
    };
    let announced = r.content_length();
    if announced.is_some_and(|n| n as usize > limit) {
        return Err(too_large());
    }
    // The first chunk as it came; a second one starts the copy into `buf`.
    let mut first: Option<Bytes> = None;
    let mut buf = bytes::BytesMut::new();
    loop {
        match r.chunk().await {
            Ok(Some(c)) => {
                let so_far = first.as_ref().map_or(0, Bytes::len) + buf.len();
                if so_far + c.len() > limit {
                    return Err(too_large());
                }
                if first.is_none() && buf.is_empty() {
                    first = Some(c);
                    continue;
                }
                if let Some(f) = first.take() {
                    // Reserve what the server announced (bounded), so the body is copied once.
                    let want = announced.map_or(0, |n| n as usize).min(limit).min(64 << 20);
                    buf.reserve(want.max(f.len() + c.len()));
                    buf.extend_from_slice(&f);
                }
                buf.extend_from_slice(&c);
            }
            Ok(None) => return Ok(first.unwrap_or_else(|| buf.freeze())),
            Err(e) => return Err(transport(url, e, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response whose body arrives in `chunks`.
    fn response(chunks: &[&'static str]) -> reqwest::Response {
        let chunks: Vec<Result<Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect();
        let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
        http::Response::new(body).into()
    }

    #[tokio::test]
    async fn a_body_in_one_chunk_or_in_many_is_read_whole_and_bounded() {
        let cases: [&[&'static str]; 5] = [
            &[],
            &["[1,2,3]"],
            &["[1,", "2", ",3]"],
            &["", "[1,2,3]"],
            &["[1,2,3]", ""],
        ];
        for chunks in cases {
            let got = read_limited(response(chunks), 7, "blob", "https://x/y")
                .await
                .unwrap();
            assert_eq!(got, chunks.concat().as_bytes(), "{chunks:?}");
        }
        for chunks in [&["[1,2,3]!"][..], &["[1,2", ",3]!"]] {
            let e = read_limited(response(chunks), 7, "blob", "https://x/y")
                .await
                .unwrap_err();
            assert!(matches!(e, Error::TooLarge { limit: 7, .. }), "{e}");
        }
    }
}
