//! The operations the OpenAI-compatible adapter performs.

/// An upstream operation, named after Bifrost's request types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    ChatCompletion,
    TextCompletion,
    Embedding,
    ListModels,
    /// Counting a request's input tokens (`/v1/responses/input_tokens`): the body is a
    /// Responses-API request; OpenAI counts it itself, Anthropic and Gemini through their
    /// count-tokens endpoints.
    CountTokens,
    /// `POST /v1/rerank` (Bifrost's rerank): order documents by relevance to a query.
    Rerank,
    /// `POST /v1/responses`: a Responses-API request, answered with a `response` object or the
    /// typed event stream. Providers with OpenAI's Responses endpoint take it as it is; every
    /// other adapter serves it through its chat API (see `crate::responses`).
    Responses,
}

impl Operation {
    /// Bifrost's request-type name, as used in `custom_provider_config.allowed_requests` and
    /// `request_path_overrides`; streaming variants add `_stream`.
    pub fn request_type(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Self::ChatCompletion, false) => "chat_completion",
            (Self::ChatCompletion, true) => "chat_completion_stream",
            (Self::TextCompletion, false) => "text_completion",
            (Self::TextCompletion, true) => "text_completion_stream",
            (Self::Embedding, _) => "embedding",
            (Self::ListModels, _) => "list_models",
            (Self::CountTokens, _) => "count_tokens",
            (Self::Rerank, _) => "rerank",
            (Self::Responses, false) => "responses",
            (Self::Responses, true) => "responses_stream",
        }
    }

    /// The `object`-style name Bifrost reports in `extra_fields.request_type`.
    pub fn response_type(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Self::ChatCompletion, false) => "chat.completion",
            (Self::ChatCompletion, true) => "chat.completion.chunk",
            (Self::TextCompletion, _) => "text.completion",
            (Self::Embedding, _) => "embedding",
            (Self::ListModels, _) => "list_models",
            (Self::CountTokens, _) => "response.input_tokens",
            (Self::Rerank, _) => "rerank",
            (Self::Responses, false) => "response",
            (Self::Responses, true) => "response.event",
        }
    }
}
