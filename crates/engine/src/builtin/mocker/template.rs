//! `message_template` variables, as Bifrost fills them: `{{model}}`, `{{provider}}`, and the
//! `{{faker.*}}` values asbru can make without a fake-data library (`uuid`, `integer[:min,max]`,
//! `lorem_ipsum[:words]`); any other `{{faker.*}}` is left as written, so a template never
//! fails a request.

use rand::Rng;

const LOREM: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
];

/// `template` with its variables filled in.
pub(super) fn fill(template: &str, provider: &str, model: &str, rng: &mut impl Rng) -> String {
    if !template.contains("{{") {
        return template.to_owned();
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let var = after[..end].trim();
        match value(var, provider, model, rng) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn value(var: &str, provider: &str, model: &str, rng: &mut impl Rng) -> Option<String> {
    match var {
        "model" => return Some(model.to_owned()),
        "provider" => return Some(provider.to_owned()),
        _ => {}
    }
    let faker = var.strip_prefix("faker.")?;
    let (method, args) = faker.split_once(':').unwrap_or((faker, ""));
    match method {
        "uuid" => Some(uuid::Uuid::new_v4().to_string()),
        "integer" => {
            let mut bounds = args.split(',').map(|a| a.trim().parse::<i64>().ok());
            let (min, max) = match (bounds.next().flatten(), bounds.next().flatten()) {
                (Some(a), Some(b)) if a <= b => (a, b),
                _ => (1, 100),
            };
            Some(rng.random_range(min..=max).to_string())
        }
        "lorem_ipsum" => {
            let n = args.trim().parse::<usize>().unwrap_or(10).clamp(1, 1000);
            let words: Vec<&str> = (0..n)
                .map(|_| LOREM[rng.random_range(0..LOREM.len())])
                .collect();
            Some(words.join(" "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::fill;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn fills_model_provider_and_fakers() {
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(
            fill(
                "{{provider}} says hi from {{model}}",
                "openai",
                "gpt-4o",
                &mut rng
            ),
            "openai says hi from gpt-4o"
        );
        let n: i64 = fill("{{faker.integer:5,7}}", "", "", &mut rng)
            .parse()
            .unwrap();
        assert!((5..=7).contains(&n));
        assert_eq!(
            fill("{{faker.lorem_ipsum:3}}", "", "", &mut rng)
                .split(' ')
                .count(),
            3
        );
        assert_eq!(fill("{{faker.uuid}}", "", "", &mut rng).len(), 36);
        assert_eq!(
            fill("{{faker.name}} {{x", "", "", &mut rng),
            "{{faker.name}} {{x"
        );
        assert_eq!(fill("no vars", "p", "m", &mut rng), "no vars");
    }
}
