//! Request handling: recording, latency, faults, auth, routing, and the control routes.
//!
//! Five dialects share this path: OpenAI's (Azure OpenAI's `…/openai/deployments/{d}/…` and
//! `…/openai/models` routes included, which also require a known `api-version`); Anthropic's for `…/v1/messages`,
//! `…/v1/messages/count_tokens`, and for `…/models` or an unknown path when the request carries
//! Anthropic's headers; Gemini's for `…/models/{model}:{method}` paths, and for `…/models`
//! paths under `/v1beta/` or with Google's key; Bedrock's for `POST …/model/{modelId}/converse`,
//! `…/converse-stream` and `…/invoke`; and Cohere's for `POST …/v2/chat`, `…/v2/embed`,
//! `…/v2/rerank` and `GET …/v1/models?page_size=…`. Each answers, and fails, in its own shape.
//! Vertex AI's publisher-model paths (`…/publishers/{google|anthropic}/models/{model}:{method}`)
//! are answered in Gemini's or Anthropic's shape by publisher, after Google Cloud's
//! authentication.

use crate::anthropic::{self, AnthropicError};
use crate::bedrock::{self, BedrockError};
use crate::body::{MockBody, Step};
use crate::cohere::{self, CohereError};
use crate::fault::Fault;
use crate::gemini::{self, GeminiError};
use crate::openai::{self, ApiError, Meta};
use crate::record::RecordedRequest;
use crate::responses;
use crate::server::ConnCtl;
use crate::state::{RandomFaults, Shared};
use crate::vertex;
use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, RETRY_AFTER,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Control routes live under this path segment, wherever it appears, so they work behind the
/// same base-URL prefixes as the API routes.
const CONTROL_PREFIX: &str = "/__mock/";

/// The frame a `MalformedJson` fault puts into a stream: an SSE event whose data does not parse.
const MALFORMED_FRAME: &[u8] =
    b"data: {\"id\":\"chatcmpl-broken\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\n\n";

const MISSING_KEY: &str = "You didn't provide an API key. You need to provide your API key in an \
    Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the \
    password field (with blank username) if you're accessing the API from your browser and are \
    prompted for a username. You can obtain an API key from \
    https://platform.openai.com/account/api-keys.";

