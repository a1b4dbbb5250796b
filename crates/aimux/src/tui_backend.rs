//! The dashboard's [`Backend`] over the engine. It runs on the TUI's worker thread, so
//! everything here may block; nothing here prints (it would corrupt the screen).

use aimux_core::pricing::PriceTable;
use aimux_engine::actions::kill_agent;
use aimux_engine::agents::{AgentRow, AgentsSnapshot};
use aimux_engine::annotations::{Annotation, AnnotationStore, Label};
use aimux_engine::catalog::{self, SessionRow};
use aimux_engine::costs::{CostReport, GroupBy, cost_report};
use aimux_engine::health::{self, BackendHealth, HealthOptions, HealthReport};
use aimux_engine::home::Dirs;
use aimux_engine::live::LiveEngine;
use aimux_engine::scan::{Text, scan, scan_with};
use aimux_engine::teams::{TeamsReport, read_teams};
use aimux_engine::trace::{Trace, trace};
use aimux_infra::coord::{Coordinator, NewTask, TaskRecord, redact};
use aimux_tui::backend::{TaskDetail, TaskList, TaskLogLine, TaskRow};
use aimux_tui::{Backend, CostScope};
use anyhow::{Context as _, Result};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;

pub struct EngineBackend {
    /// The in-process OTLP receiver, or why it is not running.
    receiver: Result<aimux_engine::otlp::server::Receiver, String>,
    dirs: Dirs,
    prices: PriceTable,
    live: LiveEngine,
    annotations: AnnotationStore,
    last_agents: AgentsSnapshot,
    /// The background title job has been started (once per dashboard run).
    titles_started: bool,
    /// Agents in pods, when a cluster is configured.
    remote: Option<crate::remote_feed::RemoteFeed>,
}

impl EngineBackend {
    pub fn new(
        dirs: Dirs,
        prices: PriceTable,
        index: aimux_engine::index::Index,
        receiver: Result<
            (
                aimux_engine::otlp::server::Receiver,
                std::sync::Arc<aimux_engine::otlp::store::TelemetryStore>,
            ),
            String,
        >,
    ) -> EngineBackend {
        let mut live = LiveEngine::new(dirs.home.clone(), index, prices.clone());
        let receiver = receiver.map(|(receiver, store)| {
            live.set_telemetry(store);
            receiver
        });
        let remote =
            crate::remote_feed::RemoteFeed::start(&dirs, std::time::Duration::from_secs(5));
        EngineBackend {
            receiver,
            annotations: AnnotationStore::new(dirs.evaluations_dir()),
            dirs,
            prices,
            live,
            last_agents: AgentsSnapshot::default(),
            titles_started: false,
            remote,
        }
    }

    fn all_sessions(&mut self) -> Result<Vec<SessionRow>> {
        scan_with(&self.dirs.home, self.live.index_mut(), None, Text::Skip)?;
        let mut warnings = Vec::new();
        let mut rows = catalog::sessions(
            self.live.index(),
            &self.dirs.home,
            &self.prices,
            &mut warnings,
        )?;
        catalog::apply_annotation_counts(&mut rows, &self.annotations);
        let cache = aimux_engine::titles::cache_and_apply(
            &mut rows,
            &self.dirs.aimux_home,
            self.live.index(),
        )?;
        self.start_titles(&rows, &cache);
        Ok(rows)
    }

    /// Model titles in the background (only with a configured key): the prompts are read
    /// here, the requests run on their own thread, and the next sessions load shows the
    /// cached titles.
    fn start_titles(&mut self, rows: &[SessionRow], cache: &aimux_engine::titles::TitleCache) {
        use aimux_engine::titles;
        if self.titles_started {
            return;
        }
        self.titles_started = true;
        let Ok(config) = crate::history_cmd::titles_config_at(&self.dirs.config_path()) else {
            return;
        };
        if !config.enabled || config.key().is_none() {
            return;
        }
        let mut prompts = titles::pending_prompts(rows, cache, self.live.index());
        if prompts.is_empty() {
            return;
        }
        let mut rows: Vec<SessionRow> = rows
            .iter()
            .filter(|r| prompts.contains_key(&(r.provider, r.id.clone())))
            .cloned()
            .collect();
        let home = self.dirs.aimux_home.clone();
        let _ = std::thread::Builder::new()
            .name("aimux-titles".into())
            .spawn(move || {
                let mut cache = titles::TitleCache::load(&home);
                titles::generate_with(
                    &mut rows,
                    &config,
                    &mut cache,
                    &mut |r: &SessionRow| {
                        prompts
                            .remove(&(r.provider, r.id.clone()))
                            .unwrap_or_default()
                    },
                    false,
                    &mut |_, _| {},
                );
            });
    }
}

