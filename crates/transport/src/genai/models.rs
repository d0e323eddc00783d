//! `GET …/models` and `GET …/models/{model}`: the configured providers' models (`provider/model`
//! ids, as requests name them) in Gemini's `Model` shape — `name` is `models/{id}` — so the
//! SDKs' `models.list()` and `models.get()` work.
//!
//! The list is paged as Gemini pages it: `pageSize` (50 when absent or 0, at most 1000) and the
//! `nextPageToken` of the previous page, which here is the id of that page's last model (a token
//! this gateway did not hand out is refused).

use super::{ROUTE_PROVIDER, error_response, model_path};
use crate::respond::json_response;
use crate::state::AppState;
use asbru_schema::GatewayError;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{StatusCode, Uri};
use serde_json::{Map, Value, json};

/// Models a page holds when `pageSize` is absent or 0, and the most it may hold (Gemini's).
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;

/// The list's query: Gemini's paging, and the gateway's `provider` filter.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    page_size: Option<usize>,
    page_token: Option<String>,
    provider: Option<String>,
}

/// `GET …/models`.
pub(crate) async fn list_models(State(state): State<AppState>, uri: Uri) -> Response {
    match list(&state, &uri).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

async fn list(state: &AppState, uri: &Uri) -> Result<Response, GatewayError> {
    let Query(query) = Query::<ListQuery>::try_from_uri(uri).map_err(|e| {
        GatewayError::invalid_request(format!("invalid query: {}", e.body_text()), None)
    })?;
    let listed = state.gateway.list_models(query.provider.as_deref()).await?;
    let all: Vec<Value> = listed.iter().filter_map(gemini_model).collect();
    let start = match query.page_token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => {
            let name = format!("models/{token}");
            all.iter()
                .position(|m| m["name"] == name.as_str())
                .map(|i| i + 1)
                .ok_or_else(|| {
                    GatewayError::invalid_request(
                        "pageToken: not a nextPageToken of this list",
                        Some("pageToken"),
                    )
                })?
        }
    };
    let size = match query.page_size {
        None | Some(0) => DEFAULT_PAGE,
        Some(n) => n.min(MAX_PAGE),
    };
    let rest = all.get(start..).unwrap_or_default();
    let page = &rest[..size.min(rest.len())];
    let mut body = json!({ "models": page });
    if page.len() < rest.len()
        && let Some(last) = page.last().and_then(|m| m["name"].as_str())
    {
        body["nextPageToken"] = Value::from(last.strip_prefix("models/").unwrap_or(last));
    }
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// `GET …/models/{model}`: one model, looked up in the list of the provider its name gives (a
/// name without a configured `provider/` prefix is the `gemini` provider's).
pub(crate) async fn get_model(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let found = match model_path(path) {
        Ok(name) => find(&state, &name).await,
        Err(e) => Err(e),
    };
    match found {
        Ok(model) => json_response(StatusCode::OK, model.to_string()),
        Err(e) => error_response(&e),
    }
}

async fn find(state: &AppState, name: &str) -> Result<Value, GatewayError> {
    let configured = state.gateway.provider_names();
    let is_configured = |p: &str| configured.iter().any(|c| c == p);
    let (provider, id) = match name.split_once('/') {
        Some((provider, _)) if is_configured(provider) => (provider, name.to_owned()),
        _ => (ROUTE_PROVIDER, format!("{ROUTE_PROVIDER}/{name}")),
    };
    let missing = || GatewayError::not_found(format!("models/{name} is not found"));
    if !is_configured(provider) {
        return Err(missing());
    }
    let listed = state.gateway.list_models(Some(provider)).await?;
    listed
        .iter()
        .find(|m| m["id"] == id.as_str())
        .and_then(gemini_model)
        .ok_or_else(missing)
}

/// One model of the gateway's list (OpenAI's shape, with the details providers report) as
/// Gemini's `Model`.
fn gemini_model(model: &Value) -> Option<Value> {
    let id = model.get("id")?.as_str()?;
    let mut out = Map::new();
    out.insert("name".to_owned(), Value::from(format!("models/{id}")));
    out.insert("baseModelId".to_owned(), Value::from(id));
    let display = model
        .get("display_name")
        .and_then(Value::as_str)
        .unwrap_or(id);
    out.insert("displayName".to_owned(), Value::from(display));
    let details = [
        ("context_length", "inputTokenLimit"),
        ("max_output_tokens", "outputTokenLimit"),
        ("supported_methods", "supportedGenerationMethods"),
    ];
    for (from, to) in details {
        if let Some(value) = model.get(from).filter(|v| !v.is_null()) {
            out.insert(to.to_owned(), value.clone());
        }
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::gemini_model;
    use serde_json::json;

    #[test]
    fn models_take_geminis_shape() {
        let model = json!({"id": "gemini/gemini-2.5-flash", "object": "model", "created": 0,
                           "owned_by": "google", "display_name": "Gemini 2.5 Flash",
                           "context_length": 1_048_576,
                           "supported_methods": ["generateContent", "countTokens"]});
        assert_eq!(
            gemini_model(&model).unwrap(),
            json!({"name": "models/gemini/gemini-2.5-flash",
                   "baseModelId": "gemini/gemini-2.5-flash",
                   "displayName": "Gemini 2.5 Flash", "inputTokenLimit": 1_048_576,
                   "supportedGenerationMethods": ["generateContent", "countTokens"]})
        );
        assert_eq!(
            gemini_model(&json!({"id": "openai/gpt-4o"})).unwrap()["displayName"],
            "openai/gpt-4o"
        );
        assert!(gemini_model(&json!({"object": "model"})).is_none());
    }
}
