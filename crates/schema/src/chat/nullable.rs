//! A field that can be absent, explicitly `null`, or set.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JSON field with three states.
///
/// OpenAI's wire format uses all three for a few fields: an assistant message that only calls
/// tools sends `"content": null`, and a stream with `include_usage` sends `"usage": null` on every
/// chunk but the last. `Option<T>` would fold `null` into "absent" and change the JSON on the way
/// through; this type keeps them apart.
///
/// Use it with `#[serde(default, skip_serializing_if = "Nullable::is_absent")]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Nullable<T> {
    /// The field is not in the object.
    #[default]
    Absent,
    /// The field is present with the value `null`.
    Null,
    /// The field has a value.
    Value(T),
}

impl<T> Nullable<T> {
    /// True when the field is not in the object (used by `skip_serializing_if`).
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    /// The value, if there is one; `Absent` and `Null` both read as "no value".
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }

    /// Mutable access to the value, if there is one.
    pub fn value_mut(&mut self) -> Option<&mut T> {
        match self {
            Self::Value(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }

    /// The value, consuming `self`.
    pub fn into_value(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }
}

impl<T> From<Option<T>> for Nullable<T> {
    /// `None` becomes `Absent`: code that builds a message has nothing to say about the field.
    fn from(value: Option<T>) -> Self {
        match value {
            Some(v) => Self::Value(v),
            None => Self::Absent,
        }
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => v.serialize(serializer),
            // `Absent` is normally skipped by `skip_serializing_if`; when it is not, `null` is the
            // only JSON that can stand for it.
            Self::Absent | Self::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    /// Only called when the field is present (absence is `#[serde(default)]`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(v) => Self::Value(v),
            None => Self::Null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(default, skip_serializing_if = "Nullable::is_absent")]
        field: Nullable<String>,
    }

    #[test]
    fn three_states_round_trip() {
        for input in [json!({}), json!({"field": null}), json!({"field": "x"})] {
            let h: Holder = serde_json::from_value(input.clone()).unwrap();
            assert_eq!(serde_json::to_value(&h).unwrap(), input);
        }
        let h: Holder = serde_json::from_value(json!({"field": null})).unwrap();
        assert_eq!(h.field, Nullable::Null);
        assert_eq!(h.field.value(), None);
    }
}
