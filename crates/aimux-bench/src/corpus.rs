//! The corpus: a HOME directory with Claude, Codex and Gemini session files, plus
//! `ground-truth.jsonl` saying what each file contains.

use crate::claude::ClaudeWriter;
use crate::codex::CodexWriter;
use crate::gemini::GeminiWriter;
use crate::plan::{Clock, SessionTruth, TurnPlan, plan_turn};
use crate::rng::Rng;
use crate::text::{self, J};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

pub const DAY_MS: i64 = 86_400_000;

/// One provider's session file being written.
pub trait SessionWriter {
    /// Path relative to the corpus HOME.
    fn rel_path(&self) -> &str;
    fn truth(&self) -> &SessionTruth;
    fn truth_mut(&mut self) -> &mut SessionTruth;
    fn clock_mut(&mut self) -> &mut Clock;
    /// Records written when the session starts, before the first prompt.
    fn begin(&mut self, rng: &mut Rng, f: &Fillers, out: &mut String);
    /// One prompt and everything the agent did for it.
    fn turn(&mut self, rng: &mut Rng, f: &Fillers, plan: &TurnPlan, out: &mut String);
    /// Records written when the session ends.
    fn end(&mut self, rng: &mut Rng, f: &Fillers, out: &mut String);
}

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub cwd: String,
    pub branch: String,
    pub commit: String,
    /// Gemini's `projectHash` (sha256 hex of the root in the real CLI; random here).
    pub hash: String,
    pub files: Vec<String>,
}

const PROJECT_NAMES: &[&str] = &[
    "api-gateway",
    "billing-service",
    "web-dashboard",
    "ml-pipeline",
    "infra",
    "aimux",
    "docs-site",
    "mobile-app",
    "auth-server",
    "search",
    "etl-jobs",
    "cli-tools",
    "data-warehouse",
    "payments",
];

pub fn make_projects(rng: &mut Rng) -> Vec<Project> {
    PROJECT_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let cwd = if i % 3 == 2 {
                format!("/home/dev/work/acme/{name}")
            } else {
                format!("/home/dev/src/{name}")
            };
            let nfiles = 20 + rng.index(120);
            Project {
                name: name.to_string(),
                cwd,
                branch: (*rng.pick(&["main", "main", "master", "develop", "feature/cache"]))
                    .to_string(),
                commit: rng.hex(40),
                hash: rng.hex(64),
                files: (0..nfiles).map(|_| text::rel_path(rng)).collect(),
            }
        })
        .collect()
}

/// Large texts that every session of a CLI version repeats (system prompts, listings).
/// Generated once per corpus; JSON-ready (already escaped, with quotes) where noted.
pub struct Fillers {
    /// Claude `attachment` object: `agent_listing_delta`.
    pub claude_agents: String,
    /// Claude `attachment` object: `skill_listing`.
    pub claude_skills: String,
    /// JSON strings (quoted) of Codex's instruction texts.
    pub codex_base: String,
    pub codex_skills: String,
    pub codex_perms: String,
    pub codex_collab: String,
    pub codex_host_skills: String,
    pub codex_hashes: [String; 4],
}

