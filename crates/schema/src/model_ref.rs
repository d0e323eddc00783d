//! `provider/model` strings, split the way Bifrost splits them.

/// A model named by the client as `provider/model`.
///
/// Only the first `/` separates, so `openrouter/anthropic/claude-3.5-sonnet` names provider
/// `openrouter` and model `anthropic/claude-3.5-sonnet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelRef<'a> {
    pub provider: &'a str,
    pub model: &'a str,
}

impl<'a> ModelRef<'a> {
    /// Splits `provider/model`; `None` when there is no `/` or either side is empty.
    pub fn parse(s: &'a str) -> Option<Self> {
        let (provider, model) = s.split_once('/')?;
        if provider.is_empty() || model.is_empty() {
            return None;
        }
        Some(Self { provider, model })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_first_slash_only() {
        let r = ModelRef::parse("openrouter/anthropic/claude-3.5-sonnet").unwrap();
        assert_eq!(r.provider, "openrouter");
        assert_eq!(r.model, "anthropic/claude-3.5-sonnet");
    }

    #[test]
    fn rejects_bare_and_empty_parts() {
        assert_eq!(ModelRef::parse("gpt-4o"), None);
        assert_eq!(ModelRef::parse("/gpt-4o"), None);
        assert_eq!(ModelRef::parse("openai/"), None);
    }
}
