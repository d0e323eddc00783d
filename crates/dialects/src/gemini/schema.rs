//! JSON Schema to Gemini's `Schema` (a subset of OpenAPI 3.0), for the `parameters` and
//! `responseSchema` fields.
//!
//! Gemini takes a schema in two ways: `parametersJsonSchema` / `responseJsonSchema` accept JSON
//! Schema as OpenAI clients write it, and `parameters` / `responseSchema` accept only Google's
//! OpenAPI subset and refuse anything else with `Unknown name "additionalProperties" …: Cannot
//! find field`. asbru sends the JSON-Schema fields by default (the schema goes as given, nothing
//! is lost); [`to_openapi`] is the conversion for [`super::SchemaMode::OpenApi`], for models or
//! proxies that only know the older fields. What it does:
//!
//! * keeps the keywords Gemini's `Schema` has: `type`, `format`, `title`, `description`,
//!   `nullable`, `enum`, `items`, `minItems`, `maxItems`, `properties`, `required`,
//!   `minProperties`, `maxProperties`, `minLength`, `maxLength`, `pattern`, `example`, `anyOf`,
//!   `propertyOrdering`, `default`, `minimum`, `maximum`;
//! * inlines local `$ref`s (`#/$defs/…`, `#/definitions/…`) up to [`MAX_DEPTH`] levels, since the
//!   subset has no references (a recursive schema is cut there);
//! * rewrites what has an equivalent: `type: ["string", "null"]` → `type: "string"` +
//!   `nullable: true` (several non-null types → `anyOf`), `const` → a one-value `enum`, `oneOf`
//!   → `anyOf`, `allOf` → its members merged into the parent, `examples` → `example` (the first);
//! * drops everything else (`$schema`, `$id`, `additionalProperties`, `patternProperties`,
//!   `not`, `if`/`then`/`else`, `exclusiveMinimum`, …): the model is then less constrained than
//!   the client asked, never refused.

use serde_json::{Map, Value};

/// How deep `$ref`s are followed and subschemas converted; deeper parts become `{}`.
pub const MAX_DEPTH: usize = 16;

/// Keywords Gemini's `Schema` object has, copied as they are after their children are converted.
const KEPT: [&str; 18] = [
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "minItems",
    "maxItems",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "propertyOrdering",
    "default",
    "minimum",
    "maximum",
];

/// Converts a JSON Schema to Gemini's OpenAPI subset, as the module documentation describes.
pub fn to_openapi(schema: &Value) -> Value {
    convert(schema, schema, 0)
}

