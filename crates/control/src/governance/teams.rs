//! `/api/governance/teams`: teams (`name`, `customer_id`, an inline `budget` and `rate_limit`,
//! free-form `profile` / `config` / `claims`). Deleting a team detaches its virtual keys, as
//! Bifrost does; a team naming a customer that does not exist is refused by the validator, at
//! the stored path (`governance.teams[N].customer_id`).

use super::entity::{Kind, clear_references, no_check, no_defaults};
use super::listing::ListQuery;
use crate::{AdminError, Control};
use serde_json::{Map, Value};

const TEAMS: Kind = Kind {
    list: "teams",
    one: "team",
    many: "teams",
    label: "Team",
    fields: &["name", "customer_id", "profile", "config", "claims"],
    required: "name",
    search: &["id", "name"],
    owns_limits: true,
    defaults: no_defaults,
    check: no_check,
    detach,
};

fn detach(governance: &mut Map<String, Value>, id: &str) {
    clear_references(governance, "virtual_keys", "team_id", id);
}

impl Control {
    /// `GET /api/governance/teams?customer_id=&search=&limit=&offset=`.
    pub fn list_teams(&self, query: &ListQuery) -> Value {
        self.list_entities(&TEAMS, query, |t| {
            ListQuery::matches(query.customer_id.as_deref(), t, "customer_id")
        })
    }

    /// `GET /api/governance/teams/{team_id}`: `{"team": {...}}`.
    pub fn get_team(&self, id: &str) -> Result<Value, AdminError> {
        self.get_entity(&TEAMS, id)
    }

    /// `POST /api/governance/teams`.
    pub async fn create_team(&self, body: Value) -> Result<Value, AdminError> {
        self.create_entity(&TEAMS, body).await
    }

    /// `PUT /api/governance/teams/{team_id}`.
    pub async fn update_team(&self, id: &str, body: Value) -> Result<Value, AdminError> {
        self.update_entity(&TEAMS, id, body).await
    }

    /// `DELETE /api/governance/teams/{team_id}`: the team, its own limits; its keys stay,
    /// without a team.
    pub async fn delete_team(&self, id: &str) -> Result<Value, AdminError> {
        self.delete_entity(&TEAMS, id).await
    }
}
