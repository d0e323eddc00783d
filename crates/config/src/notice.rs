//! Things the loader accepted but wants the operator to know about.

use std::fmt;

/// Why a notice was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A Bifrost key or section asbru accepts but does not act on yet.
    NotSupportedYet,
    /// A key neither Bifrost's schema nor asbru knows (probably a typo).
    UnknownKey,
    /// An `env.VAR` reference whose variable is not set; the value is treated as absent.
    MissingEnv,
    /// A key Bifrost deprecated; still honoured.
    Deprecated,
    /// A provider left with no usable key: it is configured but cannot serve a request.
    NoUsableKey,
    /// A value that is valid but very likely not what was meant (a base URL that doubles `/v1`).
    Suspicious,
    /// Anything else worth a line at startup (a key left out because it is disabled, …).
    Info,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotSupportedYet => "not supported yet",
            Self::UnknownKey => "unknown key",
            Self::MissingEnv => "missing environment variable",
            Self::Deprecated => "deprecated",
            Self::NoUsableKey => "no usable key",
            Self::Suspicious => "suspicious value",
            Self::Info => "info",
        }
    }
}

/// One reported item, with the exact field path it concerns (`providers.openai.keys[1].value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.path,
            self.message,
            self.kind.as_str()
        )
    }
}
