//! Filtering and paging of the governance lists, in Bifrost's answer shape
//! `{"<plural>": [...], "count", "total_count", "limit", "offset"}`.

use serde_json::{Value, json};

/// The query of a governance list: Bifrost's `search`, `limit`, `offset`, and the filters some
/// lists take (`customer_id`, `team_id`, routing rules' `scope` and `scope_id`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ListQuery {
    pub search: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    pub customer_id: Option<String>,
    pub team_id: Option<String>,
    pub scope: Option<String>,
    pub scope_id: Option<String>,
}

impl ListQuery {
    /// Whether `entry` has `field` equal to the filter's value (or there is no filter).
    pub(super) fn matches(filter: Option<&str>, entry: &Value, field: &str) -> bool {
        filter
            .filter(|f| !f.is_empty())
            .is_none_or(|f| entry.get(field).and_then(Value::as_str) == Some(f))
    }

    /// Whether `search` occurs (case-insensitively) in one of the entry's `fields`.
    fn found(&self, entry: &Value, fields: &[&str]) -> bool {
        let Some(needle) = self.search.as_deref().filter(|s| !s.is_empty()) else {
            return true;
        };
        let needle = needle.to_ascii_lowercase();
        fields.iter().any(|f| {
            entry
                .get(*f)
                .and_then(Value::as_str)
                .is_some_and(|v| v.to_ascii_lowercase().contains(&needle))
        })
    }

    /// The answer for `entries` (already filtered by the list's own filters): searched in
    /// `search_fields`, paged, each shown through `view`. Without a `limit` every match is
    /// shown and `limit` is their number, as Bifrost answers its unpaged lists.
    pub(super) fn answer(
        &self,
        plural: &str,
        entries: impl IntoIterator<Item = Value>,
        search_fields: &[&str],
        view: impl Fn(&Value) -> Value,
    ) -> Value {
        let matching: Vec<Value> = entries
            .into_iter()
            .filter(|e| self.found(e, search_fields))
            .collect();
        let total = matching.len();
        let offset = self.offset.unwrap_or(0);
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .map(view)
            .collect();
        json!({
            plural: page,
            "count": page.len(),
            "total_count": total,
            "limit": self.limit.unwrap_or(page.len()),
            "offset": offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(answer: &Value) -> Vec<&str> {
        answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn searches_then_pages_and_counts_before_paging() {
        let items = ["alpha", "beta", "alphabet", "gamma"].map(|n| json!({"name": n}));
        let query = ListQuery {
            search: Some("ALPHA".into()),
            limit: Some(1),
            offset: Some(1),
            ..ListQuery::default()
        };
        let answer = query.answer("items", items.clone(), &["name"], Value::clone);
        assert_eq!(names(&answer), ["alphabet"]);
        assert_eq!(
            (
                &answer["count"],
                &answer["total_count"],
                &answer["limit"],
                &answer["offset"]
            ),
            (&json!(1), &json!(2), &json!(1), &json!(1))
        );
        let all = ListQuery::default().answer("items", items, &["name"], Value::clone);
        assert_eq!(all["limit"], 4, "unpaged: the number shown");
        assert_eq!(all["total_count"], 4);
    }

    #[test]
    fn a_filter_matches_its_field_exactly_and_an_empty_one_matches_all() {
        let team = json!({"customer_id": "c1"});
        assert!(ListQuery::matches(Some("c1"), &team, "customer_id"));
        assert!(!ListQuery::matches(Some("c"), &team, "customer_id"));
        assert!(!ListQuery::matches(Some("c1"), &json!({}), "customer_id"));
        assert!(ListQuery::matches(Some(""), &json!({}), "customer_id"));
        assert!(ListQuery::matches(None, &json!({}), "customer_id"));
    }
}
