//! `aimux health --json` and `aimux teams --json`, the headless twins of the health and
//! teams views.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn run(home: &Path, state: &Path, args: &[&str]) -> Value {
    let out = Command::cargo_bin("aimux")
        .expect("binary")
        .env("AIMUX_HOME", state)
        .env_remove("AIMUX_REDIS_URL")
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn health_lists_every_provider_and_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".claude/projects")).expect("mkdir");
    let got = run(&home, &dir.path().join("s"), &["health", "--json"]);
    let providers = got["providers"].as_array().expect("providers");
    let names: Vec<&str> = providers
        .iter()
        .filter_map(|p| p["provider"].as_str())
        .collect();
    assert_eq!(names, ["claude", "codex", "gemini", "opencode"]);
    let found = |p: &str| {
        providers
            .iter()
            .find(|x| x["provider"] == p)
            .map(|x| x["session_dir_found"].clone())
    };
    assert_eq!(found("claude"), Some(Value::Bool(true)));
    assert_eq!(found("codex"), Some(Value::Bool(false)));
    assert_eq!(got["telemetry"][0]["name"], "OTLP receiver");
    let infra: Vec<&str> = got["infrastructure"]
        .as_array()
        .expect("infra")
        .iter()
        .filter_map(|b| b["state"].as_str())
        .collect();
    assert!(infra.iter().all(|s| *s == "not configured"), "{infra:?}");
}

#[test]
fn teams_are_read_leniently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let team = home.join(".claude/teams/refactor-team");
    std::fs::create_dir_all(&team).expect("mkdir");
    std::fs::write(
        team.join("config.json"),
        r#"{"name":"refactor-team","leadAgentId":"team-lead@refactor-team","leadSessionId":"3b22f6a2-8179-4ae8-b430-000000000001",
            "members":[{"agentId":"team-lead@refactor-team","name":"team-lead","agentType":"team-lead","cwd":"/src/app"},
                       {"agentId":"backend@refactor-team","name":"backend","agentType":"general-purpose","model":"sonnet"}]}"#,
    )
    .expect("write");
    let broken = home.join(".claude/teams/broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    std::fs::write(broken.join("config.json"), b"{not json").expect("write");
    let got = run(&home, &dir.path().join("s"), &["teams", "--json"]);
    let teams = got["teams"].as_array().expect("teams");
    assert_eq!(teams.len(), 1);
    let members = teams[0]["members"].as_array().expect("members");
    assert_eq!(members.len(), 2);
    assert_eq!(
        members[0]["session_id"],
        "3b22f6a2-8179-4ae8-b430-000000000001"
    );
    assert_eq!(members[1]["agent_type"], "general-purpose");
    assert_eq!(got["warnings"].as_array().map(Vec::len), Some(1));
}
