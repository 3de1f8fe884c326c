//! Signing in to a guarded listener (`status --serve`, `serve`): a bearer token in an
//! `Authorization` header, or, for a browser, a session that `/login` opens once it was given
//! the token. The session cookie holds a random session id (never the token), expires after
//! [`SESSION`], is `HttpOnly`, `SameSite=Strict`, and `Secure` behind an HTTPS proxy; wrong
//! tokens at `/login` are throttled ([`Throttle`]). Every answer forbids framing and anything
//! but the page's own styles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The cookie a browser keeps its session id in.
const COOKIE: &str = "o365mgmt_session";
/// How long a session lasts.
const SESSION: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (the oldest go first).
const MAX_SESSIONS: usize = 1000;

/// Wrong tokens at `/login`: at most [`Throttle::MAX`] per [`Throttle::WINDOW`]; beyond that,
/// every attempt is refused (429) until the window ends.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    start: Instant,
    failures: u32,
}

impl Throttle {
    const MAX: u32 = 10;
    const WINDOW: Duration = Duration::from_secs(60);

    fn new(now: Instant) -> Self {
        Self {
            start: now,
            failures: 0,
        }
    }

    /// Whether an attempt at `now` may be judged; if not, how long until one may.
    pub fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        if now.duration_since(self.start) >= Self::WINDOW {
            *self = Self::new(now);
        }
        if self.failures >= Self::MAX {
            return Err(Self::WINDOW.saturating_sub(now.duration_since(self.start)));
        }
        Ok(())
    }

    /// A wrong token was given.
    pub fn failed(&mut self) {
        self.failures += 1;
    }
}

struct Guard {
    token: Box<str>,
    sessions: Mutex<HashMap<String, Instant>>,
    throttle: Mutex<Throttle>,
}

impl Guard {
    fn session_ok(&self, id: &str) -> bool {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match s.get(id) {
            Some(t) if t.elapsed() < SESSION => true,
            Some(_) => {
                s.remove(id);
                false
            }
            None => false,
        }
    }

    fn open_session(&self) -> Option<String> {
        let mut b = [0u8; 32];
        getrandom::getrandom(&mut b).ok()?;
        let id: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.retain(|_, t| t.elapsed() < SESSION);
        if s.len() >= MAX_SESSIONS {
            if let Some(oldest) = s.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) {
                s.remove(&oldest);
            }
        }
        s.insert(id.clone(), Instant::now());
        Some(id)
    }

    fn allowed(&self, h: &HeaderMap) -> bool {
        let bearer = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|v| o365_http::same_secret(v.as_bytes(), self.token.as_bytes()));
        bearer
            || h.get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|c| c.trim().split_once('='))
                .any(|(k, v)| k == COOKIE && self.session_ok(v))
    }
}

#[derive(serde::Deserialize)]
struct Login {
    token: String,
}

fn login_page(status: StatusCode, note: &str) -> Response {
    let note = if note.is_empty() {
        String::new()
    } else {
        format!("<p class=\"error\">{note}</p>")
    };
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>o365mgmt: sign in</title></head><body><h1>Audit feeds</h1>{note}<form method=\"post\" action=\"/login\"><label>Bearer token <input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label> <button>Open</button></form><p>The token is in the file given with --auth-token-file.</p></body></html>"
        )),
    )
        .into_response()
}

/// What a client without the token gets: a browser the sign-in page, a program a plain 401.
fn refused(h: &HeaderMap) -> Response {
    let browser = h
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if browser {
        return login_page(StatusCode::UNAUTHORIZED, "");
    }
    let mut r = (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Require the token on `app`'s routes (header or session cookie) and serve `/login`.
pub fn require_token(app: Router, token: &str) -> Router {
    let guard = Arc::new(Guard {
        token: token.into(),
        sessions: Mutex::default(),
        throttle: Mutex::new(Throttle::new(Instant::now())),
    });
    let g = guard.clone();
    let guarded = app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let g = g.clone();
            async move {
                if g.allowed(req.headers()) {
                    next.run(req).await
                } else {
                    refused(req.headers())
                }
            }
        },
    ));
    let login = Router::new().route(
        "/login",
        get(|| async { login_page(StatusCode::UNAUTHORIZED, "") }).post(
            move |headers: HeaderMap, Form(l): Form<Login>| {
                let g = guard.clone();
                async move { login(&g, &headers, &l.token) }
            },
        ),
    );
    guarded.merge(login)
}

fn login(g: &Guard, headers: &HeaderMap, token: &str) -> Response {
    let mut throttle = g.throttle.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(wait) = throttle.admit(Instant::now()) {
        tracing::warn!("too many wrong tokens at /login: refusing attempts for a while");
        let mut r = login_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong tokens: try again in a minute.",
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    if !o365_http::same_secret(token.trim().as_bytes(), g.token.as_bytes()) {
        throttle.failed();
        return login_page(
            StatusCode::UNAUTHORIZED,
            "That token is not the one this service was given.",
        );
    }
    drop(throttle);
    let Some(id) = g.open_session() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "no randomness for a session\n",
        )
            .into_response();
    };
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let mut r = (StatusCode::SEE_OTHER, "").into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION.as_secs(),
        if https { "; Secure" } else { "" }
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Headers on every answer: no framing, no scripts or sources beyond the page's own styles
/// and images, no sniffing, no referrer.
pub fn hardened(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(
        |req: Request, next: Next| async move {
            let mut r = next.run(req).await;
            let h = r.headers_mut();
            for (k, v) in [
                ("x-frame-options", "DENY"),
                (
                    "content-security-policy",
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
                ("x-content-type-options", "nosniff"),
                ("referrer-policy", "no-referrer"),
            ] {
                h.insert(k, HeaderValue::from_static(v));
            }
            r
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_admits_ten_wrong_tokens_a_minute() {
        let t0 = Instant::now();
        let mut t = Throttle::new(t0);
        for _ in 0..Throttle::MAX {
            assert!(t.admit(t0).is_ok());
            t.failed();
        }
        let wait = t.admit(t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        // A new window admits again.
        assert!(t.admit(t0 + Throttle::WINDOW).is_ok());
    }
}