/// The API routes, recognised by path suffix so that any base-URL prefix works.
enum Route<'a> {
    /// Bedrock's `POST …/model/{modelId}/converse` (false) or `…/converse-stream` (true), with
    /// the model id as it appears in the path (still percent-encoded).
    Converse(&'a str, bool),
    /// Bedrock's `POST …/model/{modelId}/invoke` (embedding models), the id still encoded.
    Invoke(&'a str),
    /// Anthropic's `POST …/messages`.
    Messages,
    /// Anthropic's `POST …/messages/count_tokens`.
    CountTokens,
    Chat,
    Text,
    Embeddings,
    /// OpenAI's `POST …/responses/input_tokens`.
    InputTokens,
    /// OpenAI's `POST …/responses`; see [`crate::responses`].
    Responses,
    Models,
    Model(&'a str),
    /// A Gemini route; see [`gemini::Route::of`].
    Gemini(gemini::Route<'a>),
    /// A Cohere v2 route; see [`cohere::Route::of`].
    Cohere(cohere::Route),
    /// A Vertex AI publisher-model route; see [`vertex::Route::of`].
    Vertex(vertex::Route<'a>),
    Unknown,
}

impl<'a> Route<'a> {
    fn of(method: &Method, path: &'a str) -> Self {
        let path = path.trim_end_matches('/');
        let post = method == Method::POST;
        let get = method == Method::GET;
        if post && let Some((model, stream)) = bedrock_path(path) {
            Route::Converse(model, stream)
        } else if post && let Some(model) = invoke_path(path) {
            Route::Invoke(model)
        } else if path.ends_with("/messages/count_tokens") {
            if post {
                Route::CountTokens
            } else {
                Route::Unknown
            }
        } else if path.ends_with("/messages") {
            if post {
                Route::Messages
            } else {
                Route::Unknown
            }
        } else if path.ends_with("/responses/input_tokens") {
            if post {
                Route::InputTokens
            } else {
                Route::Unknown
            }
        } else if path.ends_with("/responses") {
            if post {
                Route::Responses
            } else {
                Route::Unknown
            }
        } else if path.ends_with("/chat/completions") {
            if post { Route::Chat } else { Route::Unknown }
        } else if path.ends_with("/completions") {
            if post { Route::Text } else { Route::Unknown }
        } else if path.ends_with("/embeddings") {
            if post {
                Route::Embeddings
            } else {
                Route::Unknown
            }
        } else if path.ends_with("/models") {
            if get { Route::Models } else { Route::Unknown }
        } else if let Some(at) = path.rfind("/models/") {
            if get {
                Route::Model(&path[at + "/models/".len()..])
            } else {
                Route::Unknown
            }
        } else {
            Route::Unknown
        }
    }

    fn takes_json(&self) -> bool {
        match self {
            Route::Gemini(g) => g.takes_json(),
            Route::Cohere(c) => c.takes_json(),
            Route::Vertex(v) => v.action != vertex::Action::Unknown,
            _ => matches!(
                self,
                Route::Chat
                    | Route::Text
                    | Route::Embeddings
                    | Route::InputTokens
                    | Route::Responses
                    | Route::Messages
                    | Route::CountTokens
                    | Route::Converse(..)
                    | Route::Invoke(_)
            ),
        }
    }
}

/// The raw model id and the streaming flag of a Converse path
/// (`…/model/{modelId}/converse[-stream]`).
fn bedrock_path(path: &str) -> Option<(&str, bool)> {
    let (rest, stream) = match path.strip_suffix("/converse-stream") {
        Some(rest) => (rest, true),
        None => (path.strip_suffix("/converse")?, false),
    };
    let at = rest.rfind("/model/")?;
    let model = &rest[at + "/model/".len()..];
    (!model.is_empty() && !model.contains('/')).then_some((model, stream))
}

/// The raw model id of an InvokeModel path (`…/model/{modelId}/invoke`).
fn invoke_path(path: &str) -> Option<&str> {
    let rest = path.strip_suffix("/invoke")?;
    let at = rest.rfind("/model/")?;
    let model = &rest[at + "/model/".len()..];
    (!model.is_empty() && !model.contains('/')).then_some(model)
}

/// The wire format a request is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
}

impl Dialect {
    /// Anthropic's own paths are Anthropic; the paths both APIs have (`…/models`), and paths
    /// neither serves, are Anthropic when the request carries Anthropic's headers, so existing
    /// OpenAI clients see no change.
    fn of(route: &Route<'_>, headers: &HeaderMap) -> Self {
        match route {
            Route::Gemini(_) => Dialect::Gemini,
            Route::Cohere(_) => Dialect::Cohere,
            Route::Vertex(v) if v.is_anthropic() => Dialect::Anthropic,
            Route::Vertex(_) => Dialect::Gemini,
            Route::Messages | Route::CountTokens => Dialect::Anthropic,
            Route::Converse(..) | Route::Invoke(_) => Dialect::Bedrock,
            Route::Models | Route::Model(_) | Route::Unknown
                if anthropic::is_anthropic(headers) =>
            {
                Dialect::Anthropic
            }
            _ => Dialect::OpenAi,
        }
    }

    /// The frame a `MalformedJson` fault slips into a stream of this dialect.
    fn malformed_frame(self) -> &'static [u8] {
        match self {
            Dialect::OpenAi => MALFORMED_FRAME,
            Dialect::Anthropic => anthropic::MALFORMED_FRAME,
            Dialect::Gemini => gemini::MALFORMED_FRAME,
            Dialect::Bedrock => bedrock::MALFORMED_FRAME,
            Dialect::Cohere => cohere::MALFORMED_FRAME,
        }
    }

    /// The media type of this dialect's streams.
    fn stream_content_type(self) -> &'static str {
        match self {
            Dialect::OpenAi | Dialect::Anthropic | Dialect::Gemini | Dialect::Cohere => {
                "text/event-stream"
            }
            Dialect::Bedrock => bedrock::EVENT_STREAM,
        }
    }
}

/// What an API route answers before faults shape its delivery.
enum Payload {
    Json(Bytes),
    Sse(Vec<Bytes>),
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    ctl: Arc<ConnCtl>,
    req: Request<Incoming>,
) -> Response<MockBody> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let err = ApiError::invalid("Could not read the request body.", None, None);
            return error_response(&err, None);
        }
    };
    let path = parts.uri.path();
    if let Some(at) = path.find(CONTROL_PREFIX) {
        return control(
            &shared,
            &parts.method,
            &path[at + CONTROL_PREFIX.len()..],
            &body,
        );
    }
    if parts.method == Method::POST
        && let Some(reply) = shared.oauth.handle(path, &body)
    {
        if shared.recording() {
            shared.recorder.push(record(&parts, &body));
        }
        let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST);
        return json_response(status, reply.body, None);
    }
    // Taken on arrival, so a release that happens while this request is still in its latency
    // or delay lets it through.
    let generation = *shared.release.borrow();
    if shared.recording() {
        shared.recorder.push(record(&parts, &body));
    }
    if !shared.opts.latency.is_zero() {
        tokio::time::sleep(shared.opts.latency).await;
    }
    let seq = shared.next_id();
    let query = parts.uri.query();
    let cohere_route = cohere::Route::of(
        parts.method == Method::POST,
        parts.method == Method::GET,
        path,
        query,
    );
    let route = if let Some(v) = vertex::Route::of(&parts.method, path) {
        Route::Vertex(v)
    } else if let Some(c) = cohere_route {
        Route::Cohere(c)
    } else if let Some(g) = gemini::Route::of(&parts.method, path, &parts.headers, query) {
        Route::Gemini(g)
    } else {
        Route::of(&parts.method, path)
    };
    let dialect = Dialect::of(&route, &parts.headers);
    if dialect == Dialect::Anthropic && body.len() > anthropic::MAX_BODY_BYTES {
        return anthropic_error(&anthropic::too_large(), seq);
    }
    let mut json = route
        .takes_json()
        .then(|| serde_json::from_slice::<Value>(&body));
    // Azure routes by the deployment in the path and does not need `model` in the body; the
    // mock answers as that deployment then.
    if let Some(Ok(Value::Object(fields))) = &mut json
        && !fields.contains_key("model")
        && let Some(deployment) = azure_deployment(path)
    {
        fields.insert("model".to_owned(), Value::String(deployment.to_owned()));
    }
    // Gemini and Bedrock name the model in the path, not the body.
    let path_model = match route {
        Route::Converse(raw, _) | Route::Invoke(raw) => Some(bedrock::decode_model(raw)),
        _ => None,
    };
    let model = match (&route, &path_model, &json) {
        (Route::Gemini(g), _, _) => g.model(),
        (Route::Vertex(v), _, _) => Some(v.model),
        (_, Some(m), _) => Some(m.as_str()),
        (_, None, Some(Ok(v))) => v.get("model").and_then(Value::as_str),
        _ => None,
    };
    let key = match dialect {
        Dialect::Bedrock => bedrock::presented_key(&parts.headers),
        _ => presented_key(&parts.headers).or_else(|| gemini::query_key(query)),
    };

    let mut delivery_fault = None;
    match shared.take_fault(model, key) {
        None => {}
        Some(Fault::Status { status, message }) => {
            return match dialect {
                Dialect::OpenAi => error_response(&status_fault(status, &message), Some(seq)),
                Dialect::Anthropic => {
                    anthropic_error(&AnthropicError::from_status(status, &message), seq)
                }
                Dialect::Gemini => gemini_error(&GeminiError::from_status(status, &message)),
                Dialect::Bedrock => {
                    bedrock_error(&BedrockError::from_status(status, &message), seq)
                }
                Dialect::Cohere => cohere_error(&CohereError::from_status(status, &message), seq),
            };
        }
        Some(Fault::RateLimited { retry_after_secs }) => {
            return match dialect {
                Dialect::OpenAi => rate_limited(retry_after_secs, seq),
                Dialect::Anthropic => anthropic_rate_limited(retry_after_secs, seq),
                Dialect::Gemini => gemini_rate_limited(retry_after_secs),
                Dialect::Cohere => {
                    let mut resp = cohere_error(&CohereError::from_status(429, ""), seq);
                    resp.headers_mut()
                        .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
                    resp
                }
                Dialect::Bedrock => {
                    let mut resp = bedrock_error(&bedrock::throttled(), seq);
                    resp.headers_mut()
                        .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
                    resp
                }
            };
        }
        Some(Fault::Body {
            status,
            content_type,
            body,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut resp = json_response_in(dialect, status, Bytes::from(body), Some(seq));
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                resp.headers_mut().insert(CONTENT_TYPE, value);
            }
            return resp;
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::Oversized { bytes, chunked }) => {
            return oversized(dialect, bytes, chunked, ctl, seq, &shared);
        }
        Some(Fault::Reset) => {
            ctl.reset();
            // The connection task drops this future together with the connection.
            return std::future::pending().await;
        }
        Some(other) => delivery_fault = Some(other),
    }

    // Headers some answers add (Bedrock's InvokeModel token count).
    let mut extra_headers = HeaderMap::new();
    let payload = match dialect {
        Dialect::Gemini | Dialect::Anthropic if matches!(route, Route::Vertex(_)) => {
            let Route::Vertex(v) = route else {
                return gemini_error(&vertex::not_found(path));
            };
            if let Err(err) = vertex::check_auth(&shared, &parts.headers, query) {
                return gemini_error(&err);
            }
            let value = match &json {
                Some(Ok(value)) => value,
                Some(Err(_)) if v.is_anthropic() => {
                    return anthropic_error(&anthropic::unparsable_body(), seq);
                }
                Some(Err(_)) => return gemini_error(&gemini::unparsable_body()),
                None => &Value::Null,
            };
            match answer_vertex(&shared, v, value, query, path, seq) {
                Ok(p) => p,
                Err(VertexError::Google(err)) => return gemini_error(&err),
                Err(VertexError::Anthropic(err)) => return anthropic_error(&err, seq),
            }
        }
        Dialect::OpenAi => {
            if let Err(err) = check_azure_api_version(path, query) {
                return error_response(&err, Some(seq));
            }
            if let Err(err) = check_auth(&shared, &parts.headers) {
                return error_response(&err, Some(seq));
            }
            let payload = match &json {
                Some(Ok(value)) => answer(&shared, &route, value, seq),
                Some(Err(_)) => Err(openai::unparsable_body()),
                None => answer(&shared, &route, &Value::Null, seq),
            };
            match payload {
                Ok(p) => p,
                Err(err) => return error_response(&err, Some(seq)),
            }
        }
        Dialect::Gemini => {
            let Route::Gemini(g) = route else {
                return gemini_error(&gemini::not_found(path));
            };
            let payload =
                gemini::check_key(&shared, &parts.headers, query).and_then(|()| match &json {
                    Some(Ok(value)) => answer_gemini(&shared, g, value, query, path, seq),
                    Some(Err(_)) => Err(gemini::unparsable_body()),
                    None => answer_gemini(&shared, g, &Value::Null, query, path, seq),
                });
            match payload {
                Ok(p) => p,
                Err(err) => return gemini_error(&err),
            }
        }
        Dialect::Anthropic => {
            let payload =
                anthropic::check_headers(&shared, &parts.headers).and_then(|()| match &json {
                    Some(Ok(value)) => answer_anthropic(&shared, &route, value, query, seq),
                    Some(Err(_)) => Err(anthropic::unparsable_body()),
                    None => answer_anthropic(&shared, &route, &Value::Null, query, seq),
                });
            match payload {
                Ok(p) => p,
                Err(err) => return anthropic_error(&err, seq),
            }
        }
        Dialect::Cohere => {
            let Route::Cohere(c) = route else {
                return cohere_error(&cohere::not_found(), seq);
            };
            let payload = cohere::check_auth(&shared, &parts.headers).and_then(|()| match &json {
                Some(Ok(value)) => answer_cohere(&shared, c, value, seq),
                Some(Err(_)) => Err(cohere::unparsable_body()),
                None => answer_cohere(&shared, c, &Value::Null, seq),
            });
            match payload {
                Ok(p) => p,
                Err(err) => return cohere_error(&err, seq),
            }
        }
        Dialect::Bedrock => {
            let auth = bedrock::AuthRequest {
                method: parts.method.as_str(),
                raw_path: path,
                query: parts.uri.query(),
                headers: &parts.headers,
                body: &body,
            };
            let payload =
                bedrock::check_auth(&shared, &auth).and_then(|()| match (&json, &route) {
                    (Some(Ok(value)), Route::Converse(_, stream)) => {
                        answer_bedrock(&shared, value, model.unwrap_or_default(), *stream, seq)
                    }
                    (Some(Ok(value)), Route::Invoke(_)) => {
                        bedrock::invoke(value, model.unwrap_or_default()).map(|invoked| {
                            extra_headers.insert(
                                HeaderName::from_static(bedrock::INPUT_TOKENS_HEADER),
                                HeaderValue::from(invoked.input_tokens),
                            );
                            Payload::Json(invoked.body)
                        })
                    }
                    (Some(Err(_)), _) => Err(bedrock::unparsable_body()),
                    _ => Err(bedrock::unknown_operation()),
                });
            match payload {
                Ok(p) => p,
                Err(err) => return bedrock_error(&err, seq),
            }
        }
    };

    let mut response = match payload {
        Payload::Json(bytes) => match delivery_fault {
            Some(Fault::MalformedJson) => {
                // A strict prefix of a JSON object never parses.
                json_response_in(
                    dialect,
                    StatusCode::OK,
                    bytes.slice(..bytes.len() / 2),
                    Some(seq),
                )
            }
            Some(Fault::StreamCut { .. }) => {
                let full_len = bytes.len();
                let steps = VecDeque::from([Step::Frame(bytes.slice(..full_len / 2)), Step::Cut]);
                let mut resp = with_request_id(
                    dialect,
                    Response::new(MockBody::script(steps, ctl)),
                    StatusCode::OK,
                    Some(seq),
                );
                let headers = resp.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(CONTENT_LENGTH, HeaderValue::from(full_len));
                resp
            }
            Some(Fault::HoldStream) => {
                let mut rx = shared.release.subscribe();
                // An error means the server is shutting down; answer anyway.
                let _ = rx.wait_for(|g| *g > generation).await;
                json_response_in(dialect, StatusCode::OK, bytes, Some(seq))
            }
            _ => json_response_in(dialect, StatusCode::OK, bytes, Some(seq)),
        },
        Payload::Sse(frames) => {
            let steps = sse_script(&shared, frames, delivery_fault, generation, dialect);
            let mut resp = with_request_id(
                dialect,
                Response::new(MockBody::script(steps, ctl)),
                StatusCode::OK,
                Some(seq),
            );
            let headers = resp.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(dialect.stream_content_type()),
            );
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
    };
    response.headers_mut().extend(extra_headers);
    response
}

