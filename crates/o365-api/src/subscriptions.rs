//! Subscription operations: start, stop, list.

use reqwest::Method;

use crate::client::Client;
use crate::types::{decode_array, ContentType, StartOutcome, Subscription, Webhook};
use crate::Error;

impl Client {
    /// Start (or update) a subscription. AF20024 ("already enabled") is success.
    pub async fn start_subscription(
        &self,
        ct: ContentType,
        webhook: Option<&Webhook>,
    ) -> Result<StartOutcome, Error> {
        let tid = self.tid().await?;
        let url = format!(
            "{}?contentType={}",
            self.feed_url(&tid, "subscriptions/start"),
            ct.as_str()
        );
        let body = webhook.map(|w| serde_json::json!({ "webhook": w.wire() }).to_string());
        match self
            .send(Method::POST, &url, body, "subscriptions/start")
            .await
        {
            Ok(a) => {
                let s: Subscription =
                    serde_json::from_slice(&a.body).map_err(|e| Error::Decode {
                        what: "subscriptions/start".into(),
                        path: "$".into(),
                        message: e.to_string(),
                    })?;
                Ok(StartOutcome::Started(s))
            }
            Err(e) if e.is_already_enabled() => Ok(StartOutcome::AlreadyEnabled),
            Err(e) => Err(e),
        }
    }

    /// Stop a subscription (content of the stopped interval is lost for good).
    pub async fn stop_subscription(&self, ct: ContentType) -> Result<(), Error> {
        let tid = self.tid().await?;
        let url = format!(
            "{}?contentType={}",
            self.feed_url(&tid, "subscriptions/stop"),
            ct.as_str()
        );
        self.send(Method::POST, &url, None, "subscriptions/stop")
            .await
            .map(|_| ())
    }

    /// List subscriptions.
    pub async fn list_subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        let tid = self.tid().await?;
        let url = self.feed_url(&tid, "subscriptions/list");
        let a = self
            .send(Method::GET, &url, None, "subscriptions/list")
            .await?;
        decode_array("subscriptions/list", &a.body)
    }
}
