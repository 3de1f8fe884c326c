//! The status page and its JSON (`o365mgmt status`, `serve`), and the timeline as SVG
//! (`gaps --svg`).

pub mod auth;
pub mod cmd;
pub mod model;
pub mod page;
pub mod routes;
pub mod timeline;
pub mod verdict;