fn answer(shared: &Shared, route: &Route<'_>, body: &Value, seq: u64) -> Result<Payload, ApiError> {
    let created = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    Ok(match route {
        Route::Chat => {
            let req = openai::parse_chat(body)?;
            let id = format!("chatcmpl-mock{seq:012}");
            let meta = Meta {
                id: &id,
                created: created(),
                model: req.common.model,
            };
            let answer = openai::plan_chat(shared, &req);
            if req.common.stream {
                Payload::Sse(openai::chat_stream(shared, &meta, &req, &answer, seq))
            } else {
                Payload::Json(openai::chat_completion(shared, &meta, &req, &answer, seq))
            }
        }
        Route::Text => {
            let req = openai::parse_text(body)?;
            let id = format!("cmpl-mock{seq:012}");
            let meta = Meta {
                id: &id,
                created: created(),
                model: req.common.model,
            };
            if req.common.stream {
                Payload::Sse(openai::text_stream(shared, &meta, &req))
            } else {
                Payload::Json(openai::text_completion(shared, &meta, &req))
            }
        }
        Route::Embeddings => Payload::Json(openai::embeddings(&openai::parse_embeddings(body)?)),
        Route::InputTokens => Payload::Json(openai::input_tokens(body)?),
        Route::Responses => match responses::answer(shared, body, seq, created())? {
            responses::Answer::Json(b) => Payload::Json(b),
            responses::Answer::Events(frames) => Payload::Sse(frames),
        },
        Route::Models => Payload::Json(openai::model_list(&shared.opts.models)),
        Route::Model(id) => {
            if shared.opts.models.iter().any(|m| m == id) {
                Payload::Json(openai::model_object(id))
            } else {
                return Err(ApiError {
                    status: StatusCode::NOT_FOUND,
                    message: format!(
                        "The model '{id}' does not exist or you do not have access to it."
                    ),
                    kind: "invalid_request_error",
                    param: None,
                    code: Some("model_not_found"),
                });
            }
        }
        // Anthropic's, Gemini's and Bedrock's routes never reach the OpenAI dialect; see
        // `Dialect::of`.
        Route::Unknown
        | Route::Messages
        | Route::CountTokens
        | Route::Gemini(_)
        | Route::Cohere(_)
        | Route::Vertex(_)
        | Route::Converse(..)
        | Route::Invoke(_) => {
            return Err(invalid_url());
        }
    })
}

