//! The admin API (temporary module file: the route wiring comes with the admin routes).

pub mod guard;
pub mod session;
