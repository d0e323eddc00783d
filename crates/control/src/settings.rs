//! Admin operations on client settings.