/// The Anthropic routes' answers.
fn answer_anthropic(
    shared: &Shared,
    route: &Route<'_>,
    body: &Value,
    query: Option<&str>,
    seq: u64,
) -> Result<Payload, AnthropicError> {
    Ok(match route {
        Route::Messages => {
            let req = anthropic::parse_messages(body)?;
            if !req.stream
                && let Some(err) = &req.fail_with
            {
                return Err(err.clone());
            }
            let reply = anthropic::plan(shared, &req, seq);
            let id = format!("msg_mock{seq:016}");
            if req.stream {
                Payload::Sse(anthropic::stream(shared, &id, &req, &reply))
            } else {
                Payload::Json(anthropic::message(&id, &req, &reply))
            }
        }
        Route::CountTokens => Payload::Json(anthropic::count_tokens(
            &anthropic::parse_count_tokens(body)?,
        )),
        Route::Models => Payload::Json(anthropic::model_list(&shared.opts.models, query)?),
        Route::Model(id) => Payload::Json(anthropic::model_object(&shared.opts.models, id)?),
        Route::Chat
        | Route::Text
        | Route::Embeddings
        | Route::InputTokens
        | Route::Responses
        | Route::Gemini(_)
        | Route::Cohere(_)
        | Route::Vertex(_)
        | Route::Unknown
        | Route::Converse(..)
        | Route::Invoke(_) => {
            return Err(anthropic::not_found());
        }
    })
}

