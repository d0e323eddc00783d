//! The model price list built into the binary, and what a request cost from its usage.
//!
//! Prices come from `pricing/catalog.json` (public list prices per token in USD, with the date
//! and source noted in the file), under Bifrost's field names (`input_cost_per_token`,
//! `output_cost_per_token`, `cache_read_input_token_cost`, `cache_creation_input_token_cost`,
//! and the same with `_above_200k_tokens` for long-context tiers).
//!
//! A model is looked up as `provider/model`, then as the model alone under any provider, then
//! with a date suffix stripped (`gpt-4o-2024-08-06` → `gpt-4o`, `claude-sonnet-4-20250514` →
//! `claude-sonnet-4`), and finally with a `-latest` suffix stripped.

use asbru_schema::Usage;
use serde_json::Value;

pub mod datasheet;
pub mod overrides;

pub use datasheet::DEFAULT_PRICING_URL;
pub use overrides::{MatchType, Overrides, PricingOverride};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Prompts longer than this many tokens are billed at the long-context tier when the model
/// has one.
pub const LONG_CONTEXT_TOKENS: u64 = 200_000;

/// The embedded catalog.
const CATALOG: &str = include_str!("../pricing/catalog.json");

/// One model's prices, per token in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Prompt tokens read from the provider's cache (the input price when absent).
    pub cache_read: Option<f64>,
    /// Prompt tokens written to the provider's cache (the input price when absent).
    pub cache_write: Option<f64>,
    /// The prices for prompts above [`LONG_CONTEXT_TOKENS`], when the model has such a tier.
    pub above_200k: Option<LongContext>,
}

/// A long-context tier; absent fields keep the base price.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LongContext {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
}

impl Price {
    /// Reads Bifrost's pricing fields from one catalog entry; `None` without an input and an
    /// output price.
    pub fn from_json(v: &Value) -> Option<Self> {
        let f = |k: &str| {
            v.get(k)
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite() && *x >= 0.0)
        };
        let long = LongContext {
            input: f("input_cost_per_token_above_200k_tokens"),
            output: f("output_cost_per_token_above_200k_tokens"),
            cache_read: f("cache_read_input_token_cost_above_200k_tokens"),
            cache_write: f("cache_creation_input_token_cost_above_200k_tokens"),
        };
        Some(Self {
            input: f("input_cost_per_token")?,
            output: f("output_cost_per_token")?,
            cache_read: f("cache_read_input_token_cost"),
            cache_write: f("cache_creation_input_token_cost"),
            above_200k: (long != LongContext::default()).then_some(long),
        })
    }

    /// What `usage` cost at these prices, in USD.
    ///
    /// The usage counts cache reads and writes inside `prompt_tokens` and reasoning inside
    /// `completion_tokens` (as OpenAI reports them, and as asbru fills them for other
    /// providers), so: uncached prompt tokens × input + cache reads × cache-read price + cache
    /// writes × cache-write price + completion tokens × output. A prompt above 200k tokens is
    /// billed at the long-context tier when the model has one.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let mut input = self.input;
        let mut output = self.output;
        let mut cache_read = self.cache_read.unwrap_or(self.input);
        let mut cache_write = self.cache_write.unwrap_or(self.input);
        if usage.prompt_tokens > LONG_CONTEXT_TOKENS
            && let Some(long) = self.above_200k
        {
            input = long.input.unwrap_or(input);
            output = long.output.unwrap_or(output);
            cache_read = long.cache_read.unwrap_or(cache_read);
            cache_write = long.cache_write.unwrap_or(cache_write);
        }
        let uncached = usage
            .prompt_tokens
            .saturating_sub(usage.cached_read_tokens)
            .saturating_sub(usage.cache_write_tokens);
        uncached as f64 * input
            + usage.cached_read_tokens as f64 * cache_read
            + usage.cache_write_tokens as f64 * cache_write
            + usage.completion_tokens as f64 * output
    }
}

/// A price list: `provider/model` → price, and the model alone → the first provider's price.
///
/// Prices are kept per provider, then per model, so a lookup (done for every request that
/// reports usage, and again for a budget's reservation) borrows its keys and formats nothing.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    by_provider: HashMap<String, HashMap<String, Price>>,
    by_model: HashMap<String, Price>,
    /// When the prices were taken (`date` in the file).
    pub date: String,
}