impl Fillers {
    pub fn new(rng: &mut Rng) -> Fillers {
        let agent_names = [
            "claude",
            "Explore",
            "general-purpose",
            "Plan",
            "statusline-setup",
        ];
        let lines: Vec<String> = agent_names
            .iter()
            .map(|n| {
                J(&format!("- {n}: {} (Tools: *)", {
                    let n = 100 + rng.index(400);
                    text::words(rng, n)
                }))
                .to_string()
            })
            .collect();
        let types: Vec<String> = agent_names.iter().map(|n| J(n).to_string()).collect();
        let claude_agents = format!(
            r#"{{"type":"agent_listing_delta","addedTypes":[{}],"addedLines":[{}],"removedTypes":[],"isInitial":true,"showConcurrencyNote":true}}"#,
            types.join(","),
            lines.join(",")
        );
        let skill_names = [
            "deep-research",
            "update-config",
            "keybindings-help",
            "verify",
            "code-review",
            "simplify",
            "fewer-permission-prompts",
            "loop",
            "claude-api",
            "run",
            "init",
            "review",
            "security-review",
        ];
        let mut listing = String::new();
        for n in skill_names {
            let _ = writeln!(listing, "- {n}: {}", {
                let n = 60 + rng.index(500);
                text::words(rng, n)
            });
        }
        let names: Vec<String> = skill_names.iter().map(|n| J(n).to_string()).collect();
        let claude_skills = format!(
            r#"{{"type":"skill_listing","content":{},"skillCount":{},"isInitial":true,"names":[{}]}}"#,
            J(listing.trim_end()),
            skill_names.len(),
            names.join(",")
        );
        let mut base = String::from(
            "You are a coding agent running in the Codex CLI, a terminal-based coding assistant.\n\n",
        );
        text::push_words(rng, &mut base, 20_600);
        let mut skills = String::from("<skills_instructions>\n## Skills\n");
        text::push_words(rng, &mut skills, 2_100);
        skills.push_str("\n</skills_instructions>");
        let mut host_skills = String::from("\n## Skills\n");
        text::push_words(rng, &mut host_skills, 2_070);
        let perms = "<permissions instructions>\nFilesystem sandboxing defines which files can be read or written. `sandbox_mode` is `danger-full-access`: No filesystem sandboxing - all commands are permitted. Network access is enabled.\nApproval policy is currently never. Do not provide the `sandbox_permissions` for any reason, commands will be rejected.\n</permissions instructions>";
        let mut collab = String::from("# Collaboration Mode: Default\n\n");
        text::push_words(rng, &mut collab, 1_280);
        Fillers {
            claude_agents,
            claude_skills,
            codex_base: J(&base).to_string(),
            codex_skills: J(&skills).to_string(),
            codex_perms: J(perms).to_string(),
            codex_collab: J(&collab).to_string(),
            codex_host_skills: J(&host_skills).to_string(),
            codex_hashes: [rng.hex(40), rng.hex(40), rng.hex(40), rng.hex(40)],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Claude,
    Codex,
    Gemini,
}

/// Everything needed to write one session, drawn up front so files can be written in any
/// order (and in parallel) with identical results.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    pub kind: Kind,
    pub project: usize,
    pub start_ms: i64,
    pub target_bytes: u64,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    pub size: u64,
    pub sessions: usize,
    pub seed: u64,
    /// The corpus's "now": sessions span the 90 days before it and never pass it.
    pub now_ms: i64,
    pub threads: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
    pub lines: u64,
    pub truth: Vec<SessionTruth>,
}

pub fn make_writer(
    kind: Kind,
    rng: &mut Rng,
    project: &Project,
    start: i64,
    limit: i64,
) -> Box<dyn SessionWriter + Send> {
    match kind {
        Kind::Claude => Box::new(ClaudeWriter::new(rng, project, start, limit)),
        Kind::Codex => Box::new(CodexWriter::new(rng, project, start, limit)),
        Kind::Gemini => Box::new(GeminiWriter::new(rng, project, start, limit)),
    }
}

/// Draws the sessions: provider mix, project popularity, start times over 90 days (more
/// recent ones more likely) and a log-normal size skew that sums to `cfg.size`.
pub fn plan_sessions(cfg: &Config, rng: &mut Rng, projects: usize) -> Vec<SessionSpec> {
    let n = cfg.sessions.max(1);
    // Zipf-like project popularity.
    let pop: Vec<u32> = (0..projects).map(|i| (1000 / (i + 1)) as u32).collect();
    let mut specs: Vec<SessionSpec> = (0..n)
        .map(|_| {
            let kind = match rng.weighted(&[50, 30, 20]) {
                0 => Kind::Claude,
                1 => Kind::Codex,
                _ => Kind::Gemini,
            };
            let age = (90.0 * DAY_MS as f64 * rng.f64().powf(1.4)) as i64;
            SessionSpec {
                kind,
                project: rng.weighted(&pop),
                start_ms: cfg.now_ms - age - rng.range(60_000, 3_600_000) as i64,
                target_bytes: 0,
                seed: rng.next_u64(),
            }
        })
        .collect();
    let weights: Vec<f64> = (0..n).map(|_| rng.lognormal(1.0, 1.25)).collect();
    // A session cannot be smaller than its provider's fixed overhead (Codex repeats its
    // 20 KB system prompt in every rollout), so targets are max(floor, c * weight) with c
    // chosen by bisection to make the targets add up to the requested size.
    let floor = |k: Kind| match k {
        Kind::Claude => 14_000.0,
        Kind::Codex => 36_000.0,
        Kind::Gemini => 6_000.0,
    };
    let total = |c: f64| -> f64 {
        specs
            .iter()
            .zip(&weights)
            .map(|(s, w)| (c * w).max(floor(s.kind)))
            .sum()
    };
    let (mut lo, mut hi) = (0.0f64, cfg.size as f64 + 1.0);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if total(mid) > cfg.size as f64 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    for (s, w) in specs.iter_mut().zip(&weights) {
        s.target_bytes = (lo * w).max(floor(s.kind)) as u64;
    }
    specs
}

/// Writes one session file; returns its ground truth.
pub fn write_session(
    home: &Path,
    spec: &SessionSpec,
    project: &Project,
    fillers: &Fillers,
    limit_ms: i64,
) -> io::Result<SessionTruth> {
    let mut rng = Rng::new(spec.seed);
    let mut w = make_writer(spec.kind, &mut rng, project, spec.start_ms, limit_ms);
    let path = home.join(w.rel_path());
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let file = File::create(&path)?;
    let mut file = BufWriter::with_capacity(1 << 18, file);
    let mut out = String::with_capacity(1 << 16);
    let (mut bytes, mut lines) = (0u64, 0u64);
    let (mut first_ts, mut last_ts) = (None::<String>, None::<String>);
    let mut flush = |out: &mut String, file: &mut BufWriter<File>| -> io::Result<()> {
        const KEY: &str = "\"timestamp\":\"";
        let ts_at = |i: usize| {
            out.get(i + KEY.len()..i + KEY.len() + 24)
                .map(str::to_string)
        };
        if first_ts.is_none() {
            first_ts = out.find(KEY).and_then(ts_at);
        }
        if let Some(t) = out.rfind(KEY).and_then(ts_at) {
            last_ts = Some(t);
        }
        bytes += out.len() as u64;
        lines += out.bytes().filter(|&b| b == b'\n').count() as u64;
        file.write_all(out.as_bytes())?;
        out.clear();
        Ok(())
    };
    w.begin(&mut rng, fillers, &mut out);
    let head = out.len() as u64;
    flush(&mut out, &mut file)?;
    let mut turns = 0u64;
    let mut turn_bytes = 0u64;
    loop {
        let budget = spec.target_bytes.saturating_sub(head + turn_bytes);
        let plan = plan_turn(&mut rng, &project.files, budget);
        w.turn(&mut rng, fillers, &plan, &mut out);
        turns += 1;
        turn_bytes += out.len() as u64;
        flush(&mut out, &mut file)?;
        let avg = turn_bytes / turns;
        if head + turn_bytes + avg / 2 >= spec.target_bytes || turns >= 5_000 {
            break;
        }
    }
    w.end(&mut rng, fillers, &mut out);
    flush(&mut out, &mut file)?;
    file.flush()?;
    let file = file.into_inner().map_err(|e| e.into_error())?;
    let last = w.clock_mut().t;
    file.set_modified(UNIX_EPOCH + Duration::from_millis(last.max(0) as u64))?;
    let mut truth = w.truth().clone();
    truth.started_at = first_ts.unwrap_or_default();
    truth.last_activity = last_ts.unwrap_or_default();
    truth.bytes = bytes;
    truth.lines = lines;
    Ok(truth)
}

/// Generates the whole corpus under `cfg.out`.
pub fn generate(cfg: &Config) -> io::Result<Summary> {
    let mut rng = Rng::new(cfg.seed);
    let fillers = Fillers::new(&mut rng.fork());
    let projects = make_projects(&mut rng);
    let specs = plan_sessions(cfg, &mut rng, projects.len());
    fs::create_dir_all(&cfg.out)?;
    let limit = cfg.now_ms - 1_000;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<io::Result<SessionTruth>>>> =
        Mutex::new((0..specs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..cfg.threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = specs.get(i) else { break };
                    let Some(project) = projects.get(spec.project) else {
                        continue;
                    };
                    let r = write_session(&cfg.out, spec, project, &fillers, limit);
                    if let Ok(mut res) = results.lock()
                        && let Some(slot) = res.get_mut(i)
                    {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| io::Error::other("a writer thread panicked"))?;
    let mut summary = Summary::default();
    for r in results {
        let t = r.ok_or_else(|| io::Error::other("a session was not written"))??;
        summary.files += 1;
        summary.bytes += t.bytes;
        summary.lines += t.lines;
        summary.truth.push(t);
    }
    write_gemini_projects(&cfg.out, &projects, &summary.truth)?;
    let mut gt = BufWriter::new(File::create(cfg.out.join("ground-truth.jsonl"))?);
    for t in &summary.truth {
        serde_json::to_writer(&mut gt, t)?;
        gt.write_all(b"\n")?;
    }
    gt.flush()?;
    Ok(summary)
}

/// `~/.gemini/projects.json` and each project's `.project_root`, as Gemini CLI writes them.
/// Entries already in an existing `projects.json` are kept.
pub fn write_gemini_projects(
    home: &Path,
    projects: &[Project],
    truth: &[SessionTruth],
) -> io::Result<()> {
    let used: Vec<&Project> = projects
        .iter()
        .filter(|p| {
            truth
                .iter()
                .any(|t| t.provider == "gemini" && t.project == p.name)
        })
        .collect();
    if used.is_empty() {
        return Ok(());
    }
    let dir = home.join(".gemini");
    fs::create_dir_all(&dir)?;
    let path = dir.join("projects.json");
    let mut entries: Vec<(String, String)> = fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("projects").and_then(|p| p.as_object()).map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
        })
        .unwrap_or_default();
    for p in &used {
        if !entries.iter().any(|(k, _)| *k == p.cwd) {
            entries.push((p.cwd.clone(), p.name.clone()));
        }
        let tmp = dir.join("tmp").join(&p.name);
        fs::create_dir_all(&tmp)?;
        fs::write(tmp.join(".project_root"), &p.cwd)?;
    }
    let mut s = String::from("{\n  \"projects\": {");
    for (i, (cwd, name)) in entries.iter().enumerate() {
        let _ = write!(
            s,
            "{}\n    {}: {}",
            if i == 0 { "" } else { "," },
            J(cwd),
            J(name)
        );
    }
    s.push_str("\n  }\n}");
    fs::write(path, s)
}

/// Parses `1GB`, `20MB`, `512KiB`, `1000` (bytes). Units are powers of 1024.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

/// Every `*.jsonl` file under `dir` (recursively, unsorted); unreadable directories are
/// skipped.
pub fn walk_jsonl(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk_jsonl(&p, out);
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
}
