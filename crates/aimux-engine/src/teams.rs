//! Claude Code agent teams: `~/.claude/teams/<team>/config.json`.
//!
//! Claude Code 2.1.x writes one config per team (camelCase keys):
//! `{"name", "description", "createdAt": <ms>, "leadAgentId", "leadSessionId",
//!   "members": [{"agentId", "name", "agentType", "model", "color", "joinedAt": <ms>,
//!   "tmuxPaneId", "cwd", "backendType", "planModeRequired", "subscriptions"}]}`.
//! The format is experimental, so the reader is lenient: every field is optional,
//! snake_case spellings are accepted too, unknown keys are ignored, and a file that is not
//! a JSON object becomes a warning instead of a team.

use serde::Serialize;
use serde_json::{Map, Value};
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TeamMember {
    pub name: String,
    pub agent_id: Option<String>,
    /// The member's role (`team-lead`, `general-purpose`, a custom agent type).
    pub agent_type: Option<String>,
    pub model: Option<String>,
    pub cwd: Option<String>,
    /// Set when the config names the member's session (the lead's comes from
    /// `leadSessionId`).
    pub session_id: Option<String>,
    pub tmux_pane_id: Option<String>,
    /// `in-process`, `tmux`, `iterm2`, …
    pub backend_type: Option<String>,
    pub joined_at: Option<String>,
    pub is_lead: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Team {
    pub name: String,
    pub description: Option<String>,
    pub config_path: String,
    pub lead_agent_id: Option<String>,
    pub lead_session_id: Option<String>,
    pub created_at: Option<String>,
    pub members: Vec<TeamMember>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TeamsReport {
    pub teams: Vec<Team>,
    /// Files that could not be read or understood, one line each.
    pub warnings: Vec<String>,
}

/// Reads every `<claude_dir>/teams/*/config.json` (`claude_dir` is `~/.claude`). A missing
/// teams directory is no teams.
pub fn read_teams(claude_dir: &Path) -> TeamsReport {
    let mut report = TeamsReport::default();
    let dir = claude_dir.join("teams");
    let entries = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return report,
        Err(e) => {
            report
                .warnings
                .push(format!("cannot list {}: {e}", dir.display()));
            return report;
        }
    };
    let mut dirs: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for team_dir in dirs {
        let path = team_dir.join("config.json");
        let dir_name = team_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                report
                    .warnings
                    .push(format!("cannot read {}: {e}", path.display()));
                continue;
            }
        };
        match parse_team_config(&text, &dir_name) {
            Ok(mut team) => {
                team.config_path = path.display().to_string();
                report.teams.push(team);
            }
            Err(e) => report.warnings.push(format!("{}: {e}", path.display())),
        }
    }
    report
}

/// Parses one team config. `dir_name` names the team when the file does not.
pub fn parse_team_config(text: &str, dir_name: &str) -> Result<Team, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(obj) = value else {
        return Err("expected a JSON object".into());
    };
    let lead_agent_id = string(&obj, &["leadAgentId", "lead_agent_id"]);
    let lead_session_id = string(&obj, &["leadSessionId", "lead_session_id"]);
    let mut members = Vec::new();
    match obj.get("members") {
        Some(Value::Array(list)) => {
            for m in list {
                let Value::Object(m) = m else { continue };
                let agent_id = string(m, &["agentId", "agent_id"]);
                let name = string(m, &["name"])
                    .or_else(|| {
                        agent_id
                            .as_ref()
                            .map(|id| id.split('@').next().unwrap_or(id).to_string())
                    })
                    .unwrap_or_else(|| "(unnamed)".into());
                let is_lead = agent_id.is_some() && agent_id == lead_agent_id;
                let session_id = string(m, &["sessionId", "session_id"]).or_else(|| {
                    if is_lead {
                        lead_session_id.clone()
                    } else {
                        None
                    }
                });
                members.push(TeamMember {
                    name,
                    agent_type: string(m, &["agentType", "agent_type"]),
                    model: string(m, &["model"]),
                    cwd: string(m, &["cwd"]),
                    session_id,
                    tmux_pane_id: string(m, &["tmuxPaneId", "tmux_pane_id"]),
                    backend_type: string(m, &["backendType", "backend_type"]),
                    joined_at: time(m, &["joinedAt", "joined_at"]),
                    is_lead,
                    agent_id,
                });
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => return Err("`members` is not a list".into()),
    }
    Ok(Team {
        name: string(&obj, &["name"]).unwrap_or_else(|| dir_name.to_string()),
        description: string(&obj, &["description"]),
        config_path: String::new(),
        lead_agent_id,
        lead_session_id,
        created_at: time(&obj, &["createdAt", "created_at"]),
        members,
    })
}

fn string(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match obj.get(*k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    })
}

