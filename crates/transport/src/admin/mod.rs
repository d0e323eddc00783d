//! The admin API under `/api`, in Bifrost's routes and JSON shapes: providers and their keys,
//! client settings, version, models, and admin sessions. Handlers only translate HTTP to the
//! control plane's operations ([`asbru_control::Control`]) and back; what a change means, how it
//! is validated, kept and applied lives there.

pub(crate) mod guard;
mod handlers;
mod pricing;
pub(crate) mod reply;
mod session;

use crate::state::{AppState, RouteSet};
use axum::routing::{get, post};

/// The admin routes (mounted at the root, with the other `/api` paths).
pub(crate) fn routes() -> RouteSet {
    use handlers::*;
    let mut routes = vec![
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
        ("/api/session/login", post(session::login)),
        ("/api/session/logout", post(session::logout)),
        (
            "/api/session/is-auth-enabled",
            get(session::is_auth_enabled),
        ),
    ];
    routes.extend(pricing::routes());
    routes
}

/// The control plane, or why there is none (a library embedding without it).
pub(crate) fn control(
    state: &AppState,
) -> Result<&std::sync::Arc<asbru_control::Control>, asbru_control::AdminError> {
    state.control.as_ref().ok_or_else(|| {
        asbru_control::AdminError::new(503, "the admin API is not available in this embedding")
    })
}
