//! Acting on agents from the command line: `aimux spawn`, `aimux resume`, `aimux send`,
//! `aimux attach`. Every agent aimux starts runs in a detached tmux session; attaching
//! hands the terminal to a tmux client (exec), it never starts a second copy of an agent.

use crate::commands::Context;
use aimux_core::Provider;
use aimux_engine::agents::AgentRow;
use aimux_engine::catalog;
use aimux_engine::live::LiveEngine;
use aimux_engine::spawn::{self, SpawnSpec, Spawned};
use aimux_engine::tmux::{self, Tmux};
use anyhow::{Context as _, Result, bail};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SpawnArgs {
    /// claude, codex, gemini (or opencode).
    pub provider: String,
    /// Directory to run in (default: the current one).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[arg(long)]
    pub model: Option<String>,
    /// Permission / approval mode, in the CLI's own words (`yolo` works for all three).
    #[arg(long)]
    pub mode: Option<String>,
    /// The first prompt (passed to the CLI as one argument, verbatim).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Run in a new git worktree (branch NAME) beside the repository.
    #[arg(long, value_name = "NAME")]
    pub worktree: Option<String>,
    /// Send the agent's telemetry to aimux's OTLP receiver (AIMUX_OTEL_ENDPOINT, default
    /// http://127.0.0.1:4318).
    #[arg(long)]
    pub otel: bool,
    /// Return at once (print the tmux target) instead of attaching.
    #[arg(long)]
    pub detach: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// Session id (or unique prefix); without it, pick from recent sessions.
    pub session: Option<String>,
    /// Return at once instead of attaching.
    #[arg(long)]
    pub detach: bool,
    /// Resume even when an agent already has this conversation open (a second process).
    #[arg(long)]
    pub second: bool,
    /// How many recent sessions the picker lists.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub recent: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The agent's pid (as in `aimux agents`).
    pub pid: u32,
    /// The prompt to type (then Enter).
    pub text: String,
}

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// The agent's pid (as in `aimux agents`).
    pub pid: u32,
}

pub fn spawn_cmd(args: &SpawnArgs) -> Result<ExitCode> {
    let Some(provider) = Provider::parse(&args.provider) else {
        bail!(
            "unknown provider '{}': expected claude, codex, gemini or opencode",
            args.provider
        );
    };
    let spec = SpawnSpec {
        provider: Some(provider),
        dir: args.dir.clone().unwrap_or_default(),
        model: args.model.clone(),
        mode: args.mode.clone(),
        prompt: args.prompt.clone(),
        worktree: args.worktree.clone(),
        otel: args.otel,
        resume: None,
    };
    let tmux = Tmux::from_env();
    let spawned = spawn::spawn(&tmux, &spec)?;
    finish(&tmux, &spawned, args.detach, args.json)
}

fn finish(tmux: &Tmux, s: &Spawned, detach: bool, json: bool) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
    } else {
        println!(
            "{} agent started in tmux session {} (pane {}, pid {}) in {}",
            s.provider, s.session, s.pane, s.pid, s.dir
        );
        println!(
            "attach: tmux {}attach -t {}",
            socket_prefix(tmux),
            s.session
        );
    }
    if detach || json {
        return Ok(ExitCode::SUCCESS);
    }
    attach_terminal(tmux, &s.session, &s.pane)
}

fn socket_prefix(tmux: &Tmux) -> String {
    let a = tmux.socket.args();
    if a.is_empty() {
        String::new()
    } else {
        format!("{} ", a.join(" "))
    }
}

