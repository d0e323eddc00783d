//! The governance admin API beyond virtual keys (`/api/governance/teams`, `customers`,
//! `budgets`, `rate-limits`, `model-configs`, `providers`, `routing-rules`) on the real binary
//! with an SQLite config store: each entity is created, listed (filters, paging), read,
//! updated and deleted in Bifrost's shapes; bad requests name their field; unknown ids are
//! 404; and what the API creates governs requests at once.

use crate::admin_api::{Admin, openai_entry, serve_config, serve_in};
use asbru_mock::{MockOptions, MockServer};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Numbers the virtual keys' names (they must be unique).
static NEXT_KEY: AtomicUsize = AtomicUsize::new(0);

/// A chat request through `/v1` with a virtual key; returns the status.
async fn chat_with(url: &str, vk: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(vk)
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A gateway with one mock-backed `openai` provider that requires a virtual key.
async fn gateway(mock: &MockServer, dir: &std::path::Path) -> crate::cli::Served {
    let config = json!({
        "providers": {"openai": openai_entry(mock, "sk-provider-key-00000001")},
        "client": {"enforce_auth_on_inference": true},
    });
    serve_config(dir, &config).await
}

/// Creates a virtual key allowed on openai with `extra` fields; returns (id, value).
async fn virtual_key(admin: &Admin, extra: Value) -> (String, String) {
    let mut body = json!({
        "name": format!("vk-{}", NEXT_KEY.fetch_add(1, Ordering::Relaxed)),
        "provider_configs": [{"provider": "openai", "allowed_models": ["gpt-4o"]}],
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, created) = admin
        .call("POST", "/api/governance/virtual-keys", Some(body))
        .await;
    assert_eq!(status, 200, "{created}");
    (
        created["virtual_key"]["id"].as_str().unwrap().to_owned(),
        created["virtual_key"]["value"].as_str().unwrap().to_owned(),
    )
}

/// Asserts a 400 naming `param`.
fn assert_refused(answer: &(u16, Value), param: &str) {
    assert_eq!(answer.0, 400, "{}", answer.1);
    assert_eq!(answer.1["error"]["param"], param, "{}", answer.1);
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn teams_are_managed_through_the_admin_api_and_their_budget_governs_requests() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = gateway(&mock, dir.path()).await;
    let admin = Admin::of(&served);

    let (status, customer) = admin
        .call(
            "POST",
            "/api/governance/customers",
            Some(json!({"name": "acme"})),
        )
        .await;
    assert_eq!(status, 200, "{customer}");
    let customer_id = customer["customer"]["id"].as_str().unwrap().to_owned();

    // Create: a budget far below one request's cost, so the second request is refused.
    let (status, created) = admin
        .call(
            "POST",
            "/api/governance/teams",
            Some(json!({
                "name": "platform",
                "customer_id": customer_id,
                "budget": {"max_limit": 0.000001, "reset_duration": "1h"},
                "profile": {"cost_center": "42"},
            })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["message"], "Team created successfully");
    let team = &created["team"];
    let team_id = team["id"].as_str().unwrap().to_owned();
    assert_eq!(team["name"], "platform");
    assert_eq!(team["customer_id"], customer_id.as_str());
    assert_eq!(team["profile"]["cost_center"], "42");
    assert_eq!(team["budget_id"], format!("{team_id}-budget"));
    assert_eq!(team["budget"]["max_limit"], 0.000001);
    assert_eq!(team["budget"]["reset_duration"], "1h");
    assert_eq!(team["rate_limit"], Value::Null);
    let (status, research) = admin
        .call(
            "POST",
            "/api/governance/teams",
            Some(json!({"name": "research"})),
        )
        .await;
    assert_eq!(status, 200);
    let research_id = research["team"]["id"].as_str().unwrap().to_owned();

    // List: filters, search and paging.
    let (_, all) = admin.call("GET", "/api/governance/teams", None).await;
    assert_eq!(all["total_count"], 2, "{all}");
    assert_eq!(all["count"], 2);
    let (_, of_customer) = admin
        .call(
            "GET",
            &format!("/api/governance/teams?customer_id={customer_id}"),
            None,
        )
        .await;
    assert_eq!(ids(&of_customer, "teams"), vec![team_id.clone()]);
    let (_, searched) = admin
        .call("GET", "/api/governance/teams?search=PLAT", None)
        .await;
    assert_eq!(ids(&searched, "teams"), vec![team_id.clone()]);
    let (_, page) = admin
        .call("GET", "/api/governance/teams?limit=1&offset=1", None)
        .await;
    assert_eq!(
        (
            &page["count"],
            &page["total_count"],
            &page["limit"],
            &page["offset"]
        ),
        (&json!(1), &json!(2), &json!(1), &json!(1)),
        "{page}"
    );
    assert_eq!(page["teams"][0]["name"], "research");
    let (status, answer) = admin
        .call("GET", "/api/governance/teams?limit=many", None)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit"),
        "{answer}"
    );

    // Get.
    let (status, one) = admin
        .call("GET", &format!("/api/governance/teams/{team_id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["team"]["name"], "platform");

    // Bad requests name their field and change nothing.
    assert_refused(
        &admin
            .call(
                "POST",
                "/api/governance/teams",
                Some(json!({"budget": null})),
            )
            .await,
        "name",
    );
    assert_refused(
        &admin
            .call(
                "POST",
                "/api/governance/teams",
                Some(json!({"name": "x", "budget": {"max_limit": -1, "reset_duration": "1h"}})),
            )
            .await,
        "budget.max_limit",
    );
    assert_refused(
        &admin
            .call(
                "POST",
                "/api/governance/teams",
                Some(
                    json!({"name": "x", "budget": {"max_limit": 5, "reset_duration": "fortnight"}}),
                ),
            )
            .await,
        "budget.reset_duration",
    );
    assert_refused(
        &admin
            .call(
                "PUT",
                &format!("/api/governance/teams/{team_id}"),
                Some(json!({"name": "  "})),
            )
            .await,
        "name",
    );
    // A customer that does not exist: refused by the validator, at the stored path.
    assert_refused(
        &admin
            .call(
                "POST",
                "/api/governance/teams",
                Some(json!({"name": "x", "customer_id": "nope"})),
            )
            .await,
        "governance.teams[2].customer_id",
    );
    let (_, all) = admin.call("GET", "/api/governance/teams", None).await;
    assert_eq!(all["total_count"], 2, "nothing was added: {all}");

    // Unknown ids.
    for (method, body) in [
        ("GET", None),
        ("PUT", Some(json!({"name": "y"}))),
        ("DELETE", None),
    ] {
        let (status, answer) = admin.call(method, "/api/governance/teams/nope", body).await;
        assert_eq!(status, 404, "{method}: {answer}");
    }

    // The team's budget governs its keys: one request had headroom, the next is refused.
    let (vk_id, vk) = virtual_key(
        &admin,
        json!({
            "team_id": team_id,
            "rate_limit": {"request_max_limit": 100, "request_reset_duration": "1h"},
        }),
    )
    .await;
    assert_eq!(chat_with(&served.url, &vk).await, 200);
    assert_eq!(chat_with(&served.url, &vk).await, 402);

    // Live usage: on the team, and in the budgets and rate limits lists.
    let (_, one) = admin
        .call("GET", &format!("/api/governance/teams/{team_id}"), None)
        .await;
    let used = one["team"]["budget"]["current_usage"].as_f64().unwrap();
    assert!(used > 0.000001, "{one}");
    assert!(one["team"]["budget"]["last_reset"].is_string(), "{one}");
    let (_, budgets) = admin.call("GET", "/api/governance/budgets", None).await;
    let budget = budgets["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == format!("{team_id}-budget"))
        .unwrap_or_else(|| panic!("{budgets}"));
    assert_eq!(budget["current_usage"].as_f64(), Some(used));
    assert_eq!(
        budgets["count"],
        budgets["budgets"].as_array().unwrap().len()
    );
    let (_, rate_limits) = admin.call("GET", "/api/governance/rate-limits", None).await;
    let rate_limit = rate_limits["rate_limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == format!("{vk_id}-rate-limit"))
        .unwrap_or_else(|| panic!("{rate_limits}"));
    assert_eq!(
        rate_limit["request_current_usage"], 1,
        "the refused request is not counted: {rate_limits}"
    );
    assert_eq!(rate_limit["request_max_limit"], 100);

    // Update: a budget is updated in part (its reset duration stays); raised, it serves again.
    let (status, updated) = admin
        .call(
            "PUT",
            &format!("/api/governance/teams/{team_id}"),
            Some(json!({"name": "platform-2", "budget": {"max_limit": 100}})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["message"], "Team updated successfully");
    assert_eq!(updated["team"]["name"], "platform-2");
    assert_eq!(updated["team"]["budget"]["max_limit"], 100);
    assert_eq!(updated["team"]["budget"]["reset_duration"], "1h");
    assert_eq!(chat_with(&served.url, &vk).await, 200);

    // Delete: the team and its budget go; its key stays, without a team.
    let (status, deleted) = admin
        .call("DELETE", &format!("/api/governance/teams/{team_id}"), None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["message"], "Team deleted successfully");
    let (status, _) = admin
        .call("GET", &format!("/api/governance/teams/{team_id}"), None)
        .await;
    assert_eq!(status, 404);
    let (_, budgets) = admin.call("GET", "/api/governance/budgets", None).await;
    assert!(
        !budgets.to_string().contains(&format!("{team_id}-budget")),
        "{budgets}"
    );
    let (_, key) = admin
        .call(
            "GET",
            &format!("/api/governance/virtual-keys/{vk_id}"),
            None,
        )
        .await;
    assert!(key["virtual_key"].get("team_id").is_none(), "{key}");
    assert_eq!(chat_with(&served.url, &vk).await, 200);
    let (status, _) = admin
        .call("DELETE", &format!("/api/governance/teams/{team_id}"), None)
        .await;
    assert_eq!(status, 404);
    // A key belongs to a team or a customer: naming one replaces the other; both is refused.
    let (moved_id, _) = virtual_key(&admin, json!({"team_id": research_id})).await;
    let (status, moved) = admin
        .call(
            "PUT",
            &format!("/api/governance/virtual-keys/{moved_id}"),
            Some(json!({"customer_id": customer_id})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["virtual_key"]["customer_id"], customer_id.as_str());
    assert!(moved["virtual_key"].get("team_id").is_none(), "{moved}");
    assert_refused(
        &admin
            .call(
                "PUT",
                &format!("/api/governance/virtual-keys/{moved_id}"),
                Some(json!({"team_id": research_id, "customer_id": customer_id})),
            )
            .await,
        "team_id",
    );
    served.stop().await;
}

#[tokio::test]
async fn customers_are_managed_through_the_admin_api_and_deleting_one_detaches_what_it_owned() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = gateway(&mock, dir.path()).await;
    let admin = Admin::of(&served);

    let (status, created) = admin
        .call(
            "POST",
            "/api/governance/customers",
            Some(json!({
                "name": "acme",
                "budget": {"max_limit": 50, "reset_duration": "1M"},
                "rate_limit": {"request_max_limit": 2, "request_reset_duration": "1h"},
            })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["message"], "Customer created successfully");
    let id = created["customer"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["customer"]["budget"]["max_limit"], 50);
    assert_eq!(created["customer"]["rate_limit"]["request_max_limit"], 2);
    assert_eq!(
        created["customer"]["rate_limit_id"],
        format!("{id}-rate-limit")
    );
    for name in ["globex", "initech"] {
        let (status, _) = admin
            .call(
                "POST",
                "/api/governance/customers",
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 200);
    }

    // List, search, paging; get.
    let (_, all) = admin.call("GET", "/api/governance/customers", None).await;
    assert_eq!(all["total_count"], 3, "{all}");
    let (_, searched) = admin
        .call("GET", "/api/governance/customers?search=acm", None)
        .await;
    assert_eq!(ids(&searched, "customers"), vec![id.clone()]);
    let (_, page) = admin
        .call("GET", "/api/governance/customers?limit=2&offset=2", None)
        .await;
    assert_eq!(page["count"], 1, "{page}");
    assert_eq!(page["total_count"], 3);
    assert_eq!(page["customers"][0]["name"], "initech");
    let (status, one) = admin
        .call("GET", &format!("/api/governance/customers/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["customer"]["name"], "acme");

    // Bad requests name their field; unknown ids are 404.
    assert_refused(
        &admin
            .call(
                "POST",
                "/api/governance/customers",
                Some(json!({"name": ""})),
            )
            .await,
        "name",
    );
    assert_refused(
        &admin
            .call(
                "POST",
                "/api/governance/customers",
                Some(json!({"name": "x", "rate_limit": {"request_max_limit": 0, "request_reset_duration": "1h"}})),
            )
            .await,
        "rate_limit.request_max_limit",
    );
    assert_refused(
        &admin
            .call(
                "PUT",
                &format!("/api/governance/customers/{id}"),
                Some(json!({"rate_limit": {"token_max_limit": 1000}})),
            )
            .await,
        "rate_limit.token_reset_duration",
    );
    for (method, body) in [
        ("GET", None),
        ("PUT", Some(json!({"name": "y"}))),
        ("DELETE", None),
    ] {
        let (status, _) = admin
            .call(method, "/api/governance/customers/nope", body)
            .await;
        assert_eq!(status, 404, "{method}");
    }

    // The customer's rate limit governs its keys, directly and through its teams.
    let (_, team) = admin
        .call(
            "POST",
            "/api/governance/teams",
            Some(json!({"name": "platform", "customer_id": id})),
        )
        .await;
    let team_id = team["team"]["id"].as_str().unwrap().to_owned();
    let (direct_id, direct) = virtual_key(&admin, json!({"customer_id": id})).await;
    let (_, via_team) = virtual_key(&admin, json!({"team_id": team_id})).await;
    assert_eq!(chat_with(&served.url, &direct).await, 200);
    assert_eq!(chat_with(&served.url, &via_team).await, 200);
    assert_eq!(chat_with(&served.url, &direct).await, 429);
    assert_eq!(chat_with(&served.url, &via_team).await, 429);
    let (_, one) = admin
        .call("GET", &format!("/api/governance/customers/{id}"), None)
        .await;
    assert_eq!(
        one["customer"]["rate_limit"]["request_current_usage"], 2,
        "{one}"
    );

    // Update: an object without limits removes the rate limit (Bifrost's removal request).
    let (status, updated) = admin
        .call(
            "PUT",
            &format!("/api/governance/customers/{id}"),
            Some(json!({"name": "acme-2", "rate_limit": {}})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["customer"]["name"], "acme-2");
    assert_eq!(updated["customer"]["rate_limit"], Value::Null);
    assert!(updated["customer"].get("rate_limit_id").is_none());
    assert_eq!(updated["customer"]["budget"]["max_limit"], 50);
    assert_eq!(chat_with(&served.url, &direct).await, 200);

    // Delete: its limits go; its team and keys stay, without a customer (as in Bifrost).
    let (status, deleted) = admin
        .call("DELETE", &format!("/api/governance/customers/{id}"), None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["message"], "Customer deleted successfully");
    let (_, team) = admin
        .call("GET", &format!("/api/governance/teams/{team_id}"), None)
        .await;
    assert!(team["team"].get("customer_id").is_none(), "{team}");
    let (_, key) = admin
        .call(
            "GET",
            &format!("/api/governance/virtual-keys/{direct_id}"),
            None,
        )
        .await;
    assert!(key["virtual_key"].get("customer_id").is_none(), "{key}");
    let (_, budgets) = admin.call("GET", "/api/governance/budgets", None).await;
    assert!(!budgets.to_string().contains(&id), "{budgets}");
    let (_, all) = admin.call("GET", "/api/governance/customers", None).await;
    assert_eq!(all["total_count"], 2);
    assert_eq!(chat_with(&served.url, &via_team).await, 200);
    served.stop().await;

    // Kept across a restart (the file's governance section is unchanged, so the store wins).
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    let (_, all) = admin.call("GET", "/api/governance/customers", None).await;
    assert_eq!(all["total_count"], 2, "{all}");
    let (status, team) = admin
        .call("GET", &format!("/api/governance/teams/{team_id}"), None)
        .await;
    assert_eq!(status, 200, "{team}");
    assert_eq!(team["team"]["name"], "platform");
    assert_eq!(chat_with(&served.url, &via_team).await, 200);
    served.stop().await;
}

#[tokio::test]
async fn routing_rules_are_managed_through_the_admin_api() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = gateway(&mock, dir.path()).await;
    let admin = Admin::of(&served);
    let (_, team) = admin
        .call(
            "POST",
            "/api/governance/teams",
            Some(json!({"name": "platform"})),
        )
        .await;
    let team_id = team["team"]["id"].as_str().unwrap().to_owned();

    let (status, created) = admin
        .call(
            "POST",
            "/api/governance/routing-rules",
            Some(json!({
                "name": "gpt-4o to mini",
                "cel_expression": "model == 'gpt-4o'",
                "targets": [{"provider": "openai", "model": "gpt-4o-mini", "weight": 1}],
                "fallbacks": ["openai/gpt-4o"],
            })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["message"], "Routing rule created successfully");
    let rule = &created["rule"];
    let global_id = rule["id"].as_str().unwrap().to_owned();
    assert_eq!(rule["enabled"], true, "Bifrost's defaults: {rule}");
    assert_eq!(rule["scope"], "global");
    assert_eq!(rule["priority"], 0);
    assert_eq!(rule["targets"][0]["model"], "gpt-4o-mini");
    let (status, created) = admin
        .call(
            "POST",
            "/api/governance/routing-rules",
            Some(json!({
                "name": "platform split",
                "description": "half and half",
                "scope": "team",
                "scope_id": team_id,
                "priority": 5,
                "targets": [
                    {"provider": "openai", "model": "gpt-4o", "weight": 0.5},
                    {"provider": "openai", "model": "gpt-4o-mini", "weight": 0.5},
                ],
            })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let team_rule_id = created["rule"]["id"].as_str().unwrap().to_owned();

    // List: scope and scope_id filters, search, paging.
    let (_, all) = admin
        .call("GET", "/api/governance/routing-rules", None)
        .await;
    assert_eq!(all["total_count"], 2, "{all}");
    let (_, scoped) = admin
        .call(
            "GET",
            &format!("/api/governance/routing-rules?scope=team&scope_id={team_id}"),
            None,
        )
        .await;
    assert_eq!(ids(&scoped, "rules"), vec![team_rule_id.clone()]);
    let (_, global) = admin
        .call("GET", "/api/governance/routing-rules?scope=global", None)
        .await;
    assert_eq!(ids(&global, "rules"), vec![global_id.clone()]);
    let (_, searched) = admin
        .call("GET", "/api/governance/routing-rules?search=half", None)
        .await;
    assert_eq!(ids(&searched, "rules"), vec![team_rule_id.clone()]);
    let (_, page) = admin
        .call("GET", "/api/governance/routing-rules?limit=1", None)
        .await;
    assert_eq!(ids(&page, "rules"), vec![global_id.clone()]);
    assert_eq!(page["total_count"], 2);
    let (status, one) = admin
        .call(
            "GET",
            &format!("/api/governance/routing-rules/{team_rule_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["rule"]["scope_id"], team_id.as_str());

    // Bad requests name their field.
    let target = json!([{"provider": "openai", "weight": 1}]);
    for (body, param) in [
        (json!({"targets": target}), "name"),
        (json!({"name": "r"}), "targets"),
        (json!({"name": "r", "targets": []}), "targets"),
        (
            json!({"name": "r", "targets": [{"provider": "openai", "weight": 0.4}]}),
            "targets",
        ),
        (
            json!({"name": "r", "targets": [{"provider": "openai", "weight": 0}]}),
            "targets[0].weight",
        ),
        (
            json!({"name": "r", "targets": target, "scope": "planet"}),
            "scope",
        ),
        (
            json!({"name": "r", "targets": target, "scope": "team"}),
            "scope_id",
        ),
    ] {
        assert_refused(
            &admin
                .call("POST", "/api/governance/routing-rules", Some(body))
                .await,
            param,
        );
    }
    // An expression that does not compile is refused at its field, with CEL's position.
    let (status, refused) = admin
        .call(
            "POST",
            "/api/governance/routing-rules",
            Some(json!({"name": "r", "targets": target, "cel_expression": "model =="})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let param = refused["error"]["param"].as_str().unwrap_or_default();
    assert!(param.ends_with("cel_expression"), "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1, column"),
        "{refused}"
    );
    for (method, body) in [
        ("GET", None),
        ("PUT", Some(json!({"priority": 1}))),
        ("DELETE", None),
    ] {
        let (status, _) = admin
            .call(method, "/api/governance/routing-rules/nope", body)
            .await;
        assert_eq!(status, 404, "{method}");
    }

    // Update: given fields replace the stored ones; going global drops the scope id.
    let (status, updated) = admin
        .call(
            "PUT",
            &format!("/api/governance/routing-rules/{team_rule_id}"),
            Some(json!({"enabled": false, "priority": 1, "scope": "global"})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["message"], "Routing rule updated successfully");
    assert_eq!(updated["rule"]["enabled"], false);
    assert_eq!(updated["rule"]["priority"], 1);
    assert!(updated["rule"].get("scope_id").is_none(), "{updated}");
    assert_eq!(updated["rule"]["name"], "platform split");

    // Delete.
    let (status, deleted) = admin
        .call(
            "DELETE",
            &format!("/api/governance/routing-rules/{team_rule_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["message"], "Routing rule deleted successfully");
    let (_, all) = admin
        .call("GET", "/api/governance/routing-rules", None)
        .await;
    assert_eq!(ids(&all, "rules"), vec![global_id]);
    served.stop().await;
}

/// What the model-config and provider-limit routes refuse before anything is stored: these
/// answer the same whether or not such limits are enforced.
#[tokio::test]
async fn model_configs_and_provider_limits_refuse_bad_requests() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = gateway(&mock, dir.path()).await;
    let admin = Admin::of(&served);

    let (_, list) = admin
        .call("GET", "/api/governance/model-configs", None)
        .await;
    assert_eq!(list["total_count"], 0, "{list}");
    assert_eq!(list["model_configs"], json!([]));
    assert_refused(
        &admin
            .call(
                "POST",
                "/api/governance/model-configs",
                Some(json!({"provider": "openai"})),
            )
            .await,
        "model_name",
    );
    assert_refused(
        &admin
            .call(
                "POST",
                "/api/governance/model-configs",
                Some(json!({"model_name": "gpt-4o", "budget": {"max_limit": 0, "reset_duration": "1d"}})),
            )
            .await,
        "budget.max_limit",
    );
    for (method, body) in [
        ("GET", None),
        ("PUT", Some(json!({"model_name": "x"}))),
        ("DELETE", None),
    ] {
        let (status, _) = admin
            .call(method, "/api/governance/model-configs/nope", body)
            .await;
        assert_eq!(status, 404, "{method}");
    }

    let (_, providers) = admin.call("GET", "/api/governance/providers", None).await;
    assert_eq!(providers, json!({"providers": [], "count": 0}));
    let budget = json!({"budget": {"max_limit": 10, "reset_duration": "1d"}});
    let (status, _) = admin
        .call("PUT", "/api/governance/providers/nope", Some(budget))
        .await;
    assert_eq!(status, 404, "a provider the configuration does not have");
    let (status, _) = admin
        .call("DELETE", "/api/governance/providers/nope", None)
        .await;
    assert_eq!(status, 404);
    assert_refused(
        &admin
            .call(
                "PUT",
                "/api/governance/providers/openai",
                Some(json!({"rate_limit": {"request_max_limit": -1, "request_reset_duration": "1h"}})),
            )
            .await,
        "rate_limit.request_max_limit",
    );
    served.stop().await;
}

#[tokio::test]
async fn model_configs_are_managed_through_the_admin_api_and_govern_requests() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = gateway(&mock, dir.path()).await;
    let admin = Admin::of(&served);
    let (_, vk) = virtual_key(&admin, json!({})).await;

    let (status, created) = admin
        .call(
            "POST",
            "/api/governance/model-configs",
            Some(json!({
                "model_name": "gpt-4o",
                "provider": "openai",
                "rate_limit": {"request_max_limit": 1, "request_reset_duration": "1h"},
                "budget": {"max_limit": 10, "reset_duration": "1d"},
            })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["message"], "Model config created successfully");
    let id = created["model_config"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["model_config"]["rate_limit"]["request_max_limit"],
        1
    );
    assert_eq!(created["model_config"]["budget"]["max_limit"], 10);
    let (status, _) = admin
        .call(
            "POST",
            "/api/governance/model-configs",
            Some(json!({"model_name": "gpt-4o-mini"})),
        )
        .await;
    assert_eq!(status, 200);

    // One config per model and provider: 409.
    let (status, answer) = admin
        .call(
            "POST",
            "/api/governance/model-configs",
            Some(json!({"model_name": "gpt-4o", "provider": "openai"})),
        )
        .await;
    assert_eq!(status, 409, "{answer}");

    // List, search, paging; get.
    let (_, all) = admin
        .call("GET", "/api/governance/model-configs", None)
        .await;
    assert_eq!(all["total_count"], 2, "{all}");
    let (_, searched) = admin
        .call("GET", "/api/governance/model-configs?search=mini", None)
        .await;
    assert_eq!(searched["count"], 1);
    assert_eq!(searched["model_configs"][0]["model_name"], "gpt-4o-mini");
    let (_, page) = admin
        .call(
            "GET",
            "/api/governance/model-configs?limit=1&offset=1",
            None,
        )
        .await;
    assert_eq!(page["count"], 1);
    assert_eq!(page["offset"], 1);
    let (status, one) = admin
        .call("GET", &format!("/api/governance/model-configs/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["model_config"]["provider"], "openai");

    // It governs requests for the model: one request an hour.
    assert_eq!(chat_with(&served.url, &vk).await, 200);
    assert_eq!(chat_with(&served.url, &vk).await, 429);

    // Update: a raised limit serves again.
    let (status, updated) = admin
        .call(
            "PUT",
            &format!("/api/governance/model-configs/{id}"),
            Some(json!({"rate_limit": {"request_max_limit": 10, "request_reset_duration": "1h"}})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["model_config"]["rate_limit"]["request_max_limit"],
        10
    );
    assert_eq!(chat_with(&served.url, &vk).await, 200);

    // Delete: the config and its limits go.
    let (status, _) = admin
        .call(
            "DELETE",
            &format!("/api/governance/model-configs/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, rate_limits) = admin.call("GET", "/api/governance/rate-limits", None).await;
    assert!(!rate_limits.to_string().contains(&id), "{rate_limits}");
    let (status, _) = admin
        .call(
            "DELETE",
            &format!("/api/governance/model-configs/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    served.stop().await;
}

#[tokio::test]
async fn provider_limits_are_managed_through_the_admin_api_and_govern_requests() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = gateway(&mock, dir.path()).await;
    let admin = Admin::of(&served);
    let (_, vk) = virtual_key(&admin, json!({})).await;

    let (status, updated) = admin
        .call(
            "PUT",
            "/api/governance/providers/openai",
            Some(json!({
                "budget": {"max_limit": 10, "reset_duration": "1d"},
                "rate_limit": {"request_max_limit": 1, "request_reset_duration": "1h"},
            })),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["message"],
        "Provider governance updated successfully"
    );
    assert_eq!(updated["provider"]["provider"], "openai");
    assert_eq!(updated["provider"]["budget"]["max_limit"], 10);
    let (_, list) = admin.call("GET", "/api/governance/providers", None).await;
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["providers"][0]["rate_limit"]["request_max_limit"], 1);

    // It governs every request to the provider.
    assert_eq!(chat_with(&served.url, &vk).await, 200);
    assert_eq!(chat_with(&served.url, &vk).await, 429);
    let (_, list) = admin.call("GET", "/api/governance/providers", None).await;
    assert_eq!(
        list["providers"][0]["rate_limit"]["request_current_usage"], 1,
        "{list}"
    );

    // Removing the rate limit alone keeps the budget.
    let (status, updated) = admin
        .call(
            "PUT",
            "/api/governance/providers/openai",
            Some(json!({"rate_limit": null})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert!(updated["provider"].get("rate_limit").is_none(), "{updated}");
    assert_eq!(updated["provider"]["budget"]["max_limit"], 10);
    assert_eq!(chat_with(&served.url, &vk).await, 200);

    // Delete: the provider's limits go, the provider stays.
    let (status, deleted) = admin
        .call("DELETE", "/api/governance/providers/openai", None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    let (_, list) = admin.call("GET", "/api/governance/providers", None).await;
    assert_eq!(list["count"], 0, "{list}");
    let (_, budgets) = admin.call("GET", "/api/governance/budgets", None).await;
    assert!(
        !budgets.to_string().contains("provider-openai"),
        "{budgets}"
    );
    assert_eq!(chat_with(&served.url, &vk).await, 200);
    served.stop().await;
}
