//! Redaction of secrets in admin API answers.
