//! aimux: one terminal control plane for fleets of AI coding agents.

mod act_cmd;
mod agents_cmd;
mod cli;
mod commands;
mod config;
mod health_cmd;
mod history_cmd;
mod infra_cmd;
mod otel_cmd;
mod remote_cmd;
mod remote_feed;
mod table;
mod tui_backend;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aimux: {e:#}");
            ExitCode::from(1)
        }
    }
}
