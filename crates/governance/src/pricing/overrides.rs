//! Per-provider price overrides: `providers.<name>.pricing_overrides[]` in Bifrost's shape.
//!
//! An override names the models it covers (`model_pattern` with `match_type` `exact`,
//! `wildcard` or `regex`, the three Bifrost's config schema lists), the request types it covers
//! (`request_types`, Bifrost's names such as `chat_completion`; a `_stream` name covers the
//! same base type, as the base name covers its streams; empty covers every type) and the cost
//! fields it replaces. Fields it leaves out keep the catalog's price, so an override may change
//! only the output price. When several overrides of a provider match, the exact one wins, then
//! the wildcard with the most literal characters (`gpt-4o*` before `gpt-*`), then the first
//! regex in file order (Bifrost's order).
//!
//! A wildcard's `*` matches any run of characters. Bifrost's newest code only takes one
//! trailing `*` (a prefix); asbru also takes `*` elsewhere (`gpt-*-mini`), as older versions'
//! glob did, rather than refuse their files.

use super::{LongContext, Price};
use regex::Regex;
use serde_json::{Map, Value};

/// How `model_pattern` is matched against the model name (without `provider/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Exact,
    /// `prefix*`: every model starting with `prefix`.
    Wildcard,
    /// A regular expression that must match the whole model name.
    Regex,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Wildcard => "wildcard",
            Self::Regex => "regex",
        }
    }
}

/// The cost fields an override sets; `None` keeps the catalog's value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PricePatch {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub above_200k: LongContext,
}

/// The cost fields asbru applies, and where each goes in a [`PricePatch`].
const APPLIED_FIELDS: &[&str] = &[
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "input_cost_per_token_above_200k_tokens",
    "output_cost_per_token_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens",
    "cache_creation_input_token_cost_above_200k_tokens",
];

/// Bifrost's other cost fields of an override (media, characters, the 128k tier, batches):
/// accepted, and reported as not applied since asbru prices tokens only.
pub const UNAPPLIED_FIELDS: &[&str] = &[
    "input_cost_per_video_per_second",
    "input_cost_per_audio_per_second",
    "input_cost_per_character",
    "output_cost_per_character",
    "input_cost_per_token_above_128k_tokens",
    "input_cost_per_character_above_128k_tokens",
    "input_cost_per_image_above_128k_tokens",
    "input_cost_per_video_per_second_above_128k_tokens",
    "input_cost_per_audio_per_second_above_128k_tokens",
    "output_cost_per_token_above_128k_tokens",
    "output_cost_per_character_above_128k_tokens",
    "input_cost_per_token_batches",
    "output_cost_per_token_batches",
    "input_cost_per_image_token",
    "output_cost_per_image_token",
    "input_cost_per_image",
    "output_cost_per_image",
    "cache_read_input_image_token_cost",
];

/// One validated override.
#[derive(Debug, Clone)]
pub struct PricingOverride {
    pub model_pattern: String,
    pub match_type: MatchType,
    /// Base request types (`_stream` removed); empty: every type.
    pub request_types: Vec<String>,
    pub patch: PricePatch,
    /// For [`MatchType::Regex`], and wildcards with a `*` before the end: anchored to the
    /// whole name.
    regex: Option<Regex>,
}

/// A problem with one field of an override: the field's name (relative to the override) and
/// what is wrong.
pub type FieldIssue = (String, String);

