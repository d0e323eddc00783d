//! Admin operations on providers and their keys.