/// How long one call to the coordination Redis may take before the dashboard gives up: the
/// worker thread must never hang on a dead or silent server.
const COORDINATION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(6);

/// The coordination Redis the dashboard uses, resolved like `aimux task` does.
struct CoordinationTarget {
    url: String,
    prefix: String,
    /// Where the URL came from, for messages.
    origin: &'static str,
}

impl EngineBackend {
    fn coordination_target(&self) -> CoordinationTarget {
        let env_url = std::env::var("AIMUX_REDIS_URL")
            .ok()
            .filter(|u| !u.trim().is_empty());
        let ctx = crate::infra_cmd::InfraCtx {
            dirs: self.dirs.clone(),
            prices: self.prices.clone(),
        };
        let opts = crate::infra_cmd::RedisOpts {
            redis: env_url.clone(),
        };
        let (url, prefix) = crate::infra_cmd::redis_target(&ctx, &opts);
        let origin = if env_url.is_some() {
            "from AIMUX_REDIS_URL"
        } else if url != crate::infra_cmd::DEFAULT_REDIS_URL {
            "from redis.url in the config"
        } else {
            "not configured, the default"
        };
        CoordinationTarget {
            url,
            prefix,
            origin,
        }
    }

    /// Runs `op` against the coordination Redis (see [`with_coordinator`]).
    fn coordination<T, F, Fut>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Coordinator, String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let target = self.coordination_target();
        let how_to = format!(
            "set AIMUX_REDIS_URL, or set redis.url in the config ({})",
            self.dirs.config_path().display()
        );
        with_coordinator(target, &how_to, COORDINATION_DEADLINE, op)
    }
}

/// Connects to `target` and runs `op` on a thread of its own, waiting at most `deadline`;
/// a late answer is dropped (the thread ends by itself within the client's own timeouts).
/// Every failure names the URL, where it came from, and `how_to` configure another.
fn with_coordinator<T, F, Fut>(
    target: CoordinationTarget,
    how_to: &str,
    deadline: std::time::Duration,
    op: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(Coordinator, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T>>,
{
    let shown = redact(&target.url);
    let unreachable = format!(
        "cannot reach the coordination Redis at {shown} ({}) — {how_to}",
        target.origin
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let message = unreachable.clone();
    std::thread::Builder::new()
        .name("aimux-tui-redis".into())
        .spawn(move || {
            let result = aimux_infra::block_on(async move {
                let coord = Coordinator::connect(&target.url, &target.prefix)
                    .await
                    .map_err(|e| anyhow::anyhow!("{message}: {e}"))?;
                op(coord, shown).await
            })
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
            let _ = tx.send(result);
        })?;
    match rx.recv_timeout(deadline) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => anyhow::bail!(
            "{unreachable}: no answer within {:.1} s",
            deadline.as_secs_f64()
        ),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            anyhow::bail!("{unreachable}: the call ended without an answer")
        }
    }
}

/// Unix milliseconds (as the coordination schema stores them) as RFC 3339.
fn rfc3339_ms(ms: Option<i64>) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms?)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn task_row(t: TaskRecord) -> TaskRow {
    TaskRow {
        created_at: rfc3339_ms(t.created_at),
        claimed_at: rfc3339_ms(t.claimed_at),
        started_at: rfc3339_ms(t.started_at),
        finished_at: rfc3339_ms(t.finished_at),
        id: t.id,
        status: t.status,
        provider: t.provider,
        role: t.role,
        dir: t.dir,
        prompt: t.prompt,
        assignee: t.assignee,
        result: t.result,
        error: t.error,
        retries: t.retries,
        max_retries: t.max_retries,
        model: t.model,
        tokens: t.tokens,
        cost_usd: t.cost_usd,
        reported_cost_usd: t.reported_cost_usd,
    }
}