impl PricingOverride {
    /// Reads one override object. `known_request_type` says whether a request type name exists.
    /// Returns every problem found, each with the field at fault; unapplied cost fields are
    /// not problems (see [`UNAPPLIED_FIELDS`]).
    pub fn parse(
        value: &Value,
        known_request_type: impl Fn(&str) -> bool,
    ) -> Result<Self, Vec<FieldIssue>> {
        let mut issues: Vec<FieldIssue> = Vec::new();
        let Some(obj) = value.as_object() else {
            return Err(vec![(String::new(), "must be an object".into())]);
        };
        for key in obj.keys() {
            // `id` and `name` (asbru's) let the admin API address an override.
            let known = matches!(
                key.as_str(),
                "model_pattern" | "match_type" | "request_types" | "id" | "name"
            ) || APPLIED_FIELDS.contains(&key.as_str())
                || UNAPPLIED_FIELDS.contains(&key.as_str());
            if !known {
                issues.push((key.clone(), "unknown field".into()));
            }
        }
        for key in ["id", "name"] {
            if obj.get(key).is_some_and(|v| !v.is_string() && !v.is_null()) {
                issues.push((key.into(), "must be a string".into()));
            }
        }
        let pattern = match obj.get("model_pattern") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::String(_)) | None => {
                issues.push(("model_pattern".into(), "required".into()));
                String::new()
            }
            Some(_) => {
                issues.push(("model_pattern".into(), "must be a string".into()));
                String::new()
            }
        };
        let match_type = match obj.get("match_type").and_then(Value::as_str) {
            Some("exact") => Some(MatchType::Exact),
            Some("wildcard") => Some(MatchType::Wildcard),
            Some("regex") => Some(MatchType::Regex),
            Some(other) => {
                issues.push((
                    "match_type".into(),
                    format!(
                        "unknown match type \"{other}\"; expected \"exact\", \"wildcard\" or \"regex\""
                    ),
                ));
                None
            }
            None => {
                issues.push((
                    "match_type".into(),
                    "required: \"exact\", \"wildcard\" or \"regex\"".into(),
                ));
                None
            }
        };
        let mut regex = None;
        if !pattern.is_empty() {
            match match_type {
                Some(MatchType::Exact) if pattern.contains('*') => issues.push((
                    "model_pattern".into(),
                    "an exact pattern must not contain `*` (use match_type \"wildcard\")".into(),
                )),
                Some(MatchType::Wildcard) if !pattern.contains('*') => {
                    issues.push((
                        "model_pattern".into(),
                        "a wildcard pattern needs a `*` (e.g. \"claude-3*\")".into(),
                    ));
                }
                Some(MatchType::Wildcard) if !is_prefix(&pattern) => {
                    let glob = pattern
                        .split('*')
                        .map(regex::escape)
                        .collect::<Vec<_>>()
                        .join(".*");
                    regex = Regex::new(&format!("^{glob}$")).ok();
                }
                Some(MatchType::Regex) => match Regex::new(&format!("^(?:{pattern})$")) {
                    Ok(r) => regex = Some(r),
                    Err(e) => issues.push(("model_pattern".into(), format!("invalid regex: {e}"))),
                },
                _ => {}
            }
        }
        let mut request_types = Vec::new();
        match obj.get("request_types") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(t) if known_request_type(t) => {
                            let base = t.strip_suffix("_stream").unwrap_or(t).to_owned();
                            if !request_types.contains(&base) {
                                request_types.push(base);
                            }
                        }
                        Some(t) => issues.push((
                            format!("request_types[{i}]"),
                            format!("unknown request type \"{t}\""),
                        )),
                        None => {
                            issues.push((format!("request_types[{i}]"), "must be a string".into()))
                        }
                    }
                }
            }
            Some(_) => issues.push((
                "request_types".into(),
                "must be an array of request types".into(),
            )),
        }
        let patch = read_patch(obj, &mut issues);
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(Self {
            model_pattern: pattern,
            match_type: match_type.unwrap_or(MatchType::Exact),
            request_types,
            patch,
            regex,
        })
    }

    /// Whether this override covers `model` for a request of `request_type` (Bifrost's name,
    /// with or without `_stream`).
    pub fn matches(&self, model: &str, request_type: &str) -> bool {
        let base = request_type.strip_suffix("_stream").unwrap_or(request_type);
        if !self.request_types.is_empty() && !self.request_types.iter().any(|t| t == base) {
            return false;
        }
        match self.match_type {
            MatchType::Exact => self.model_pattern == model,
            MatchType::Wildcard if self.regex.is_none() => {
                model.starts_with(self.model_pattern.trim_end_matches('*'))
            }
            MatchType::Wildcard | MatchType::Regex => {
                self.regex.as_ref().is_some_and(|r| r.is_match(model))
            }
        }
    }

    /// How specific a wildcard is: its characters other than `*`.
    fn literal_len(&self) -> usize {
        self.model_pattern.chars().filter(|c| *c != '*').count()
    }

    /// `base` with this override's fields replacing the catalog's.
    pub fn apply(&self, base: Price) -> Price {
        let p = &self.patch;
        let mut long = base.above_200k.unwrap_or_default();
        let l = &p.above_200k;
        long.input = l.input.or(long.input);
        long.output = l.output.or(long.output);
        long.cache_read = l.cache_read.or(long.cache_read);
        long.cache_write = l.cache_write.or(long.cache_write);
        Price {
            input: p.input.unwrap_or(base.input),
            output: p.output.unwrap_or(base.output),
            cache_read: p.cache_read.or(base.cache_read),
            cache_write: p.cache_write.or(base.cache_write),
            above_200k: (long != LongContext::default()).then_some(long),
        }
    }
}