/// The Gemini routes' answers. `streamGenerateContent` is an SSE stream with `alt=sse`, else a
/// JSON array of the same chunks, as the API sends it.
fn answer_gemini(
    shared: &Shared,
    route: gemini::Route<'_>,
    body: &Value,
    query: Option<&str>,
    path: &str,
    seq: u64,
) -> Result<Payload, GeminiError> {
    let answer = |a: gemini::Answer| match a {
        gemini::Answer::Json(b) => Payload::Json(b),
        gemini::Answer::Frames(f) => Payload::Sse(f),
    };
    Ok(match route {
        gemini::Route::Generate(model) => {
            let req = gemini::parse_generate(body, model)?;
            answer(gemini::generate(shared, &req, seq, None)?)
        }
        gemini::Route::Stream(model) => {
            let req = gemini::parse_generate(body, model)?;
            let sse = gemini::query_param(query, "alt") == Some("sse");
            answer(gemini::generate(shared, &req, seq, Some(sse))?)
        }
        gemini::Route::Embed(_) => Payload::Json(gemini::embed_one(&gemini::parse_embed(body)?)),
        gemini::Route::BatchEmbed(model) => Payload::Json(gemini::batch_embed(
            &gemini::parse_batch_embed(body, model)?,
        )),
        gemini::Route::CountTokens(model) => Payload::Json(gemini::count_tokens(
            gemini::parse_count_tokens(body, model)?,
        )),
        gemini::Route::Models => Payload::Json(gemini::model_list(&shared.opts.models, query)?),
        gemini::Route::Model(id) => Payload::Json(gemini::model_object(&shared.opts.models, id)?),
        gemini::Route::Unknown => return Err(gemini::not_found(path)),
    })
}

/// The Cohere routes' answers: chat as JSON or the event stream, embed, rerank, models.
fn answer_cohere(
    shared: &Shared,
    route: cohere::Route,
    body: &Value,
    seq: u64,
) -> Result<Payload, CohereError> {
    let id = format!("00000000-0000-4000-8000-{seq:012}");
    Ok(match route {
        cohere::Route::Chat => {
            let reply = cohere::plan_chat(shared, body, seq)?;
            if body.get("stream").and_then(Value::as_bool) == Some(true) {
                Payload::Sse(cohere::chat_stream(shared, &id, &reply))
            } else {
                Payload::Json(cohere::chat(&id, &reply)?)
            }
        }
        cohere::Route::Embed => Payload::Json(cohere::embed_answer(body, &id)?),
        cohere::Route::Rerank => Payload::Json(cohere::rerank_answer(body, &id)?),
        cohere::Route::Models => Payload::Json(cohere::model_list(&shared.opts.models)),
    })
}

/// A Vertex route's failure, in the shape of the model's publisher.
enum VertexError {
    Google(GeminiError),
    Anthropic(AnthropicError),
}

/// The Vertex AI routes' answers: Google's models through the Gemini answers (and `:predict`
/// embeddings), Anthropic's through the Messages answers once the Vertex body checks passed.
fn answer_vertex(
    shared: &Shared,
    route: vertex::Route<'_>,
    body: &Value,
    query: Option<&str>,
    path: &str,
    seq: u64,
) -> Result<Payload, VertexError> {
    use vertex::Action;
    let google = |g: gemini::Route<'_>| {
        answer_gemini(shared, g, body, query, path, seq).map_err(VertexError::Google)
    };
    match route.action {
        Action::Generate => google(gemini::Route::Generate(route.model)),
        Action::Stream => google(gemini::Route::Stream(route.model)),
        Action::Predict => vertex::predict(body, route.model)
            .map(Payload::Json)
            .map_err(VertexError::Google),
        Action::RawPredict | Action::StreamRawPredict => {
            let stream = route.action == Action::StreamRawPredict;
            let messages =
                vertex::messages_body(body, route.model, stream).map_err(VertexError::Anthropic)?;
            answer_anthropic(shared, &Route::Messages, &messages, query, seq)
                .map_err(VertexError::Anthropic)
        }
        Action::Unknown => Err(VertexError::Google(vertex::not_found(path))),
    }
}

/// The Converse routes' answers: validation, then the scripted reply as JSON or as
/// event-stream messages. A requested failure fails a non-streaming answer outright.
fn answer_bedrock(
    shared: &Shared,
    body: &Value,
    model: &str,
    stream: bool,
    seq: u64,
) -> Result<Payload, BedrockError> {
    let req = bedrock::parse_converse(body, model)?;
    if !stream && let Some(err) = &req.fail_with {
        return Err(err.clone());
    }
    let reply = bedrock::plan(shared, &req, seq);
    Ok(if stream {
        Payload::Sse(bedrock::stream(shared, &reply))
    } else {
        Payload::Json(bedrock::response(&reply))
    })
}

