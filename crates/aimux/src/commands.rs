//! The headless commands: each loads data through the engine and prints text or JSON.

use crate::cli::{
    AnnotateArgs, Cli, Command, CostBy, CostsArgs, SessionSort, SessionsArgs, TraceArgs,
};
use crate::config::Config;
use crate::table;
use aimux_core::Provider;
use aimux_core::pricing::PriceTable;
use aimux_engine::annotations::{Annotation, AnnotationStore, Label};
use aimux_engine::catalog::{self, SessionRow};
use aimux_engine::costs::{GroupBy, cost_report};
use aimux_engine::home::Dirs;
use aimux_engine::index::Index;
use aimux_engine::scan::{ScanReport, Text, scan_with};
use aimux_engine::sources::Warning;
use aimux_engine::trace::trace;
use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::CommandFactory;
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Everything a command needs: where data lives, prices, the index.
pub struct Context {
    pub dirs: Dirs,
    pub prices: PriceTable,
    pub index: Index,
    pub config_warnings: Vec<String>,
    pub tui: aimux_tui::TuiConfig,
}

impl Context {
    pub fn open(cli: &Cli) -> Result<Context> {
        let dirs = Dirs::resolve(cli.home.clone(), cli.aimux_home.clone());
        let config = Config::load(&dirs.config_path())?;
        let index = Index::open(&dirs.index_path())?;
        Ok(Context {
            prices: config.price_table(),
            tui: config.tui.clone(),
            config_warnings: config.warnings,
            dirs,
            index,
        })
    }

    pub fn annotations(&self) -> AnnotationStore {
        AnnotationStore::new(self.dirs.evaluations_dir())
    }

    /// Brings the index up to date (numbers only, no search text) and returns every
    /// session.
    pub fn load_sessions(&mut self) -> Result<(Vec<SessionRow>, Vec<Warning>, ScanReport)> {
        self.load_sessions_with(Text::Skip)
    }

    /// [`Context::load_sessions`], choosing whether the search index is fed too.
    pub fn load_sessions_with(
        &mut self,
        text: Text,
    ) -> Result<(Vec<SessionRow>, Vec<Warning>, ScanReport)> {
        let mut report = self.scan(text)?;
        let (mut rows, warnings) = self.sessions_from_index(&mut report)?;
        catalog::apply_annotation_counts(&mut rows, &self.annotations());
        aimux_engine::titles::cache_and_apply(&mut rows, &self.dirs.aimux_home, &self.index)?;
        Ok((rows, warnings, report))
    }

    /// Sessions with their numbers only — no titles, no annotation counts (together a
    /// sixth of a warm run) — for `costs`, which shows neither.
    pub fn load_session_numbers(&mut self) -> Result<(Vec<SessionRow>, Vec<Warning>)> {
        let mut report = self.scan(Text::Skip)?;
        self.sessions_from_index(&mut report)
    }

    /// Brings the index up to date, showing progress on a terminal.
    fn scan(&mut self, text: Text) -> Result<ScanReport> {
        let show_progress = std::io::stderr().is_terminal();
        let progress = |done: usize, total: usize| {
            if total >= 50 && (done.is_multiple_of(25) || done == total) {
                eprint!("\rindexing session files: {done}/{total}");
                if done == total {
                    eprint!("\r\x1b[K");
                }
                let _ = std::io::stderr().flush();
            }
        };
        let report = scan_with(
            &self.dirs.home,
            &mut self.index,
            if show_progress { Some(&progress) } else { None },
            text,
        )?;
        Ok(report)
    }

