//! `GET /api/governance/budgets` and `/rate-limits`: every budget and rate limit of the
//! governance section (inline ones included), each with its live usage, in Bifrost's shapes
//! `{"budgets": [...], "count": N}` and `{"rate_limits": [...], "count": N}`.

use super::{entries, limits};
use crate::Control;
use serde_json::{Value, json};

impl Control {
    /// `GET /api/governance/budgets`.
    pub fn list_budgets(&self) -> Value {
        let limits = self.gateway.governance_limits();
        let shown: Vec<Value> = entries(&self.document(), "budgets")
            .iter()
            .map(|b| limits::budget_view(b, limits))
            .collect();
        json!({"count": shown.len(), "budgets": shown})
    }

    /// `GET /api/governance/rate-limits`.
    pub fn list_rate_limits(&self) -> Value {
        let limits = self.gateway.governance_limits();
        let shown: Vec<Value> = entries(&self.document(), "rate_limits")
            .iter()
            .map(|r| limits::rate_limit_view(r, limits))
            .collect();
        json!({"count": shown.len(), "rate_limits": shown})
    }
}
