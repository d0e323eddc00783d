//! Choosing which of a provider's API keys serves a request.
//!
//! Weighted random choice among the keys that allow the model (an empty `models` list allows
//! all, `blacklisted_models` excludes), unless the client pins one with `x-bf-api-key-id` (by id,
//! wins) or `x-bf-api-key` (by name). Kept free of IO and of the clock so the distribution can be
//! tested with a seeded generator.

use crate::health::{Health, HealthBoard, key_factors};
use crate::sessions::SessionStore;
use asbru_config::{KeyConfig, ProviderConfig};
use asbru_schema::GatewayError;
use rand::{Rng, RngCore};
use std::sync::Arc;
use std::time::Duration;

/// A key the client asked for by header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPin {
    /// `x-bf-api-key-id`
    pub id: Option<String>,
    /// `x-bf-api-key`
    pub name: Option<String>,
}

impl KeyPin {
    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.name.is_none()
    }
}

/// What choosing a provider's key for one try reads: the keys, their health, the sessions.
pub(crate) struct KeyChoice<'a> {
    pub(crate) provider: &'a ProviderConfig,
    /// One per `provider.keys` entry, same order.
    pub(crate) key_health: &'a [Arc<Health>],
    pub(crate) board: &'a HealthBoard,
    pub(crate) sessions: &'a SessionStore,
}

impl<'a> KeyChoice<'a> {
    /// The key for one try: the pinned one; else the session's while it is healthy; else a
    /// health-weighted random choice among keys this request has not tried yet (all of them
    /// when it has tried every one). `None` for keyless providers.
    pub(crate) fn choose(
        &self,
        model: &str,
        pin: &KeyPin,
        session: Option<&(String, Duration)>,
        tried: &KeySet,
        allowed: &dyn Fn(&KeyConfig) -> bool,
        rng: &mut dyn RngCore,
    ) -> Result<Option<(usize, &'a KeyConfig)>, GatewayError> {
        if self.provider.is_key_less {
            return Ok(None);
        }
        let keys = &self.provider.keys;
        let policy = &self.board.policy;
        let now = self.board.now();
        let mut pin = pin.clone();
        if pin.is_empty()
            && tried.is_empty()
            && let Some((id, _)) = session
            && let Some(key_id) = self.sessions.key_for(id, &self.provider.name, now)
            && let Some(index) = keys.iter().position(|k| k.id == key_id)
            && keys[index].allows_model(model)
            && allowed(&keys[index])
            && self.key_health[index].is_healthy(policy, now)
        {
            pin.id = Some(key_id);
        }
        let [serving, cooling] = key_factors(policy, self.key_health, now);
        // Untried keys first, serving before cooling down; then the ones this request tried.
        let untried = |factors: &[f64]| -> Vec<f64> {
            let mut factors = factors.to_vec();
            for (i, f) in factors.iter_mut().enumerate() {
                if tried.contains(i) {
                    *f = 0.0;
                }
            }
            factors
        };
        let (serving_untried, cooling_untried);
        let tiers: Vec<&[f64]> = if tried.is_empty() {
            vec![&serving, &cooling]
        } else {
            serving_untried = untried(&serving);
            cooling_untried = untried(&cooling);
            vec![&serving_untried, &cooling_untried, &serving, &cooling]
        };
        let index = select_key_among(&self.provider.name, keys, model, &pin, &tiers, allowed, rng)?;
        Ok(Some((index, &keys[index])))
    }
}

/// The keys one request has tried, by index (keys past the 64th are never marked).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeySet(u64);

impl KeySet {
    pub(crate) fn insert(&mut self, index: usize) {
        if index < 64 {
            self.0 |= 1 << index;
        }
    }

    fn contains(&self, index: usize) -> bool {
        index < 64 && self.0 & (1 << index) != 0
    }

    fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// Picks a key index for `model` from `keys`.
///
/// `tiers` scale each key's configured weight by health (see [`crate::health`]): the first tier
/// that leaves any key a weight decides. When none does — every key is open or cooling down —
/// the configured weights apply unchanged: trying a doubtful key beats refusing the request.
#[cfg(test)]
pub fn select_key<R: Rng + ?Sized>(
    provider: &str,
    keys: &[KeyConfig],
    model: &str,
    pin: &KeyPin,
    tiers: &[&[f64]],
    rng: &mut R,
) -> Result<usize, GatewayError> {
    select_key_among(provider, keys, model, pin, tiers, &|_| true, rng)
}

/// [`select_key`] among the keys `allowed` accepts (a virtual key's `keys` restriction): the
/// others are never chosen, pinned or not.
fn select_key_among<R: Rng + ?Sized>(
    provider: &str,
    keys: &[KeyConfig],
    model: &str,
    pin: &KeyPin,
    tiers: &[&[f64]],
    allowed: &dyn Fn(&KeyConfig) -> bool,
    rng: &mut R,
) -> Result<usize, GatewayError> {
    let usable = |k: &KeyConfig| k.allows_model(model) && allowed(k);
    if let Some((header, what, index)) = pinned(keys, pin) {
        // One answer whether the key does not exist or exists but may not serve the model, and
        // never a list of keys: a client must not learn which key names or ids are configured.
        return index
            .filter(|&i| usable(&keys[i]))
            .ok_or_else(|| {
                GatewayError::invalid_request(
                    format!(
                        "{header}: provider '{provider}' has no usable key with that {what} for model '{model}'"
                    ),
                    Some(header),
                )
                .with_code("pinned_key_unavailable")
                .with_provider(provider)
            });
    }

    for factors in tiers {
        let scaled =
            |i: usize, key: &KeyConfig| key.weight * factors.get(i).copied().unwrap_or(0.0);
        let total: f64 = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| usable(k))
            .map(|(i, k)| scaled(i, k))
            .sum();
        if total > 0.0 {
            return Ok(weighted_pick(keys, &usable, total, scaled, rng));
        }
    }
    let total: f64 = keys.iter().filter(|k| usable(k)).map(|k| k.weight).sum();
    if total <= 0.0 {
        if keys.iter().any(|k| k.allows_model(model) && k.weight > 0.0) {
            return Err(GatewayError::forbidden(
                format!(
                    "the virtual key may not use any key of provider '{provider}' that serves model '{model}'"
                ),
                "key_blocked",
            )
            .with_provider(provider));
        }
        let why = if keys.is_empty() {
            "it has no usable keys (check that they are enabled and their env variables are set)"
        } else {
            "none of its keys allows this model (keys[].models / keys[].blacklisted_models; \
             azure keys also azure_key_config.deployments)"
        };
        return Err(GatewayError::invalid_request(
            format!("no key of provider '{provider}' can serve model '{model}': {why}"),
            Some("model"),
        )
        .with_code("no_key_for_model")
        .with_provider(provider));
    }
    Ok(weighted_pick(keys, &usable, total, |_, k| k.weight, rng))
}

/// A random index among the `usable` keys, each as likely as its `weight_of` share of
/// `total`.
fn weighted_pick<R: Rng + ?Sized>(
    keys: &[KeyConfig],
    usable: &dyn Fn(&KeyConfig) -> bool,
    total: f64,
    weight_of: impl Fn(usize, &KeyConfig) -> f64,
    rng: &mut R,
) -> usize {
    let mut point = rng.random_range(0.0..total);
    let mut last = 0;
    for (i, key) in keys.iter().enumerate() {
        if !usable(key) {
            continue;
        }
        let weight = weight_of(i, key);
        if weight <= 0.0 {
            continue;
        }
        last = i;
        if point < weight {
            return i;
        }
        point -= weight;
    }
    // Floating-point rounding can leave `point` a hair above the last weight.
    last
}

