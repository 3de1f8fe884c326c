//! The checks every feed operation starts with, as one extractor: the query read, the content
//! type taken from it (for the operations on one type), the caller authenticated, authorised
//! and charged to its budget. A handler that takes a `Typed<O>` or `Untyped<O>` only runs for a
//! request that passed them; the rest get the service's answer for the first check that failed.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::api::{authorize, content_type, Caller, Op, Query};
use crate::content::ContentType;
use crate::state::Shared;

/// A feed operation, as a type.
pub(crate) trait Operation: Send + Sync {
    /// Which.
    const OP: Op;
}

/// Declare the operations' types.
macro_rules! operations {
    ($($name:ident),*) => {$(
        #[doc = concat!("The `", stringify!($name), "` operation.")]
        pub(crate) struct $name;
        impl Operation for $name {
            const OP: Op = Op::$name;
        }
    )*};
}

/// The operations, named as `Op`'s variants.
pub(crate) mod op {
    use super::{Op, Operation};
    operations!(Start, Stop, List, Content, Notifications, Dlp);
}

/// A request of operation `O` on one content type, checked.
pub(crate) struct Typed<O> {
    /// The tenant as the path names it.
    pub(crate) tenant: String,
    /// Its query.
    pub(crate) q: Query,
    /// The content type it names.
    pub(crate) ct: ContentType,
    /// Who asks.
    pub(crate) caller: Caller,
    op: PhantomData<O>,
}

/// A request of operation `O` on no content type in particular, checked.
pub(crate) struct Untyped<O> {
    /// Who asks.
    pub(crate) caller: Caller,
    op: PhantomData<O>,
}

/// The tenant in the path and the query.
async fn tenant_and_query(parts: &mut Parts, st: &Shared) -> Result<(String, Query), Response> {
    let Path(tenant) = Path::<String>::from_request_parts(parts, st)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((tenant, Query::parse(parts.uri.query())))
}

impl<O: Operation> FromRequestParts<Shared> for Typed<O> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &Shared) -> Result<Self, Response> {
        let (tenant, q) = tenant_and_query(parts, st).await?;
        let ct = content_type(st, &q)?;
        let caller = authorize(st, &tenant, &parts.headers, &q, O::OP, Some(ct))?;
        Ok(Typed {
            tenant,
            q,
            ct,
            caller,
            op: PhantomData,
        })
    }
}

impl<O: Operation> FromRequestParts<Shared> for Untyped<O> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &Shared) -> Result<Self, Response> {
        let (tenant, q) = tenant_and_query(parts, st).await?;
        let caller = authorize(st, &tenant, &parts.headers, &q, O::OP, None)?;
        Ok(Untyped {
            caller,
            op: PhantomData,
        })
    }
}