fn convert(node: &Value, root: &Value, depth: usize) -> Value {
    let Value::Object(fields) = node else {
        // `true` / `false` schemas and junk: no constraint Gemini can express.
        return Value::Object(Map::new());
    };
    if depth >= MAX_DEPTH {
        return Value::Object(Map::new());
    }
    if let Some(target) = fields
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve(r, root))
    {
        let mut resolved = convert(target, root, depth + 1);
        // Siblings of `$ref` (a description) refine the referenced schema.
        if let (Value::Object(out), Some(Value::String(d))) =
            (&mut resolved, fields.get("description"))
        {
            out.insert("description".to_owned(), Value::String(d.clone()));
        }
        return resolved;
    }

    let mut out = Map::new();
    match fields.get("type") {
        Some(Value::String(t)) => {
            out.insert("type".to_owned(), Value::String(t.clone()));
        }
        Some(Value::Array(types)) => {
            let named: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            let non_null: Vec<&str> = named.iter().copied().filter(|t| *t != "null").collect();
            if non_null.len() < named.len() {
                out.insert("nullable".to_owned(), Value::Bool(true));
            }
            match non_null.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".to_owned(), Value::String((*one).to_owned()));
                }
                many => {
                    let alternatives = many
                        .iter()
                        .map(|t| {
                            let mut alt = fields.clone();
                            alt.insert("type".to_owned(), Value::String((*t).to_owned()));
                            convert(&Value::Object(alt), root, depth + 1)
                        })
                        .collect();
                    out.insert("anyOf".to_owned(), Value::Array(alternatives));
                    return Value::Object(out);
                }
            }
        }
        _ => {}
    }
    for key in KEPT {
        if let Some(v) = fields.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    if let Some(c) = fields.get("const") {
        out.insert("enum".to_owned(), Value::Array(vec![c.clone()]));
    }
    if !out.contains_key("example")
        && let Some(first) = fields
            .get("examples")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
    {
        out.insert("example".to_owned(), first.clone());
    }
    if let Some(Value::Object(props)) = fields.get("properties") {
        let converted = props
            .iter()
            .map(|(name, sub)| (name.clone(), convert(sub, root, depth + 1)))
            .collect();
        out.insert("properties".to_owned(), Value::Object(converted));
    }
    if let Some(items) = fields.get("items") {
        out.insert("items".to_owned(), convert(items, root, depth + 1));
    }
    let alternatives = fields
        .get("anyOf")
        .or_else(|| fields.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(alternatives) = alternatives {
        let converted = alternatives
            .iter()
            .map(|a| convert(a, root, depth + 1))
            .collect();
        out.insert("anyOf".to_owned(), Value::Array(converted));
    }
    if let Some(Value::Array(members)) = fields.get("allOf") {
        for member in members {
            if let Value::Object(m) = convert(member, root, depth + 1) {
                merge(&mut out, m);
            }
        }
    }
    Value::Object(out)
}

/// Merges an `allOf` member into its parent: properties and `required` are unioned, other
/// keywords the parent lacks are taken.
fn merge(into: &mut Map<String, Value>, member: Map<String, Value>) {
    for (key, value) in member {
        match (key.as_str(), into.get_mut(&key), value) {
            ("properties", Some(Value::Object(existing)), Value::Object(more)) => {
                for (name, sub) in more {
                    existing.entry(name).or_insert(sub);
                }
            }
            ("required", Some(Value::Array(existing)), Value::Array(more)) => {
                for name in more {
                    if !existing.contains(&name) {
                        existing.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// The subschema a local reference names: `#/$defs/Name`, `#/definitions/Name`, or any other
/// JSON pointer into the root.
fn resolve<'a>(reference: &str, root: &'a Value) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_and_rewrites() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit"]},
                "kind": {"const": "weather"},
                "where": {"$ref": "#/$defs/place", "description": "the place"},
                "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                "many": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}},
                "n": {"type": ["integer", "string"]}
            },
            "required": ["where"],
            "$defs": {"place": {"type": "object", "properties": {"city": {"type": "string"}},
                                "additionalProperties": false}}
        });
        assert_eq!(
            to_openapi(&schema),
            json!({
                "type": "object",
                "required": ["where"],
                "properties": {
                    "unit": {"type": "string", "nullable": true, "enum": ["celsius", "fahrenheit"]},
                    "kind": {"enum": ["weather"]},
                    "where": {"type": "object", "properties": {"city": {"type": "string"}},
                              "description": "the place"},
                    "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "many": {"type": "array", "items": {"type": "number"}},
                    "n": {"anyOf": [{"type": "integer"}, {"type": "string"}]}
                }
            })
        );
    }

    #[test]
    fn recursion_is_cut() {
        let schema = json!({"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
            "properties": {"next": {"$ref": "#/$defs/node"}}}}});
        let out = to_openapi(&schema);
        let mut depth = 0;
        let mut at = &out;
        while let Some(next) = at.pointer("/properties/next") {
            at = next;
            depth += 1;
        }
        assert!(depth <= MAX_DEPTH);
    }

    #[test]
    fn all_of_merges() {
        let schema = json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]}
        ]});
        assert_eq!(
            to_openapi(&schema),
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                   "required": ["a", "b"]})
        );
    }
}