/// The header that pins a key, what it names the key by, and the key's index if it exists.
fn pinned(keys: &[KeyConfig], pin: &KeyPin) -> Option<(&'static str, &'static str, Option<usize>)> {
    if let Some(id) = &pin.id {
        return Some((
            "x-bf-api-key-id",
            "id",
            keys.iter().position(|k| &k.id == id),
        ));
    }
    pin.name.as_ref().map(|name| {
        (
            "x-bf-api-key",
            "name",
            keys.iter().position(|k| &k.name == name),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use secrecy::SecretString;

    fn key(id: &str, weight: f64, models: &[&str], blacklist: &[&str]) -> KeyConfig {
        KeyConfig {
            id: id.into(),
            name: format!("name-{id}"),
            value: SecretString::from(format!("sk-{id}")),
            models: models.iter().map(|m| m.to_string()).collect(),
            blacklisted_models: blacklist.iter().map(|m| m.to_string()).collect(),
            weight,
            provider_config: Default::default(),
        }
    }

    #[test]
    fn distribution_follows_weights() {
        let keys = [
            key("a", 0.7, &[], &[]),
            key("b", 0.2, &[], &[]),
            key("c", 0.1, &[], &[]),
        ];
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = [0usize; 3];
        let n = 100_000;
        for _ in 0..n {
            counts[select_key("p", &keys, "m", &KeyPin::default(), &[], &mut rng).unwrap()] += 1;
        }
        for (count, weight) in counts.iter().zip([0.7, 0.2, 0.1]) {
            let share = *count as f64 / n as f64;
            assert!(
                (share - weight).abs() < 0.01,
                "share {share} vs weight {weight}"
            );
        }
    }

    #[test]
    fn model_filters_apply() {
        let keys = [
            key("a", 1.0, &["gpt-4o"], &[]),
            key("b", 1.0, &[], &["gpt-4o"]),
        ];
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..100 {
            assert_eq!(
                select_key("p", &keys, "gpt-4o", &KeyPin::default(), &[], &mut rng).unwrap(),
                0
            );
            assert_eq!(
                select_key("p", &keys, "other", &KeyPin::default(), &[], &mut rng).unwrap(),
                1
            );
        }
        let keys = [key("a", 1.0, &["x"], &[])];
        let e =
            select_key("openai", &keys, "gpt-5", &KeyPin::default(), &[], &mut rng).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("openai") && e.message().contains("gpt-5"));
    }

    #[test]
    fn pins_by_id_then_name() {
        let keys = [key("a", 1.0, &[], &[]), key("b", 0.0001, &[], &[])];
        let mut rng = SmallRng::seed_from_u64(3);
        let by_id = KeyPin {
            id: Some("b".into()),
            name: Some("name-a".into()),
        };
        assert_eq!(
            select_key("p", &keys, "m", &by_id, &[], &mut rng).unwrap(),
            1
        );
        let by_name = KeyPin {
            id: None,
            name: Some("name-b".into()),
        };
        assert_eq!(
            select_key("p", &keys, "m", &by_name, &[], &mut rng).unwrap(),
            1
        );
        let missing = KeyPin {
            id: Some("zzz".into()),
            name: None,
        };
        let e = select_key("p", &keys, "m", &missing, &[], &mut rng).unwrap_err();
        assert_eq!(e.param(), Some("x-bf-api-key-id"));
    }

    #[test]
    fn a_missing_pinned_key_and_an_unusable_one_answer_alike() {
        let keys = [key("a", 1.0, &["gpt-4o"], &[]), key("b", 1.0, &[], &[])];
        let mut rng = SmallRng::seed_from_u64(5);
        for (header_is_id, existing, missing) in [(false, "name-a", "name-zzz"), (true, "a", "zzz")]
        {
            let pin = |wanted: &str| {
                if header_is_id {
                    KeyPin {
                        id: Some(wanted.into()),
                        name: None,
                    }
                } else {
                    KeyPin {
                        id: None,
                        name: Some(wanted.into()),
                    }
                }
            };
            let unusable =
                select_key("p", &keys, "other", &pin(existing), &[], &mut rng).unwrap_err();
            let unknown =
                select_key("p", &keys, "other", &pin(missing), &[], &mut rng).unwrap_err();
            assert_eq!(unusable.to_body(), unknown.to_body());
            let body = String::from_utf8(unknown.to_body()).unwrap();
            for named in ["name-a", "name-b", "\"a\"", "'a'", "'b'"] {
                assert!(!body.contains(named), "{body}");
            }
        }
    }

    #[test]
    fn health_scales_weights_but_never_zeroes_all() {
        let keys = [key("a", 1.0, &[], &[]), key("b", 1.0, &[], &[])];
        let mut rng = SmallRng::seed_from_u64(11);
        let mut counts = [0usize; 2];
        for _ in 0..10_000 {
            counts[select_key(
                "p",
                &keys,
                "m",
                &KeyPin::default(),
                &[&[1.0, 0.25]],
                &mut rng,
            )
            .unwrap()] += 1;
        }
        let share_b = counts[1] as f64 / 10_000.0;
        assert!((share_b - 0.2).abs() < 0.02, "b got {share_b}");

        // a is out but b is in the second tier: b gets everything.
        for _ in 0..1000 {
            assert_eq!(
                select_key(
                    "p",
                    &keys,
                    "m",
                    &KeyPin::default(),
                    &[&[0.0, 0.0], &[0.0, 0.3]],
                    &mut rng
                )
                .unwrap(),
                1
            );
        }
        // b is out: a gets everything.
        for _ in 0..1000 {
            assert_eq!(
                select_key(
                    "p",
                    &keys,
                    "m",
                    &KeyPin::default(),
                    &[&[1.0, 0.0]],
                    &mut rng
                )
                .unwrap(),
                0
            );
        }
        // Both out: back to configured weights, both used.
        let mut seen = [false; 2];
        for _ in 0..1000 {
            seen[select_key(
                "p",
                &keys,
                "m",
                &KeyPin::default(),
                &[&[0.0, 0.0], &[0.0, 0.0]],
                &mut rng,
            )
            .unwrap()] = true;
        }
        assert_eq!(seen, [true, true]);
    }
}
