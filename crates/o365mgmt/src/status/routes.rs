//! `/` (the page) and `/api/status` (its JSON), read-only. On loopback they are open; beyond
//! it a bearer token is required (see `auth.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
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
