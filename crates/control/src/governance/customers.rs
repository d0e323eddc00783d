//! `/api/governance/customers`: customers (`name`, an inline `budget` and `rate_limit`).
//! Deleting a customer detaches its teams and virtual keys (they stay, without a customer), as
//! Bifrost's store does, rather than refusing.

use super::entity::{Kind, clear_references, no_check, no_defaults};
use super::listing::ListQuery;
use crate::{AdminError, Control};
use serde_json::{Map, Value};

const CUSTOMERS: Kind = Kind {
    list: "customers",
    one: "customer",
    many: "customers",
    label: "Customer",
    fields: &["name"],
    required: "name",
    search: &["id", "name"],
    owns_limits: true,
    defaults: no_defaults,
    check: no_check,
    detach,
};

fn detach(governance: &mut Map<String, Value>, id: &str) {
    clear_references(governance, "teams", "customer_id", id);
    clear_references(governance, "virtual_keys", "customer_id", id);
}

impl Control {
    /// `GET /api/governance/customers?search=&limit=&offset=`.
    pub fn list_customers(&self, query: &ListQuery) -> Value {
        self.list_entities(&CUSTOMERS, query, |_| true)
    }

    /// `GET /api/governance/customers/{customer_id}`: `{"customer": {...}}`.
    pub fn get_customer(&self, id: &str) -> Result<Value, AdminError> {
        self.get_entity(&CUSTOMERS, id)
    }

    /// `POST /api/governance/customers`.
    pub async fn create_customer(&self, body: Value) -> Result<Value, AdminError> {
        self.create_entity(&CUSTOMERS, body).await
    }

    /// `PUT /api/governance/customers/{customer_id}`.
    pub async fn update_customer(&self, id: &str, body: Value) -> Result<Value, AdminError> {
        self.update_entity(&CUSTOMERS, id, body).await
    }

    /// `DELETE /api/governance/customers/{customer_id}`.
    pub async fn delete_customer(&self, id: &str) -> Result<Value, AdminError> {
        self.delete_entity(&CUSTOMERS, id).await
    }
}
