//! `aimux agents`: the live agents view without a terminal UI.

use crate::cli::AgentsArgs;
use crate::commands::Context;
use crate::table;
use aimux_engine::agents::{AgentRow, AgentsSnapshot};
use aimux_engine::live::LiveEngine;
use anyhow::Result;
use serde_json::json;
use std::collections::HashMap;
use std::process::ExitCode;

pub fn agents(ctx: Context, args: &AgentsArgs) -> Result<ExitCode> {
    let Context {
        dirs,
        prices,
        index,
        ..
    } = ctx;
    let mut engine = LiveEngine::new(dirs.home.clone(), index, prices);
    // CPU use needs two samples; a short first interval gives every agent one.
    engine.prime();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut snapshot = engine.refresh();
    if !args.watch {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&snapshot)?);
        } else {
            print_table(&snapshot);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut shown: HashMap<u32, AgentRow> = HashMap::new();
    loop {
        emit_changes(&mut shown, &snapshot, args.json)?;
        std::thread::sleep(std::time::Duration::from_millis(args.interval_ms.max(100)));
        snapshot = engine.refresh();
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
    shown: &mut HashMap<u32, AgentRow>,
    snapshot: &AgentsSnapshot,
    json: bool,
) -> Result<()> {
    use std::io::Write;
    let mut now = Vec::new();
    flatten(&snapshot.agents, &mut now);
    let mut out = std::io::stdout().lock();
    for row in &now {
        let event = match shown.get(&row.pid) {
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
                    row.pid,
                    row.provider,
                    row.status.as_str(),
                    row.status_reason,
                    row.session_id.as_deref().unwrap_or("-")
                )?;
            }
            shown.insert(row.pid, row.clone());
        }
    }
    let gone: Vec<u32> = shown
        .keys()
        .filter(|pid| !now.iter().any(|r| r.pid == **pid))
        .copied()
        .collect();
    for pid in gone {
        if let Some(row) = shown.remove(&pid) {
            if json {
                writeln!(out, "{}", json!({"event": "removed", "agent": row}))?;
            } else {
                writeln!(out, "removed  {:>7} {:<7}", row.pid, row.provider)?;
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
                format!("{}{}", "  ".repeat(depth), r.pid),
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
