//! Writes a synthetic HOME of agent session files, or appends to live ones.
//!
//! ```text
//! gen-corpus --size 1GB --sessions 4000 --out DIR [--seed N] [--now 2026-11-27T12:00:00Z] [--threads N]
//! gen-corpus --live N --rate BYTES_PER_SEC --duration SECS --out DIR [--seed N]
//! ```

use aimux_bench::corpus::{Config, generate, parse_size};
use aimux_bench::live::{LiveConfig, run_live};
use aimux_bench::time::{iso, now_ms, parse_iso};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage:
  gen-corpus --size SIZE --sessions N --out DIR [--seed N] [--now RFC3339] [--threads N]
  gen-corpus --live N --rate BYTES_PER_SEC --duration SECS --out DIR [--seed N]
SIZE: bytes, or with KB/MB/GB (powers of 1024). --now defaults to the current hour (UTC);
the same seed, size, sessions and --now give byte-identical output.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-corpus: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut size = None;
    let mut sessions = None;
    let mut out = None;
    let mut seed = 42u64;
    let mut now = None;
    let mut threads = 2usize;
    let mut live = None;
    let mut rate = 100_000u64;
    let mut duration = 10.0f64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--size" => size = Some(parse_size(&val()?).ok_or("bad --size")?),
            "--sessions" => sessions = Some(val()?.parse::<usize>().map_err(|e| e.to_string())?),
            "--out" => out = Some(PathBuf::from(val()?)),
            "--seed" => seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--now" => now = Some(parse_iso(&val()?).ok_or("bad --now (want RFC 3339 UTC)")?),
            "--threads" => threads = val()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--live" => live = Some(val()?.parse::<usize>().map_err(|e| e.to_string())?),
            "--rate" => rate = parse_size(&val()?).ok_or("bad --rate")?,
            "--duration" => duration = val()?.parse().map_err(|e| format!("--duration: {e}"))?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let out = out.ok_or("--out is required")?;
    if let Some(n) = live {
        let report = run_live(&LiveConfig {
            out,
            sessions: n,
            rate_bytes_per_sec: rate,
            duration: Duration::from_secs_f64(duration.max(0.0)),
            seed,
        })
        .map_err(|e| e.to_string())?;
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    let size = size.ok_or("--size is required")?;
    let sessions = sessions.ok_or("--sessions is required")?;
    let now_ms = now.unwrap_or_else(|| now_ms() / 3_600_000 * 3_600_000);
    let cfg = Config {
        out: out.clone(),
        size,
        sessions,
        seed,
        now_ms,
        threads,
    };
    let t = Instant::now();
    let summary = generate(&cfg).map_err(|e| format!("writing {}: {e}", out.display()))?;
    let secs = t.elapsed().as_secs_f64();
    let meta = serde_json::json!({
        "size": size, "sessions": sessions, "seed": seed, "now": iso(now_ms),
        "files": summary.files, "bytes": summary.bytes, "lines": summary.lines,
        "generator": env!("CARGO_PKG_VERSION"),
    });
    std::fs::write(out.join("corpus.json"), meta.to_string()).map_err(|e| e.to_string())?;
    let by = |p: &str| summary.truth.iter().filter(|t| t.provider == p).count();
    println!(
        "wrote {} session files ({} claude, {} codex, {} gemini), {:.1} MiB, {} lines in {:.1}s ({:.0} MiB/s) to {}; now={}; ground truth in ground-truth.jsonl",
        summary.files,
        by("claude"),
        by("codex"),
        by("gemini"),
        summary.bytes as f64 / 1048576.0,
        summary.lines,
        secs,
        summary.bytes as f64 / 1048576.0 / secs.max(1e-9),
        out.display(),
        iso(now_ms)
    );
    Ok(())
}
