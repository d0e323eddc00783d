//! Reading and rewriting an OpenAI-dialect request body without building a JSON tree.

use asbru_schema::GatewayError;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A request body split into its top-level fields, each kept as the raw JSON text it arrived as.
#[derive(Debug)]
pub struct RequestView<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
    model: Cow<'a, str>,
    stream: bool,
    include_usage: bool,
    fallbacks: Vec<String>,
}

/// What to change besides `model` when rewriting for the provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct RewriteOptions<'a> {
    /// Ask the provider for the usage chunk at the end of a stream even when the client did not,
    /// so usage is always known. Only for providers known to accept `stream_options`.
    pub request_stream_usage: bool,
    /// Top-level fields to leave out: another dialect's fields a drop-in route carried along
    /// (Anthropic's `top_k`), which an OpenAI-compatible provider would refuse.
    pub drop_fields: &'a [String],
}

/// Gateway-only fields that must not reach the provider (Bifrost's `BifrostParams`).
const GATEWAY_FIELDS: [&str; 1] = ["fallbacks"];

impl<'a> RequestView<'a> {
    /// Parses the top level of `body`; every problem becomes a 400 that says where.
    pub fn parse(body: &'a [u8]) -> Result<Self, GatewayError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(GatewayError::invalid_request(
                "request body is empty; expected a JSON object",
                None,
            ));
        }
        let fields = serde_json::from_slice::<TopLevel<'a>>(body)
            .map_err(|e| json_error(&e))?
            .0;
        let mut model = None;
        let mut stream = false;
        let mut include_usage = false;
        let mut fallbacks = Vec::new();
        for (key, raw) in &fields {
            match key.as_ref() {
                "model" => {
                    model = Some(serde_json::from_str::<Cow<'a, str>>(raw.get()).map_err(
                        |_| {
                            GatewayError::invalid_request("`model` must be a string", Some("model"))
                        },
                    )?);
                }
                "stream" => {
                    stream = serde_json::from_str::<Option<bool>>(raw.get())
                        .map_err(|_| {
                            GatewayError::invalid_request(
                                "`stream` must be a boolean",
                                Some("stream"),
                            )
                        })?
                        .unwrap_or(false);
                }
                "stream_options" => {
                    include_usage = serde_json::from_str::<Option<StreamOptions>>(raw.get())
                        .map_err(|_| {
                            GatewayError::invalid_request(
                                "`stream_options` must be an object with a boolean `include_usage`",
                                Some("stream_options"),
                            )
                        })?
                        .and_then(|o| o.include_usage)
                        .unwrap_or(false);
                }
                "fallbacks" => {
                    fallbacks = serde_json::from_str::<Option<Vec<String>>>(raw.get())
                        .map_err(|_| {
                            GatewayError::invalid_request(
                                "`fallbacks` must be an array of \"provider/model\" strings",
                                Some("fallbacks"),
                            )
                        })?
                        .unwrap_or_default();
                }
                _ => {}
            }
        }
        let model = model.ok_or_else(|| {
            GatewayError::invalid_request(
                "`model` is required, in the form \"provider/model\"",
                Some("model"),
            )
        })?;
        Ok(Self {
            fields,
            model,
            stream,
            include_usage,
            fallbacks,
        })
    }

    /// The `model` field as the client sent it (`provider/model`).
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// Whether the client itself asked for the usage chunk (`stream_options.include_usage`).
    pub fn client_wants_stream_usage(&self) -> bool {
        self.include_usage
    }

    /// Bifrost's `fallbacks` (read now, acted on by the reliability layer).
    pub fn fallbacks(&self) -> &[String] {
        &self.fallbacks
    }

    /// The body to send upstream: `model` replaced, gateway-only fields dropped, everything else
    /// byte for byte as received.
    pub fn rewrite(&self, upstream_model: &str, opts: RewriteOptions<'_>) -> Vec<u8> {
        let force_usage = opts.request_stream_usage && self.stream && !self.include_usage;
        let mut out = Vec::with_capacity(
            self.fields
                .iter()
                .map(|f| f.1.get().len() + f.0.len() + 4)
                .sum::<usize>()
                + 64,
        );
        out.push(b'{');
        let mut first = true;
        let mut wrote_stream_options = false;
        for (key, raw) in &self.fields {
            if GATEWAY_FIELDS.contains(&key.as_ref())
                || opts.drop_fields.iter().any(|f| f == key.as_ref())
            {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_string(&mut out, key);
            out.push(b':');
            match key.as_ref() {
                "model" => write_json_string(&mut out, upstream_model),
                "stream_options" if force_usage => {
                    wrote_stream_options = true;
                    write_stream_options_with_usage(&mut out, raw);
                }
                _ => out.extend_from_slice(raw.get().as_bytes()),
            }
        }
        if force_usage && !wrote_stream_options {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
        }
        out.push(b'}');
        out
    }
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Keeps the client's other stream options and sets `include_usage: true`.
fn write_stream_options_with_usage(out: &mut Vec<u8>, raw: &RawValue) {
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw.get()).unwrap_or_default();
    map.insert("include_usage".into(), serde_json::Value::Bool(true));
    let _ = serde_json::to_writer(&mut *out, &map);
}