/// A stored log line is `<unix ms> <text>`.
fn log_line(line: &str) -> TaskLogLine {
    match line.split_once(' ') {
        Some((ms, text)) if ms.parse::<i64>().is_ok() => TaskLogLine {
            at: rfc3339_ms(ms.parse().ok()),
            text: text.to_string(),
        },
        _ => TaskLogLine {
            at: None,
            text: line.to_string(),
        },
    }
}

fn live_session_ids(rows: &[AgentRow], out: &mut HashSet<String>) {
    for r in rows {
        if let Some(id) = &r.session_id {
            out.insert(id.clone());
        }
        live_session_ids(&r.subagents, out);
    }
}

impl Backend for EngineBackend {
    fn agents(&mut self) -> Result<AgentsSnapshot> {
        self.last_agents = self.live.refresh();
        let mut snapshot = self.last_agents.clone();
        if let Some(feed) = &self.remote {
            snapshot.agents.extend(feed.latest().0);
        }
        Ok(snapshot)
    }

    fn spawn_remote(&mut self, provider: &str) -> Result<String> {
        crate::remote_cmd::spawn_session_blocking(&self.dirs, provider)
    }

    fn remote_attach_argv(&mut self, pod: &str) -> Result<Vec<String>> {
        let exe = std::env::current_exe().context("cannot find the aimux binary")?;
        Ok(vec![
            exe.display().to_string(),
            "--home".into(),
            self.dirs.home.display().to_string(),
            "--aimux-home".into(),
            self.dirs.aimux_home.display().to_string(),
            "remote".into(),
            "attach".into(),
            pod.to_string(),
        ])
    }

    fn kill_pod(&mut self, pod: &str) -> Result<String> {
        crate::remote_cmd::kill_pod_blocking(&self.dirs, pod)
    }

    fn sessions(&mut self) -> Result<Vec<SessionRow>> {
        self.all_sessions()
    }