/// Epoch milliseconds (or an already formatted string) as RFC 3339.
fn time(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match obj.get(*k) {
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "name": "refactor-team",
      "description": "Split the parser",
      "createdAt": 1770649635547,
      "leadAgentId": "team-lead@refactor-team",
      "leadSessionId": "3b22f6a2-8179-4ae8-b430-000000000001",
      "members": [
        {"agentId": "team-lead@refactor-team", "name": "team-lead", "agentType": "team-lead",
         "joinedAt": 1770649635547, "tmuxPaneId": "leader", "cwd": "/src/app",
         "subscriptions": [], "backendType": "in-process"},
        {"agentId": "backend@refactor-team", "name": "backend", "agentType": "general-purpose",
         "model": "sonnet", "color": "blue", "tmuxPaneId": "%3", "cwd": "/src/app/api",
         "planModeRequired": false, "backendType": "tmux", "futureField": {"x": 1}}
      ]
    }"#;

    #[test]
    fn reads_claude_code_team_config() {
        let team = parse_team_config(SAMPLE, "dir").expect("parses");
        assert_eq!(team.name, "refactor-team");
        assert_eq!(team.description.as_deref(), Some("Split the parser"));
        assert_eq!(team.created_at.as_deref(), Some("2026-02-09T15:07:15Z"));
        assert_eq!(team.members.len(), 2);
        let lead = &team.members[0];
        assert!(lead.is_lead);
        assert_eq!(
            lead.session_id.as_deref(),
            Some("3b22f6a2-8179-4ae8-b430-000000000001")
        );
        let backend = &team.members[1];
        assert!(!backend.is_lead);
        assert_eq!(backend.session_id, None);
        assert_eq!(backend.agent_type.as_deref(), Some("general-purpose"));
        assert_eq!(backend.model.as_deref(), Some("sonnet"));
        assert_eq!(backend.cwd.as_deref(), Some("/src/app/api"));
        assert_eq!(backend.backend_type.as_deref(), Some("tmux"));
    }

    #[test]
    fn lenient_with_missing_and_snake_case_fields() {
        let team = parse_team_config(
            r#"{"members":[{"agent_id":"x@t","agent_type":"lead"}, 7, {"name":"y"}]}"#,
            "from-dir",
        )
        .expect("parses");
        assert_eq!(team.name, "from-dir");
        let names: Vec<&str> = team.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(team.members[0].agent_type.as_deref(), Some("lead"));
    }

    #[test]
    fn malformed_files_become_warnings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let teams = dir.path().join("teams");
        for (name, body) in [
            ("good", SAMPLE),
            ("broken", "{\"name\": \"half"),
            ("array", "[1,2]"),
            ("badmembers", r#"{"members": "all"}"#),
        ] {
            std::fs::create_dir_all(teams.join(name)).expect("mkdir");
            std::fs::write(teams.join(name).join("config.json"), body).expect("write");
        }
        std::fs::create_dir_all(teams.join("empty")).expect("mkdir");
        let report = read_teams(dir.path());
        assert_eq!(report.teams.len(), 1);
        assert_eq!(report.teams[0].name, "refactor-team");
        assert!(report.teams[0].config_path.ends_with("good/config.json"));
        assert_eq!(report.warnings.len(), 3, "{:?}", report.warnings);
        assert!(report.warnings.iter().any(|w| w.contains("broken")));
    }

    #[test]
    fn missing_teams_dir_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let report = read_teams(dir.path());
        assert!(report.teams.is_empty() && report.warnings.is_empty());
    }
}