fn json_error(e: &serde_json::Error) -> GatewayError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Data if e.to_string().starts_with("invalid type") => {
            format!("request body must be a JSON object ({e})")
        }
        Category::Data => format!("invalid request body: {e}"),
        Category::Eof => format!(
            "request body is not valid JSON: unexpected end of input at line {} column {}",
            e.line(),
            e.column()
        ),
        _ => format!("request body is not valid JSON: {e}"),
    };
    GatewayError::invalid_request(what, None)
}

#[derive(serde::Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// The top-level object as (key, raw value) pairs, in order, borrowing from the body.
struct TopLevel<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for TopLevel<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = TopLevel<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if fields.iter().any(|(k, _): &(Cow<'_, str>, _)| *k == key) {
                        return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
                    }
                    let raw: &'de RawValue = map.next_value()?;
                    fields.push((key, raw));
                }
                Ok(TopLevel(fields))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rewrite(body: &str, model: &str, usage: bool) -> Value {
        let v = RequestView::parse(body.as_bytes()).unwrap();
        let out = v.rewrite(
            model,
            RewriteOptions {
                request_stream_usage: usage,
                drop_fields: &[],
            },
        );
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn reads_gateway_fields() {
        let v = RequestView::parse(
            br#"{"model":"openai/gpt-4o","stream":true,"fallbacks":["groq/llama"],"messages":[]}"#,
        )
        .unwrap();
        assert_eq!(v.model(), "openai/gpt-4o");
        assert!(v.is_stream());
        assert_eq!(v.fallbacks(), ["groq/llama"]);
        assert!(!v.client_wants_stream_usage());
    }

    #[test]
    fn rewrite_leaves_out_the_fields_asked() {
        let body = br#"{"model":"openai/gpt-4o","top_k":5,"messages":[],"container":"c"}"#;
        let v = RequestView::parse(body).unwrap();
        let drop = ["top_k".to_owned(), "container".to_owned()];
        let out = v.rewrite(
            "gpt-4o",
            RewriteOptions {
                request_stream_usage: false,
                drop_fields: &drop,
            },
        );
        assert_eq!(out, br#"{"model":"gpt-4o","messages":[]}"#);
    }

    #[test]
    fn rewrite_replaces_model_drops_fallbacks_keeps_rest_verbatim() {
        let body = r#"{"model":"openai/gpt-4o","temperature":0.7,"fallbacks":["a/b"],"messages":[{"role":"user","content":"h\u00e9 \"q\""}],"n":1}"#;
        let v = RequestView::parse(body.as_bytes()).unwrap();
        let out = String::from_utf8(v.rewrite("gpt-4o", RewriteOptions::default())).unwrap();
        assert_eq!(
            out,
            r#"{"model":"gpt-4o","temperature":0.7,"messages":[{"role":"user","content":"h\u00e9 \"q\""}],"n":1}"#
        );
    }

    #[test]
    fn stream_usage_is_requested_when_asked_and_merged() {
        let out = rewrite(r#"{"model":"x/y","stream":true}"#, "y", true);
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
        let out = rewrite(
            r#"{"model":"x/y","stream":true,"stream_options":{"include_obfuscation":false}}"#,
            "y",
            true,
        );
        assert_eq!(
            out["stream_options"],
            json!({"include_obfuscation": false, "include_usage": true})
        );
        let out = rewrite(r#"{"model":"x/y","stream":false}"#, "y", true);
        assert!(out.get("stream_options").is_none());
        let out = rewrite(r#"{"model":"x/y","stream":true}"#, "y", false);
        assert!(out.get("stream_options").is_none());
    }

    #[test]
    fn errors_name_the_problem() {
        let e = RequestView::parse(b"{\"model\": \"a/b\",").unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("line 1 column"), "{}", e.message());
        let e = RequestView::parse(b"{\"model\": 3}").unwrap_err();
        assert_eq!(e.param(), Some("model"));
        let e = RequestView::parse(b"{\"messages\": []}").unwrap_err();
        assert_eq!(e.param(), Some("model"));
        let e = RequestView::parse(b"[1,2]").unwrap_err();
        assert!(e.message().contains("JSON object"), "{}", e.message());
        let e = RequestView::parse(b"").unwrap_err();
        assert!(e.message().contains("empty"));
        let e = RequestView::parse(br#"{"model":"a/b","stream":"yes"}"#).unwrap_err();
        assert_eq!(e.param(), Some("stream"));
        let e = RequestView::parse(br#"{"model":"a/b","model":"c/d"}"#).unwrap_err();
        assert!(e.message().contains("duplicate field"), "{}", e.message());
    }
}