    fn sessions_from_index(
        &self,
        report: &mut ScanReport,
    ) -> Result<(Vec<SessionRow>, Vec<Warning>)> {
        let mut warnings = std::mem::take(&mut report.warnings);
        let rows = catalog::sessions(&self.index, &self.dirs.home, &self.prices, &mut warnings)?;
        for w in &self.config_warnings {
            warnings.push(Warning {
                provider: None,
                file: self.dirs.config_path().display().to_string(),
                skipped_records: 0,
                message: w.clone(),
            });
        }
        Ok((rows, warnings))
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(code) = crate::infra_cmd::run_early(&cli)? {
        return Ok(code);
    }
    let mut ctx = Context::open(&cli)?;
    let Some(command) = &cli.command else {
        return dashboard(ctx);
    };
    match command {
        Command::Agents(args) => crate::agents_cmd::agents(ctx, args),
        Command::Health(args) => crate::health_cmd::health(ctx, args.json),
        Command::Teams(args) => crate::health_cmd::teams(ctx, args.json),
        Command::Sessions(args) => sessions(&mut ctx, args),
        Command::Costs(args) => costs(&mut ctx, args),
        Command::Trace(args) => trace_cmd(&mut ctx, args),
        Command::Annotate(args) => annotate(&mut ctx, args),
        Command::Search(args) => crate::history_cmd::search_cmd(&mut ctx, args),
        Command::Trash(args) => crate::history_cmd::trash_cmd(&mut ctx, args),
        Command::Titles(args) => crate::history_cmd::titles_cmd(&mut ctx, args),
        Command::Spawn(args) => crate::act_cmd::spawn_cmd(args),
        Command::Resume(args) => crate::act_cmd::resume_cmd(ctx, args),
        Command::Send(args) => crate::act_cmd::send_cmd(ctx, args),
        Command::Attach(args) => crate::act_cmd::attach_cmd(ctx, args),
        Command::Task(_)
        | Command::Worker(_)
        | Command::Mcp(_)
        | Command::Infra(_)
        | Command::Remote(_) => Ok(crate::infra_cmd::run_early(&cli)?.unwrap_or(ExitCode::FAILURE)),
        Command::Serve(args) => crate::otel_cmd::serve(ctx, args),
        Command::Export(args) => crate::otel_cmd::export(ctx, args),
    }
}

/// No subcommand: the live dashboard. Outside a terminal, say how to get the same data
/// headless instead of drawing into a pipe.
fn dashboard(ctx: Context) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        Cli::command().print_help()?;
        eprintln!(
            "\naimux: the dashboard needs a terminal; the subcommands above print the same data (add --json for scripts)"
        );
        return Ok(ExitCode::from(2));
    }
    for w in &ctx.config_warnings {
        eprintln!("warning: {}: {w}", ctx.dirs.config_path().display());
    }
    let receiver = crate::otel_cmd::dashboard_receiver(&ctx);
    let Context {
        dirs,
        prices,
        index,
        tui,
        ..
    } = ctx;
    let backend = crate::tui_backend::EngineBackend::new(dirs, prices, index, receiver);
    aimux_tui::run(backend, tui)?;
    Ok(ExitCode::SUCCESS)
}

fn print_warnings(warnings: &[Warning]) {
    for w in warnings {
        eprintln!("warning: {}: {}", w.file, w.message);
    }
}

/// Parses `--since`: a date, an RFC 3339 time, or a span back from now (`7d`, `12h`, `30m`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    if let Ok(n) = num.parse::<i64>() {
        let span = match unit {
            "d" => chrono::Duration::days(n),
            "h" => chrono::Duration::hours(n),
            "m" => chrono::Duration::minutes(n),
            "w" => chrono::Duration::weeks(n),
            _ => bail!("--since '{s}': unknown unit '{unit}' (use d, h, m or w)"),
        };
        return Ok(now - span);
    }
    bail!("--since '{s}': expected YYYY-MM-DD, an RFC 3339 time, or a span like 7d / 12h")
}

fn since_filter(rows: &mut Vec<SessionRow>, since: Option<&str>) -> Result<()> {
    if let Some(since) = since {
        let cutoff = parse_since(since, Utc::now())?;
        rows.retain(|r| {
            r.last_activity
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t >= cutoff)
        });
    }
    Ok(())
}