    fn costs(&mut self, scope: CostScope, by: GroupBy) -> Result<CostReport> {
        let mut rows = self.all_sessions()?;
        let now = Utc::now();
        let since = |d: DateTime<Utc>| {
            move |r: &SessionRow| {
                r.last_activity
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| t >= d)
            }
        };
        match scope {
            CostScope::Live => {
                let mut ids = HashSet::new();
                live_session_ids(&self.last_agents.agents, &mut ids);
                rows.retain(|r| ids.contains(&r.id));
            }
            CostScope::Today => {
                let midnight = chrono::Local::now()
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .and_then(|t| t.and_local_timezone(chrono::Local).single())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(now - Duration::days(1));
                rows.retain(since(midnight));
            }
            CostScope::Week => rows.retain(since(now - Duration::days(7))),
            CostScope::All => {}
        }
        Ok(cost_report(
            &rows,
            by,
            &self.prices,
            Some(self.live.index()),
        )?)
    }

    fn trace(&mut self, session_id: &str) -> Result<Trace> {
        let rows = self.all_sessions()?;
        let row = catalog::find_session(&rows, session_id).map_err(anyhow::Error::msg)?;
        // a live session's telemetry: turns and tokens before its file catches up
        let telemetry = self
            .live
            .telemetry()
            .and_then(|store| store.session(row.provider, &row.id));
        Ok(aimux_engine::trace::trace_with_telemetry(
            row,
            &self.prices,
            &self.annotations.load(&row.id),
            telemetry.as_ref(),
        ))
    }

    fn annotate(
        &mut self,
        session_id: &str,
        turn: u32,
        turn_id: &str,
        label: Label,
        note: Option<&str>,
    ) -> Result<()> {
        let annotation = Annotation {
            turn,
            turn_id: turn_id.to_string(),
            label,
            note: note.map(str::to_string),
            timestamp: Utc::now().to_rfc3339(),
        };
        Ok(self.annotations.append(session_id, &annotation)?)
    }

    fn kill(&mut self, pid: u32) -> Result<String> {
        let summary = kill_agent(pid, std::time::Duration::from_secs(3))?;
        self.last_agents = self.live.refresh();
        Ok(summary)
    }

    fn export(&mut self, session_id: &str, otlp: bool) -> Result<String> {
        let rows = self.all_sessions()?;
        let row = catalog::find_session(&rows, session_id).map_err(anyhow::Error::msg)?;
        let t = trace(row, &self.prices, &self.annotations.load(&row.id));
        let args = crate::otel_cmd::ExportArgs {
            session: row.id.clone(),
            otlp,
            jsonl: !otlp,
            ..Default::default()
        };
        let (messages, _) = crate::otel_cmd::export_trace(&self.dirs, &t, &args)?;
        Ok(messages.join("; "))
    }

    fn health(&mut self) -> Result<HealthReport> {
        let mut report = health::collect(
            &self.dirs.home,
            std::env::var_os("PATH").as_deref(),
            &self.last_agents,
            &HealthOptions::default(),
        );
        report.infrastructure = crate::infra_cmd::infra_backend_health(&self.dirs);
        report.telemetry = vec![match &self.receiver {
            Ok(r) => {
                let debug = r.debug_json(false);
                // `requests` counts per path and encoding: the total is their sum.
                fn total(v: &serde_json::Value) -> u64 {
                    match v {
                        serde_json::Value::Number(n) => n.as_u64().unwrap_or(0),
                        serde_json::Value::Object(m) => m.values().map(total).sum(),
                        serde_json::Value::Array(a) => a.len() as u64,
                        _ => 0,
                    }
                }
                let count = |key: &str| total(&debug[key]).to_string();
                BackendHealth {
                    name: "OTLP receiver".into(),
                    configured: true,
                    state: "ok".into(),
                    detail: format!(
                        "http://{} · requests {} · conversations {} · memory {} of {} bytes",
                        r.local_addr(),
                        count("requests"),
                        count("conversations"),
                        debug["memory_used_bytes"],
                        debug["memory_budget_bytes"]
                    ),
                }
            }
            Err(e) => BackendHealth {
                name: "OTLP receiver".into(),
                configured: true,
                state: "error".into(),
                detail: format!("not running: {e}"),
            },
        }];
        Ok(report)
    }

    fn search(
        &mut self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<aimux_engine::search::SearchHit>> {
        scan(&self.dirs.home, self.live.index_mut(), None)?;
        let opts = aimux_engine::search::SearchOptions {
            limit,
            ..Default::default()
        };
        Ok(aimux_engine::search::search(
            self.live.index(),
            query,
            &opts,
        )?)
    }

    fn trash(&mut self, session_id: &str) -> Result<String> {
        let rows = self.all_sessions()?;
        let row = catalog::find_session(&rows, session_id).map_err(anyhow::Error::msg)?;
        let entry = aimux_engine::trash::trash_session(&self.dirs.aimux_home, row)?;
        scan_with(&self.dirs.home, self.live.index_mut(), None, Text::Skip)?;
        Ok(format!(
            "moved {} file(s) of {} to the trash (aimux trash restore {})",
            entry.files.len(),
            entry.session,
            entry.session
        ))
    }

    fn teams(&mut self) -> Result<TeamsReport> {
        Ok(read_teams(&self.dirs.home.join(".claude")))
    }

    fn spawn(&mut self, spec: &aimux_engine::spawn::SpawnSpec) -> Result<String> {
        let tmux = aimux_engine::tmux::Tmux::from_env();
        let s = aimux_engine::spawn::spawn(&tmux, spec)?;
        self.live.invalidate();
        Ok(format!(
            "{} started in tmux session {} (pid {}, {})",
            s.provider, s.session, s.pid, s.dir
        ))
    }

    fn resume(&mut self, session_id: &str, second: bool) -> Result<String> {
        let rows = self.all_sessions()?;
        let row = catalog::find_session(&rows, session_id).map_err(anyhow::Error::msg)?;
        if !second {
            self.last_agents = self.live.refresh();
            let mut open = HashSet::new();
            live_session_ids(&self.last_agents.agents, &mut open);
            if open.contains(&row.id) {
                anyhow::bail!(
                    "session {} is open in a running agent: Enter on it in the agents list attaches",
                    row.id
                );
            }
        }
        let spec = aimux_engine::spawn::resume_spec(row.provider, &row.id, row.cwd.as_deref());
        let tmux = aimux_engine::tmux::Tmux::from_env();
        let s = aimux_engine::spawn::spawn(&tmux, &spec)?;
        self.live.invalidate();
        Ok(format!(
            "{} resumed {}{} in tmux session {} (pid {})",
            s.provider,
            row.id,
            if second { " as a second process" } else { "" },
            s.session,
            s.pid
        ))
    }

    fn send(&mut self, pid: u32, text: &str) -> Result<String> {
        self.last_agents = self.live.refresh();
        fn find(rows: &[AgentRow], pid: u32) -> Option<&AgentRow> {
            rows.iter().find_map(|r| {
                (r.pid == pid)
                    .then_some(r)
                    .or_else(|| find(&r.subagents, pid))
            })
        }
        let Some(agent) = find(&self.last_agents.agents, pid) else {
            anyhow::bail!("pid {pid} is not a running agent any more");
        };
        Ok(aimux_engine::spawn::send_to_agent(agent, text)?)
    }

    fn tasks(&mut self, limit: usize) -> Result<TaskList> {
        self.coordination(move |coord, source| async move {
            let tasks = coord.list_tasks(limit).await?;
            Ok(TaskList {
                source,
                tasks: tasks.into_iter().map(task_row).collect(),
            })
        })
    }

    fn task_detail(&mut self, id: &str) -> Result<TaskDetail> {
        let id = id.to_string();
        self.coordination(move |coord, _| async move {
            let task = coord.task(&id).await?;
            let logs = coord.logs(&id).await?;
            Ok(TaskDetail {
                task: task_row(task),
                logs: logs.iter().map(|l| log_line(l)).collect(),
            })
        })
    }

    fn submit_task(&mut self, provider: &str, prompt: &str) -> Result<String> {
        let task = NewTask {
            provider: provider.to_string(),
            prompt: prompt.to_string(),
            dir: None,
            role: None,
            // What `aimux task submit` uses by default.
            max_retries: 1,
        };
        self.coordination(move |coord, _| async move { Ok(coord.submit(&task).await?.id) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_keep_their_time_and_text() {
        let l = log_line("1795773600000 claimed by w-1");
        assert_eq!(l.text, "claimed by w-1");
        assert_eq!(l.at.as_deref(), Some("2026-11-27T10:00:00.000Z"));
        let odd = log_line("no timestamp here");
        assert_eq!((odd.at, odd.text.as_str()), (None, "no timestamp here"));
        assert_eq!(rfc3339_ms(None), None);
    }

    /// A server that accepts connections and never answers must not hold the dashboard's
    /// worker thread past the deadline. (A real Redis that stopped answering looks like
    /// this; a listener that reads nothing is the only way to make one here.)
    #[test]
    fn a_silent_server_fails_within_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("redis://{}", listener.local_addr().expect("addr"));
        let target = CoordinationTarget {
            url: url.clone(),
            prefix: "aimux".into(),
            origin: "from AIMUX_REDIS_URL",
        };
        let deadline = std::time::Duration::from_millis(700);
        let started = std::time::Instant::now();
        let result = with_coordinator(target, "set AIMUX_REDIS_URL", deadline, |c, _| async move {
            Ok(c.list_tasks(10).await?.len())
        });
        let took = started.elapsed();
        let err = result.expect_err("a silent server gives no tasks");
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("cannot reach the coordination Redis at {url}")),
            "{text}"
        );
        assert!(text.contains("set AIMUX_REDIS_URL"), "{text}");
        assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
        drop(listener);
    }
}