impl Catalog {
    /// Parses a catalog file: `{"date": …, "models": {"provider/model": {prices…}}}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let models = v
            .get("models")
            .and_then(Value::as_object)
            .ok_or("the catalog has no `models` object")?;
        let mut catalog = Self {
            date: v
                .get("date")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            ..Self::default()
        };
        for (name, entry) in models {
            let price = Price::from_json(entry)
                .ok_or_else(|| format!("`{name}` has no input/output price"))?;
            let (_, model) = name
                .split_once('/')
                .ok_or_else(|| format!("`{name}` is not provider/model"))?;
            catalog.insert(name, price);
            catalog.by_model.entry(model.to_owned()).or_insert(price);
        }
        Ok(catalog)
    }

    /// The built-in catalog (its parsing is checked by this module's tests; a broken file
    /// would price nothing rather than panic).
    pub fn builtin() -> &'static Self {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| Self::parse(CATALOG).unwrap_or_default())
    }

    /// How many models have a price.
    pub fn len(&self) -> usize {
        self.by_provider.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_provider.values().all(HashMap::is_empty)
    }

    /// Prices `name` (`provider/model`; a name without `/` is ignored).
    pub(crate) fn insert(&mut self, name: &str, price: Price) {
        if let Some((provider, model)) = name.split_once('/') {
            self.by_provider
                .entry(provider.to_owned())
                .or_default()
                .insert(model.to_owned(), price);
        }
    }

    /// The price listed for exactly `provider`'s `model`.
    fn listed(&self, provider: &str, model: &str) -> Option<&Price> {
        self.by_provider.get(provider)?.get(model)
    }

    /// The price of `model` on `provider`: exact, then the model under any provider, then with
    /// a date suffix (or `-latest`) stripped.
    pub fn price(&self, provider: &str, model: &str) -> Option<&Price> {
        let exact = |m: &str| self.listed(provider, m).or_else(|| self.by_model.get(m));
        if let Some(p) = exact(model) {
            return Some(p);
        }
        // `provider/model` given as the model (a bare-model route naming another provider).
        if let Some((p, m)) = model.split_once('/')
            && let Some(price) = self.listed(p, m)
        {
            return Some(price);
        }
        let stripped = strip_version(model);
        if stripped != model {
            return exact(stripped);
        }
        None
    }

    /// What `usage` cost on `provider`'s `model`; `None` when the model has no price.
    pub fn cost(&self, provider: &str, model: &str, usage: &Usage) -> Option<f64> {
        self.price(provider, model).map(|p| p.cost(usage))
    }
}

/// What `usage` cost on `provider`'s `model` at the built-in prices; `None` when unknown.
pub fn cost(provider: &str, model: &str, usage: &Usage) -> Option<f64> {
    Catalog::builtin().cost(provider, model, usage)
}

