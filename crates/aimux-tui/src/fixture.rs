//! Fixture data and a [`FixtureBackend`] for tests and demos (`cargo run -p aimux-tui
//! --example demo`). Nothing here reads the machine: every value is made up in code.

use crate::backend::{Backend, CostScope, TaskDetail, TaskList, TaskLogLine, TaskRow};
use aimux_core::status::Status;
use aimux_core::{Provider, TokenUsage};
use aimux_engine::agents::{AgentRow, AgentsSnapshot, ChildProcess, MatchEvidence, ProviderError};
use aimux_engine::annotations::{Annotation, Label};
use aimux_engine::catalog::{AnnotationCounts, ModelCost, SessionRow};
use aimux_engine::costs::{CostReport, CostRow, GroupBy};
use aimux_engine::health::{BackendHealth, HealthReport, ProviderHealth};
use aimux_engine::sources::Warning;
use aimux_engine::teams::{Team, TeamMember, TeamsReport};
use aimux_engine::trace::{Trace, TraceTool, TraceTurn};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The fixed "now" of the fixtures.
pub const NOW: &str = "2026-11-27T10:00:00Z";

pub fn now() -> chrono::DateTime<chrono::Utc> {
    crate::fmt::parse_time(NOW).unwrap_or_default()
}

pub fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> TokenUsage {
    TokenUsage {
        input,
        output,
        cache_read,
        cache_write,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn agent(
    pid: u32,
    provider: Provider,
    status: Status,
    reason: &str,
    model: Option<&str>,
    cwd: &str,
    session_id: Option<&str>,
    title: Option<&str>,
    started_at: &str,
    tokens: TokenUsage,
    cost: Option<f64>,
) -> AgentRow {
    AgentRow {
        pid,
        provider,
        status,
        status_reason: reason.to_string(),
        model: model.map(str::to_string),
        cwd: Some(cwd.to_string()),
        project: cwd.rsplit('/').next().map(str::to_string),
        session_id: session_id.map(str::to_string),
        session_file: session_id.map(|s| format!("/home/dev/.{provider}/sessions/{s}.jsonl")),
        match_evidence: if session_id.is_some() {
            MatchEvidence::LiveStateFile
        } else {
            MatchEvidence::None
        },
        title: title.map(str::to_string),
        started_at: Some(started_at.to_string()),
        last_activity: Some("2026-11-27T09:59:50Z".to_string()),
        last_action: None,
        tokens,
        cost_usd: cost,
        rss_bytes: 312 * 1024 * 1024,
        cpu_percent: 4.5,
        command: format!("{provider} --model {}", model.unwrap_or("default")),
        location: "local".into(),
        tmux_target: None,
        children: Vec::new(),
        subagents: Vec::new(),
        remote: None,
    }
}

pub fn agents_snapshot() -> AgentsSnapshot {
    let mut lead = agent(
        4242,
        Provider::Claude,
        Status::Active,
        "last record tool_use, `cargo` running",
        Some("claude-sonnet-4-5"),
        "/home/dev/src/aimux",
        Some("3b22f6a2-8179-4ae8-b430-9c1e0f6d2a11"),
        Some("Refactor the session parser"),
        "2026-11-27T08:12:00Z",
        usage(12_400, 48_900, 1_830_000, 96_000),
        Some(12.84),
    );
    lead.last_action = Some("Bash: cargo test -p aimux-core".into());
    lead.tmux_target = Some("default:dev:1.0".into());
    lead.children = vec![
        ChildProcess {
            pid: 4301,
            ppid: 4242,
            name: "cargo".into(),
            command: "cargo test -p aimux-core".into(),
            role: "tool".into(),
        },
        ChildProcess {
            pid: 4310,
            ppid: 4301,
            name: "rustc".into(),
            command: "rustc --crate-name aimux_core".into(),
            role: "tool".into(),
        },
    ];
    let mut sub = agent(
        4242,
        Provider::Claude,
        Status::Active,
        "subagent transcript written 3 s ago",
        Some("claude-haiku-4-5"),
        "/home/dev/src/aimux",
        Some("agent-a1b2c3"),
        Some("Explore: find all parsers"),
        "2026-11-27T09:58:00Z",
        usage(2_100, 3_300, 41_000, 0),
        Some(0.07),
    );
    sub.last_action = Some("Grep: impl RecordParser".into());
    lead.subagents = vec![sub];

    let mut codex = agent(
        5150,
        Provider::Codex,
        Status::Waiting,
        "exec_approval_request: rm -rf target/",
        Some("gpt-5-codex"),
        "/home/dev/src/webapp",
        Some("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        Some("Clean the build and rerun e2e"),
        "2026-11-27T09:20:00Z",
        usage(210_000, 18_200, 640_000, 0),
        Some(61.20),
    );
    codex.last_action = Some("shell: rm -rf target/".into());
    codex.children = vec![ChildProcess {
        pid: 5151,
        ppid: 5150,
        name: "codex".into(),
        command: "/usr/lib/node_modules/@openai/codex/bin/codex-x86_64".into(),
        role: "runtime".into(),
    }];

    let gemini = agent(
        6001,
        Provider::Gemini,
        Status::Idle,
        "final answer written 4 m ago",
        Some("gemini-2.5-pro"),
        "/home/dev/notes",
        Some("a3f9e2c1"),
        None,
        "2026-11-27T06:40:00Z",
        usage(0, 0, 0, 0),
        Some(0.0),
    );
    let errored = agent(
        7007,
        Provider::Claude,
        Status::Error,
        "api_error: 529 overloaded",
        Some("claude-opus-4-1"),
        "/home/dev/src/infra",
        Some("c0ffee00-1111-2222-3333-444455556666"),
        Some("Terraform plan review"),
        "2026-11-26T22:00:00Z",
        usage(30_000, 9_000, 220_000, 12_000),
        Some(23.5),
    );
    let mut unknown = agent(
        8080,
        Provider::Codex,
        Status::Unknown,
        "tool call pending for 3 m with no tool process",
        Some("my-private-model"),
        "/home/dev/src/ml",
        None,
        None,
        "2026-11-27T09:00:00Z",
        usage(1_000, 200, 0, 0),
        None,
    );
    unknown.match_evidence = MatchEvidence::None;
    AgentsSnapshot {
        agents: vec![lead, codex, gemini, errored, unknown],
        errors: vec![ProviderError {
            provider: Provider::Gemini,
            error: "cannot read ~/.gemini/tmp/notes/chats: permission denied".into(),
        }],
        taken_at: Some(NOW.into()),
    }
}

pub fn model_cost(model: &str, tokens: TokenUsage, cost: Option<f64>) -> ModelCost {
    ModelCost {
        model: model.into(),
        tokens,
        cost_usd: cost,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn session(
    id: &str,
    provider: Provider,
    title: Option<&str>,
    model: &str,
    cwd: &str,
    started: &str,
    last: &str,
    turns: u64,
    tokens: TokenUsage,
    cost: Option<f64>,
    annotations: (usize, usize, usize),
) -> SessionRow {
    SessionRow {
        id: id.into(),
        provider,
        project: cwd.rsplit('/').next().map(str::to_string),
        cwd: Some(cwd.into()),
        model: Some(model.into()),
        title: title.map(str::to_string),
        title_source: None,
        started_at: Some(started.into()),
        last_activity: Some(last.into()),
        turns,
        tool_calls: turns * 2,
        failed_tool_calls: 1,
        tokens,
        cost_usd: cost,
        models: vec![model_cost(model, tokens, cost)],
        file: format!("/home/dev/.{provider}/sessions/{id}.jsonl"),
        files: vec![format!("/home/dev/.{provider}/sessions/{id}.jsonl")],
        annotations: AnnotationCounts {
            good: annotations.0,
            bad: annotations.1,
            waste: annotations.2,
        },
    }
}

pub fn sessions() -> Vec<SessionRow> {
    vec![
        session(
            "3b22f6a2-8179-4ae8-b430-9c1e0f6d2a11",
            Provider::Claude,
            Some("Refactor the session parser"),
            "claude-sonnet-4-5",
            "/home/dev/src/aimux",
            "2026-11-27T08:12:00Z",
            "2026-11-27T09:59:50Z",
            3,
            usage(12_400, 48_900, 1_830_000, 96_000),
            Some(0.1005),
            (1, 1, 0),
        ),
        session(
            "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            Provider::Codex,
            Some("Clean the build and rerun e2e"),
            "gpt-5-codex",
            "/home/dev/src/webapp",
            "2026-11-27T09:20:00Z",
            "2026-11-27T09:58:00Z",
            14,
            usage(210_000, 18_200, 640_000, 0),
            Some(61.2),
            (0, 0, 2),
        ),
        session(
            "a3f9e2c1",
            Provider::Gemini,
            None,
            "gemini-2.5-pro",
            "/home/dev/notes",
            "2026-11-25T14:00:00Z",
            "2026-11-25T15:30:00Z",
            6,
            usage(40_000, 5_000, 0, 0),
            Some(0.0),
            (0, 0, 0),
        ),
        session(
            "c0ffee00-1111-2222-3333-444455556666",
            Provider::Claude,
            Some("Terraform plan review"),
            "claude-opus-4-1",
            "/home/dev/src/infra",
            "2026-11-26T22:00:00Z",
            "2026-11-27T07:00:00Z",
            41,
            usage(30_000, 9_000, 220_000, 12_000),
            Some(23.5),
            (4, 0, 1),
        ),
        session(
            "deadbeef-0000-4000-8000-000000000001",
            Provider::Codex,
            Some("Try the private model"),
            "my-private-model",
            "/home/dev/src/ml",
            "2026-11-20T09:00:00Z",
            "2026-11-20T09:40:00Z",
            2,
            usage(1_000, 200, 0, 0),
            None,
            (0, 0, 0),
        ),
    ]
}

const ANSWER: &str = r#"## Plan

The parser counted **every** streamed block. I changed it to count each `message.id` *once*:

1. group lines by `message.id`
2. keep the last usage
   - cache tokens included

| file | lines | status |
|------|------:|--------|
| claude.rs | 412 | changed |
| model.rs | 12 | unchanged |

```rust
fn dedup(lines: &[Record]) -> usize {
    let mut seen = HashSet::new();
    lines.iter().filter(|r| seen.insert(&r.id)).count()
}
```

> Tests pass: `cargo test -p aimux-core`.
"#;

fn tool(id: &str, name: &str, input: &str, ok: Option<bool>, error: Option<&str>) -> TraceTool {
    TraceTool {
        id: id.into(),
        name: name.into(),
        input: input.into(),
        output: ok.filter(|o| *o).map(|_| "ok".to_string()),
        success: ok,
        error: error.map(str::to_string),
        started_at: None,
        ended_at: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn turn(
    number: u32,
    id: &str,
    start: &str,
    end: &str,
    user: &str,
    output: &str,
    tools: Vec<TraceTool>,
    tokens: TokenUsage,
    cost: Option<f64>,
    annotation: Option<(Label, Option<&str>)>,
) -> TraceTurn {
    TraceTurn {
        number,
        id: id.into(),
        started_at: Some(start.into()),
        ended_at: Some(end.into()),
        model: Some("claude-sonnet-4-5".into()),
        user: user.into(),
        output: output.into(),
        tools,
        tokens,
        cost_usd: cost,
        models: vec![model_cost("claude-sonnet-4-5", tokens, cost)],
        subagent: None,
        annotation: annotation.map(|(label, note)| Annotation {
            turn: number,
            turn_id: id.into(),
            label,
            note: note.map(str::to_string),
            timestamp: NOW.into(),
        }),
    }
}

/// A three-turn Claude trace: a failed tool call, a markdown answer with a table and a
/// fenced rust block, annotations. Turn costs add up to the session cost.
pub fn trace() -> Trace {
    let mut s = sessions().remove(0);
    let turns = vec![
        turn(
            1,
            "msg_01A",
            "2026-11-27T08:12:00Z",
            "2026-11-27T08:12:09.500Z",
            "Why are Claude token totals twice what the API bills?",
            "Streamed content blocks repeat the same usage; they are summed per line.",
            vec![
                tool(
                    "t1",
                    "Grep",
                    "usage in crates/aimux-core/src/parsers",
                    Some(true),
                    None,
                ),
                tool(
                    "t2",
                    "Read",
                    "/etc/shadow",
                    Some(false),
                    Some("permission denied"),
                ),
            ],
            usage(4_000, 1_200, 20_000, 9_000),
            Some(0.0402),
            Some((Label::Good, Some("found the root cause fast"))),
        ),
        turn(
            2,
            "msg_02B",
            "2026-11-27T08:20:00Z",
            "2026-11-27T08:21:12Z",
            "Fix it and show me the change.\nKeep the tests green.",
            ANSWER,
            vec![
                tool(
                    "t3",
                    "Edit",
                    "crates/aimux-core/src/parsers/claude.rs",
                    Some(true),
                    None,
                ),
                tool("t4", "Bash", "cargo test -p aimux-core", Some(true), None),
            ],
            usage(6_400, 2_300, 31_000, 4_000),
            Some(0.0503),
            Some((Label::Bad, None)),
        ),
        turn(
            3,
            "msg_03C",
            "2026-11-27T09:59:40Z",
            "2026-11-27T09:59:50Z",
            "thanks",
            "You're welcome.",
            Vec::new(),
            usage(2_000, 100, 1_000, 0),
            Some(0.01),
            None,
        ),
    ];
    s.turns = turns.len() as u64;
    Trace {
        session: s,
        turns,
        warnings: vec![Warning {
            provider: Some(Provider::Claude),
            file: "/home/dev/.claude/projects/-home-dev-src-aimux/3b22f6a2.jsonl".into(),
            skipped_records: 2,
            message: "skipped 1 malformed and 1 unknown records".into(),
        }],
    }
}

pub fn cost_report(scope: CostScope, by: GroupBy) -> CostReport {
    let row = |key: &str,
               providers: &[&str],
               models: &[&str],
               sessions: u64,
               tokens: TokenUsage,
               cost: f64| CostRow {
        key: key.into(),
        providers: providers.iter().map(|s| s.to_string()).collect(),
        models: models.iter().map(|s| s.to_string()).collect(),
        sessions,
        tokens,
        cost_usd: cost,
        unpriced_tokens: TokenUsage::default(),
        unpriced_models: Vec::new(),
    };
    let mut rows = vec![
        row(
            "webapp",
            &["codex"],
            &["gpt-5-codex"],
            1,
            usage(210_000, 18_200, 640_000, 0),
            61.2,
        ),
        row(
            "infra",
            &["claude"],
            &["claude-opus-4-1"],
            1,
            usage(30_000, 9_000, 220_000, 12_000),
            23.5,
        ),
        row(
            "aimux",
            &["claude"],
            &["claude-haiku-4-5", "claude-sonnet-4-5"],
            2,
            usage(14_500, 52_200, 1_871_000, 96_000),
            12.91,
        ),
        row(
            "notes",
            &["gemini"],
            &["gemini-2.5-pro"],
            1,
            usage(0, 0, 0, 0),
            0.0,
        ),
    ];
    let mut ml = row(
        "ml",
        &["codex"],
        &["my-private-model"],
        1,
        usage(1_000, 200, 0, 0),
        0.0,
    );
    ml.unpriced_tokens = usage(1_000, 200, 0, 0);
    ml.unpriced_models = vec!["my-private-model".into()];
    rows.push(ml);
    if scope == CostScope::Today {
        rows.retain(|r| r.key != "notes");
    }
    let mut total = CostRow {
        key: "TOTAL".into(),
        ..CostRow::default()
    };
    for r in &rows {
        total.sessions += r.sessions;
        total.tokens += r.tokens;
        total.cost_usd += r.cost_usd;
        total.unpriced_tokens += r.unpriced_tokens;
        total
            .unpriced_models
            .extend(r.unpriced_models.iter().cloned());
    }
    total.providers = vec!["claude".into(), "codex".into(), "gemini".into()];
    CostReport {
        by: by.as_str().into(),
        rows,
        total,
    }
}

pub fn health() -> HealthReport {
    let p = |provider: Provider,
             bin: Option<&str>,
             version: Option<&str>,
             agents: usize,
             found: bool,
             err: Option<&str>| ProviderHealth {
        provider,
        binary_name: crate::fixture::bin_name(provider).into(),
        binary: bin.map(str::to_string),
        version: version.map(str::to_string),
        version_error: None,
        live_agents: agents,
        session_dir: format!("/home/dev/.{provider}"),
        session_dir_found: found,
        last_error: err.map(str::to_string),
    };
    HealthReport {
        providers: vec![
            p(
                Provider::Claude,
                Some("/home/dev/.local/bin/claude"),
                Some("2.1.197 (Claude Code)"),
                2,
                true,
                None,
            ),
            p(
                Provider::Codex,
                Some("/usr/local/bin/codex"),
                Some("codex-cli 0.171.0"),
                2,
                true,
                None,
            ),
            p(
                Provider::Gemini,
                None,
                None,
                1,
                true,
                Some("cannot read ~/.gemini/tmp/notes/chats: permission denied"),
            ),
        ],
        telemetry: vec![BackendHealth::not_configured(
            "OTLP receiver",
            "no receiver in this build",
        )],
        infrastructure: vec![
            BackendHealth::not_configured("Redis (coordination)", "set `redis:` in config.yaml"),
            BackendHealth::not_configured(
                "Kubernetes (compute)",
                "set `kubernetes:` in config.yaml",
            ),
        ],
        checked_at: NOW.into(),
    }
}

fn bin_name(p: Provider) -> &'static str {
    aimux_engine::health::binary_name(p)
}

pub fn teams() -> TeamsReport {
    let member = |name: &str,
                  role: &str,
                  model: Option<&str>,
                  cwd: &str,
                  session: Option<&str>,
                  lead: bool,
                  backend: &str| TeamMember {
        name: name.into(),
        agent_id: Some(format!("{name}@parser-team")),
        agent_type: Some(role.into()),
        model: model.map(str::to_string),
        cwd: Some(cwd.into()),
        session_id: session.map(str::to_string),
        tmux_pane_id: Some(if lead { "leader".into() } else { "%3".into() }),
        backend_type: Some(backend.into()),
        joined_at: Some("2026-11-27T08:12:00Z".into()),
        is_lead: lead,
    };
    TeamsReport {
        teams: vec![Team {
            name: "parser-team".into(),
            description: Some("Split the parser and add fuzzing".into()),
            config_path: "/home/dev/.claude/teams/parser-team/config.json".into(),
            lead_agent_id: Some("team-lead@parser-team".into()),
            lead_session_id: Some("3b22f6a2-8179-4ae8-b430-9c1e0f6d2a11".into()),
            created_at: Some("2026-11-27T08:12:00Z".into()),
            members: vec![
                member(
                    "team-lead",
                    "team-lead",
                    None,
                    "/home/dev/src/aimux",
                    Some("3b22f6a2-8179-4ae8-b430-9c1e0f6d2a11"),
                    true,
                    "in-process",
                ),
                member(
                    "fuzzer",
                    "general-purpose",
                    Some("sonnet"),
                    "/home/dev/src/infra",
                    None,
                    false,
                    "tmux",
                ),
                member(
                    "reviewer",
                    "code-reviewer",
                    Some("opus"),
                    "/home/dev/src/elsewhere",
                    None,
                    false,
                    "tmux",
                ),
            ],
        }],
        warnings: vec![
            "/home/dev/.claude/teams/old/config.json: not valid JSON (EOF while parsing)".into(),
        ],
    }
}

/// What the coordination store answers when nothing listens (the binary's wording).
pub const TASKS_UNREACHABLE: &str = "cannot reach the coordination Redis at \
redis://127.0.0.1:6379 (not configured, the default) — set AIMUX_REDIS_URL, or set redis.url \
in the config: redis at redis://127.0.0.1:6379: Connection refused (os error 111)";

/// Five tasks in every state, newest first, as the coordination store lists them.
pub fn task_list() -> TaskList {
    let at = |hms: &str| Some(format!("2026-11-27T{hms}Z"));
    let task = |id: &str, status: &str, provider: &str, prompt: &str| TaskRow {
        id: id.into(),
        status: status.into(),
        provider: provider.into(),
        prompt: prompt.into(),
        max_retries: 1,
        ..TaskRow::default()
    };
    let running = TaskRow {
        role: Some("reviewer".into()),
        dir: Some("/home/dev/src/aimux".into()),
        assignee: Some("w-devbox-4711".into()),
        created_at: at("09:58:30"),
        claimed_at: at("09:58:31"),
        started_at: at("09:58:32"),
        ..task(
            "t-6",
            "running",
            "claude",
            "Review the diff of crates/aimux-tui for panics on bad input",
        )
    };
    let pending = TaskRow {
        created_at: at("09:59:40"),
        ..task(
            "t-7",
            "pending",
            "codex",
            "Fix the flaky test in tests/e2e_tui.rs (it times out on slow machines)",
        )
    };
    let done = TaskRow {
        role: Some("docs".into()),
        dir: Some("/home/dev/src/aimux".into()),
        assignee: Some("w-k8s-claude-0".into()),
        created_at: at("09:40:00"),
        claimed_at: at("09:40:04"),
        started_at: at("09:40:05"),
        finished_at: at("09:42:17"),
        result: Some(
            "Updated **README.md**:\n\n- added the `:tasks` keys\n- fixed two broken links\n\n\
             ```sh\naimux task list\n```"
                .into(),
        ),
        model: Some("claude-sonnet-4-5".into()),
        tokens: Some(usage(2_310, 845, 18_400, 1_200)),
        cost_usd: Some(0.0412),
        reported_cost_usd: Some(0.0398),
        ..task(
            "t-5",
            "done",
            "claude",
            "Update the README's keys section for the tasks view.\nKeep it short.",
        )
    };
    let failed = TaskRow {
        assignee: Some("w-k8s-gemini-0".into()),
        created_at: at("08:10:00"),
        claimed_at: at("08:10:02"),
        started_at: at("08:10:03"),
        finished_at: at("08:10:09"),
        retries: 1,
        error: Some(
            "gemini exited with status 1: API key not valid. Please pass a valid API key.".into(),
        ),
        ..task(
            "t-4",
            "failed",
            "gemini",
            "Summarise yesterday's CI failures",
        )
    };
    let unpriced = TaskRow {
        assignee: Some("w-devbox-4711".into()),
        created_at: Some("2026-11-26T16:00:00Z".into()),
        started_at: Some("2026-11-26T16:00:02Z".into()),
        finished_at: Some("2026-11-26T16:03:40Z".into()),
        result: Some("No changes needed: the parser already handles CRLF line endings.".into()),
        model: Some("my-private-model".into()),
        tokens: Some(usage(900, 120, 0, 0)),
        ..task("t-3", "done", "codex", "Make the codex parser accept CRLF")
    };
    TaskList {
        source: "redis://127.0.0.1:6379".into(),
        tasks: vec![pending, running, done, failed, unpriced],
    }
}

/// One fixture task with its log.
pub fn task_detail(id: &str) -> Option<TaskDetail> {
    let task = task_list().tasks.into_iter().find(|t| t.id == id)?;
    let line = |at: &Option<String>, text: String| TaskLogLine {
        at: at.clone(),
        text,
    };
    let mut logs = vec![line(
        &task.created_at,
        format!("submitted for {}", task.provider),
    )];
    if let Some(w) = &task.assignee {
        logs.push(line(&task.claimed_at, format!("claimed by {w}")));
    }
    if task.started_at.is_some() {
        logs.push(line(
            &task.started_at,
            format!(
                "running {} -p <prompt> --output-format json in {}",
                task.provider,
                task.dir.as_deref().unwrap_or("/work")
            ),
        ));
    }
    match task.status.as_str() {
        "done" => {
            logs.push(line(&task.finished_at, "exit 0".into()));
            logs.push(line(&task.finished_at, "done".into()));
        }
        "failed" => {
            logs.push(line(&task.finished_at, "stderr: API key not valid.".into()));
            logs.push(line(&task.finished_at, "exit 1".into()));
            logs.push(line(
                &task.finished_at,
                format!(
                    "run by {} failed (Failed): {}",
                    task.assignee.as_deref().unwrap_or("?"),
                    task.error.as_deref().unwrap_or("")
                ),
            ));
        }
        _ => {}
    }
    Some(TaskDetail { task, logs })
}

/// A call the fixture backend received (for assertions).
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Annotate {
        session_id: String,
        turn: u32,
        turn_id: String,
        label: Label,
        note: Option<String>,
    },
    Kill(u32),
    Trash(String),
    SubmitTask {
        provider: String,
        prompt: String,
    },
    /// A read of the coordination store (list or detail): the view must only make these
    /// while it is shown.
    Tasks,
    TaskDetail(String),
}

/// Full-text search over the fixture trace (the engine's query rules: words must all
/// appear, case-insensitive), for the history view's results.
pub fn search_hits(query: &str) -> Result<Vec<aimux_engine::search::SearchHit>, String> {
    use aimux_engine::search::{HitKind, SearchHit, build_match};
    build_match(query).map_err(|e| e.to_string())?;
    let words: Vec<String> = query
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let t = trace();
    let mut hits = Vec::new();
    for turn in &t.turns {
        let mut texts = vec![
            (HitKind::Prompt, turn.user.clone()),
            (HitKind::Answer, turn.output.clone()),
        ];
        for tool in &turn.tools {
            texts.push((HitKind::ToolInput, format!("{} {}", tool.name, tool.input)));
            if let Some(o) = tool.output.clone().or_else(|| tool.error.clone()) {
                texts.push((HitKind::ToolOutput, o));
            }
        }
        let found = texts.into_iter().find(|(_, text)| {
            let lower = text.to_lowercase();
            words.iter().all(|w| lower.contains(w.as_str()))
        });
        if let Some((kind, text)) = found {
            let snippet = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let lower = snippet.to_lowercase();
            let mut highlights: Vec<(usize, usize)> = words
                .iter()
                .filter_map(|w| lower.find(w.as_str()).map(|s| (s, s + w.len())))
                .collect();
            highlights.sort_unstable();
            hits.push(SearchHit {
                session: t.session.id.clone(),
                provider: t.session.provider,
                project: t.session.project.clone(),
                file: t.session.file.clone(),
                turn: turn.number,
                turn_id: turn.id.clone(),
                subagent: turn.subagent.clone(),
                kind,
                snippet,
                highlights,
                rank: -1.0,
            });
        }
    }
    Ok(hits)
}

/// Serves the fixtures; records annotate/kill calls; can be made slow.
#[derive(Debug, Clone, Default)]
pub struct FixtureBackend {
    pub calls: Arc<Mutex<Vec<Call>>>,
    /// Added to every call (to see loading states).
    pub delay: Duration,
    /// The coordination store does not answer ([`TASKS_UNREACHABLE`]).
    pub tasks_unreachable: bool,
}

impl FixtureBackend {
    pub fn new() -> FixtureBackend {
        FixtureBackend::default()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, call: Call) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(call);
        }
    }

    fn wait(&self) {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
    }
}

impl Backend for FixtureBackend {
    fn agents(&mut self) -> anyhow::Result<AgentsSnapshot> {
        self.wait();
        Ok(agents_snapshot())
    }

    fn sessions(&mut self) -> anyhow::Result<Vec<SessionRow>> {
        self.wait();
        Ok(sessions())
    }

    fn costs(&mut self, scope: CostScope, by: GroupBy) -> anyhow::Result<CostReport> {
        self.wait();
        Ok(cost_report(scope, by))
    }

    fn trace(&mut self, session_id: &str) -> anyhow::Result<Trace> {
        self.wait();
        let t = trace();
        if t.session.id.starts_with(session_id) {
            return Ok(t);
        }
        match sessions()
            .into_iter()
            .find(|s| s.id.starts_with(session_id))
        {
            Some(s) => Ok(Trace {
                session: s,
                turns: Vec::new(),
                warnings: Vec::new(),
            }),
            None => anyhow::bail!("no session matches '{session_id}'"),
        }
    }

    fn annotate(
        &mut self,
        session_id: &str,
        turn: u32,
        turn_id: &str,
        label: Label,
        note: Option<&str>,
    ) -> anyhow::Result<()> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(Call::Annotate {
                session_id: session_id.into(),
                turn,
                turn_id: turn_id.into(),
                label,
                note: note.map(str::to_string),
            });
        }
        Ok(())
    }

    fn kill(&mut self, pid: u32) -> anyhow::Result<String> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(Call::Kill(pid));
        }
        Ok(format!("sent SIGTERM to {pid}"))
    }

    fn health(&mut self) -> anyhow::Result<HealthReport> {
        self.wait();
        Ok(health())
    }

    fn teams(&mut self) -> anyhow::Result<TeamsReport> {
        self.wait();
        Ok(teams())
    }

    fn search(
        &mut self,
        query: &str,
        _limit: usize,
    ) -> anyhow::Result<Vec<aimux_engine::search::SearchHit>> {
        self.wait();
        search_hits(query).map_err(anyhow::Error::msg)
    }

    fn trash(&mut self, session_id: &str) -> anyhow::Result<String> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(Call::Trash(session_id.to_string()));
        }
        Ok(format!("moved {session_id} to the trash"))
    }

    fn tasks(&mut self, limit: usize) -> anyhow::Result<TaskList> {
        self.wait();
        self.record(Call::Tasks);
        if self.tasks_unreachable {
            anyhow::bail!(TASKS_UNREACHABLE);
        }
        let mut list = task_list();
        list.tasks.truncate(limit);
        Ok(list)
    }

    fn task_detail(&mut self, id: &str) -> anyhow::Result<TaskDetail> {
        self.wait();
        self.record(Call::TaskDetail(id.to_string()));
        if self.tasks_unreachable {
            anyhow::bail!(TASKS_UNREACHABLE);
        }
        task_detail(id).ok_or_else(|| anyhow::anyhow!("no task '{id}'"))
    }

    fn submit_task(&mut self, provider: &str, prompt: &str) -> anyhow::Result<String> {
        self.record(Call::SubmitTask {
            provider: provider.to_string(),
            prompt: prompt.to_string(),
        });
        if self.tasks_unreachable {
            anyhow::bail!(TASKS_UNREACHABLE);
        }
        Ok("t-8".into())
    }
}
