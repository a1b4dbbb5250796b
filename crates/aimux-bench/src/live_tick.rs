//! The live-tick benchmark: what `aimux serve` costs while agents write over a large
//! history, against a naive loop that re-reads and re-parses every session file each tick.
//!
//! The history is the corpus, linked (not copied) into a scratch home so the live files and
//! Gemini's project list never touch the cached corpus. Each live agent is a process
//! aimux recognises (see [`crate::fake_agent`]) naming its session id, so serve tails
//! exactly those files. The measured window starts after serve's first full scan; at its
//! end every queued line is written and serve must report, for every agent, the tokens the
//! generator wrote — proof that it read the appended bytes, not only that it idled cheaply.

use crate::fake_agent::FakeAgents;
use crate::live::{LiveConfig, LiveWriters};
use crate::plan::Tokens;
use crate::procstat;
use crate::serve::Serve;
use aimux_core::model::Provider;
use aimux_core::parsers::SessionFileParser;
use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct LiveTickConfig {
    pub aimux: PathBuf,
    /// The stand-in agents' executable (the bench binary).
    pub exe: PathBuf,
    pub corpus: PathBuf,
    /// Scratch directory (removed and re-created).
    pub work: PathBuf,
    pub agents: usize,
    pub rate_per_agent: u64,
    pub window: Duration,
    pub interval: Duration,
    /// How many naive ticks to time (the cheapest counts).
    pub naive_reps: usize,
    /// Longest wait for serve's first full scan.
    pub first_scan_timeout: Duration,
    pub seed: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LiveTickResult {
    pub agents: usize,
    pub interval_s: f64,
    pub window_s: f64,
    /// serve's utime + stime during the window.
    pub serve_cpu_s: f64,
    /// Bytes appended to the live files during the window.
    pub appended_bytes: u64,
    /// Bytes written right after the window to complete the turns in progress.
    pub completion_bytes: u64,
    /// serve's `rchar` growth over the window plus the catch-up after it.
    pub serve_read_bytes: u64,
    /// From start to the first snapshot listing every live agent with its file.
    pub first_scan_s: f64,
    /// Tokens serve reports for the live agents vs what the generator wrote.
    pub tokens_seen: u64,
    pub tokens_written: u64,
    /// Agents in serve's snapshot that are not the bench's (other users' real CLIs).
    pub foreign_agents: usize,
    pub history_files: usize,
    pub history_bytes: u64,
    /// CPU of one naive tick: read and parse every session file (history + live).
    pub naive_tick_cpu_s: f64,
    pub naive_tick_wall_s: f64,
    /// serve's CPU seconds in each second of the window (where its cost goes: the
    /// steady ticks vs the periodic full re-list).
    pub cpu_per_second: Vec<f64>,
    /// serve's `rchar` growth in each second of the window.
    pub read_per_second: Vec<u64>,
}

impl LiveTickResult {
    pub fn serve_core_percent(&self) -> f64 {
        self.serve_cpu_s / self.window_s.max(1e-9) * 100.0
    }

    pub fn ticks(&self) -> f64 {
        self.window_s / self.interval_s.max(1e-9)
    }

    /// (median, busiest) second of serve's CPU in the window, in seconds.
    pub fn cpu_seconds_spread(&self) -> (f64, f64) {
        let mut v = self.cpu_per_second.clone();
        v.sort_by(f64::total_cmp);
        let median = v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0);
        (median, v.last().copied().unwrap_or(0.0))
    }

    /// The naive loop's CPU over the same window, over serve's.
    pub fn naive_ratio(&self) -> f64 {
        self.naive_tick_cpu_s * self.ticks() / self.serve_cpu_s.max(1e-9)
    }
}

pub fn run(cfg: &LiveTickConfig) -> Result<LiveTickResult, String> {
    let home = cfg.work.join("home");
    let state = cfg.work.join("aimux-home");
    let cwd = cfg.work.join("agents-cwd");
    let _ = fs::remove_dir_all(&cfg.work);
    let result = (|| {
        let (history_files, history_bytes) =
            link_tree(&cfg.corpus, &home).map_err(|e| format!("linking the corpus: {e}"))?;
        fs::create_dir_all(&cwd).map_err(|e| e.to_string())?;
        let mut r = measure(cfg, &home, &state, &cwd)?;
        r.history_files = history_files;
        r.history_bytes = history_bytes;
        Ok(r)
    })();
    let _ = fs::remove_dir_all(&cfg.work);
    result
}

