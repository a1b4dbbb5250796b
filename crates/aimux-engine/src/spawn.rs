//! Starting agents: every agent aimux starts (a new one, or a resumed conversation) runs in
//! a detached tmux session named `aimux-<provider>-<project>-<n>`, so it outlives aimux, can
//! be attached to, and is found again by discovery like any agent.
//!
//! The command line is an argument vector: a prompt with quotes, `;`, `$()` or newlines
//! reaches the CLI verbatim, as one argument, and no shell ever sees it.

use crate::agents::AgentRow;
use crate::tmux::{Pane, SESSION_PREFIX, Tmux, TmuxError, find_agent_pane};
use aimux_core::Provider;
use aimux_core::status::Status;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// aimux's OTLP/HTTP receiver.
pub const DEFAULT_OTEL_ENDPOINT: &str = "http://127.0.0.1:4318";
/// Overrides [`DEFAULT_OTEL_ENDPOINT`].
pub const OTEL_ENDPOINT_ENV: &str = "AIMUX_OTEL_ENDPOINT";

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{0}")]
    Tmux(#[from] TmuxError),
    #[error("directory {0} does not exist")]
    NoDir(String),
    #[error("git worktree add failed: {0}")]
    Worktree(String),
    #[error("{0}")]
    Invalid(String),
}

/// What to start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpawnSpec {
    pub provider: Option<Provider>,
    pub dir: PathBuf,
    pub model: Option<String>,
    /// Permission / approval mode in the CLI's own vocabulary (`yolo` works for all).
    pub mode: Option<String>,
    /// First prompt, typed by the CLI itself (an argument, not keystrokes).
    pub prompt: Option<String>,
    /// Create `git worktree add` NAME first and run there.
    pub worktree: Option<String>,
    /// Point the agent's telemetry at aimux's receiver.
    pub otel: bool,
    /// Resume this conversation instead of starting one.
    pub resume: Option<String>,
}

/// A started agent.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Spawned {
    pub provider: Provider,
    pub session: String,
    pub pane: String,
    /// pid of the pane's process (the CLI itself: it is exec'd, not run under a shell).
    pub pid: u32,
    pub dir: String,
    pub argv: Vec<String>,
    /// How to reach it with tmux: `[-S socket] session`.
    pub target: String,
}

/// The program to run for `provider`: `AIMUX_<PROVIDER>_BIN` or its usual name.
pub fn program(provider: Provider) -> String {
    let var = format!("AIMUX_{}_BIN", provider.as_str().to_ascii_uppercase());
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| provider.as_str().to_string())
}

pub fn otel_endpoint() -> String {
    std::env::var(OTEL_ENDPOINT_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_OTEL_ENDPOINT.to_string())
}

