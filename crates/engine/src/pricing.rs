//! What a request costs: the gateway's price list (built in, or refreshed from
//! `framework.pricing.pricing_url`) under the configured providers' `pricing_overrides`.
//!
//! The price list outlives config reloads and is replaced whole ([`PriceList::replace`]), so
//! a request prices against one consistent list. A background loop ([`sync_loop`]) downloads
//! it at start and every `pricing_sync_interval`; a failed download keeps the list in force,
//! logs a warning and counts `asbru_price_list_refreshes_total{result="error"}`.

use arc_swap::{ArcSwap, ArcSwapOption};
use asbru_config::PricingConfig;
use asbru_governance::pricing::{Catalog, Overrides, Price};
use asbru_schema::Usage;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The most bytes a downloaded price list may have (Bifrost's datasheet is a few MB).
pub const MAX_PRICE_LIST_BYTES: usize = 64 * 1024 * 1024;
/// How long one download may take, connection included.
pub const PRICE_LIST_TIMEOUT: Duration = Duration::from_secs(60);

/// The price list in force, and where it comes from.
#[derive(Debug, Default)]
pub struct PriceList {
    /// `None`: the built-in catalog.
    downloaded: ArcSwapOption<Catalog>,
    /// `framework.pricing` of the config in force (updated at reload).
    source: ArcSwap<PricingConfig>,
    /// Wakes the sync loop when the source changes or a refresh is asked for.
    wake: Notify,
}

impl PriceList {
    pub(crate) fn new(source: PricingConfig) -> Self {
        Self {
            downloaded: ArcSwapOption::empty(),
            source: ArcSwap::from_pointee(source),
            wake: Notify::new(),
        }
    }

    /// The price of `provider`'s `model` in the list in force.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        match self.downloaded.load().as_deref() {
            Some(c) => c.price(provider, model).copied(),
            None => Catalog::builtin().price(provider, model).copied(),
        }
    }

    /// Serves `catalog` from now on.
    pub fn replace(&self, catalog: Catalog) {
        self.downloaded.store(Some(Arc::new(catalog)));
    }

    /// How many models the list in force prices, and its date (empty for a datasheet).
    pub fn summary(&self) -> (usize, String) {
        match self.downloaded.load().as_deref() {
            Some(c) => (c.len(), c.date.clone()),
            None => (Catalog::builtin().len(), Catalog::builtin().date.clone()),
        }
    }

    /// A new config's `framework.pricing`: a changed source is fetched at once.
    pub(crate) fn set_source(&self, source: &PricingConfig) {
        if **self.source.load() != *source {
            self.source.store(Arc::new(source.clone()));
            self.wake.notify_one();
        }
    }

    /// Downloads the configured list now and serves it; on failure the list in force stays.
    /// Returns how many models the new list prices.
    pub async fn refresh(&self, client: &reqwest::Client) -> Result<usize, String> {
        let Some(url) = self.source.load().url.clone() else {
            return Err("no framework.pricing.pricing_url is configured".into());
        };
        let outcome = async {
            let text = download(client, &url).await?;
            Catalog::parse_any(&text)
        }
        .await;
        match outcome {
            Ok(catalog) => {
                let n = catalog.len();
                self.replace(catalog);
                metrics::counter!("asbru_price_list_refreshes_total", "result" => "ok")
                    .increment(1);
                tracing::info!(models = n, "price list refreshed");
                Ok(n)
            }
            Err(e) => {
                metrics::counter!("asbru_price_list_refreshes_total", "result" => "error")
                    .increment(1);
                tracing::warn!(error = %e, "price list refresh failed; the current prices stay in force");
                Err(e)
            }
        }
    }
}

/// GETs `url`, refusing a non-200 answer or a body above [`MAX_PRICE_LIST_BYTES`]. Errors
/// never quote the URL (it may carry a token).
async fn download(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client
        .get(url)
        .timeout(PRICE_LIST_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("download failed: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("download failed: HTTP {}", status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_PRICE_LIST_BYTES as u64)
    {
        return Err(format!(
            "the price list is larger than {MAX_PRICE_LIST_BYTES} bytes"
        ));
    }
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| format!("download failed: {}", e.without_url()))?;
        if body.len() + chunk.len() > MAX_PRICE_LIST_BYTES {
            return Err(format!(
                "the price list is larger than {MAX_PRICE_LIST_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the price list is not UTF-8".to_owned())
}

/// Refreshes `list` at start and then every `pricing_sync_interval` (or `interval` when
/// given: tests), while a URL is configured; waits for one otherwise. Runs until shutdown or
/// until `stop` is cancelled (the gateway was dropped).
pub(crate) async fn sync_loop(
    list: Arc<PriceList>,
    interval: Option<Duration>,
    stop: tokio_util::sync::CancellationToken,
) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = refresh_forever(list, interval) => {}
    }
}

async fn refresh_forever(list: Arc<PriceList>, interval: Option<Duration>) {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    loop {
        let source = list.source.load_full();
        if source.url.is_some() {
            let _ = list.refresh(&client).await;
        }
        let wait = interval.unwrap_or(source.sync_interval);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = list.wake.notified() => {}
        }
    }
}

/// Prices requests for one config snapshot: the gateway's list, then the provider's override.
#[derive(Debug, Clone)]
pub(crate) struct Pricer {
    list: Arc<PriceList>,
    /// Provider name → its overrides (providers without any are absent).
    overrides: Arc<HashMap<String, Overrides>>,
}

impl Pricer {
    pub(crate) fn new(list: Arc<PriceList>, config: &asbru_config::Config) -> Self {
        let overrides = config
            .providers
            .iter()
            .filter(|p| !p.pricing_overrides.is_empty())
            .map(|p| (p.name.clone(), p.pricing_overrides.clone()))
            .collect();
        Self {
            list,
            overrides: Arc::new(overrides),
        }
    }

    /// The price of `model` on `provider` for a request of `request_type` (Bifrost's name).
    pub(crate) fn price(&self, provider: &str, model: &str, request_type: &str) -> Option<Price> {
        let base = self.list.price(provider, model);
        match self.overrides.get(provider) {
            Some(o) => o.price(model, request_type, base),
            None => base,
        }
    }

    /// What `usage` cost, in USD; `None` when the model has no price.
    pub(crate) fn cost(
        &self,
        provider: &str,
        model: &str,
        request_type: &str,
        usage: &Usage,
    ) -> Option<f64> {
        self.price(provider, model, request_type)
            .map(|p| p.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use crate::Gateway;
    use std::time::Duration;

    #[tokio::test]
    async fn the_refresh_loop_ends_with_its_gateway() {
        let loaded = asbru_config::load_str("{}", &|_| None).expect("an empty config loads");
        let gateway = Gateway::new(loaded.config).expect("a gateway");
        let background = gateway.background().clone();
        assert_eq!(background.running(), 1, "the price list loop");
        drop(gateway);
        for _ in 0..100 {
            if background.running() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the loop outlived its gateway");
    }

    #[test]
    fn a_gateway_outside_a_runtime_starts_no_loop() {
        let loaded = asbru_config::load_str("{}", &|_| None).expect("an empty config loads");
        let gateway = Gateway::new(loaded.config).expect("a gateway");
        assert_eq!(gateway.background().running(), 0);
        assert!(gateway.price_list().summary().0 >= 50, "the built-in list");
    }
}