/// Whether a wildcard pattern is a prefix: its one `*` at the end.
fn is_prefix(pattern: &str) -> bool {
    pattern.ends_with('*') && pattern.matches('*').count() == 1
}

/// Reads the applied cost fields: each a finite number ≥ 0 (or null, meaning unset).
fn read_patch(obj: &Map<String, Value>, issues: &mut Vec<FieldIssue>) -> PricePatch {
    let mut f = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Some(x),
            _ => {
                issues.push((
                    key.to_owned(),
                    "must be a number >= 0 (USD per token)".into(),
                ));
                None
            }
        },
    };
    let patch = PricePatch {
        input: f("input_cost_per_token"),
        output: f("output_cost_per_token"),
        cache_read: f("cache_read_input_token_cost"),
        cache_write: f("cache_creation_input_token_cost"),
        above_200k: LongContext {
            input: f("input_cost_per_token_above_200k_tokens"),
            output: f("output_cost_per_token_above_200k_tokens"),
            cache_read: f("cache_read_input_token_cost_above_200k_tokens"),
            cache_write: f("cache_creation_input_token_cost_above_200k_tokens"),
        },
    };
    for key in UNAPPLIED_FIELDS {
        if let Some(v) = obj.get(*key)
            && !v.is_null()
            && !v.as_f64().is_some_and(|x| x.is_finite() && x >= 0.0)
        {
            issues.push((
                (*key).to_owned(),
                "must be a number >= 0 (USD per unit)".into(),
            ));
        }
    }
    patch
}

/// A provider's overrides, ordered for lookup: exact, then wildcards by longest prefix, then
/// regexes in file order.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    ordered: Vec<PricingOverride>,
}

