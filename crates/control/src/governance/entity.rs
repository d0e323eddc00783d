//! Create, read, update and delete for the governance entities kept in a list under a generated
//! id (teams, customers, model configs, routing rules): what differs between them is described
//! by a [`Kind`], so each entity's file says only what is its own.

use super::listing::ListQuery;
use super::{
    apply_fields, body_object, entries, field_error, governance_mut, id_of, limits, list_mut,
};
use crate::{AdminError, Control};
use asbru_store::Document;
use serde_json::{Map, Value, json};

/// Checks an entity once a request is applied to it, given the other entities of its list.
pub(super) type Check = fn(&mut Map<String, Value>, &[Value]) -> Result<(), AdminError>;

/// What one entity kind is.
pub(super) struct Kind {
    /// The governance list it is stored in (`teams`).
    pub list: &'static str,
    /// The key of one entity in answers (`team`).
    pub one: &'static str,
    /// The key of the list in answers (`teams`).
    pub many: &'static str,
    /// How messages name it (`Team`).
    pub label: &'static str,
    /// The fields a request may set.
    pub fields: &'static [&'static str],
    /// The field every entity needs, not empty (`name`).
    pub required: &'static str,
    /// The fields `search` looks in.
    pub search: &'static [&'static str],
    /// Whether it owns an inline `budget` and `rate_limit`.
    pub owns_limits: bool,
    /// Fills in the defaults of a new entity (before the request is applied).
    pub defaults: fn(&mut Map<String, Value>),
    /// Checks the entity once the request is applied (`others`: the other entities of the list).
    pub check: Check,
    /// Undoes what refers to a deleted entity elsewhere in the governance section.
    pub detach: fn(&mut Map<String, Value>, &str),
}

/// A [`Kind::check`] that accepts everything.
pub(super) fn no_check(_: &mut Map<String, Value>, _: &[Value]) -> Result<(), AdminError> {
    Ok(())
}

/// A [`Kind::defaults`] that adds nothing.
pub(super) fn no_defaults(_: &mut Map<String, Value>) {}

/// A [`Kind::detach`] with nothing to undo.
pub(super) fn no_detach(_: &mut Map<String, Value>, _: &str) {}

impl Kind {
    fn not_found(&self, id: &str) -> AdminError {
        AdminError::not_found(format!(
            "{} not found: {id}",
            self.label.to_ascii_lowercase()
        ))
    }

    /// Applies a create or update request to `entry` (and to its own limits).
    fn apply(
        &self,
        doc: &mut Document,
        id: &str,
        entry: &mut Map<String, Value>,
        body: &Map<String, Value>,
    ) -> Result<(), AdminError> {
        if let Some(v) = body.get(self.required)
            && v.as_str().is_none_or(|s| s.trim().is_empty())
        {
            return Err(field_error(self.required, "must be a non-empty string"));
        }
        apply_fields(entry, body, self.fields);
        let governance = governance_mut(doc);
        if self.owns_limits {
            limits::apply(governance, id, entry, body)?;
        }
        let others: Vec<Value> = list_mut(governance, self.list)
            .iter()
            .filter(|e| id_of(e) != Some(id))
            .cloned()
            .collect();
        (self.check)(entry, &others)
    }
}

impl Control {
    /// An entity as the API shows it: its own limits inline, with live usage.
    fn entity_view(&self, kind: &Kind, doc: &Document, entry: &Value) -> Value {
        let mut view = entry.clone();
        if kind.owns_limits
            && let Some(fields) = view.as_object_mut()
        {
            limits::attach(doc, self.gateway.governance_limits(), fields);
        }
        view
    }

    /// `GET` of the list, with `keep` as the list's own filters.
    pub(super) fn list_entities(
        &self,
        kind: &Kind,
        query: &ListQuery,
        keep: impl Fn(&Value) -> bool,
    ) -> Value {
        let doc = self.document();
        let matching = entries(&doc, kind.list).into_iter().filter(|e| keep(e));
        query.answer(kind.many, matching, kind.search, |e| {
            self.entity_view(kind, &doc, e)
        })
    }

    /// `GET` of one: `{"<one>": {...}}`.
    pub(super) fn get_entity(&self, kind: &Kind, id: &str) -> Result<Value, AdminError> {
        let doc = self.document();
        let entry = entries(&doc, kind.list)
            .into_iter()
            .find(|e| id_of(e) == Some(id))
            .ok_or_else(|| kind.not_found(id))?;
        Ok(json!({kind.one: self.entity_view(kind, &doc, &entry)}))
    }

    /// `POST`: a new entity under a generated id.
    pub(super) async fn create_entity(
        &self,
        kind: &Kind,
        body: Value,
    ) -> Result<Value, AdminError> {
        let body = body_object(body)?;
        if !body.contains_key(kind.required) {
            return Err(field_error(kind.required, "is required"));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let (entry, doc) = self
            .change(|doc| {
                let mut entry = Map::new();
                entry.insert("id".into(), json!(id));
                (kind.defaults)(&mut entry);
                kind.apply(doc, &id, &mut entry, &body)?;
                list_mut(governance_mut(doc), kind.list).push(Value::Object(entry.clone()));
                Ok((Value::Object(entry), doc.clone()))
            })
            .await?;
        Ok(json!({
            "message": format!("{} created successfully", kind.label),
            kind.one: self.entity_view(kind, &doc, &entry),
        }))
    }

    /// `PUT`: the fields given replace the stored ones.
    pub(super) async fn update_entity(
        &self,
        kind: &Kind,
        id: &str,
        body: Value,
    ) -> Result<Value, AdminError> {
        let body = body_object(body)?;
        let (entry, doc) = self
            .change(|doc| {
                let stored = entries(doc, kind.list);
                let at = stored
                    .iter()
                    .position(|e| id_of(e) == Some(id))
                    .ok_or_else(|| kind.not_found(id))?;
                let mut entry = stored[at].as_object().cloned().unwrap_or_default();
                kind.apply(doc, id, &mut entry, &body)?;
                list_mut(governance_mut(doc), kind.list)[at] = Value::Object(entry.clone());
                Ok((Value::Object(entry), doc.clone()))
            })
            .await?;
        Ok(json!({
            "message": format!("{} updated successfully", kind.label),
            kind.one: self.entity_view(kind, &doc, &entry),
        }))
    }

    /// `DELETE`: the entity, its own limits, and what referred to it.
    pub(super) async fn delete_entity(&self, kind: &Kind, id: &str) -> Result<Value, AdminError> {
        self.change(|doc| {
            let governance = governance_mut(doc);
            let list = list_mut(governance, kind.list);
            let before = list.len();
            list.retain(|e| id_of(e) != Some(id));
            if list.len() == before {
                return Err(kind.not_found(id));
            }
            if kind.owns_limits {
                limits::remove_own(governance, id);
            }
            (kind.detach)(governance, id);
            Ok(())
        })
        .await?;
        Ok(json!({"message": format!("{} deleted successfully", kind.label)}))
    }
}

/// Removes `field` from the entries of `list` whose `field` is `id` (Bifrost sets such
/// references to null when their target is deleted).
pub(super) fn clear_references(
    governance: &mut Map<String, Value>,
    list: &str,
    field: &str,
    id: &str,
) {
    for entry in list_mut(governance, list) {
        if entry.get(field).and_then(Value::as_str) == Some(id)
            && let Some(fields) = entry.as_object_mut()
        {
            fields.remove(field);
        }
    }
}
