//! Content operations: listings as page streams, blobs, notifications, DLP sensitive types.

use bytes::Bytes;
use futures::Stream;
use reqwest::Method;

use crate::client::Client;
use crate::event::{decode_blob, Event};
use crate::transport::next_page;
use crate::types::{decode_array, ContentBlob, ContentType, DlpSensitiveType, Notification};
use crate::window::{format_time, Window};
use crate::Error;

impl Client {
    /// List available content in a window (≤ 24 h) as a stream of pages, following `NextPageUri`.
    pub fn list_content(
        &self,
        ct: ContentType,
        window: Window,
    ) -> impl Stream<Item = Result<Vec<ContentBlob>, Error>> + Send + 'static {
        self.pages(ct, window, "subscriptions/content")
    }

    /// All content of a window, every page read.
    pub async fn list_content_all(
        &self,
        ct: ContentType,
        window: Window,
    ) -> Result<Vec<ContentBlob>, Error> {
        use futures::TryStreamExt as _;
        let pages: Vec<Vec<ContentBlob>> = self.list_content(ct, window).try_collect().await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// Webhook notification history of a window, as pages.
    pub fn list_notifications(
        &self,
        ct: ContentType,
        window: Window,
    ) -> impl Stream<Item = Result<Vec<Notification>, Error>> + Send + 'static {
        self.pages(ct, window, "subscriptions/notifications")
    }

    fn pages<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        ct: ContentType,
        window: Window,
        op: &'static str,
    ) -> impl Stream<Item = Result<Vec<T>, Error>> + Send + 'static {
        let this = self.clone();
        futures::stream::try_unfold(
            (this, None::<String>, true),
            move |(this, next, first)| async move {
                let url = match (next, first) {
                    (Some(u), _) => u,
                    (None, true) => {
                        let tid = this.tid().await?;
                        format!(
                            "{}?contentType={}&startTime={}&endTime={}",
                            this.feed_url(&tid, op),
                            ct.as_str(),
                            format_time(window.start),
                            format_time(window.end)
                        )
                    }
                    (None, false) => return Ok(None),
                };
                let a = this.send(Method::GET, &url, None, op).await?;
                let items: Vec<T> = decode_array(op, &a.body)?;
                let next = next_page(&a.headers);
                if let Some(n) = &next {
                    // Checked again (and PublisherIdentifier added) when it is sent.
                    this.on_api_host(n)?;
                }
                Ok(Some((items, (this, next, false))))
            },
        )
    }

    /// Fetch one blob; each event keeps its raw bytes.
    pub async fn fetch_blob(&self, content_uri: &str) -> Result<Vec<Event>, Error> {
        let a = self.fetch_blob_bytes(content_uri).await?;
        decode_blob(&a)
    }

    /// Fetch one blob's bytes, unparsed.
    pub async fn fetch_blob_bytes(&self, content_uri: &str) -> Result<Bytes, Error> {
        Ok(self
            .send(Method::GET, content_uri, None, "content blob")
            .await?
            .body)
    }

    /// DLP sensitive information types.
    pub async fn dlp_sensitive_types(&self) -> Result<Vec<DlpSensitiveType>, Error> {
        let tid = self.tid().await?;
        let op = "resources/dlpSensitiveTypes";
        let a = self
            .send(Method::GET, &self.feed_url(&tid, op), None, op)
            .await?;
        decode_array(op, &a.body)
    }
}
