//! OTLP/HTTP log ingestion: `aimux serve`'s receiver against the rotel collector
//! (blackhole exporter) under the same load, and aimux's memory after it.

use super::{Ctx, Outcome, Target};
use aimux_bench::http::get_json;
use aimux_bench::otlp_load::{BatchTemplate, LoadResult, Rotel, send_logs};
use aimux_bench::procstat::memory_kb;
use aimux_bench::serve::Serve;
use aimux_bench::time::now_ms;
use serde_json::{Value, json};
use std::fs;
use std::sync::Arc;

/// Concurrent keep-alive connections of the load generator.
const CONNECTIONS: usize = 4;
/// Turns per request (5 records each): 100 records, about what Claude Code's batch log
/// processor sends per export under load.
const TURNS_PER_BATCH: usize = 20;
/// Conversations the records are spread over.
const SESSIONS: u64 = 1000;

struct AimuxRun {
    load: LoadResult,
    /// VmRSS of the idle receiver before the load: the process without telemetry.
    idle_kb: u64,
    hwm_kb: u64,
    rss_kb: u64,
    debug: Value,
}

fn run_aimux(ctx: &Ctx, template: &Arc<BatchTemplate>, requests: u64) -> Result<AimuxRun, String> {
    let home = ctx.work.join("otlp-home");
    let state = ctx.work.join("otlp-aimux");
    let _ = fs::remove_dir_all(&home);
    let _ = fs::remove_dir_all(&state);
    fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let serve = Serve::start(&ctx.opts.aimux, &home, &state, &["--no-engine"])
        .map_err(|e| format!("aimux serve: {e}"))?;
    let idle_kb = memory_kb(serve.pid()).map_err(|e| e.to_string())?.1;
    let load = send_logs(serve.addr, template, 0, requests, CONNECTIONS);
    let (hwm_kb, rss_kb) = memory_kb(serve.pid()).map_err(|e| e.to_string())?;
    let debug = get_json(serve.addr, "/debug").map_err(|e| format!("/debug: {e}"))?;
    drop(serve);
    let _ = fs::remove_dir_all(&state);
    let _ = fs::remove_dir_all(&home);
    if let Some(why) = &load.first_failure {
        return Err(format!(
            "{} of {} requests to aimux failed, first: {why}",
            load.failed_requests, load.requests
        ));
    }
    let accepted = debug["accepted_records"].as_u64().unwrap_or(0);
    if accepted != load.records {
        return Err(format!(
            "aimux acknowledged {} records but counted {accepted} accepted",
            load.records
        ));
    }
    Ok(AimuxRun {
        load,
        idle_kb,
        hwm_kb,
        rss_kb,
        debug,
    })
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

pub fn bench_otlp(ctx: &mut Ctx) -> Result<Vec<Outcome>, String> {
    let quick = ctx.opts.quick;
    let records: u64 = if quick { 200_000 } else { 1_000_000 };
    let rounds = if quick { 1 } else { 2 };
    let template = Arc::new(BatchTemplate::claude_code(
        TURNS_PER_BATCH,
        SESSIONS,
        now_ms().max(0) as u64 * 1_000_000,
    ));
    let requests = records / template.records as u64;
    let rotel_agent = ctx.opts.rotel.clone().filter(|p| p.is_file());
    // Alternate the two so a busy moment of the machine hits both alike; best round counts.
    let mut aimux_runs = Vec::new();
    let mut rotel_runs: Vec<(LoadResult, u64)> = Vec::new();
    let mut rotel_error = None;
    for _ in 0..rounds {
        aimux_runs.push(run_aimux(ctx, &template, requests)?);
        if let Some(agent) = &rotel_agent
            && rotel_error.is_none()
        {
            match Rotel::start(agent) {
                Ok(rotel) => {
                    let load = send_logs(rotel.addr, &template, 0, requests, CONNECTIONS);
                    let hwm = memory_kb(rotel.pid()).map(|m| m.0).unwrap_or(0);
                    match &load.first_failure {
                        Some(why) => {
                            rotel_error = Some(format!(
                                "{} of {} requests to rotel failed, first: {why}",
                                load.failed_requests, load.requests
                            ))
                        }
                        None => rotel_runs.push((load, hwm)),
                    }
                }
                Err(e) => rotel_error = Some(format!("rotel-agent did not start: {e}")),
            }
        }
    }
    let best_aimux = aimux_runs
        .iter()
        .max_by(|a, b| a.load.records_per_s().total_cmp(&b.load.records_per_s()))
        .ok_or("no aimux round")?;
    let first = &aimux_runs[0];
    let budget = first.debug["memory_budget_bytes"].as_u64().unwrap_or(0);
    ctx.extra.insert(
        "otlp".into(),
        json!({
            "records_per_round": records, "rounds": rounds, "connections": CONNECTIONS,
            "records_per_request": template.records, "request_bytes": template.len(),
            "aimux": aimux_runs.iter().map(|r| json!({"load": r.load, "idle_vm_rss_kb": r.idle_kb, "vm_hwm_kb": r.hwm_kb,
                "vm_rss_kb": r.rss_kb, "memory_used_bytes": r.debug["memory_used_bytes"],
                "evicted_conversations": r.debug["evicted_conversations"]})).collect::<Vec<_>>(),
            "rotel": rotel_runs.iter().map(|(l, h)| json!({"load": l, "vm_hwm_kb": h})).collect::<Vec<_>>(),
            "memory_budget_bytes": budget,
        }),
    );
    let a_rps = best_aimux.load.records_per_s();
    let mut out = Vec::new();
    let load_shape = format!(
        "{records} Claude Code-shaped log records per round ({} per protobuf request of {:.1} KiB, \
         {SESSIONS} conversations) over {CONNECTIONS} keep-alive connections, best of {rounds} \
         round(s), load generator on the same 2 cores",
        template.records,
        template.len() as f64 / 1024.0
    );
    let best_rotel = rotel_runs
        .iter()
        .max_by(|a, b| a.0.records_per_s().total_cmp(&b.0.records_per_s()));
    match (best_rotel, &rotel_agent, rotel_error) {
        (_, _, Some(why)) => out.push(Outcome::NotMeasured {
            name: "OTLP receiver vs rotel",
            reason: format!("{why} (aimux alone: {:.0}k records/s)", a_rps / 1000.0),
        }),
        (Some((rotel, rotel_hwm)), _, None) => {
            let r_rps = rotel.records_per_s();
            out.push(Outcome::Measured {
                name: "OTLP receiver vs rotel",
                value: a_rps / r_rps.max(1e-9),
                unit: "ratio",
                target: Some(Target::AtLeast(0.5)),
                shown: format!(
                    "{:.2}x ({:.0}k vs {:.0}k rec/s)",
                    a_rps / r_rps.max(1e-9),
                    a_rps / 1000.0,
                    r_rps / 1000.0
                ),
                target_shown: ">= 0.5x",
                detail: format!(
                    "{load_shape}; rotel {} (blackhole exporter) peak RSS {:.0} MiB",
                    rotel_agent
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    mib(*rotel_hwm)
                ),
            });
        }
        (None, _, None) => out.push(Outcome::NotMeasured {
            name: "OTLP receiver vs rotel",
            reason: format!(
                "rotel not found at {} (scripts/bench installs it with testkit/mlflow_env.sh rotel); aimux alone: {:.0}k records/s",
                ctx.opts
                    .rotel
                    .as_ref()
                    .map_or("(no --rotel given)".into(), |p| p.display().to_string()),
                a_rps / 1000.0
            ),
        }),
    }
    let hwm = aimux_runs.iter().map(|r| r.hwm_kb).max().unwrap_or(0);
    // The budget bounds stored telemetry; the process itself (code, threads) comes on top.
    let allowed = budget as f64 / 1048576.0 + mib(first.idle_kb);
    out.push(Outcome::Measured {
        name: "OTLP receiver RSS after the load",
        value: mib(hwm),
        unit: "MiB",
        target: Some(Target::AtMost(allowed)),
        shown: format!(
            "{:.0} MiB peak, {:.0} MiB after",
            mib(hwm),
            mib(first.rss_kb)
        ),
        target_shown: "<= budget+idle",
        detail: format!(
            "aimux serve --no-engine after {records} records: VmHWM {:.0} MiB, VmRSS {:.0} MiB; \
             allowed {allowed:.0} MiB = telemetry budget {:.0} MiB (otel.memory_budget_bytes / \
             --otel-budget, default) + {:.0} MiB idle RSS; the store's own estimate {:.1} MiB, \
             {} conversations evicted",
            mib(first.hwm_kb),
            mib(first.rss_kb),
            budget as f64 / 1048576.0,
            mib(first.idle_kb),
            first.debug["memory_used_bytes"].as_f64().unwrap_or(0.0) / 1048576.0,
            first.debug["evicted_conversations"]
        ),
    });
    Ok(out)
}
