//! Rerank: Bifrost's `POST /v1/rerank` (see [`asbru_schema::rerank`]) to Cohere's
//! `POST /v2/rerank` and back.
//!
//! Cohere v2 takes the documents as strings, so ids and `meta` stay on the gateway side: with
//! `return_documents`, the answer carries each request document (id and meta included) beside its
//! score, as Bifrost does. Results are ordered best first (Cohere already does; ties keep the
//! request order). Usage: `meta.tokens` (else `billed_units`) input/output tokens, and the
//! `search_units` Cohere bills rerank in.

use super::types::{Meta, RerankRequest as CohereRerank, RerankResponse as CohereRanked};
use super::types::{RerankResult as CohereResult, Units};
use asbru_schema::rerank::{
    RerankDocument, RerankRequest, RerankResponse, RerankResult, RerankUsage,
};
use serde_json::Map;

/// The Cohere rerank request for a unified one.
pub fn to_cohere_rerank(req: &RerankRequest) -> CohereRerank {
    CohereRerank {
        model: req.model.clone(),
        query: req.query.clone(),
        documents: req.documents.iter().map(|d| d.text.clone()).collect(),
        top_n: req.top_n,
        max_tokens_per_doc: req.max_tokens_per_doc,
        priority: req.priority,
        extra: Map::new(),
    }
}

/// The unified rerank answer for Cohere's; `req` is the request it answers.
pub fn from_cohere_rerank(resp: &CohereRanked, req: &RerankRequest, model: &str) -> RerankResponse {
    let return_documents = req.return_documents == Some(true);
    let mut results: Vec<RerankResult> = resp
        .results
        .iter()
        .map(|r| RerankResult {
            index: r.index,
            relevance_score: r.relevance_score,
            document: return_documents
                .then(|| usize::try_from(r.index).ok())
                .flatten()
                .and_then(|i| req.documents.get(i).cloned()),
        })
        .collect();
    results.sort_by(|a, b| {
        b.relevance_score
            .total_cmp(&a.relevance_score)
            .then(a.index.cmp(&b.index))
    });
    let usage = resp.meta.as_ref().map(|meta| {
        let pick = |f: fn(&Units) -> Option<u64>| {
            meta.tokens
                .as_ref()
                .and_then(f)
                .or_else(|| meta.billed_units.as_ref().and_then(f))
                .unwrap_or(0)
        };
        let (prompt, completion) = (pick(|u| u.input_tokens), pick(|u| u.output_tokens));
        RerankUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            search_units: meta.billed_units.as_ref().and_then(|b| b.search_units),
        }
    });
    RerankResponse {
        id: resp.id.clone(),
        results,
        model: model.to_owned(),
        usage,
        extra: Map::new(),
    }
}

/// The unified rerank request for a Cohere one (the `/cohere/v2/rerank` drop-in route).
pub fn from_cohere_rerank_request(req: &CohereRerank) -> RerankRequest {
    RerankRequest {
        model: req.model.clone(),
        query: req.query.clone(),
        documents: req.documents.iter().map(RerankDocument::text).collect(),
        top_n: req.top_n,
        max_tokens_per_doc: req.max_tokens_per_doc,
        priority: req.priority,
        return_documents: None,
        extra: req.extra.clone(),
    }
}

/// Cohere's rerank answer for a unified one.
pub fn to_cohere_rerank_response(resp: &RerankResponse) -> CohereRanked {
    CohereRanked {
        id: resp.id.clone(),
        results: resp
            .results
            .iter()
            .map(|r| CohereResult {
                index: r.index,
                relevance_score: r.relevance_score,
            })
            .collect(),
        meta: resp.usage.map(|u| Meta {
            billed_units: Some(Units {
                search_units: u.search_units,
                ..Units::default()
            }),
            tokens: (u.total_tokens > 0).then_some(Units {
                input_tokens: Some(u.prompt_tokens),
                output_tokens: Some(u.completion_tokens),
                ..Units::default()
            }),
            extra: Map::new(),
        }),
    }
}