fn measure(
    cfg: &LiveTickConfig,
    home: &Path,
    state: &Path,
    cwd: &Path,
) -> Result<LiveTickResult, String> {
    let mut writers = LiveWriters::start(&LiveConfig {
        out: home.to_path_buf(),
        sessions: cfg.agents,
        rate_bytes_per_sec: cfg.rate_per_agent * cfg.agents as u64,
        duration: cfg.window,
        seed: cfg.seed,
    })
    .map_err(|e| format!("live files: {e}"))?;
    writers
        .write_turn_each()
        .map_err(|e| format!("live files: {e}"))?;
    let ids: Vec<(String, String)> = writers
        .truths()
        .iter()
        .map(|t| (t.provider.clone(), t.session_id.clone()))
        .collect();
    let fakes =
        FakeAgents::spawn(&cfg.exe, &ids, cwd).map_err(|e| format!("stand-in agents: {e}"))?;
    let pids = fakes.pids();
    let t0 = Instant::now();
    let interval_ms = cfg.interval.as_millis().to_string();
    let serve = Serve::start(&cfg.aimux, home, state, &["--interval-ms", &interval_ms])
        .map_err(|e| format!("aimux serve: {e}"))?;
    let matched_all = |v: &Value| matched(v, &pids).len() == pids.len();
    let first = serve
        .wait_for("/debug/agents", cfg.first_scan_timeout, matched_all)
        .ok_or_else(|| {
            let seen = crate::http::get_json(serve.addr, "/debug/agents")
                .map(|v| matched(&v, &pids).len())
                .unwrap_or(0);
            format!(
                "serve did not tie all {} live agents to their files within {:.0}s ({seen} tied)",
                pids.len(),
                cfg.first_scan_timeout.as_secs_f64()
            )
        })?;
    let first_scan_s = t0.elapsed().as_secs_f64();
    let foreign_agents = first["agents"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|r| !pid_in(r, &pids)).count());
    // One more tick so the window starts in steady state.
    std::thread::sleep(cfg.interval);

    let pid = serve.pid();
    let cpu0 = procstat::cpu_seconds(pid).map_err(|e| e.to_string())?;
    let read0 = procstat::bytes_read(pid).map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || per_second(pid, &stop))
    };
    let began = Instant::now();
    let appended = writers
        .append_for(cfg.window, cfg.rate_per_agent * cfg.agents as u64)
        .map_err(|e| format!("appending: {e}"))?;
    let window_s = began.elapsed().as_secs_f64();
    let cpu1 = procstat::cpu_seconds(pid).map_err(|e| e.to_string())?;
    stop.store(true, Ordering::Relaxed);
    let (cpu_per_second, read_per_second) = sampler.join().unwrap_or_default();
    let before_flush = writers.report.bytes;
    writers.flush().map_err(|e| format!("appending: {e}"))?;
    let completion_bytes = writers.report.bytes - before_flush;

    // Every line is written: serve must now report exactly the generator's tokens.
    let want: HashMap<String, u64> = writers
        .truths()
        .iter()
        .map(|t| (t.session_id.clone(), total(&t.tokens)))
        .collect();
    let tokens_written: u64 = want.values().sum();
    let caught_up = serve.wait_for(
        "/debug/agents",
        cfg.interval * 5 + Duration::from_secs(5),
        |v| tokens_by_session(v, &pids) == want,
    );
    let read1 = procstat::bytes_read(pid).map_err(|e| e.to_string())?;
    let last = caught_up
        .clone()
        .or_else(|| crate::http::get_json(serve.addr, "/debug/agents").ok())
        .unwrap_or(Value::Null);
    let tokens_seen: u64 = tokens_by_session(&last, &pids).values().sum();
    drop(serve);
    drop(fakes);
    if caught_up.is_none() {
        return Err(format!(
            "serve did not pick up the appended records: it reports {tokens_seen} tokens for the live agents, the files hold {tokens_written}"
        ));
    }
    let (naive_tick_cpu_s, naive_tick_wall_s) = naive_ticks(home, cfg.naive_reps.max(1))?;
    Ok(LiveTickResult {
        agents: pids.len(),
        interval_s: cfg.interval.as_secs_f64(),
        window_s,
        serve_cpu_s: cpu1 - cpu0,
        appended_bytes: appended,
        completion_bytes,
        serve_read_bytes: read1.saturating_sub(read0),
        first_scan_s,
        tokens_seen,
        tokens_written,
        foreign_agents,
        naive_tick_cpu_s,
        naive_tick_wall_s,
        cpu_per_second,
        read_per_second,
        ..LiveTickResult::default()
    })
}

