//! `aimux health` and `aimux teams`: the health and teams views without a terminal UI.

use crate::commands::Context;
use crate::table;
use aimux_engine::health::{self, BackendHealth, HealthOptions};
use aimux_engine::live::LiveEngine;
use aimux_engine::teams::read_teams;
use anyhow::Result;
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// Whether an aimux receiver (the dashboard's or `aimux serve`) listens on the default
/// address: this command runs none itself.
fn receiver_probe() -> BackendHealth {
    let addr: SocketAddr = aimux_engine::otlp::server::DEFAULT_LISTEN
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 4318)));
    let listening = TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok();
    BackendHealth {
        name: "OTLP receiver".into(),
        configured: true,
        state: if listening { "ok" } else { "not running" }.into(),
        detail: if listening {
            format!("something listens on http://{addr} (GET /debug for its counters)")
        } else {
            format!("nothing listens on {addr}; the dashboard and `aimux serve` start one")
        },
    }
}

pub fn health(ctx: Context, json: bool) -> Result<ExitCode> {
    let Context {
        dirs,
        prices,
        index,
        ..
    } = ctx;
    let mut live = LiveEngine::new(dirs.home.clone(), index, prices);
    let agents = live.refresh();
    let mut report = health::collect(
        &dirs.home,
        std::env::var_os("PATH").as_deref(),
        &agents,
        &HealthOptions::default(),
    );
    report.telemetry = vec![receiver_probe()];
    report.infrastructure = crate::infra_cmd::infra_backend_health(&dirs);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = report
        .providers
        .iter()
        .map(|p| {
            vec![
                p.provider.to_string(),
                p.binary
                    .clone()
                    .unwrap_or_else(|| format!("{} not on PATH", p.binary_name)),
                p.version
                    .clone()
                    .or_else(|| p.version_error.clone())
                    .unwrap_or_default(),
                p.live_agents.to_string(),
                format!(
                    "{} ({})",
                    p.session_dir,
                    if p.session_dir_found {
                        "found"
                    } else {
                        "missing"
                    }
                ),
                p.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "PROVIDER",
                "BINARY",
                "VERSION",
                "LIVE",
                "SESSIONS",
                "LAST ERROR"
            ],
            &rows,
            &[3]
        )
    );
    println!();
    let backends: Vec<Vec<String>> = report
        .telemetry
        .iter()
        .chain(&report.infrastructure)
        .map(|b| vec![b.name.clone(), b.state.clone(), b.detail.clone()])
        .collect();
    print!(
        "{}",
        table::render(&["BACKEND", "STATE", "DETAIL"], &backends, &[])
    );
    Ok(ExitCode::SUCCESS)
}

pub fn teams(ctx: Context, json: bool) -> Result<ExitCode> {
    let report = read_teams(&ctx.dirs.home.join(".claude"));
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if report.teams.is_empty() {
        println!(
            "no teams under {}",
            ctx.dirs.home.join(".claude/teams").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for team in &report.teams {
        println!(
            "{}{}",
            team.name,
            team.description
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default()
        );
        let rows: Vec<Vec<String>> = team
            .members
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    m.agent_type.clone().unwrap_or_default(),
                    m.model.clone().unwrap_or_default(),
                    m.cwd.clone().unwrap_or_default(),
                    m.session_id.clone().unwrap_or_default(),
                ]
            })
            .collect();
        print!(
            "{}",
            table::render(&["  MEMBER", "ROLE", "MODEL", "DIR", "SESSION"], &rows, &[])
        );
    }
    Ok(ExitCode::SUCCESS)
}