fn invalid_url() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "Invalid URL: this mock serves POST …/chat/completions, POST …/completions, \
                  POST …/embeddings and GET …/models."
            .to_owned(),
        kind: "invalid_request_error",
        param: None,
        code: None,
    }
}

/// The body script of a stream: frames separated by the per-chunk delay (or a yield, so each
/// frame is flushed on its own), shaped by a delivery fault.
fn sse_script(
    shared: &Shared,
    frames: Vec<Bytes>,
    fault: Option<Fault>,
    generation: u64,
    dialect: Dialect,
) -> VecDeque<Step> {
    let gap = shared.opts.stream_chunk_delay;
    let between = || {
        if gap.is_zero() {
            Step::Yield
        } else {
            Step::Sleep(gap)
        }
    };
    // Never past the last frame: a cut stream must not end with `[DONE]`.
    let cut_after = match fault {
        Some(Fault::StreamCut { after_chunks }) => Some(after_chunks.min(frames.len() - 1)),
        _ => None,
    };
    if let Some(Fault::StreamEvent {
        after_chunks,
        event,
    }) = fault
    {
        let mut steps = VecDeque::with_capacity(after_chunks * 2 + 1);
        for (i, frame) in frames.into_iter().take(after_chunks).enumerate() {
            if i > 0 {
                steps.push_back(between());
            }
            steps.push_back(Step::Frame(frame));
        }
        if after_chunks > 0 {
            steps.push_back(between());
        }
        steps.push_back(Step::Frame(Bytes::from(event)));
        return steps;
    }
    let mut steps = VecDeque::with_capacity(frames.len() * 2 + 3);
    for (i, frame) in frames.into_iter().enumerate() {
        if cut_after == Some(i) {
            steps.push_back(Step::Cut);
            return steps;
        }
        if i > 0 {
            steps.push_back(between());
        }
        steps.push_back(Step::Frame(frame));
        if i == 0 {
            match fault {
                Some(Fault::HoldStream) => {
                    steps.push_back(Step::Hold(shared.release.subscribe(), generation));
                }
                Some(Fault::MalformedJson) => {
                    steps.push_back(between());
                    steps.push_back(Step::Frame(Bytes::from_static(dialect.malformed_frame())));
                }
                _ => {}
            }
        }
    }
    steps
}

/// The API key a request presents, in whichever header its dialect uses.
/// The data-plane inference API versions of Azure OpenAI (GA and preview) the mock accepts.
/// Source: learn.microsoft.com/azure/ai-services/openai/reference and its preview page
/// ("API specs" tables and the version history).
pub const AZURE_API_VERSIONS: &[&str] = &[
    "2022-12-01",
    "2023-05-15",
    "2024-02-01",
    "2024-06-01",
    "2024-10-21",
    "2024-08-01-preview",
    "2024-09-01-preview",
    "2024-10-01-preview",
    "2024-12-01-preview",
    "2025-01-01-preview",
    "2025-02-01-preview",
    "2025-03-01-preview",
    "2025-04-01-preview",
];

/// The deployment segment of an Azure OpenAI route, as sent (percent-encoded).
fn azure_deployment(path: &str) -> Option<&str> {
    let (_, rest) = path.split_once("/openai/deployments/")?;
    rest.split('/').next().filter(|d| !d.is_empty())
}

/// Azure OpenAI's routes (`…/openai/deployments/{deployment}/…`, `…/openai/models`) require the
/// `api-version` query parameter: without it Azure answers 404 "Resource not found", with one it
/// does not know 400 "API version not supported" (the bodies Azure sends).
fn check_azure_api_version(path: &str, query: Option<&str>) -> Result<(), ApiError> {
    let path = path.trim_end_matches('/');
    if !path.contains("/openai/deployments/") && !path.ends_with("/openai/models") {
        return Ok(());
    }
    let version = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(name, _)| name == "api-version")
            .map(|(_, value)| value.into_owned())
    });
    match version {
        None => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: "Resource not found".to_owned(),
            kind: "invalid_request_error",
            param: None,
            code: Some("404"),
        }),
        Some(v) if !AZURE_API_VERSIONS.contains(&v.as_str()) => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: "API version not supported".to_owned(),
            kind: "invalid_request_error",
            param: None,
            code: Some("BadRequest"),
        }),
        Some(_) => Ok(()),
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
    bearer.or_else(|| {
        ["x-api-key", "api-key", gemini::KEY_HEADER]
            .into_iter()
            .find_map(|name| headers.get(name).and_then(|v| v.to_str().ok()))
            .map(str::trim)
    })
}

