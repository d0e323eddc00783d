//! Inline budgets and rate limits: an owner's `budget` / `rate_limit` in a request becomes its
//! own `budgets[]` / `rate_limits[]` entry (`<owner>-budget`, `<owner>-rate-limit`), and is
//! shown back inline with its live usage.
//!
//! Update rules follow Bifrost's handlers: `null`, or an object without any limit, removes the
//! owner's limit; a budget object is merged into the existing one (changing only `max_limit` is
//! allowed); a rate limit object replaces the existing one whole. The request's values are
//! checked here, so a mistake is reported at the request's field (`budget.max_limit`) rather
//! than at the stored entry's path.

use super::{field_error, id_of, list_mut};
use crate::AdminError;
use asbru_engine::asbru_governance::counters::{CounterRef, Limits, nanos_to_usd};
use asbru_engine::asbru_governance::duration::ResetDuration;
use asbru_store::Document;
use serde_json::{Map, Value, json};

/// One kind of inline limit.
#[derive(Clone, Copy)]
pub(super) enum Limit {
    Budget,
    RateLimit,
}

impl Limit {
    pub(super) const BOTH: [Limit; 2] = [Limit::Budget, Limit::RateLimit];

    /// The request field (`budget`).
    fn field(self) -> &'static str {
        match self {
            Limit::Budget => "budget",
            Limit::RateLimit => "rate_limit",
        }
    }

    /// The governance list the entry goes to.
    fn list(self) -> &'static str {
        match self {
            Limit::Budget => "budgets",
            Limit::RateLimit => "rate_limits",
        }
    }

    /// The owner's field naming the entry.
    fn id_field(self) -> &'static str {
        match self {
            Limit::Budget => "budget_id",
            Limit::RateLimit => "rate_limit_id",
        }
    }

    /// The fields a request may give.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Limit::Budget => &["max_limit", "reset_duration", "calendar_aligned"],
            Limit::RateLimit => &[
                "token_max_limit",
                "token_reset_duration",
                "request_max_limit",
                "request_reset_duration",
                "calendar_aligned",
            ],
        }
    }

    /// The fields whose absence means "no limit" (Bifrost's removal request).
    fn maxima(self) -> &'static [&'static str] {
        match self {
            Limit::Budget => &["max_limit", "reset_duration"],
            Limit::RateLimit => &["token_max_limit", "request_max_limit"],
        }
    }

    /// The id of the entry an owner's inline limit is stored as.
    pub(super) fn own_id(self, owner: &str) -> String {
        match self {
            Limit::Budget => format!("{owner}-budget"),
            Limit::RateLimit => format!("{owner}-rate-limit"),
        }
    }
}