fn sessions(ctx: &mut Context, args: &SessionsArgs) -> Result<ExitCode> {
    let (mut rows, warnings, _) = ctx.load_sessions()?;
    if let Some(p) = &args.provider {
        let Some(provider) = Provider::parse(p) else {
            bail!("--provider '{p}': expected one of claude, codex, gemini, opencode");
        };
        rows.retain(|r| r.provider == provider);
    }
    if let Some(project) = &args.project {
        rows.retain(|r| r.project.as_deref() == Some(project.as_str()));
    }
    since_filter(&mut rows, args.since.as_deref())?;
    sort_sessions(&mut rows, args.sort);
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"sessions": rows, "warnings": warnings}))?
        );
        leak_at_exit(rows);
        return Ok(ExitCode::SUCCESS);
    }
    print_warnings(&warnings);
    if rows.is_empty() {
        println!("no sessions found under {}", ctx.dirs.home.display());
        return Ok(ExitCode::SUCCESS);
    }
    let id_len = unique_prefix_len(rows.iter().map(|r| r.id.as_str()));
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.chars().take(id_len).collect(),
                r.provider.to_string(),
                r.project.clone().unwrap_or_default(),
                r.model.clone().unwrap_or_default(),
                r.last_activity
                    .as_deref()
                    .map(short_time)
                    .unwrap_or_default(),
                r.turns.to_string(),
                format!(
                    "{}/{}",
                    r.tool_calls - r.failed_tool_calls.min(r.tool_calls),
                    r.tool_calls
                ),
                table::tokens(r.tokens.total()),
                table::usd(r.cost_usd),
                aimux_core::text::truncate(r.title.as_deref().unwrap_or(""), 50),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "ID",
                "PROVIDER",
                "PROJECT",
                "MODEL",
                "LAST ACTIVE",
                "TURNS",
                "TOOLS OK",
                "TOKENS",
                "COST",
                "TITLE"
            ],
            &body,
            &[5, 6, 7, 8]
        )
    );
    leak_at_exit(rows);
    Ok(ExitCode::SUCCESS)
}

/// Hands `rows` — every session of the machine, thousands of small allocations — to
/// the operating system at exit instead of freeing them one by one: the command is about
/// to end, and freeing them was ~5% of a warm `costs` or `sessions`.
fn leak_at_exit(rows: Vec<SessionRow>) {
    std::mem::forget(rows);
}

pub fn sort_sessions(rows: &mut [SessionRow], sort: SessionSort) {
    match sort {
        SessionSort::Recent => rows.sort_by(|a, b| b.last_activity.cmp(&a.last_activity)),
        SessionSort::Cost => rows.sort_by(|a, b| {
            b.cost_usd
                .unwrap_or(-1.0)
                .total_cmp(&a.cost_usd.unwrap_or(-1.0))
                .then(b.tokens.total().cmp(&a.tokens.total()))
        }),
        SessionSort::Age => rows.sort_by(|a, b| a.started_at.cmp(&b.started_at)),
        SessionSort::Turns => rows.sort_by_key(|r| std::cmp::Reverse(r.turns)),
    }
}

/// The shortest prefix length (at least 8) that tells every id apart, so a shown id can
/// be pasted into `aimux trace`. Codex's time-ordered ids share long prefixes.
pub fn unique_prefix_len<'a>(ids: impl Iterator<Item = &'a str>) -> usize {
    let mut sorted: Vec<&str> = ids.collect();
    sorted.sort_unstable();
    let common = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    sorted
        .windows(2)
        .map(|w| common(w[0], w[1]) + 1)
        .max()
        .unwrap_or(0)
        .max(8)
}

fn short_time(t: &str) -> String {
    DateTime::parse_from_rfc3339(t)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| t.to_string())
}

fn costs(ctx: &mut Context, args: &CostsArgs) -> Result<ExitCode> {
    let (mut rows, warnings) = ctx.load_session_numbers()?;
    since_filter(&mut rows, args.since.as_deref())?;
    let by = match args.by {
        CostBy::Project => GroupBy::Project,
        CostBy::Provider => GroupBy::Provider,
        CostBy::Model => GroupBy::Model,
        CostBy::Session => GroupBy::Session,
        CostBy::Day => GroupBy::Day,
    };
    let report = cost_report(&rows, by, &ctx.prices, Some(&ctx.index))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"costs": report, "warnings": warnings}))?
        );
        leak_at_exit(rows);
        return Ok(ExitCode::SUCCESS);
    }
    print_warnings(&warnings);
    let fmt_row = |r: &aimux_engine::costs::CostRow| {
        vec![
            r.key.clone(),
            r.providers.join(","),
            r.sessions.to_string(),
            table::tokens(r.tokens.input),
            table::tokens(r.tokens.output),
            table::tokens(r.tokens.cache_read),
            table::tokens(r.tokens.cache_write),
            table::usd(Some(r.cost_usd)),
            if r.unpriced_models.is_empty() {
                String::new()
            } else {
                format!(
                    "+ {} tokens unpriced ({})",
                    table::tokens(r.unpriced_tokens.total()),
                    r.unpriced_models.join(", ")
                )
            },
        ]
    };
    let mut body: Vec<Vec<String>> = report.rows.iter().map(fmt_row).collect();
    body.push(fmt_row(&report.total));
    print!(
        "{}",
        table::render(
            &[
                &by.as_str().to_uppercase(),
                "PROVIDERS",
                "SESSIONS",
                "INPUT",
                "OUTPUT",
                "CACHE READ",
                "CACHE WRITE",
                "USD",
                ""
            ],
            &body,
            &[2, 3, 4, 5, 6, 7]
        )
    );
    leak_at_exit(rows);
    Ok(ExitCode::SUCCESS)
}