fn check_auth(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
    // Azure-style deployments send the key in `api-key`; accepting it lets the same mock stand
    // in for them.
    let key = bearer
        .or_else(|| {
            headers
                .get("api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|k| !k.is_empty());
    let unauthorized = |message: String| ApiError {
        status: StatusCode::UNAUTHORIZED,
        message,
        kind: "invalid_request_error",
        param: None,
        code: Some("invalid_api_key"),
    };
    let Some(key) = key else {
        if !shared.opts.require_auth {
            return Ok(());
        }
        return Err(unauthorized(MISSING_KEY.to_owned()));
    };
    if let Some(valid) = &shared.opts.valid_keys
        && !valid.iter().any(|k| k == key)
        && !shared.oauth.is_issued(key)
    {
        // The full key is echoed on purpose: tests check that the gateway redacts it.
        return Err(unauthorized(format!(
            "Incorrect API key provided: {key}. You can find your API key at \
             https://platform.openai.com/account/api-keys."
        )));
    }
    Ok(())
}

fn status_fault(status: u16, message: &str) -> ApiError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (kind, code, stock) = match status.as_u16() {
        401 => (
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided.",
        ),
        403 => (
            "invalid_request_error",
            None,
            "You are not allowed to sample from this model.",
        ),
        404 => (
            "invalid_request_error",
            Some("model_not_found"),
            "The model does not exist or you do not have access to it.",
        ),
        429 => (
            "requests",
            Some("rate_limit_exceeded"),
            "Rate limit reached for requests.",
        ),
        503 => (
            "server_error",
            None,
            "The engine is currently overloaded, please try again later.",
        ),
        s if s >= 500 => (
            "server_error",
            None,
            "The server had an error while processing your request. Sorry about that!",
        ),
        _ => (
            "invalid_request_error",
            None,
            "The request was rejected (injected by asbru-mock).",
        ),
    };
    ApiError {
        status,
        message: if message.is_empty() {
            stock.to_owned()
        } else {
            message.to_owned()
        },
        kind,
        param: None,
        code,
    }
}

fn rate_limited(retry_after_secs: u64, seq: u64) -> Response<MockBody> {
    let err = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        message: format!(
            "Rate limit reached for requests. Please try again in {retry_after_secs}s."
        ),
        kind: "requests",
        param: None,
        code: Some("rate_limit_exceeded"),
    };
    let mut resp = error_response(&err, Some(seq));
    let headers = resp.headers_mut();
    headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    headers.insert(
        "x-ratelimit-remaining-requests",
        HeaderValue::from_static("0"),
    );
    if let Ok(reset) = HeaderValue::try_from(format!("{retry_after_secs}s")) {
        headers.insert("x-ratelimit-reset-requests", reset);
    }
    resp
}

/// The id a response names its request by: `x-request-id` as OpenAI sends it, `request-id` as
/// Anthropic does.
fn request_id(seq: u64) -> String {
    format!("req_mock{seq:012}")
}

fn with_request_id(
    dialect: Dialect,
    mut resp: Response<MockBody>,
    status: StatusCode,
    seq: Option<u64>,
) -> Response<MockBody> {
    *resp.status_mut() = status;
    if let Some(seq) = seq
        && let Ok(id) = HeaderValue::try_from(request_id(seq))
    {
        // Google sends no request id header.
        let name = match dialect {
            Dialect::OpenAi => Some("x-request-id"),
            Dialect::Anthropic => Some("request-id"),
            Dialect::Gemini | Dialect::Cohere => None,
            Dialect::Bedrock => Some("x-amzn-requestid"),
        };
        if let Some(name) = name {
            resp.headers_mut().insert(name, id);
        }
    }
    resp
}

fn json_response(status: StatusCode, body: Bytes, seq: Option<u64>) -> Response<MockBody> {
    json_response_in(Dialect::OpenAi, status, body, seq)
}

/// A 200 `application/json` answer of `bytes` bytes of whitespace, sent in 64 KiB frames from
/// one shared buffer (so a huge answer costs the mock no memory); announced by `Content-Length`
/// unless `chunked`.
fn oversized(
    dialect: Dialect,
    bytes: usize,
    chunked: bool,
    ctl: Arc<ConnCtl>,
    seq: u64,
    shared: &Shared,
) -> Response<MockBody> {
    const FRAME: usize = 64 * 1024;
    let frame = Bytes::from(vec![b' '; FRAME]);
    let tally = &shared.oversized_bytes_sent;
    let mut steps: VecDeque<Step> = (0..bytes / FRAME)
        .map(|_| Step::Tallied(frame.clone(), Arc::clone(tally)))
        .collect();
    if !bytes.is_multiple_of(FRAME) {
        steps.push_back(Step::Tallied(
            frame.slice(..bytes % FRAME),
            Arc::clone(tally),
        ));
    }
    let mut resp = with_request_id(
        dialect,
        Response::new(MockBody::script(steps, ctl)),
        StatusCode::OK,
        Some(seq),
    );
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if !chunked {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes));
    }
    resp
}

fn json_response_in(
    dialect: Dialect,
    status: StatusCode,
    body: Bytes,
    seq: Option<u64>,
) -> Response<MockBody> {
    let mut resp = with_request_id(dialect, Response::new(MockBody::full(body)), status, seq);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// An Anthropic error response: the error's status, its body with `request_id`, and the
/// `request-id` header.
fn anthropic_error(err: &AnthropicError, seq: u64) -> Response<MockBody> {
    let body = err.body(Some(&request_id(seq)));
    json_response_in(Dialect::Anthropic, err.status, body, Some(seq))
}

/// A Bedrock error response: the error's status, `{"message"}`, the `x-amzn-errortype` header
/// naming the exception, and `x-amzn-requestid`.
fn bedrock_error(err: &BedrockError, seq: u64) -> Response<MockBody> {
    let mut resp = json_response_in(Dialect::Bedrock, err.status, err.body(), Some(seq));
    if let Ok(kind) = HeaderValue::try_from(err.type_header()) {
        resp.headers_mut().insert(bedrock::ERROR_TYPE_HEADER, kind);
    }
    resp
}

fn anthropic_rate_limited(retry_after_secs: u64, seq: u64) -> Response<MockBody> {
    let (err, hints) = anthropic::rate_limited(retry_after_secs);
    let mut resp = anthropic_error(&err, seq);
    let headers = resp.headers_mut();
    for (name, value) in hints {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    }
    resp
}

/// A Gemini error response: the error's status and Google's body.
fn cohere_error(err: &CohereError, seq: u64) -> Response<MockBody> {
    let body = err.body(&format!("00000000-0000-4000-8000-{seq:012}"));
    json_response_in(Dialect::Cohere, err.status, body, Some(seq))
}

fn gemini_error(err: &GeminiError) -> Response<MockBody> {
    json_response_in(Dialect::Gemini, err.status, err.body(), None)
}

/// The 429 of a `RateLimited` fault: Google's body with its `RetryInfo`, and `retry-after`.
fn gemini_rate_limited(retry_after_secs: u64) -> Response<MockBody> {
    let mut resp = gemini_error(&gemini::rate_limited(retry_after_secs));
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    resp
}

fn error_response(err: &ApiError, seq: Option<u64>) -> Response<MockBody> {
    json_response(err.status, err.body(), seq)
}

fn record(parts: &Parts, body: &Bytes) -> RecordedRequest {
    RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
    }
}

