//! Parser throughput (bytes/second) over generated session files, per provider.
//!
//! `cargo bench -p aimux-bench` (add `-- --quick` for a smaller corpus). Plain
//! `harness = false` timing with std::time: best of several passes, after a warm-up pass.
//! Baselines on the same bytes: splitting lines only, and a generic `serde_json::Value`
//! parse of every line.

use aimux_bench::corpus::{Config, generate};
use aimux_bench::time::parse_iso;
use aimux_core::model::Provider;
use aimux_core::parsers::SessionFileParser;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn best_of(passes: usize, budget: Duration, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let mut best = Duration::MAX;
    let start = Instant::now();
    for i in 0..passes {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        if i >= 1 && start.elapsed() > budget {
            break;
        }
    }
    best
}

fn mib_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1048576.0 / d.as_secs_f64().max(1e-9)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (size, sessions) = if quick {
        (8 << 20, 60)
    } else {
        (96 << 20, 600)
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tempdir: {e}");
            return;
        }
    };
    let cfg = Config {
        out: dir.path().to_path_buf(),
        size,
        sessions,
        seed: 1,
        now_ms: parse_iso("2026-11-27T12:00:00Z").unwrap_or(0),
        threads: 2,
    };
    let summary = match generate(&cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("generating the corpus: {e}");
            return;
        }
    };
    println!(
        "parser throughput over a generated corpus ({:.0} MiB, {} sessions), best of up to 7 passes",
        summary.bytes as f64 / 1048576.0,
        summary.files
    );
    println!(
        "{:<8} {:>6} {:>9}  {:>12} {:>14} {:>12} {:>14}",
        "PROVIDER", "FILES", "MIB", "WHOLE FILE", "64 KIB CHUNKS", "LINES ONLY", "SERDE VALUE"
    );
    for provider in [Provider::Claude, Provider::Codex, Provider::Gemini] {
        let files: Vec<Vec<u8>> = summary
            .truth
            .iter()
            .filter(|t| t.provider == provider.as_str())
            .filter_map(|t| std::fs::read(dir.path().join(&t.path)).ok())
            .collect();
        let bytes: usize = files.iter().map(Vec::len).sum();
        if bytes == 0 {
            continue;
        }
        let budget = Duration::from_secs(if quick { 1 } else { 4 });
        let whole = best_of(7, budget, || {
            for f in &files {
                let mut p = SessionFileParser::new(provider);
                p.feed(f);
                black_box(p.session().turns.len());
            }
        });
        let chunked = best_of(7, budget, || {
            for f in &files {
                let mut p = SessionFileParser::new(provider);
                for c in f.chunks(64 << 10) {
                    p.feed(c);
                }
                black_box(p.session().turns.len());
            }
        });
        let lines = best_of(7, budget, || {
            let mut n = 0usize;
            for f in &files {
                n += f.split(|&b| b == b'\n').count();
            }
            black_box(n);
        });
        let value = best_of(7, budget, || {
            for f in &files {
                for l in f.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    black_box(serde_json::from_slice::<serde_json::Value>(l).is_ok());
                }
            }
        });
        println!(
            "{:<8} {:>6} {:>9.1}  {:>8.0} MiB/s {:>10.0} MiB/s {:>8.0} MiB/s {:>10.0} MiB/s",
            provider.as_str(),
            files.len(),
            bytes as f64 / 1048576.0,
            mib_s(bytes, whole),
            mib_s(bytes, chunked),
            mib_s(bytes, lines),
            mib_s(bytes, value)
        );
    }
}
