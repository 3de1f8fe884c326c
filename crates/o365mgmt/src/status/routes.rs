//! `/` (the page) and `/api/status` (its JSON), read-only. On loopback they are open; beyond
//! it a bearer token is required, from an `Authorization` header or from the cookie that
//! `/login` sets for a browser.

use std::sync::Arc;

use axum::extract::{Form, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::model::Status;
use super::page;

/// Where the status comes from (built on every request).
pub type Source = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<Status>> + Send>>
        + Send
        + Sync,
>;

/// The cookie a browser keeps the token in.
const COOKIE: &str = "o365mgmt_token";

async fn index(State(src): State<Source>) -> Response {
    match src().await {
        Ok(st) => Html(page::html(&st)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html(format!(
                "<!doctype html><title>o365mgmt</title><p>The status cannot be read: {}</p>",
                page::esc(&format!("{e:#}"))
            )),
        )
            .into_response(),
    }
}

async fn api(State(src): State<Source>) -> Response {
    match src().await {
        Ok(st) => axum::Json(st).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({"error": format!("{e:#}")})),
        )
            .into_response(),
    }
}

/// The page and its JSON.
pub fn router(src: Source) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/api/status", get(api))
        .with_state(src)
}

#[derive(serde::Deserialize)]
struct Login {
    token: String,
}

fn login_page(wrong: bool) -> Response {
    let note = if wrong {
        "<p class=\"error\">That token is not the one this service was given.</p>"
    } else {
        ""
    };
    (
        StatusCode::UNAUTHORIZED,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>o365mgmt: sign in</title></head><body><h1>Audit feeds</h1>{note}<form method=\"post\" action=\"/login\"><label>Bearer token <input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label> <button>Open</button></form><p>The token is in the file given with --auth-token-file.</p></body></html>"
        )),
    )
        .into_response()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Require the token on `app`'s routes (header or cookie) and serve `/login` to set the cookie.
pub fn require_token(app: Router, token: &str) -> Router {
    let t: Arc<str> = token.into();
    let check = t.clone();
    let guarded = app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let t = check.clone();
            async move {
                let h = req.headers();
                let bearer = h
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .is_some_and(|v| same(v.as_bytes(), t.as_bytes()));
                let cookie = h
                    .get_all(header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(';'))
                    .filter_map(|c| c.trim().split_once('='))
                    .any(|(k, v)| k == COOKIE && same(v.as_bytes(), t.as_bytes()));
                if bearer || cookie {
                    next.run(req).await
                } else {
                    login_page(false)
                }
            }
        },
    ));
    let login = Router::new().route(
        "/login",
        get(|| async { login_page(false) }).post(move |Form(l): Form<Login>| {
            let t = t.clone();
            async move {
                if !same(l.token.trim().as_bytes(), t.as_bytes()) {
                    return login_page(true);
                }
                let mut r = (StatusCode::SEE_OTHER, "").into_response();
                r.headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("/"));
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                    l.token.trim()
                )) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                r
            }
        }),
    );
    guarded.merge(login)
}