/// Applies a request's `budget` and `rate_limit` (when given) to `owner`, whose own limits are
/// named after `owner_id`.
pub(super) fn apply(
    governance: &mut Map<String, Value>,
    owner_id: &str,
    owner: &mut Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<(), AdminError> {
    for limit in Limit::BOTH {
        if let Some(request) = body.get(limit.field()) {
            apply_one(governance, limit, owner_id, owner, request)?;
        }
    }
    Ok(())
}

fn apply_one(
    governance: &mut Map<String, Value>,
    limit: Limit,
    owner_id: &str,
    owner: &mut Map<String, Value>,
    request: &Value,
) -> Result<(), AdminError> {
    let own = limit.own_id(owner_id);
    let request = match request {
        Value::Null => None,
        Value::Object(o)
            if limit
                .maxima()
                .iter()
                .all(|f| o.get(*f).is_none_or(Value::is_null)) =>
        {
            None
        }
        Value::Object(o) => Some(o),
        _ => return Err(field_error(limit.field(), "must be an object or null")),
    };
    let entries = list_mut(governance, limit.list());
    let Some(request) = request else {
        entries.retain(|e| id_of(e) != Some(own.as_str()));
        owner.remove(limit.id_field());
        return Ok(());
    };
    let mut entry = match limit {
        // A budget is updated in part: the stored one is the starting point.
        Limit::Budget => entries
            .iter()
            .find(|e| id_of(e) == Some(own.as_str()))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        Limit::RateLimit => Map::new(),
    };
    for field in limit.fields() {
        match request.get(*field) {
            None => {}
            Some(Value::Null) => {
                entry.remove(*field);
            }
            Some(v) => {
                entry.insert((*field).into(), v.clone());
            }
        }
    }
    check(limit, &entry)?;
    entry.insert("id".into(), json!(own));
    entries.retain(|e| id_of(e) != Some(own.as_str()));
    entries.push(Value::Object(entry));
    owner.insert(limit.id_field().into(), json!(own));
    Ok(())
}

/// Bifrost's checks of a budget (`max_limit` > 0 with a valid `reset_duration`) or a rate limit
/// (each maximum > 0, with a valid reset duration of its own).
fn check(limit: Limit, entry: &Map<String, Value>) -> Result<(), AdminError> {
    let at = |f: &str| format!("{}.{f}", limit.field());
    let duration = |f: &str| -> Result<(), AdminError> {
        match entry.get(f) {
            Some(Value::String(s)) => ResetDuration::parse(s)
                .map(|_| ())
                .map_err(|e| field_error(&at(f), e)),
            Some(_) => Err(field_error(
                &at(f),
                "must be a duration such as \"1h\" or \"1M\"",
            )),
            None => Err(field_error(&at(f), "is required")),
        }
    };
    match limit {
        Limit::Budget => {
            match entry.get("max_limit").and_then(Value::as_f64) {
                Some(v) if v > 0.0 => {}
                Some(v) => {
                    return Err(field_error(
                        &at("max_limit"),
                        format!("must be more than 0 (got {v})"),
                    ));
                }
                None => return Err(field_error(&at("max_limit"), "must be a number of dollars")),
            }
            duration("reset_duration")
        }
        Limit::RateLimit => {
            for (max, reset) in [
                ("token_max_limit", "token_reset_duration"),
                ("request_max_limit", "request_reset_duration"),
            ] {
                match entry.get(max) {
                    None | Some(Value::Null) => continue,
                    Some(v) if v.as_u64().is_some_and(|n| n > 0) => {}
                    Some(v) => {
                        return Err(field_error(
                            &at(max),
                            format!("must be a whole number more than 0 (got {v})"),
                        ));
                    }
                }
                duration(reset)?;
            }
            Ok(())
        }
    }
}

/// Removes the limits named after `owner_id` (their owner is deleted).
pub(super) fn remove_own(governance: &mut Map<String, Value>, owner_id: &str) {
    for limit in Limit::BOTH {
        let own = limit.own_id(owner_id);
        list_mut(governance, limit.list()).retain(|e| id_of(e) != Some(own.as_str()));
    }
}

/// The entry of `list` with this id.
fn find(doc: &Document, list: &str, id: &str) -> Option<Value> {
    super::entries(doc, list)
        .into_iter()
        .find(|e| id_of(e) == Some(id))
}

/// Shows an owner's `budget` and `rate_limit` inline (with live usage), or `null`.
pub(super) fn attach(doc: &Document, limits: &Limits, owner: &mut Map<String, Value>) {
    for limit in Limit::BOTH {
        let shown = owner
            .get(limit.id_field())
            .and_then(Value::as_str)
            .and_then(|id| find(doc, limit.list(), id))
            .map_or(Value::Null, |e| match limit {
                Limit::Budget => budget_view(&e, limits),
                Limit::RateLimit => rate_limit_view(&e, limits),
            });
        owner.insert(limit.field().into(), shown);
    }
}

/// A budget with its live usage: `current_usage` (dollars) and `last_reset` from the gateway's
/// counter; the stored values when the gateway keeps no counter for it (no virtual key yet).
pub(super) fn budget_view(entry: &Value, limits: &Limits) -> Value {
    let mut view = entry.clone();
    let Some(fields) = view.as_object_mut() else {
        return view;
    };
    fields.entry("calendar_aligned").or_insert(json!(false));
    let snapshot = id_of(entry).and_then(|id| limits.snapshot(&CounterRef::budget(id)));
    match snapshot {
        Some(s) => {
            fields.insert("current_usage".into(), json!(nanos_to_usd(s.used)));
            fields.insert("last_reset".into(), json!(s.window_start.to_string()));
        }
        None => {
            fields.entry("current_usage").or_insert(json!(0.0));
        }
    }
    view
}

/// A rate limit with its live usage: `token_current_usage` and `request_current_usage` (and
/// their `*_last_reset`) from the gateway's counters.
pub(super) fn rate_limit_view(entry: &Value, limits: &Limits) -> Value {
    let mut view = entry.clone();
    let Some(fields) = view.as_object_mut() else {
        return view;
    };
    let Some(id) = id_of(entry) else { return view };
    for (prefix, counter) in [
        ("token", CounterRef::tokens(id)),
        ("request", CounterRef::requests(id)),
    ] {
        if fields
            .get(&format!("{prefix}_max_limit"))
            .is_none_or(Value::is_null)
        {
            continue;
        }
        match limits.snapshot(&counter) {
            Some(s) => {
                fields.insert(format!("{prefix}_current_usage"), json!(s.used));
                fields.insert(
                    format!("{prefix}_last_reset"),
                    json!(s.window_start.to_string()),
                );
            }
            None => {
                fields
                    .entry(format!("{prefix}_current_usage"))
                    .or_insert(json!(0));
            }
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn apply_to(governance: &mut Map<String, Value>, owner: &mut Map<String, Value>, v: Value) {
        apply(governance, "t1", owner, &body(v)).unwrap();
    }

    #[test]
    fn a_budget_is_merged_a_rate_limit_replaced_and_an_empty_one_removed() {
        let mut g = Map::new();
        let mut owner = Map::new();
        apply_to(
            &mut g,
            &mut owner,
            json!({
                "budget": {"max_limit": 5, "reset_duration": "1d", "current_usage": 3},
                "rate_limit": {"request_max_limit": 10, "request_reset_duration": "1h"},
            }),
        );
        assert_eq!(owner["budget_id"], "t1-budget");
        assert_eq!(owner["rate_limit_id"], "t1-rate-limit");
        assert_eq!(
            g["budgets"],
            json!([{"max_limit": 5, "reset_duration": "1d", "id": "t1-budget"}]),
            "only a budget's own fields are stored"
        );

        apply_to(
            &mut g,
            &mut owner,
            json!({
                "budget": {"max_limit": 7},
                "rate_limit": {"token_max_limit": 100, "token_reset_duration": "1m"},
            }),
        );
        assert_eq!(g["budgets"][0]["max_limit"], 7);
        assert_eq!(g["budgets"][0]["reset_duration"], "1d", "kept: merged");
        assert_eq!(g["rate_limits"].as_array().unwrap().len(), 1);
        assert!(
            g["rate_limits"][0].get("request_max_limit").is_none(),
            "replaced: {g:?}"
        );

        apply_to(
            &mut g,
            &mut owner,
            json!({"budget": null, "rate_limit": {}}),
        );
        assert_eq!(g["budgets"], json!([]));
        assert_eq!(g["rate_limits"], json!([]));
        assert!(owner.is_empty(), "{owner:?}");
    }

    #[test]
    fn bad_limits_name_the_request_field_and_change_nothing() {
        for (request, field) in [
            (
                json!({"budget": {"max_limit": 0, "reset_duration": "1d"}}),
                "budget.max_limit",
            ),
            (
                json!({"budget": {"max_limit": "5", "reset_duration": "1d"}}),
                "budget.max_limit",
            ),
            (json!({"budget": {"max_limit": 5}}), "budget.reset_duration"),
            (
                json!({"budget": {"max_limit": 5, "reset_duration": "soon"}}),
                "budget.reset_duration",
            ),
            (json!({"budget": 5}), "budget"),
            (
                json!({"rate_limit": {"request_max_limit": 1.5, "request_reset_duration": "1h"}}),
                "rate_limit.request_max_limit",
            ),
            (
                json!({"rate_limit": {"token_max_limit": 10}}),
                "rate_limit.token_reset_duration",
            ),
        ] {
            let mut g = Map::new();
            let mut owner = Map::new();
            let e = apply(&mut g, "t1", &mut owner, &body(request.clone())).unwrap_err();
            assert_eq!(e.status, 400, "{request}");
            assert_eq!(e.field.as_deref(), Some(field), "{request}: {e}");
            assert!(owner.is_empty(), "{request}");
        }
    }

    #[test]
    fn an_owner_s_limits_are_removed_with_it_and_no_other() {
        let mut g = body(json!({
            "budgets": [{"id": "t1-budget"}, {"id": "shared"}],
            "rate_limits": [{"id": "t1-rate-limit"}, {"id": "t10-rate-limit"}],
        }));
        remove_own(&mut g, "t1");
        assert_eq!(g["budgets"], json!([{"id": "shared"}]));
        assert_eq!(g["rate_limits"], json!([{"id": "t10-rate-limit"}]));
    }
}