/// Samples `pid`'s CPU time and `rchar` every second until `stop`; returns the growth
/// of each in each second.
fn per_second(pid: u32, stop: &AtomicBool) -> (Vec<f64>, Vec<u64>) {
    let (mut cpu, mut read) = (Vec::new(), Vec::new());
    let sample = || {
        Some((
            procstat::cpu_seconds(pid).ok()?,
            procstat::bytes_read(pid).ok()?,
        ))
    };
    let Some(mut last) = sample() else {
        return (cpu, read);
    };
    let mut next = Instant::now() + Duration::from_secs(1);
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() < next {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        next += Duration::from_secs(1);
        let Some(now) = sample() else { break };
        cpu.push(now.0 - last.0);
        read.push(now.1.saturating_sub(last.1));
        last = now;
    }
    (cpu, read)
}

fn total(t: &Tokens) -> u64 {
    t.input + t.output + t.cache_read + t.cache_write
}

fn pid_in(row: &Value, pids: &[u32]) -> bool {
    row["pid"]
        .as_u64()
        .is_some_and(|p| pids.iter().any(|q| u64::from(*q) == p))
}

/// The bench's agents in a snapshot that serve tied to a session file.
fn matched<'a>(snapshot: &'a Value, pids: &[u32]) -> Vec<&'a Value> {
    snapshot["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| pid_in(r, pids) && r["session_file"].is_string())
        .collect()
}

fn tokens_by_session(snapshot: &Value, pids: &[u32]) -> HashMap<String, u64> {
    matched(snapshot, pids)
        .into_iter()
        .filter_map(|r| {
            let t = &r["tokens"];
            let n = ["input", "output", "cache_read", "cache_write"]
                .iter()
                .map(|k| t[k].as_u64().unwrap_or(0))
                .sum();
            Some((r["session_id"].as_str()?.to_string(), n))
        })
        .collect()
}

/// The naive live loop, one tick: read and parse every session file under `home` with
/// aimux's own parsers. Returns the cheapest tick's (thread CPU, wall) seconds.
pub fn naive_ticks(home: &Path, reps: usize) -> Result<(f64, f64), String> {
    let mut files = Vec::new();
    for (dir, provider) in [
        (".claude", Provider::Claude),
        (".codex", Provider::Codex),
        (".gemini", Provider::Gemini),
    ] {
        let mut found = Vec::new();
        crate::corpus::walk_jsonl(&home.join(dir), &mut found);
        files.extend(found.into_iter().map(|f| (f, provider)));
    }
    if files.is_empty() {
        return Err(format!("no session files under {}", home.display()));
    }
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..reps {
        let cpu0 = procstat::thread_cpu_seconds();
        let t = Instant::now();
        let mut turns = 0usize;
        for (f, provider) in &files {
            let bytes = fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
            let mut p = SessionFileParser::new(*provider);
            p.feed(&bytes);
            turns += p.session().turns.len();
        }
        std::hint::black_box(turns);
        let cpu = procstat::thread_cpu_seconds() - cpu0;
        if cpu < best.0 {
            best = (cpu, t.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}

/// Mirrors `from` into `to`: session files (`*.jsonl`) hard-linked, everything else (small
/// metadata such as Gemini's projects.json, which the live writers update) copied.
/// Returns the number and bytes of the linked session files.
pub fn link_tree(from: &Path, to: &Path) -> io::Result<(usize, u64)> {
    link_tree_at(from, to, 0)
}

fn link_tree_at(from: &Path, to: &Path, depth: usize) -> io::Result<(usize, u64)> {
    fs::create_dir_all(to)?;
    let mut n = (0, 0);
    for e in fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ty = e.file_type()?;
        if ty.is_dir() {
            let (f, b) = link_tree_at(&src, &dst, depth + 1)?;
            n = (n.0 + f, n.1 + b);
        } else if ty.is_file() {
            if src.extension().is_some_and(|x| x == "jsonl") {
                fs::hard_link(&src, &dst)?;
                // Top-level files are the generator's ground truth, not sessions.
                if depth > 0 {
                    n = (n.0 + 1, n.1 + e.metadata()?.len());
                }
            } else {
                fs::copy(&src, &dst)?;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tree_links_sessions_and_copies_metadata() {
        let d = tempfile::tempdir().expect("tempdir");
        let from = d.path().join("a");
        fs::create_dir_all(from.join(".claude/projects/p")).expect("mkdir");
        fs::create_dir_all(from.join(".gemini")).expect("mkdir");
        fs::write(from.join(".claude/projects/p/s.jsonl"), "{}\n").expect("write");
        fs::write(from.join(".gemini/projects.json"), "{}").expect("write");
        let to = d.path().join("b");
        assert_eq!(link_tree(&from, &to).expect("link"), (1, 3));
        fs::write(to.join(".gemini/projects.json"), "changed").expect("write");
        assert_eq!(
            fs::read_to_string(from.join(".gemini/projects.json")).expect("read"),
            "{}"
        );
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(to.join(".claude/projects/p/s.jsonl")).expect("meta");
        assert_eq!(m.nlink(), 2);
    }
}