impl Overrides {
    pub fn new(list: Vec<PricingOverride>) -> Self {
        let mut ordered = list;
        // Stable: equal ranks keep file order.
        ordered.sort_by_key(|o| match o.match_type {
            MatchType::Exact => (0, 0),
            MatchType::Wildcard => (1, usize::MAX - o.literal_len()),
            MatchType::Regex => (2, 0),
        });
        Self { ordered }
    }

    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }

    /// The override that decides `model`'s price for `request_type`, if any.
    pub fn find(&self, model: &str, request_type: &str) -> Option<&PricingOverride> {
        self.ordered.iter().find(|o| o.matches(model, request_type))
    }

    /// `base` (the catalog's price, `None` when it has none) with the winning override
    /// applied. A model the catalog does not price gets a price from an override that sets
    /// both the input and the output price (a private model, a fine-tune); otherwise none.
    pub fn price(&self, model: &str, request_type: &str, base: Option<Price>) -> Option<Price> {
        let Some(o) = self.find(model, request_type) else {
            return base;
        };
        match base {
            Some(b) => Some(o.apply(b)),
            None if o.patch.input.is_some() && o.patch.output.is_some() => {
                Some(o.apply(Price::default()))
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<PricingOverride, Vec<FieldIssue>> {
        PricingOverride::parse(&v, |t| {
            [
                "chat_completion",
                "chat_completion_stream",
                "responses",
                "embedding",
            ]
            .contains(&t)
        })
    }

    fn base() -> Price {
        Price {
            input: 1e-6,
            output: 2e-6,
            cache_read: Some(0.5e-6),
            cache_write: None,
            above_200k: None,
        }
    }

    #[test]
    fn exact_wildcard_and_regex_patterns_match_as_documented() {
        let exact = parse(json!({"model_pattern": "gpt-4o", "match_type": "exact"})).unwrap();
        assert!(exact.matches("gpt-4o", "chat_completion"));
        assert!(!exact.matches("gpt-4o-mini", "chat_completion"));
        let wild = parse(json!({"model_pattern": "gpt-4o*", "match_type": "wildcard"})).unwrap();
        assert!(wild.matches("gpt-4o", "chat_completion"));
        assert!(wild.matches("gpt-4o-mini", "responses"));
        assert!(!wild.matches("gpt-4.1", "chat_completion"));
        let glob = parse(json!({"model_pattern": "gpt-*-mini", "match_type": "wildcard"})).unwrap();
        assert!(glob.matches("gpt-4o-mini", "chat_completion"));
        assert!(!glob.matches("gpt-4o-mini-2024", "chat_completion"));
        assert!(!glob.matches("xgpt-4o-mini", "chat_completion"));
        let re = parse(json!({"model_pattern": "claude-(sonnet|opus)-4.*", "match_type": "regex"}))
            .unwrap();
        assert!(re.matches("claude-sonnet-4-20250514", "chat_completion"));
        assert!(
            !re.matches("my-claude-sonnet-4", "chat_completion"),
            "anchored"
        );
    }

    #[test]
    fn request_types_restrict_and_cover_streams() {
        let o = parse(json!({"model_pattern": "m", "match_type": "exact",
                             "request_types": ["chat_completion"]}))
        .unwrap();
        assert!(o.matches("m", "chat_completion"));
        assert!(o.matches("m", "chat_completion_stream"));
        assert!(!o.matches("m", "responses"));
        let all = parse(json!({"model_pattern": "m", "match_type": "exact"})).unwrap();
        assert!(all.matches("m", "embedding"));
    }

    #[test]
    fn only_the_fields_given_replace_the_catalog_price() {
        let o = parse(json!({"model_pattern": "m", "match_type": "exact",
                             "output_cost_per_token": 5e-6,
                             "input_cost_per_token_above_200k_tokens": 3e-6}))
        .unwrap();
        let p = o.apply(base());
        assert_eq!(p.input, 1e-6);
        assert_eq!(p.output, 5e-6);
        assert_eq!(p.cache_read, Some(0.5e-6));
        assert_eq!(p.above_200k.unwrap().input, Some(3e-6));
        assert_eq!(p.above_200k.unwrap().output, None);
    }

    #[test]
    fn the_most_specific_override_wins() {
        let list = vec![
            parse(json!({"model_pattern": "gpt-*", "match_type": "wildcard", "input_cost_per_token": 1.0})).unwrap(),
            parse(json!({"model_pattern": "gpt-4.*", "match_type": "regex", "input_cost_per_token": 4.0})).unwrap(),
            parse(json!({"model_pattern": "gpt-4o*", "match_type": "wildcard", "input_cost_per_token": 2.0})).unwrap(),
            parse(json!({"model_pattern": "gpt-4o", "match_type": "exact", "input_cost_per_token": 3.0})).unwrap(),
        ];
        let o = Overrides::new(list);
        let input = |m: &str| o.price(m, "chat_completion", Some(base())).unwrap().input;
        assert_eq!(input("gpt-4o"), 3.0);
        assert_eq!(input("gpt-4o-mini"), 2.0);
        assert_eq!(input("gpt-5"), 1.0);
        assert_eq!(input("other"), 1e-6);
        // An unpriced model is priced only by an override with both token prices.
        assert!(o.price("gpt-x", "chat_completion", None).is_none());
        let full = Overrides::new(vec![
            parse(json!({"model_pattern": "mine", "match_type": "exact",
                         "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}))
            .unwrap(),
        ]);
        assert_eq!(
            full.price("mine", "chat_completion", None).unwrap().output,
            2e-6
        );
    }

    #[test]
    fn bad_fields_are_reported_each_at_its_name() {
        let issues = parse(json!({"model_pattern": "gpt", "match_type": "wildcard",
                                  "request_types": ["chat", 3], "input_cost_per_token": -1,
                                  "input_cost_per_image": "a", "colour": 1}))
        .unwrap_err();
        let fields: Vec<&str> = issues.iter().map(|(f, _)| f.as_str()).collect();
        for f in [
            "colour",
            "model_pattern",
            "request_types[0]",
            "request_types[1]",
            "input_cost_per_token",
            "input_cost_per_image",
        ] {
            assert!(fields.contains(&f), "{f} in {issues:?}");
        }
        let issues = parse(json!({"match_type": "glob"})).unwrap_err();
        let fields: Vec<&str> = issues.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["model_pattern", "match_type"]);
        assert!(parse(json!({"model_pattern": "a*", "match_type": "exact"})).is_err());
        assert!(parse(json!({"model_pattern": "(", "match_type": "regex"})).is_err());
    }
}
