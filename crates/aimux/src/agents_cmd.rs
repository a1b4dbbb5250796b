//! `aimux agents`: the live agents view without a terminal UI.

use crate::cli::AgentsArgs;
use crate::commands::Context;
use crate::remote_feed::RemoteFeed;
use crate::table;
use aimux_engine::agents::{AgentRow, AgentsSnapshot};
use aimux_engine::live::LiveEngine;
use anyhow::Result;
use serde_json::json;
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

pub fn agents(ctx: Context, args: &AgentsArgs) -> Result<ExitCode> {
    let Context {
        dirs,
        prices,
        index,
        ..
    } = ctx;
    let remote = RemoteFeed::start(&dirs, Duration::from_secs(5));
    let mut engine = LiveEngine::new(dirs.home.clone(), index, prices);
    // CPU use needs two samples; a short first interval gives every agent one.
    engine.prime();
    std::thread::sleep(Duration::from_millis(300));
    if let Some(feed) = &remote {
        feed.wait_first(Duration::from_secs(10));
    }
    let mut snapshot = with_remote(engine.refresh(), remote.as_ref());
    if !args.watch {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&snapshot)?);
        } else {
            print_table(&snapshot);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut shown: HashMap<String, AgentRow> = HashMap::new();
    loop {
        emit_changes(&mut shown, &snapshot, args.json)?;
        std::thread::sleep(Duration::from_millis(args.interval_ms.max(100)));
        snapshot = with_remote(engine.refresh(), remote.as_ref());
    }
}

/// Local agents, then the agents in pods (when a cluster is configured). A cluster that
/// cannot be listed is a warning on stderr; the local rows stand.
fn with_remote(mut snapshot: AgentsSnapshot, remote: Option<&RemoteFeed>) -> AgentsSnapshot {
    if let Some(feed) = remote {
        let (rows, error) = feed.latest();
        if let Some(e) = error {
            eprintln!("warning: kubernetes: {e}");
        }
        snapshot.agents.extend(rows);
    }
    snapshot
}

/// What identifies an agent across refreshes: its pid, or its pod.
fn agent_key(row: &AgentRow) -> String {
    match &row.remote {
        Some(r) => format!("pod/{}", r.pod),
        None => row.pid.to_string(),
    }
}

fn flatten(rows: &[AgentRow], out: &mut Vec<AgentRow>) {
    for r in rows {
        out.push(r.clone());
        flatten(&r.subagents, out);
    }
}

/// Prints one line per added, changed or removed agent.
fn emit_changes(
    shown: &mut HashMap<String, AgentRow>,
    snapshot: &AgentsSnapshot,
    json: bool,
) -> Result<()> {
    use std::io::Write;
    let mut now = Vec::new();
    flatten(&snapshot.agents, &mut now);
    let mut out = std::io::stdout().lock();
    for row in &now {
        let event = match shown.get(&agent_key(row)) {
            None => Some("added"),
            Some(prev)
                if prev.status != row.status
                    || prev.session_id != row.session_id
                    || prev.tokens != row.tokens
                    || prev.last_action != row.last_action =>
            {
                Some("changed")
            }
            Some(_) => None,
        };
        if let Some(event) = event {
            if json {
                writeln!(out, "{}", json!({"event": event, "agent": row}))?;
            } else {
                writeln!(
                    out,
                    "{event:<8} {:>7} {:<7} {:<8} {}  {}",
                    agent_key(row),
                    row.provider,
                    row.status.as_str(),
                    row.status_reason,
                    row.session_id.as_deref().unwrap_or("-")
                )?;
            }
            shown.insert(agent_key(row), row.clone());
        }
    }
    let gone: Vec<String> = shown
        .keys()
        .filter(|key| !now.iter().any(|r| agent_key(r) == **key))
        .cloned()
        .collect();
    for key in gone {
        if let Some(row) = shown.remove(&key) {
            if json {
                writeln!(out, "{}", json!({"event": "removed", "agent": row}))?;
            } else {
                writeln!(out, "removed  {:>7} {:<7}", agent_key(&row), row.provider)?;
            }
        }
    }
    for e in &snapshot.errors {
        if json {
            writeln!(
                out,
                "{}",
                json!({"event": "error", "provider": e.provider, "error": e.error})
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn print_table(snapshot: &AgentsSnapshot) {
    for e in &snapshot.errors {
        eprintln!("warning: {}: {}", e.provider, e.error);
    }
    if snapshot.agents.is_empty() {
        println!("no running agents");
        return;
    }
    let mut body = Vec::new();
    fn walk(rows: &[AgentRow], depth: usize, body: &mut Vec<Vec<String>>) {
        for r in rows {
            body.push(vec![
                format!(
                    "{}{}",
                    "  ".repeat(depth),
                    if r.remote.is_some() {
                        "k8s".to_string()
                    } else {
                        r.pid.to_string()
                    }
                ),
                r.provider.to_string(),
                r.status.as_str().to_string(),
                r.model.clone().unwrap_or_default(),
                r.project.clone().unwrap_or_default(),
                r.session_id
                    .as_deref()
                    .map(|s| s.chars().take(8).collect())
                    .unwrap_or_default(),
                format!("×{}", r.process_count()),
                table::tokens(r.tokens.total()),
                table::usd(r.cost_usd),
                r.status_reason.clone(),
            ]);
            walk(&r.subagents, depth + 1, body);
        }
    }
    walk(&snapshot.agents, 0, &mut body);
    print!(
        "{}",
        table::render(
            &[
                "PID", "PROVIDER", "STATUS", "MODEL", "PROJECT", "SESSION", "PROCS", "TOKENS",
                "COST", "REASON"
            ],
            &body,
            &[6, 7, 8]
        )
    );
}
