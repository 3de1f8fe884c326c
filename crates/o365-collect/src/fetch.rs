//! Fetching one blob and handing it to the writer.

use std::sync::atomic::Ordering;

use o365_api::{Client, ContentType};
use tokio::sync::OwnedSemaphorePermit;

use crate::ack::Ack;
use crate::options::Stop;
use crate::sinks::BlobOut;
use crate::summary::RunError;
use crate::writer::{WriterHandle, WriterMsg};

pub(crate) struct Fetch {
    pub(crate) client: Client,
    pub(crate) tenant: String,
    pub(crate) ct: ContentType,
    pub(crate) blob: o365_api::ContentBlob,
    pub(crate) ack: Ack,
    pub(crate) writer: WriterHandle,
    pub(crate) stop: Stop,
    /// Held while fetching and until the sink's queue takes the blob (this tenant's share and
    /// the global cap).
    pub(crate) permits: (OwnedSemaphorePermit, Option<OwnedSemaphorePermit>),
}

impl Fetch {
    /// Fetch, decode and send; a failure drops the acknowledgement (the window fails) and is
    /// noted for the run's summary.
    pub(crate) async fn run(self) {
        let created = self.blob.content_created;
        let result = tokio::select! {
            r = self.client.fetch_blob_bytes(&self.blob.content_uri) => r,
            // Stopping: abandon it (dropping the acknowledgement); the next run fetches it again.
            _ = self.stop.wait() => return,
        };
        let id = self.blob.content_id.clone();
        let blob_error = |error: String| RunError::Blob {
            content_id: id,
            error,
        };
        let (events, lost) = match result {
            Ok(bytes) => {
                self.ack
                    .metrics
                    .bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                match o365_api::event::decode_blob_shared(bytes) {
                    Ok(ev) => (ev, None),
                    Err(e) => return self.fail(blob_error(e.to_string())),
                }
            }
            Err(e) if e.is_content_gone() => {
                tracing::warn!(content_id = %self.blob.content_id, error = %e, "blob can no longer be fetched: recorded as lost");
                (Vec::new(), Some(e.to_string()))
            }
            Err(e) => return self.fail(blob_error(e.to_string())),
        };
        let out = BlobOut {
            tenant: self.tenant,
            content_type: self.ct,
            content_id: self.blob.content_id,
            content_created: created,
            events,
            lost,
        };
        let (state, permits) = (self.ack.state.clone(), self.permits);
        // If the writer is gone, the message (and its acknowledgement) is dropped: the window
        // is marked failed.
        if let Err(e) = self
            .writer
            .send(WriterMsg::Blob(Box::new(out), self.ack))
            .await
        {
            state.error(e);
        }
        drop(permits);
    }

    fn fail(self, e: RunError) {
        self.ack
            .metrics
            .blobs_failed
            .fetch_add(1, Ordering::Relaxed);
        self.ack.state.error(e);
    }
}
