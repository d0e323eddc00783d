//! Helpers shared by the integration tests.

use asbru_config::{Loaded, Notice, NoticeKind};

/// A fake environment: looks names up in `pairs` only, never in the process environment.
pub fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// An environment with nothing set.
pub fn no_env(_: &str) -> Option<String> {
    None
}

/// Reads a fixture from `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Paths of the notices of one kind, in order.
pub fn paths_of(loaded: &Loaded, kind: NoticeKind) -> Vec<String> {
    notices_of(&loaded.notices, kind)
        .map(|n| n.path.clone())
        .collect()
}

pub fn notices_of(notices: &[Notice], kind: NoticeKind) -> impl Iterator<Item = &Notice> {
    notices.iter().filter(move |n| n.kind == kind)
}