/// Environment that makes `provider` send telemetry to `endpoint` (OTLP/HTTP JSON).
pub fn otel_env(provider: Provider, endpoint: &str) -> Vec<(String, String)> {
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    match provider {
        Provider::Claude => vec![
            kv("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
            kv("OTEL_LOGS_EXPORTER", "otlp"),
            kv("OTEL_METRICS_EXPORTER", "otlp"),
            kv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            kv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            kv("OTEL_METRIC_EXPORT_INTERVAL", "5000"),
            kv("OTEL_LOGS_EXPORT_INTERVAL", "2000"),
            kv("OTEL_LOG_TOOL_DETAILS", "1"),
        ],
        Provider::Gemini => vec![
            kv("GEMINI_TELEMETRY_ENABLED", "true"),
            kv("GEMINI_TELEMETRY_TARGET", "local"),
            kv("GEMINI_TELEMETRY_OTLP_ENDPOINT", endpoint),
            kv("GEMINI_TELEMETRY_OTLP_PROTOCOL", "http"),
        ],
        // Codex reads telemetry from its config only: see `otel_args`.
        Provider::Codex | Provider::Opencode => Vec::new(),
    }
}

/// Command-line overrides for telemetry (Codex: `-c otel…`).
pub fn otel_args(provider: Provider, endpoint: &str) -> Vec<String> {
    match provider {
        Provider::Codex => vec![
            "-c".into(),
            format!(
                "otel.exporter={{ otlp-http = {{ endpoint = {}, protocol = \"json\" }} }}",
                toml_string(&format!("{}/v1/logs", endpoint.trim_end_matches('/')))
            ),
            "-c".into(),
            "otel.environment=\"aimux\"".into(),
        ],
        _ => Vec::new(),
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The argv that starts (or resumes) the agent. `program` is the CLI to run.
pub fn agent_argv(
    provider: Provider,
    program: &str,
    spec: &SpawnSpec,
    otel_endpoint: Option<&str>,
) -> Vec<String> {
    let mut v = vec![program.to_string()];
    let mode = spec
        .mode
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let model = spec
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let prompt = spec.prompt.as_deref().filter(|p| !p.is_empty());
    match provider {
        Provider::Claude => {
            if let Some(m) = model {
                v.extend(["--model".into(), m.to_string()]);
            }
            if let Some(m) = mode {
                let m = match m {
                    "yolo" | "bypass" => "bypassPermissions",
                    "auto-edit" | "auto_edit" => "acceptEdits",
                    other => other,
                };
                v.extend(["--permission-mode".into(), m.to_string()]);
            }
            if let Some(id) = &spec.resume {
                v.extend(["--resume".into(), id.clone()]);
            }
            if let Some(p) = prompt {
                // After `--` a prompt starting with `-` is not taken for an option.
                v.extend(["--".into(), p.to_string()]);
            }
        }
        Provider::Codex => {
            if spec.resume.is_some() {
                v.push("resume".into());
            }
            if let Some(m) = model {
                v.extend(["--model".into(), m.to_string()]);
            }
            if let Some(m) = mode {
                match m {
                    "yolo" | "bypass" => {
                        v.push("--dangerously-bypass-approvals-and-sandbox".into())
                    }
                    "full-auto" | "auto" => v.push("--full-auto".into()),
                    other => v.extend(["--ask-for-approval".into(), other.to_string()]),
                }
            }
            if let Some(e) = otel_endpoint {
                v.extend(otel_args(provider, e));
            }
            if prompt.is_some() || spec.resume.is_some() {
                v.push("--".into());
            }
            if let Some(id) = &spec.resume {
                v.push(id.clone());
            }
            if let Some(p) = prompt {
                v.push(p.to_string());
            }
        }
        Provider::Gemini => {
            if let Some(m) = model {
                v.extend(["--model".into(), m.to_string()]);
            }
            if let Some(m) = mode {
                let m = match m {
                    "auto-edit" => "auto_edit",
                    other => other,
                };
                v.push(format!("--approval-mode={m}"));
            }
            if let Some(id) = &spec.resume {
                v.push(format!("--resume={id}"));
            }
            if let Some(p) = prompt {
                // `=` form: the value is never mistaken for an option.
                v.push(format!("--prompt-interactive={p}"));
            }
        }
        Provider::Opencode => {
            if let Some(m) = model {
                v.extend(["--model".into(), m.to_string()]);
            }
            if let Some(id) = &spec.resume {
                v.push(format!("--session={id}"));
            }
            if let Some(p) = prompt {
                v.push(format!("--prompt={p}"));
            }
        }
    }
    v
}

/// A name piece tmux accepts (no `.` or `:`), short and readable.
pub fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if out.is_empty() {
        out.push_str("project");
    }
    out
}

/// `aimux-<provider>-<project>-<n>`, `n` the first number not taken in `existing`.
pub fn session_name(provider: Provider, project: &str, existing: &[String]) -> String {
    let base = format!(
        "{SESSION_PREFIX}{}-{}",
        provider.as_str(),
        sanitize(project)
    );
    (1u32..)
        .map(|n| format!("{base}-{n}"))
        .find(|name| !existing.iter().any(|e| e == name))
        .unwrap_or(base)
}

/// `git worktree add`: a new worktree for branch `name` beside the repository at `dir`
/// (`<repo>-<name>`), or the existing branch when it already exists. Returns its path.
pub fn create_worktree(dir: &Path, name: &str) -> Result<PathBuf, SpawnError> {
    let clean = sanitize(name);
    if clean != name {
        return Err(SpawnError::Invalid(format!(
            "worktree name '{name}': use letters, digits, '-' and '_' only"
        )));
    }
    let top = git(dir, &["rev-parse", "--show-toplevel"])
        .map_err(SpawnError::Worktree)?
        .trim()
        .to_string();
    let top = PathBuf::from(top);
    let project = top
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into());
    let parent = top.parent().unwrap_or(&top);
    let path = parent.join(format!("{project}-{name}"));
    if path.exists() {
        return Err(SpawnError::Worktree(format!(
            "{} already exists",
            path.display()
        )));
    }
    let p = path.display().to_string();
    git(&top, &["worktree", "add", "-b", name, "--", &p])
        .or_else(|_| git(&top, &["worktree", "add", "--", &p, name]))
        .map_err(SpawnError::Worktree)?;
    Ok(path)
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Starts the agent described by `spec` in a new detached session on `tmux`.
pub fn spawn(tmux: &Tmux, spec: &SpawnSpec) -> Result<Spawned, SpawnError> {
    let provider = spec
        .provider
        .ok_or_else(|| SpawnError::Invalid("no provider chosen".into()))?;
    let dir = if spec.dir.as_os_str().is_empty() {
        std::env::current_dir().map_err(|e| SpawnError::Invalid(e.to_string()))?
    } else {
        spec.dir.clone()
    };
    if !dir.is_dir() {
        return Err(SpawnError::NoDir(dir.display().to_string()));
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    let dir = match spec.worktree.as_deref().filter(|w| !w.is_empty()) {
        Some(w) => create_worktree(&dir, w)?,
        None => dir,
    };
    let endpoint = spec.otel.then(otel_endpoint);
    let argv = agent_argv(provider, &program(provider), spec, endpoint.as_deref());
    let mut env: Vec<(String, String)> = Vec::new();
    // The pane gets the tmux server's environment; aimux's PATH makes sure the CLI (and
    // the runtime its shim names) is found as it would be from here.
    if let Ok(path) = std::env::var("PATH") {
        env.push(("PATH".into(), path));
    }
    if let Some(e) = &endpoint {
        env.extend(otel_env(provider, e));
    }
    let project = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let name = session_name(provider, &project, &tmux.sessions());
    let pane: Pane = tmux.new_session(&name, &dir, &argv, &env, (200, 50))?;
    Ok(Spawned {
        provider,
        target: {
            let mut t = tmux.socket.args().join(" ");
            if !t.is_empty() {
                t.push(' ');
            }
            t.push_str(&name);
            t
        },
        session: name,
        pane: pane.id,
        pid: pane.pid,
        dir: dir.display().to_string(),
        argv,
    })
}

/// The spec that re-opens conversation `session_id` of `provider`, in its own directory.
pub fn resume_spec(provider: Provider, session_id: &str, cwd: Option<&str>) -> SpawnSpec {
    SpawnSpec {
        provider: Some(provider),
        dir: cwd.map(PathBuf::from).unwrap_or_default(),
        resume: Some(session_id.to_string()),
        ..Default::default()
    }
}

/// An agent younger than this is not sent prompts (its CLI may still be starting).
pub const STARTUP_GRACE_SECS: i64 = 8;

/// Why a prompt cannot be typed into `agent` now, if it cannot.
pub fn send_refusal(agent: &AgentRow) -> Option<String> {
    // Just started: the status still reflects the session file of an earlier run, and the
    // CLI may not take input yet (text typed now is lost).
    let age = agent
        .started_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| chrono::Utc::now().signed_duration_since(t));
    if age.is_some_and(|a| a < chrono::Duration::seconds(STARTUP_GRACE_SECS)) {
        return Some(format!(
            "{} agent {} started less than {STARTUP_GRACE_SECS} s ago: wait until it shows its prompt",
            agent.provider, agent.pid
        ));
    }
    if agent.status != Status::Idle {
        return Some(format!(
            "{} agent {} is {} ({}), not idle: a prompt typed now could answer a dialog or interrupt it",
            agent.provider,
            agent.pid,
            agent.status.as_str(),
            agent.status_reason
        ));
    }
    None
}

/// Types `text` into the tmux pane of `agent` and presses Enter. Refused when the agent is
/// not idle or not in tmux.
pub fn send_to_agent(agent: &AgentRow, text: &str) -> Result<String, SpawnError> {
    if let Some(why) = send_refusal(agent) {
        return Err(SpawnError::Invalid(why));
    }
    let Some(found) = find_agent_pane(agent.pid, agent.tmux_target.as_deref()) else {
        return Err(SpawnError::Invalid(format!(
            "{} agent {} does not run in tmux: aimux can only type into a tmux pane",
            agent.provider, agent.pid
        )));
    };
    found.tmux.send_text(&found.pane.id, text)?;
    Ok(format!(
        "sent {} characters to {} agent {} (tmux {})",
        text.chars().count(),
        agent.provider,
        agent.pid,
        found.target()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(provider: Provider) -> SpawnSpec {
        SpawnSpec {
            provider: Some(provider),
            dir: PathBuf::from("/tmp"),
            ..Default::default()
        }
    }

    #[test]
    fn prompts_stay_one_argument() {
        let nasty = "\"quotes\"; $(touch /tmp/x)\nline two";
        for p in [Provider::Claude, Provider::Codex, Provider::Gemini] {
            let s = SpawnSpec {
                prompt: Some(nasty.into()),
                ..spec(p)
            };
            let argv = agent_argv(p, p.as_str(), &s, None);
            let hits: Vec<&String> = argv.iter().filter(|a| a.contains(nasty)).collect();
            assert_eq!(hits.len(), 1, "{p}: {argv:?}");
            let last = argv.last().expect("argv");
            assert!(last.ends_with(nasty), "{p}: prompt last: {argv:?}");
        }
    }

    #[test]
    fn resume_syntax_per_provider() {
        let id = "0199aaaa-bbbb-cccc-dddd-eeeeffff0000";
        let argv = |p| {
            agent_argv(
                p,
                "x",
                &SpawnSpec {
                    resume: Some(id.into()),
                    ..spec(p)
                },
                None,
            )
        };
        assert_eq!(argv(Provider::Claude), ["x", "--resume", id]);
        assert_eq!(argv(Provider::Codex), ["x", "resume", "--", id]);
        assert_eq!(
            argv(Provider::Gemini),
            ["x".to_string(), format!("--resume={id}")]
        );
    }

    #[test]
    fn model_mode_and_otel() {
        let s = SpawnSpec {
            model: Some("m1".into()),
            mode: Some("yolo".into()),
            ..spec(Provider::Codex)
        };
        let argv = agent_argv(Provider::Codex, "codex", &s, Some("http://127.0.0.1:4318"));
        assert!(argv.windows(2).any(|w| w == ["--model", "m1"]));
        assert!(argv.contains(&"--dangerously-bypass-approvals-and-sandbox".to_string()));
        assert!(
            argv.iter().any(|a| a.starts_with("otel.exporter=")
                && a.contains("\"http://127.0.0.1:4318/v1/logs\""))
        );
        let claude = agent_argv(Provider::Claude, "claude", &s, None);
        assert!(
            claude
                .windows(2)
                .any(|w| w == ["--permission-mode", "bypassPermissions"])
        );
        let env = otel_env(Provider::Claude, "http://h:1");
        assert!(env.contains(&("OTEL_EXPORTER_OTLP_ENDPOINT".into(), "http://h:1".into())));
        let env = otel_env(Provider::Gemini, "http://h:1");
        assert!(env.contains(&("GEMINI_TELEMETRY_OTLP_ENDPOINT".into(), "http://h:1".into())));
    }

    fn agent(status: Status, started_secs_ago: i64) -> AgentRow {
        AgentRow {
            pid: 4242,
            provider: Provider::Claude,
            status,
            status_reason: "because".into(),
            model: None,
            cwd: None,
            project: None,
            session_id: None,
            session_file: None,
            match_evidence: crate::agents::MatchEvidence::None,
            title: None,
            started_at: Some(
                (chrono::Utc::now() - chrono::Duration::seconds(started_secs_ago)).to_rfc3339(),
            ),
            last_activity: None,
            last_action: None,
            tokens: Default::default(),
            cost_usd: None,
            rss_bytes: 0,
            cpu_percent: 0.0,
            command: "claude".into(),
            location: "local".into(),
            tmux_target: None,
            children: Vec::new(),
            subagents: Vec::new(),
            remote: None,
        }
    }

    #[test]
    fn send_only_to_idle_agents_past_startup() {
        assert_eq!(send_refusal(&agent(Status::Idle, 60)), None);
        let busy = send_refusal(&agent(Status::Active, 60)).expect("refused");
        assert!(
            busy.contains("not idle") && busy.contains("because"),
            "{busy}"
        );
        assert!(send_refusal(&agent(Status::Waiting, 60)).is_some());
        let young = send_refusal(&agent(Status::Idle, 1)).expect("refused");
        assert!(young.contains("started less than"), "{young}");
        // not in tmux: refused with the reason, nothing typed anywhere
        let err = send_to_agent(&agent(Status::Idle, 60), "hi").expect_err("not in tmux");
        assert!(err.to_string().contains("does not run in tmux"), "{err}");
    }

    #[test]
    fn names_take_the_first_free_number() {
        let existing = vec![
            "aimux-claude-proj-1".to_string(),
            "aimux-claude-proj-3".to_string(),
        ];
        assert_eq!(
            session_name(Provider::Claude, "proj", &existing),
            "aimux-claude-proj-2"
        );
        assert_eq!(
            session_name(Provider::Gemini, "my.proj:x", &[]),
            "aimux-gemini-my_proj_x-1"
        );
        assert_eq!(toml_string("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}