fn trace_cmd(ctx: &mut Context, args: &TraceArgs) -> Result<ExitCode> {
    let (rows, _, _) = ctx.load_sessions()?;
    let row = catalog::find_session(&rows, &args.session).map_err(anyhow::Error::msg)?;
    let t = trace(row, &ctx.prices, &ctx.annotations().load(&row.id));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&t).context("serialising trace")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_warnings(&t.warnings);
    let s = &t.session;
    let md = args.markdown;
    let h = |level: usize, text: &str| {
        if md {
            format!("{} {text}", "#".repeat(level))
        } else {
            text.to_string()
        }
    };
    println!("{}", h(1, s.title.as_deref().unwrap_or(&s.id)));
    println!(
        "{} · {} · {} · {} turns · {} tokens · {}",
        s.provider,
        s.id,
        s.model.as_deref().unwrap_or("unknown model"),
        s.turns,
        table::tokens(s.tokens.total()),
        table::usd(s.cost_usd)
    );
    if let Some(cwd) = &s.cwd {
        println!("{cwd}");
    }
    for turn in &t.turns {
        println!();
        let who = turn
            .subagent
            .as_deref()
            .map(|a| format!(" (subagent {a})"))
            .unwrap_or_default();
        println!(
            "{}",
            h(
                2,
                &format!(
                    "Turn {}{who} · {} · {} tokens · {}",
                    turn.number,
                    turn.model.as_deref().unwrap_or("?"),
                    table::tokens(turn.tokens.total()),
                    table::usd(turn.cost_usd)
                )
            )
        );
        if let Some(a) = &turn.annotation {
            let note = a
                .note
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default();
            println!("[{}]{note}", a.label.as_str().to_uppercase());
        }
        println!("{}", quote(&turn.user, md));
        for tool in &turn.tools {
            let mark = match tool.success {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "…",
            };
            let input = aimux_core::text::summarize_tool_input(&tool.input);
            if md {
                println!("- {mark} `{}` {input}", tool.name);
            } else {
                println!("  {mark} {} {input}", tool.name);
            }
            if let Some(err) = &tool.error {
                println!("    {}", aimux_core::text::one_line(err, 120));
            }
        }
        if !turn.output.is_empty() {
            println!();
            println!("{}", turn.output.trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn quote(text: &str, md: bool) -> String {
    let prefix = if md { "> " } else { "› " };
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn annotate(ctx: &mut Context, args: &AnnotateArgs) -> Result<ExitCode> {
    let Some(label) = Label::parse(&args.label) else {
        bail!("label '{}': expected good, bad, waste or clear", args.label);
    };
    let (rows, _, _) = ctx.load_sessions()?;
    let row = catalog::find_session(&rows, &args.session).map_err(anyhow::Error::msg)?;
    let store = ctx.annotations();
    let t = trace(row, &ctx.prices, &store.load(&row.id));
    let turn = t
        .turns
        .iter()
        .find(|turn| turn.subagent.is_none() && turn.number.to_string() == args.turn)
        .or_else(|| t.turns.iter().find(|turn| turn.id == args.turn))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "session {} has no turn '{}' (turns 1–{})",
                row.id,
                args.turn,
                row.turns
            )
        })?;
    let annotation = Annotation {
        turn: turn.number,
        turn_id: turn.id.clone(),
        label,
        note: args.note.clone(),
        timestamp: Utc::now().to_rfc3339(),
    };
    store.append(&row.id, &annotation)?;
    println!(
        "{} turn {} of {}{}",
        match label {
            Label::Clear => "cleared".to_string(),
            l => format!("labelled {}", l.as_str().to_uppercase()),
        },
        turn.number,
        row.id,
        args.note
            .as_deref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
