//! Peak memory with 10,000 sessions: a cold `aimux costs` and `aimux serve` after its first
//! full scan, on a corpus of many small sessions (generated once, cached beside the main one).

use super::{Ctx, Outcome, Target, ensure_corpus, secs, session_files};
use aimux_bench::measure::measure;
use aimux_bench::procstat::memory_kb;
use aimux_bench::serve::Serve;
use serde_json::json;
use std::fs;
use std::process::{Command, Stdio};
use std::time::Instant;

const SESSIONS: usize = 10_000;
/// Requested size; the generator's smallest sessions make it about 210 MiB.
const SIZE: u64 = 64 << 20;
const LIMIT_MB: f64 = 150.0;

fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

pub fn bench_rss_10k(ctx: &mut Ctx) -> Result<Vec<Outcome>, String> {
    let corpus = ctx
        .work
        .join(format!("corpus-{SIZE}-{SESSIONS}-s{}", ctx.opts.seed));
    let generated = ensure_corpus(&corpus, SIZE, SESSIONS, ctx.opts.seed)?;
    let files = session_files(&corpus);
    let bytes: u64 = files
        .iter()
        .filter_map(|f| fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let state = ctx.work.join("rss-aimux");
    let _ = fs::remove_dir_all(&state);
    let costs = measure(
        Command::new(&ctx.opts.aimux)
            .arg("--home")
            .arg(&corpus)
            .arg("costs")
            .env("AIMUX_HOME", &state)
            .env("HOME", &corpus)
            .env_remove("AIMUX_DATA_HOME")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        ctx.opts.timeout,
    )
    .map_err(|e| format!("aimux costs: {e}"))?;
    if costs.exit != 0 {
        return Err(format!("aimux costs exited with {}", costs.exit));
    }
    let _ = fs::remove_dir_all(&state);
    let t = Instant::now();
    let serve = Serve::start(&ctx.opts.aimux, &corpus, &state, &["--interval-ms", "1000"])
        .map_err(|e| format!("aimux serve: {e}"))?;
    let first = serve.wait_for("/debug/agents", ctx.opts.timeout, |v| {
        v["taken_at"].is_string()
    });
    let scan_s = t.elapsed().as_secs_f64();
    let serve_mem = memory_kb(serve.pid()).map_err(|e| e.to_string());
    drop(serve);
    let _ = fs::remove_dir_all(&state);
    if first.is_none() {
        return Err(format!(
            "aimux serve published no snapshot within {}",
            secs(scan_s)
        ));
    }
    let (hwm, rss) = serve_mem?;
    ctx.extra.insert(
        "rss_10k".into(),
        json!({"corpus": corpus, "files": files.len(), "bytes": bytes,
               "generated_seconds": generated, "costs_cold": costs,
               "serve_vm_hwm_kb": hwm, "serve_vm_rss_kb": rss, "serve_first_scan_s": scan_s}),
    );
    let corpus_shown = format!(
        "{} session files, {:.0} MiB{}",
        files.len(),
        bytes as f64 / 1048576.0,
        match generated {
            Some(s) => format!(", generated in {s:.1}s"),
            None => ", reused".into(),
        }
    );
    Ok(vec![
        Outcome::Measured {
            name: "peak RSS, cold costs, 10k sessions",
            value: mb(costs.max_rss_kb),
            unit: "MB",
            target: Some(Target::AtMost(LIMIT_MB)),
            shown: format!("{:.0} MB", mb(costs.max_rss_kb)),
            target_shown: "<= 150 MB",
            detail: format!(
                "aimux costs with no index (ru_maxrss): {} wall, {:.2}s cpu; {corpus_shown}",
                secs(costs.wall_s),
                costs.cpu_s()
            ),
        },
        Outcome::Measured {
            name: "peak RSS, serve first scan, 10k",
            value: mb(hwm),
            unit: "MB",
            target: Some(Target::AtMost(LIMIT_MB)),
            shown: format!("{:.0} MB ({:.0} MB now)", mb(hwm), mb(rss)),
            target_shown: "<= 150 MB",
            detail: format!(
                "aimux serve (engine on, no index) VmHWM once its first snapshot (full scan) is \
                 published, {} after start",
                secs(scan_s)
            ),
        },
    ])
}