/// Hands this terminal to a tmux client on `session` (selecting `pane`). Inside tmux on
/// the same server, switches the client instead of nesting.
fn attach_terminal(tmux: &Tmux, session: &str, pane: &str) -> Result<ExitCode> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        eprintln!("not a terminal: not attaching (the agent keeps running)");
        return Ok(ExitCode::SUCCESS);
    }
    let _ = tmux.run(&["select-window", "-t", pane]);
    let _ = tmux.run(&["select-pane", "-t", pane]);
    let target = tmux::exact(session);
    let inside = std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
    let sub = if inside && tmux.socket == tmux::Socket::Default {
        "switch-client"
    } else {
        "attach-session"
    };
    let mut cmd = tmux.command();
    cmd.args([sub, "-t", &target]);
    if inside && sub == "attach-session" {
        // A client on another server from inside tmux: tmux refuses unless TMUX is unset.
        cmd.env_remove("TMUX");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        Err(err).context("cannot run tmux")
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().context("cannot run tmux")?;
        Ok(if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
}

/// Live agents (two refreshes, as `aimux agents` does, so statuses are settled).
fn live_agents(ctx: Context) -> Vec<AgentRow> {
    let Context {
        dirs,
        prices,
        index,
        ..
    } = ctx;
    let mut engine = LiveEngine::new(dirs.home.clone(), index, prices);
    engine.refresh();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let snap = engine.refresh();
    let mut out = Vec::new();
    fn walk(rows: &[AgentRow], out: &mut Vec<AgentRow>) {
        for r in rows {
            out.push(r.clone());
            walk(&r.subagents, out);
        }
    }
    walk(&snap.agents, &mut out);
    out
}

pub fn resume_cmd(mut ctx: Context, args: &ResumeArgs) -> Result<ExitCode> {
    let (mut rows, _, _) = ctx.load_sessions()?;
    rows.retain(|r| r.cwd.is_some() && !r.file.contains("/subagents/"));
    rows.sort_by(|a, b| b.last_activity.cmp(&a.last_activity));
    let row = match &args.session {
        Some(q) => catalog::find_session(&rows, q)
            .map_err(anyhow::Error::msg)?
            .clone(),
        None => pick(&rows, args.recent)?,
    };
    let agents = live_agents(ctx);
    if let Some(a) = agents
        .iter()
        .find(|a| a.session_id.as_deref() == Some(row.id.as_str()))
        && !args.second
    {
        bail!(
            "session {} is open in {} agent {} already{}; attach to it (aimux attach {}) or pass --second to start a second process on it",
            row.id,
            a.provider,
            a.pid,
            a.tmux_target
                .as_deref()
                .map(|t| format!(" (tmux {t})"))
                .unwrap_or_default(),
            a.pid
        );
    }
    let spec = spawn::resume_spec(row.provider, &row.id, row.cwd.as_deref());
    let tmux = Tmux::from_env();
    let spawned = spawn::spawn(&tmux, &spec)?;
    finish(&tmux, &spawned, args.detach, args.json)
}

/// A numbered list of recent sessions on the terminal; the user types a number or a part
/// of a title / project / id.
fn pick(rows: &[catalog::SessionRow], n: usize) -> Result<catalog::SessionRow> {
    if !std::io::stdin().is_terminal() {
        bail!("no session given and no terminal to pick one on: aimux resume SESSION-ID");
    }
    let shown: Vec<&catalog::SessionRow> = rows.iter().take(n.max(1)).collect();
    if shown.is_empty() {
        bail!("no sessions to resume");
    }
    let mut out = std::io::stdout().lock();
    for (i, r) in shown.iter().enumerate() {
        writeln!(
            out,
            "{:>3}  {:<7} {:<20} {:<10} {}",
            i + 1,
            r.provider.as_str(),
            r.project.as_deref().unwrap_or("-"),
            r.id.get(..8).unwrap_or(&r.id),
            r.title
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect::<String>()
        )?;
    }
    write!(out, "resume which (number or text)? ")?;
    out.flush()?;
    drop(out);
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let q = line.trim();
    if let Ok(i) = q.parse::<usize>()
        && let Some(r) = i.checked_sub(1).and_then(|i| shown.get(i))
    {
        return Ok((*r).clone());
    }
    let ql = q.to_lowercase();
    let hits: Vec<&&catalog::SessionRow> = shown
        .iter()
        .filter(|r| {
            !ql.is_empty()
                && [
                    r.id.as_str(),
                    r.project.as_deref().unwrap_or(""),
                    r.title.as_deref().unwrap_or(""),
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&ql))
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok((**one).clone()),
        [] => bail!("nothing matches '{q}'"),
        _ => bail!("'{q}' matches {} sessions; be more specific", hits.len()),
    }
}

pub fn send_cmd(ctx: Context, args: &SendArgs) -> Result<ExitCode> {
    let agents = live_agents(ctx);
    let Some(agent) = agents.iter().find(|a| a.pid == args.pid) else {
        bail!("pid {} is not a running agent (see aimux agents)", args.pid);
    };
    let msg = spawn::send_to_agent(agent, &args.text)?;
    println!("{msg}");
    Ok(ExitCode::SUCCESS)
}

pub fn attach_cmd(ctx: Context, args: &AttachArgs) -> Result<ExitCode> {
    let agents = live_agents(ctx);
    let Some(agent) = agents.iter().find(|a| a.pid == args.pid) else {
        bail!("pid {} is not a running agent (see aimux agents)", args.pid);
    };
    let Some(found) = tmux::find_agent_pane(agent.pid, agent.tmux_target.as_deref()) else {
        bail!(
            "{} agent {} does not run in tmux; its trace: aimux trace {}; to continue the conversation in tmux as a second process: aimux resume {} --second",
            agent.provider,
            agent.pid,
            agent.session_id.as_deref().unwrap_or("SESSION"),
            agent.session_id.as_deref().unwrap_or("SESSION"),
        );
    };
    if !std::io::stdout().is_terminal() {
        println!(
            "{}",
            json!({"pid": agent.pid, "tmux": found.target(), "session": found.pane.session})
        );
        return Ok(ExitCode::SUCCESS);
    }
    attach_terminal(&found.tmux, &found.pane.session, &found.pane.id)
}