/// `model` without a trailing date (`-2024-08-06`, `-20250514`) or `-latest`.
fn strip_version(model: &str) -> &str {
    if let Some(base) = model.strip_suffix("-latest") {
        return base;
    }
    let bytes = model.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let n = bytes.len();
    // -YYYY-MM-DD
    if n > 11 {
        let tail = &bytes[n - 11..];
        if tail[0] == b'-'
            && digits(&tail[1..5])
            && tail[5] == b'-'
            && digits(&tail[6..8])
            && tail[8] == b'-'
            && digits(&tail[9..11])
        {
            return &model[..n - 11];
        }
    }
    // -YYYYMMDD
    if n > 9 {
        let tail = &bytes[n - 9..];
        if tail[0] == b'-' && digits(&tail[1..]) {
            return &model[..n - 9];
        }
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            ..Usage::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn the_builtin_catalog_parses_and_covers_the_main_models() {
        let c = Catalog::builtin();
        assert!(c.len() >= 50, "{}", c.len());
        assert!(!c.date.is_empty());
        for (p, m) in [
            ("openai", "gpt-4o"),
            ("openai", "gpt-4o-mini"),
            ("openai", "gpt-4.1-mini"),
            ("openai", "o3"),
            ("openai", "o4-mini"),
            ("openai", "gpt-5"),
            ("openai", "text-embedding-3-small"),
            ("anthropic", "claude-3-5-haiku-20241022"),
            ("anthropic", "claude-3-7-sonnet-20250219"),
            ("anthropic", "claude-sonnet-4-20250514"),
            ("anthropic", "claude-opus-4-20250514"),
            ("anthropic", "claude-haiku-4-5-20251001"),
            ("anthropic", "claude-sonnet-4-5-20250929"),
            ("gemini", "gemini-2.0-flash"),
            ("gemini", "gemini-2.5-flash"),
            ("gemini", "gemini-2.5-pro"),
            ("mistral", "mistral-large-latest"),
            ("groq", "llama-3.3-70b-versatile"),
            ("cohere", "command-r-plus-08-2024"),
        ] {
            assert!(c.price(p, m).is_some(), "{p}/{m}");
        }
    }

    #[test]
    fn lookups_go_exact_then_model_then_without_date() {
        let c = Catalog::builtin();
        let gpt4o = *c.price("openai", "gpt-4o").unwrap();
        // Another provider serving the same model (a custom provider, Azure, a proxy).
        assert_eq!(c.price("my-openai", "gpt-4o"), Some(&gpt4o));
        assert_eq!(c.price("openai", "gpt-4o-2024-08-06"), Some(&gpt4o));
        assert_eq!(
            c.price("vertex", "gemini-2.5-pro"),
            c.price("gemini", "gemini-2.5-pro")
        );
        assert_eq!(
            c.price("bedrock", "claude-sonnet-4-20250514"),
            c.price("anthropic", "claude-sonnet-4")
        );
        assert!(c.price("openai", "no-such-model").is_none());
        assert!(cost("openai", "no-such-model", &usage(1, 1)).is_none());
        assert_eq!(strip_version("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(
            strip_version("claude-3-5-haiku-20241022"),
            "claude-3-5-haiku"
        );
        assert_eq!(strip_version("mistral-large-latest"), "mistral-large");
        assert_eq!(strip_version("o3"), "o3");
    }

    #[test]
    fn plain_usage_costs_input_plus_output() {
        // gpt-4o: $2.50 / 1M input, $10 / 1M output.
        // 1,000 × 2.5e-6 + 500 × 10e-6 = 0.0025 + 0.005 = 0.0075
        let c = cost("openai", "gpt-4o", &usage(1_000, 500)).unwrap();
        assert!(close(c, 0.0075), "{c}");
    }

    #[test]
    fn cached_tokens_are_billed_at_the_cache_prices() {
        // claude-sonnet-4: input $3, cache read $0.30, cache write $3.75, output $15 per 1M.
        // prompt 10,000 of which 6,000 read from cache and 2,000 written to it:
        // 2,000 × 3e-6 + 6,000 × 0.3e-6 + 2,000 × 3.75e-6 + 1,000 × 15e-6
        // = 0.006 + 0.0018 + 0.0075 + 0.015 = 0.0303
        let u = Usage {
            cached_read_tokens: 6_000,
            cache_write_tokens: 2_000,
            ..usage(10_000, 1_000)
        };
        let c = cost("anthropic", "claude-sonnet-4-20250514", &u).unwrap();
        assert!(close(c, 0.0303), "{c}");
        // gpt-4o-mini: cached $0.075, no cache-write price (the input price applies).
        // 400 × 0.15e-6 + 600 × 0.075e-6 + 100 × 0.6e-6 = 0.00006 + 0.000045 + 0.00006
        let u = Usage {
            cached_read_tokens: 600,
            ..usage(1_000, 100)
        };
        let c = cost("openai", "gpt-4o-mini", &u).unwrap();
        assert!(close(c, 0.000_165), "{c}");
    }

    #[test]
    fn reasoning_tokens_are_output_tokens() {
        // o4-mini: $1.10 input, $4.40 output per 1M. completion 3,000 of which 2,500 reasoning:
        // 1,000 × 1.1e-6 + 3,000 × 4.4e-6 = 0.0011 + 0.0132 = 0.0143
        let u = Usage {
            reasoning_tokens: 2_500,
            ..usage(1_000, 3_000)
        };
        let c = cost("openai", "o4-mini", &u).unwrap();
        assert!(close(c, 0.0143), "{c}");
    }

    #[test]
    fn long_prompts_use_the_long_context_tier() {
        // gemini-2.5-pro: $1.25 / $10 up to 200k prompt tokens, $2.50 / $15 above.
        // 200,000 × 1.25e-6 + 1,000 × 10e-6 = 0.25 + 0.01 = 0.26
        let c = cost("gemini", "gemini-2.5-pro", &usage(200_000, 1_000)).unwrap();
        assert!(close(c, 0.26), "{c}");
        // 300,000 × 2.5e-6 + 1,000 × 15e-6 = 0.75 + 0.015 = 0.765
        let c = cost("gemini", "gemini-2.5-pro", &usage(300_000, 1_000)).unwrap();
        assert!(close(c, 0.765), "{c}");
        // A model without a tier keeps its price: 300,000 × 2.5e-6 + 1,000 × 10e-6 = 0.76.
        let c = cost("openai", "gpt-4o", &usage(300_000, 1_000)).unwrap();
        assert!(close(c, 0.76), "{c}");
    }

    #[test]
    fn a_catalog_entry_needs_input_and_output_prices() {
        assert!(Catalog::parse(r#"{"models": {"p/m": {"input_cost_per_token": 1}}}"#).is_err());
        assert!(
            Catalog::parse(
                r#"{"models": {"m": {"input_cost_per_token": 1, "output_cost_per_token": 1}}}"#
            )
            .is_err()
        );
        let c = Catalog::parse(
            r#"{"date": "d", "models": {"p/m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}}"#,
        )
        .unwrap();
        assert!(close(c.cost("p", "m", &usage(1, 1)).unwrap(), 3e-6));
    }
}
