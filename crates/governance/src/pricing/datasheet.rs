//! Bifrost's pricing datasheet (`framework.pricing.pricing_url`, by default
//! `https://getbifrost.ai/datasheet`): one JSON object whose keys are model names (sometimes
//! `provider/model`) and whose values carry `provider`, `mode` and the cost fields, in the
//! LiteLLM `model_prices_and_context_window.json` layout Bifrost's `framework/modelcatalog`
//! reads.
//!
//! Entries without a per-token input price (image, audio and video models priced per unit) are
//! skipped: asbru prices tokens. An entry with an input but no output price (embeddings) costs
//! nothing per output token. When a provider lists a model under several modes, the `chat`
//! entry wins.

use super::{Catalog, Price};
use serde_json::Value;

/// Bifrost's default price list.
pub const DEFAULT_PRICING_URL: &str = "https://getbifrost.ai/datasheet";

impl Catalog {
    /// A price list in either format: asbru's own (`{"date", "models"}`, as built in) or
    /// Bifrost's datasheet. Fails when the text is not JSON, is neither format, or prices no
    /// model at all (a page that is not a price list must not replace a working one).
    pub fn parse_any(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if v.get("models").is_some_and(Value::is_object) {
            return Self::parse(text);
        }
        let catalog = Self::from_datasheet(&v)?;
        if catalog.is_empty() {
            return Err("the price list prices no model".into());
        }
        Ok(catalog)
    }

    /// Reads Bifrost's datasheet (see the module documentation).
    pub fn from_datasheet(v: &Value) -> Result<Self, String> {
        let entries = v.as_object().ok_or("the price list is not a JSON object")?;
        let mut catalog = Self::default();
        let mut modes: std::collections::HashMap<String, bool> = Default::default();
        for (key, entry) in entries {
            let Some(provider) = entry.get("provider").and_then(Value::as_str) else {
                continue;
            };
            let provider = normalize_provider(provider);
            let Some(price) = datasheet_price(entry) else {
                continue;
            };
            let model = model_name(key, entry.get("provider").and_then(Value::as_str));
            let name = format!("{provider}/{model}");
            let is_chat = entry.get("mode").and_then(Value::as_str) == Some("chat");
            match modes.get(&name) {
                Some(true) => continue,
                Some(false) if !is_chat => continue,
                _ => {}
            }
            catalog.insert(&name, price);
            modes.insert(name, is_chat);
            match catalog.by_model.get(model) {
                // The first provider listed keeps the bare name, unless a chat entry comes.
                Some(_) if !is_chat => {}
                _ => {
                    catalog.by_model.insert(model.to_owned(), price);
                }
            }
        }
        Ok(catalog)
    }
}

/// One datasheet entry's token prices.
fn datasheet_price(entry: &Value) -> Option<Price> {
    let input = entry
        .get("input_cost_per_token")
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)?;
    let mut with_output = entry.clone();
    if let Some(obj) = with_output.as_object_mut()
        && !obj
            .get("output_cost_per_token")
            .is_some_and(Value::is_number)
    {
        obj.insert("output_cost_per_token".into(), Value::from(0.0));
    }
    let mut price = Price::from_json(&with_output)?;
    price.input = input;
    Some(price)
}

/// The model name of a datasheet key: without its `provider/` prefix when it has one (the
/// prefix may be a variant of the entry's provider: `vertex_ai/…` for
/// `vertex_ai-language-models`).
fn model_name<'a>(key: &'a str, provider: Option<&str>) -> &'a str {
    match (key.split_once('/'), provider) {
        (Some((prefix, rest)), Some(p))
            if prefix == p || normalize_provider(prefix) == normalize_provider(p) =>
        {
            rest
        }
        _ => key,
    }
}

/// The datasheet's provider names, as asbru names providers.
fn normalize_provider(name: &str) -> &str {
    match name {
        n if n.starts_with("vertex_ai") => "vertex",
        "bedrock_converse" => "bedrock",
        "azure_ai" => "azure",
        "together_ai" => "together",
        "fireworks_ai" => "fireworks",
        "cohere_chat" => "cohere",
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asbru_schema::Usage;

    const SHEET: &str = r#"{
        "gpt-4o": {"provider": "openai", "mode": "chat",
                   "input_cost_per_token": 2.5e-6, "output_cost_per_token": 1e-5,
                   "cache_read_input_token_cost": 1.25e-6, "max_input_tokens": 128000},
        "anthropic/claude-sonnet-4": {"provider": "anthropic", "mode": "chat",
                   "input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5,
                   "search_context_cost_per_query": {"search_context_size_low": 0.01}},
        "vertex_ai/gemini-2.5-pro": {"provider": "vertex_ai-language-models", "mode": "chat",
                   "input_cost_per_token": 1.25e-6, "output_cost_per_token": 1e-5,
                   "input_cost_per_token_above_200k_tokens": 2.5e-6},
        "text-embedding-3-small": {"provider": "openai", "mode": "embedding",
                   "input_cost_per_token": 2e-8},
        "dall-e-3": {"provider": "openai", "mode": "image_generation",
                   "output_cost_per_image": 0.04},
        "sample_spec": {"max_tokens": "set to max"}
    }"#;

    #[test]
    fn reads_bifrosts_datasheet() {
        let c = Catalog::parse_any(SHEET).unwrap();
        assert_eq!(c.len(), 4, "image and spec entries are skipped");
        let gpt = c.price("openai", "gpt-4o").unwrap();
        assert_eq!((gpt.input, gpt.output), (2.5e-6, 1e-5));
        assert_eq!(gpt.cache_read, Some(1.25e-6));
        assert_eq!(
            c.price("anthropic", "claude-sonnet-4-20250514")
                .unwrap()
                .output,
            1.5e-5
        );
        let gem = c.price("vertex", "gemini-2.5-pro").unwrap();
        assert_eq!(gem.above_200k.unwrap().input, Some(2.5e-6));
        let emb = c.price("openai", "text-embedding-3-small").unwrap();
        assert_eq!(emb.output, 0.0);
        let u = Usage {
            prompt_tokens: 1000,
            completion_tokens: 100,
            total_tokens: 1100,
            ..Usage::default()
        };
        let cost = c.cost("openai", "gpt-4o", &u).unwrap();
        assert!((cost - (1000.0 * 2.5e-6 + 100.0 * 1e-5)).abs() < 1e-15);
    }

    #[test]
    fn refuses_what_is_not_a_price_list() {
        assert!(Catalog::parse_any("<html>").is_err());
        assert!(Catalog::parse_any("[1, 2]").is_err());
        assert!(Catalog::parse_any(r#"{"x": {"provider": "openai"}}"#).is_err());
        // asbru's own format is accepted too.
        let own = r#"{"date": "d", "models": {"p/m": {"input_cost_per_token": 1, "output_cost_per_token": 2}}}"#;
        assert_eq!(Catalog::parse_any(own).unwrap().len(), 1);
    }
}
