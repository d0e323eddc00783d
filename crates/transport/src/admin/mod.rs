//! The admin API under `/api`, in Bifrost's routes and JSON shapes: providers and their keys,
//! client settings, version, models, governance (virtual keys, teams, customers, budgets, rate
//! limits, model configs, provider limits, routing rules), and admin sessions. Handlers only
//! translate HTTP to the control plane's operations ([`asbru_control::Control`]) and back; what
//! a change means, how it is validated, kept and applied lives there.

pub(crate) mod guard;
mod handlers;
pub(crate) mod reply;
mod session;

use crate::state::{AppState, RouteSet};
use axum::routing::{get, post, put};

/// The admin routes (mounted at the root, with the other `/api` paths).
pub(crate) fn routes() -> RouteSet {
    use handlers::*;
    vec![
        ("/api/providers", get(list_providers).post(create_provider)),
        (
            "/api/providers/{provider}",
            get(get_provider)
                .put(update_provider)
                .delete(delete_provider),
        ),
        (
            "/api/providers/{provider}/keys",
            get(list_keys).post(create_key),
        ),
        (
            "/api/providers/{provider}/keys/{key_id}",
            get(get_key).put(update_key).delete(delete_key),
        ),
        ("/api/keys", get(all_keys)),
        ("/api/config", get(get_config).put(update_config)),
        ("/api/version", get(version)),
        ("/api/models", get(models)),
        (
            "/api/governance/virtual-keys",
            get(list_virtual_keys).post(create_virtual_key),
        ),
        (
            "/api/governance/virtual-keys/{vk_id}",
            get(get_virtual_key)
                .put(update_virtual_key)
                .delete(delete_virtual_key),
        ),
        ("/api/governance/teams", get(list_teams).post(create_team)),
        (
            "/api/governance/teams/{team_id}",
            get(get_team).put(update_team).delete(delete_team),
        ),
        (
            "/api/governance/customers",
            get(list_customers).post(create_customer),
        ),
        (
            "/api/governance/customers/{customer_id}",
            get(get_customer)
                .put(update_customer)
                .delete(delete_customer),
        ),
        ("/api/governance/budgets", get(list_budgets)),
        ("/api/governance/rate-limits", get(list_rate_limits)),
        (
            "/api/governance/model-configs",
            get(list_model_configs).post(create_model_config),
        ),
        (
            "/api/governance/model-configs/{mc_id}",
            get(get_model_config)
                .put(update_model_config)
                .delete(delete_model_config),
        ),
        ("/api/governance/providers", get(list_provider_governance)),
        (
            "/api/governance/providers/{provider_name}",
            put(update_provider_governance).delete(delete_provider_governance),
        ),
        (
            "/api/governance/routing-rules",
            get(list_routing_rules).post(create_routing_rule),
        ),
        (
            "/api/governance/routing-rules/{rule_id}",
            get(get_routing_rule)
                .put(update_routing_rule)
                .delete(delete_routing_rule),
        ),
        ("/api/session/login", post(session::login)),
        ("/api/session/logout", post(session::logout)),
        (
            "/api/session/is-auth-enabled",
            get(session::is_auth_enabled),
        ),
    ]
}

/// The control plane, or why there is none (a library embedding without it).
pub(crate) fn control(
    state: &AppState,
) -> Result<&std::sync::Arc<asbru_control::Control>, asbru_control::AdminError> {
    state.control.as_ref().ok_or_else(|| {
        asbru_control::AdminError::new(503, "the admin API is not available in this embedding")
    })
}
