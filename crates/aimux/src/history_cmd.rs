//! History commands: `aimux search`, `aimux trash [list|restore]`, `aimux titles`.

use crate::commands::Context;
use aimux_core::Provider;
use aimux_engine::search::{self, SearchError, SearchOptions};
use aimux_engine::titles::{self, TitleCache, TitlesConfig};
use aimux_engine::trash;
use anyhow::{Result, bail};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Words (all must appear), "a phrase", prefix*, or OR / NOT between terms.
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    pub query: Vec<String>,
    #[arg(long)]
    pub json: bool,
    /// Only this provider (claude, codex, gemini, opencode).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only sessions whose project (directory name) is NAME.
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TrashArgs {
    /// Session id (or unique prefix) whose files move to the trash.
    pub session: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(subcommand)]
    pub action: Option<TrashAction>,
}

#[derive(Debug, clap::Subcommand)]
pub enum TrashAction {
    /// Trashed sessions, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Puts a trashed session's files back where they were (never overwrites).
    Restore {
        /// Session id or unique prefix.
        session: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct TitlesArgs {
    /// Ask the model again for sessions that already have a model title.
    #[arg(long)]
    pub regenerate: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn search_cmd(ctx: &mut Context, args: &SearchArgs) -> Result<ExitCode> {
    let query = args.query.join(" ");
    let provider = match &args.provider {
        Some(p) => match Provider::parse(p) {
            Some(p) => Some(p),
            None => bail!("--provider '{p}': expected one of claude, codex, gemini, opencode"),
        },
        None => None,
    };
    // Brings the index (and with it the search index) up to date.
    let (_, warnings, _) = ctx.load_sessions_with(aimux_engine::scan::Text::Index)?;
    let opts = SearchOptions {
        provider,
        project: args.project.clone(),
        limit: args.limit.max(1),
    };
    let hits = match search::search(&ctx.index, &query, &opts) {
        Ok(h) => h,
        Err(SearchError::Query(e)) => {
            if args.json {
                println!(
                    "{}",
                    json!({"query": query, "error": e.to_string(), "hits": []})
                );
            } else {
                eprintln!("aimux: search query: {e}");
            }
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"query": query, "hits": hits, "warnings": warnings})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        println!("no matches for {query}");
        return Ok(ExitCode::SUCCESS);
    }
    let tty = std::io::stdout().is_terminal();
    let (open, close) = if tty {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("«", "»")
    };
    for h in &hits {
        let sub = h
            .subagent
            .as_deref()
            .map(|s| format!(" subagent {s}"))
            .unwrap_or_default();
        println!(
            "{} {} {} turn {} ({}){sub} {}",
            h.provider,
            h.session,
            h.project.as_deref().unwrap_or("-"),
            h.turn,
            h.turn_id,
            h.kind.label()
        );
        println!("    {}", h.marked(open, close));
    }
    Ok(ExitCode::SUCCESS)
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "YES")
}

pub fn trash_cmd(ctx: &mut Context, args: &TrashArgs) -> Result<ExitCode> {
    let home = ctx.dirs.aimux_home.clone();
    match &args.action {
        Some(TrashAction::List { json }) => {
            let entries = trash::list(&home);
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"trash": entries}))?
                );
            } else if entries.is_empty() {
                println!("the trash is empty");
            } else {
                for e in &entries {
                    println!(
                        "{} {} {} {} ({} files)",
                        e.trashed_at,
                        e.provider,
                        e.session,
                        e.title.as_deref().unwrap_or("-"),
                        e.files.len()
                    );
                    for f in &e.files {
                        println!("    {}", f.original);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(TrashAction::Restore { session, json }) => {
            let entry = trash::restore(&home, session)?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"restored": entry}))?
                );
            } else {
                println!("restored {} ({} files):", entry.session, entry.files.len());
                for f in &entry.files {
                    println!("    {}", f.original);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let Some(query) = &args.session else {
                bail!(
                    "name a session: aimux trash SESSION (or aimux trash list / restore SESSION)"
                );
            };
            let (rows, _, _) = ctx.load_sessions()?;
            let row = aimux_engine::catalog::find_session(&rows, query)
                .map_err(anyhow::Error::msg)?
                .clone();
            let files = trash::files_to_move(&row);
            if files.is_empty() {
                bail!("session {} has no files on disk to move", row.id);
            }
            eprintln!(
                "move {} file(s) of {} session {} to {}:",
                files.len(),
                row.provider,
                row.id,
                trash::trash_dir(&home).display()
            );
            for f in &files {
                eprintln!("    {}", f.display());
            }
            if !args.yes {
                if !std::io::stdin().is_terminal() {
                    bail!("not a terminal: add --yes to confirm moving these files to the trash");
                }
                if !confirm("move them to the trash?") {
                    eprintln!("nothing moved");
                    return Ok(ExitCode::from(1));
                }
            }
            let entry = trash::trash_session(&home, &row)?;
            println!(
                "trashed {} ({} files); restore with: aimux trash restore {}",
                entry.session,
                entry.files.len(),
                entry.session
            );
            // Drop the moved files from the index now.
            let _ = ctx.load_sessions();
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The `titles:` section of config.yaml (the rest of the config is read elsewhere).
pub fn titles_config(ctx: &Context) -> Result<TitlesConfig> {
    titles_config_at(&ctx.dirs.config_path())
}

pub fn titles_config_at(path: &std::path::Path) -> Result<TitlesConfig> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => return Ok(TitlesConfig::default()),
    };
    if text.trim().is_empty() {
        return Ok(TitlesConfig::default());
    }
    let doc: serde_json::Value = serde_saphyr::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not valid YAML: {e}", path.display()))?;
    match doc.get("titles") {
        Some(v) => {
            TitlesConfig::from_value(v).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        None => Ok(TitlesConfig::default()),
    }
}

pub fn titles_cmd(ctx: &mut Context, args: &TitlesArgs) -> Result<ExitCode> {
    let config = titles_config(ctx)?;
    let (mut rows, _, _) = ctx.load_sessions()?;
    let mut cache = TitleCache::load(&ctx.dirs.aimux_home);
    let show = std::io::stderr().is_terminal() && !args.json;
    let mut progress = |done: usize, total: usize| {
        if show && total > 0 {
            eprint!("\rtitling sessions: {done}/{total}");
            if done == total {
                eprint!("\r\x1b[K");
            }
            let _ = std::io::stderr().flush();
        }
    };
    let report = titles::generate(
        &mut rows,
        &config,
        &mut cache,
        &ctx.index,
        args.regenerate,
        &mut progress,
    );
    titles::apply_titles(&mut rows, &cache, &ctx.index);
    if args.json {
        let sessions: Vec<_> = rows
            .iter()
            .map(|r| json!({"id": r.id, "provider": r.provider, "title": r.title, "title_source": r.title_source}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"report": report, "sessions": sessions}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(note) = &report.note {
        eprintln!("note: {note}");
    }
    println!(
        "{} titled now, {} cached, {} from the agent, {} failed (fallback kept), {} skipped",
        report.generated, report.cached, report.agent, report.failed, report.skipped
    );
    Ok(ExitCode::SUCCESS)
}