/// The body of `POST /__mock/faults`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    /// `null` (with `model` or `sticky`) clears that fault.
    fault: Option<Fault>,
    /// How many one-shot copies to queue (default 1).
    times: Option<usize>,
    /// Make this the fault for every request whose `model` equals this.
    model: Option<String>,
    /// Make this the fault for every request presenting this API key.
    key: Option<String>,
    /// Make a share of requests fail at random (`fault` must be absent).
    random: Option<RandomRequest>,
    /// Make this the default fault for every request.
    #[serde(default)]
    sticky: bool,
}

/// `{"random": {"rate": 0.3, "faults": [...], "seed": 1}}`; an empty `faults` turns it off.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomRequest {
    rate: f64,
    faults: Vec<Fault>,
    #[serde(default)]
    seed: u64,
}

fn control(shared: &Shared, method: &Method, route: &str, body: &Bytes) -> Response<MockBody> {
    let ok = || json_response(StatusCode::OK, Bytes::from_static(br#"{"ok":true}"#), None);
    let bad = |message: String| error_response(&ApiError::invalid(message, None, None), None);
    match (method, route.trim_end_matches('/')) {
        (&Method::GET, "health") => ok(),
        (&Method::GET, "faults") => json_response(
            StatusCode::OK,
            openai::json_bytes(&*shared.lock_faults()),
            None,
        ),
        (&Method::POST, "faults") => {
            let req: FaultRequest = match serde_json::from_slice(body) {
                Ok(req) => req,
                Err(e) => return bad(format!("invalid fault request: {e}")),
            };
            if let Some(random) = req.random {
                if req.fault.is_some() || req.model.is_some() || req.key.is_some() || req.sticky {
                    return bad(
                        "`random` stands alone: no `fault`, `model`, `key` or `sticky`".into(),
                    );
                }
                if !(0.0..=1.0).contains(&random.rate) {
                    return bad(format!(
                        "`random.rate` must be within 0..1, got {}",
                        random.rate
                    ));
                }
                shared.with_faults(|st| {
                    st.random = (!random.faults.is_empty())
                        .then(|| RandomFaults::new(random.rate, random.faults, random.seed));
                });
                return ok();
            }
            if let Some(key) = req.key {
                if req.model.is_some() || req.sticky || req.times.is_some() {
                    return bad("`key` takes only `fault`".into());
                }
                shared.with_faults(|st| match req.fault {
                    Some(fault) => {
                        st.keys.insert(key, fault);
                    }
                    None => {
                        st.keys.remove(&key);
                    }
                });
                return ok();
            }
            match (req.model, req.sticky) {
                (Some(_), true) => return bad("give either `model` or `sticky`, not both".into()),
                (Some(_), false) | (None, true) if req.times.is_some() => {
                    return bad("`times` applies only to one-shot faults".into());
                }
                (Some(model), false) => shared.with_faults(|st| match req.fault {
                    Some(fault) => {
                        st.models.insert(model, fault);
                    }
                    None => {
                        st.models.remove(&model);
                    }
                }),
                (None, true) => shared.with_faults(|st| st.default = req.fault),
                (None, false) => {
                    let Some(fault) = req.fault else {
                        return bad("`fault` is required for one-shot faults".into());
                    };
                    let times = req.times.unwrap_or(1);
                    shared.with_faults(|st| st.queue.extend(std::iter::repeat_n(fault, times)));
                }
            }
            ok()
        }
        (&Method::DELETE, "faults") => {
            shared.with_faults(|st| *st = Default::default());
            ok()
        }
        (&Method::GET, "requests") => json_response(
            StatusCode::OK,
            openai::json_bytes(&shared.recorder.snapshot()),
            None,
        ),
        (&Method::DELETE, "requests") => {
            shared.recorder.clear();
            ok()
        }
        (&Method::POST, "release") => {
            shared.release_streams();
            ok()
        }
        (&Method::POST, "oauth/google") => {
            // `{"client_email": …, "public_key_pem": …}`: the service account whose assertions
            // the token endpoint accepts (what `MockServer::set_google_service_account` does).
            #[derive(Deserialize)]
            struct Account {
                client_email: String,
                public_key_pem: String,
            }
            match serde_json::from_slice::<Account>(body) {
                Ok(a) => {
                    shared.oauth.add_google(&a.client_email, &a.public_key_pem);
                    ok()
                }
                Err(e) => bad(format!("invalid service account: {e}")),
            }
        }
        _ => {
            let err = ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!(
                    "unknown control route {method} {CONTROL_PREFIX}{route}; see GET/POST/DELETE \
                     faults, GET/DELETE requests, POST release, GET health"
                ),
                kind: "invalid_request_error",
                param: None,
                code: None,
            };
            error_response(&err, None)
        }
    }
}
