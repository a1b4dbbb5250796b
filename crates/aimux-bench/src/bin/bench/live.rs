//! Live tick: `aimux serve` tailing 30 agents' growing session files over the corpus as
//! history, against a naive loop that re-reads and re-parses every session file each tick.

use super::{Ctx, Outcome, Target, secs};
use aimux_bench::live_tick::{LiveTickConfig, run};
use serde_json::json;
use std::time::Duration;

/// Live agents; each appends this many bytes per second.
const AGENTS: usize = 30;
const RATE_PER_AGENT: u64 = 1024;
/// serve's refresh interval (`--interval-ms`): one tick a second, as the dashboard's
/// liveliest setting; serve's own default (2 s) would halve its cost.
const INTERVAL: Duration = Duration::from_secs(1);

pub fn bench_live_tick(ctx: &mut Ctx) -> Result<Vec<Outcome>, String> {
    let quick = ctx.opts.quick;
    let cfg = LiveTickConfig {
        aimux: ctx.opts.aimux.clone(),
        exe: std::env::current_exe().map_err(|e| format!("own executable: {e}"))?,
        corpus: ctx.corpus.clone(),
        work: ctx.work.join("live-tick"),
        agents: AGENTS,
        rate_per_agent: RATE_PER_AGENT,
        window: Duration::from_secs(if quick { 10 } else { 60 }),
        interval: INTERVAL,
        naive_reps: if quick { 3 } else { 1 },
        first_scan_timeout: ctx.opts.timeout,
        seed: ctx.opts.seed,
    };
    let r = run(&cfg)?;
    ctx.extra.insert("live_tick".into(), json!(r));
    let setup = format!(
        "{} agents x {} KiB/s for {} over {} history sessions ({:.0} MiB), tick {}; \
         appended {:.0} KiB in the window (+{:.0} KiB after it to finish the turns in \
         progress), serve read {:.0} KiB (rchar, /proc included) over both; serve reports \
         {} tokens for the live agents, the files hold {}; first full scan {}; \
         {} other agents on the machine{}",
        r.agents,
        RATE_PER_AGENT / 1024,
        secs(r.window_s),
        r.history_files,
        r.history_bytes as f64 / 1048576.0,
        secs(r.interval_s),
        r.appended_bytes as f64 / 1024.0,
        r.completion_bytes as f64 / 1024.0,
        r.serve_read_bytes as f64 / 1024.0,
        r.tokens_seen,
        r.tokens_written,
        secs(r.first_scan_s),
        r.foreign_agents,
        if quick { " (quick: 10 s window)" } else { "" }
    );
    let naive_total = r.naive_tick_cpu_s * r.ticks();
    let (median, busiest) = r.cpu_seconds_spread();
    Ok(vec![
        Outcome::Measured {
            name: "live tick: aimux serve CPU",
            value: r.serve_core_percent(),
            unit: "% of one core",
            target: Some(Target::AtMost(2.0)),
            shown: format!(
                "{:.2}% ({:.2}s cpu in {})",
                r.serve_core_percent(),
                r.serve_cpu_s,
                secs(r.window_s)
            ),
            target_shown: "<= 2%",
            detail: format!(
                "{setup}; per second of the window: median {:.0} ms cpu, busiest {:.0} ms, \
                 most read in one second {:.1} MiB",
                median * 1000.0,
                busiest * 1000.0,
                r.read_per_second.iter().max().copied().unwrap_or(0) as f64 / 1048576.0
            ),
        },
        Outcome::Measured {
            name: "live tick vs naive re-read",
            value: r.naive_ratio(),
            unit: "ratio",
            target: Some(Target::AtLeast(50.0)),
            shown: format!(
                "{:.0}x less ({:.1}s vs {:.2}s cpu)",
                r.naive_ratio(),
                naive_total,
                r.serve_cpu_s
            ),
            target_shown: ">= 50x",
            detail: format!(
                "naive tick = read + parse every session file with aimux-core's parsers: \
                 {:.2}s cpu ({} wall), x {:.0} ticks{}",
                r.naive_tick_cpu_s,
                secs(r.naive_tick_wall_s),
                r.ticks(),
                if quick {
                    " (quick: a 200-session history; the target is set for the 4000-session one)"
                } else {
                    ""
                }
            ),
        },
    ])
}
