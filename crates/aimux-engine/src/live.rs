//! Live agents: the process table grouped into agents, each tied to its session file and
//! given a status with the reason for it.
//!
//! A refresh spawns no process. It reads `/proc` once, Claude's live state files, and
//! only the session files of running agents (by offset, through the index); the whole
//! history is re-listed at most every [`FULL_SCAN_EVERY`] or when an agent has no
//! session yet.

use crate::agents::{
    AgentRow, AgentsSnapshot, ChildProcess as RowChild, MatchEvidence, ProviderError,
};
use crate::catalog::price_models;
use crate::index::{FileSummary, Index, IndexError};
use crate::process::{
    AgentProcess, ChildRole, ClaudeLiveSession, ProcessScanner, read_claude_live_sessions,
};
use crate::scan::{HotParsers, Text, scan_hot_files, scan_with};
use crate::sources::{FileFormat, SessionFileRef, project_name};
use aimux_core::pricing::PriceTable;
use aimux_core::status::{DebounceConfig, Debouncer, StatusEvidence, derive_status};
use aimux_core::{Provider, Timestamp};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest the live loop goes without re-listing every session directory.
pub const FULL_SCAN_EVERY: Duration = Duration::from_secs(30);

/// How often agents without a session file trigger a full scan.
pub const UNMATCHED_RESCAN: Duration = Duration::from_secs(5);

/// An agent's identity across refreshes: pid plus start time survives pid reuse.
type AgentKey = (u32, u64);

pub struct LiveEngine {
    home: PathBuf,
    index: Index,
    prices: PriceTable,
    scanner: ProcessScanner,
    debouncer: Debouncer<AgentKey>,
    /// Session file per agent, kept while the agent lives so a match never flips.
    matches: HashMap<AgentKey, (String, MatchEvidence)>,
    /// Every indexed file's summary, by path.
    files: HashMap<String, FileSummary>,
    last_full_scan: Option<Instant>,
    /// Directories the last full scan could not read, per provider.
    scan_errors: Vec<ProviderError>,
    /// OTLP telemetry merged into rows (tokens/cost before the file catches up).
    telemetry: Option<std::sync::Arc<crate::otlp::store::TelemetryStore>>,
    /// Parsers of the running agents' session files, fed only appended bytes.
    hot: HotParsers,
    /// Agents that had no session at the last full scan: they do not force another
    /// full scan each tick (an agent of another home never matches), new ones do.
    unmatched_at_full_scan: HashSet<AgentKey>,
}

impl LiveEngine {
    pub fn new(home: PathBuf, index: Index, prices: PriceTable) -> LiveEngine {
        LiveEngine {
            home,
            index,
            prices,
            scanner: ProcessScanner::new(),
            debouncer: Debouncer::new(DebounceConfig::default()),
            matches: HashMap::new(),
            files: HashMap::new(),
            last_full_scan: None,
            scan_errors: Vec::new(),
            hot: HotParsers::new(),
            unmatched_at_full_scan: HashSet::new(),
            telemetry: None,
        }
    }

    /// The OTLP receiver's store, when one feeds this engine.
    pub fn telemetry(&self) -> Option<&std::sync::Arc<crate::otlp::store::TelemetryStore>> {
        self.telemetry.as_ref()
    }

    /// Merges telemetry from the OTLP receiver into agent rows.
    pub fn set_telemetry(&mut self, store: std::sync::Arc<crate::otlp::store::TelemetryStore>) {
        self.telemetry = Some(store);
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn index_mut(&mut self) -> &mut Index {
        &mut self.index
    }

    /// A first refresh whose statuses are shown at once by the next one: for one-shot
    /// callers, whose first sample has no CPU reading yet and must not hold back the second.
    pub fn prime(&mut self) {
        self.refresh();
        self.debouncer.retain(|_| false);
    }

    /// Re-lists every session file on the next refresh.
    pub fn invalidate(&mut self) {
        self.last_full_scan = None;
    }

    /// Re-lists and brings every session file up to date; what could not be read is
    /// returned per provider (the other providers carry on).
    fn full_scan(&mut self) -> Result<Vec<ProviderError>, IndexError> {
        let report = scan_with(&self.home, &mut self.index, None, Text::Skip)?;
        let unreadable = report
            .warnings
            .into_iter()
            .map(|w| ProviderError {
                provider: w.provider.unwrap_or(Provider::Claude),
                error: format!("{}: {}", w.file, w.message),
            })
            .collect();
        self.files = self
            .index
            .summaries()?
            .into_iter()
            .map(|(_, s)| (s.path.clone(), s))
            .collect();
        self.last_full_scan = Some(Instant::now());
        Ok(unreadable)
    }

    fn hot_scan(&mut self, paths: &[String]) -> Result<(), IndexError> {
        let refs: Vec<SessionFileRef> = paths
            .iter()
            .filter_map(|p| self.files.get(p))
            .map(|s| SessionFileRef {
                provider: s.provider,
                path: PathBuf::from(&s.path),
                format: if s.path.ends_with(".json") {
                    FileFormat::WholeJson
                } else {
                    FileFormat::Jsonl
                },
            })
            .collect();
        let report = scan_hot_files(&refs, &mut self.index, &mut self.hot)?;
        // Only running agents' files stay in memory.
        self.hot.retain(|p, _| paths.contains(p));
        if report.parsed + report.resumed > 0 {
            for s in self.index.summaries_of(paths)? {
                self.files.insert(s.path.clone(), s);
            }
        }
        Ok(())
    }

    /// One refresh: processes, matching, statuses.
    pub fn refresh(&mut self) -> AgentsSnapshot {
        let now = Utc::now();
        let mut errors = Vec::new();
        let table = match self.scanner.scan() {
            Ok(t) => t,
            Err(e) => {
                return AgentsSnapshot {
                    agents: Vec::new(),
                    errors: Provider::ALL
                        .iter()
                        .map(|p| ProviderError {
                            provider: *p,
                            error: format!("process table: {e}"),
                        })
                        .collect(),
                    taken_at: Some(now.to_rfc3339()),
                };
            }
        };
        let tree = crate::process::group_agents(&table.procs);
        let claude_live = read_claude_live_sessions(&self.home, &table);
        for w in &claude_live.warnings {
            errors.push(ProviderError {
                provider: Provider::Claude,
                error: w.clone(),
            });
        }

        let live_keys: HashSet<AgentKey> = tree.iter().map(|a| (a.pid, a.start_ticks)).collect();
        self.matches.retain(|k, _| live_keys.contains(k));
        self.debouncer.retain(|k| live_keys.contains(k));

        let stale = self
            .last_full_scan
            .is_none_or(|t| t.elapsed() >= FULL_SCAN_EVERY);
        // An agent without a session forces a full scan when it is new, then at most
        // every UNMATCHED_RESCAN (its file may appear with its first prompt; an agent
        // of another home never matches and must not cost a full scan per tick).
        let unmatched: Vec<AgentKey> = tree
            .iter()
            .map(|a| (a.pid, a.start_ticks))
            .filter(|k| !self.matches.contains_key(k))
            .collect();
        let new_unmatched = unmatched
            .iter()
            .any(|k| !self.unmatched_at_full_scan.contains(k));
        let retry_unmatched = !unmatched.is_empty()
            && self
                .last_full_scan
                .is_none_or(|t| t.elapsed() >= UNMATCHED_RESCAN);
        let full = stale || new_unmatched || retry_unmatched;
        let scan_result = if full {
            self.full_scan().map(Some)
        } else {
            let hot: Vec<String> = self.matches.values().map(|(p, _)| p.clone()).collect();
            self.hot_scan(&hot).map(|()| None)
        };
        match scan_result {
            Ok(Some(unreadable)) => self.scan_errors = unreadable,
            Ok(None) => {}
            // The index serves every provider, so every provider's sessions are affected.
            Err(e) => {
                self.scan_errors = Provider::ALL
                    .iter()
                    .map(|p| ProviderError {
                        provider: *p,
                        error: format!("session index: {e}"),
                    })
                    .collect();
            }
        }
        // What the last full scan could not read stays reported until a scan can.
        errors.extend(self.scan_errors.iter().cloned());

        self.assign_sessions(&tree.agents, &claude_live.sessions);
        if full {
            self.unmatched_at_full_scan = tree
                .iter()
                .map(|a| (a.pid, a.start_ticks))
                .filter(|k| !self.matches.contains_key(k))
                .collect();
        }
        let agents = tree
            .agents
            .iter()
            .map(|a| self.row(a, &claude_live.sessions, now))
            .collect();
        AgentsSnapshot {
            agents,
            errors,
            taken_at: Some(now.to_rfc3339()),
        }
    }

    /// Ties agents to session files, strongest evidence first; a file goes to one agent.
    fn assign_sessions(&mut self, agents: &[AgentProcess], live: &HashMap<u32, ClaudeLiveSession>) {
        let all: Vec<&AgentProcess> = agents.iter().flat_map(|a| a.iter()).collect();
        let mut claimed: HashSet<String> = self.matches.values().map(|(p, _)| p.clone()).collect();
        // Pass 1: ids named by the agent itself (live file, command line).
        for a in &all {
            let key = (a.pid, a.start_ticks);
            if self.matches.contains_key(&key) {
                continue;
            }
            let named = live
                .get(&a.pid)
                .map(|l| (l.session_id.clone(), MatchEvidence::LiveStateFile))
                .or_else(|| {
                    a.session_hint
                        .as_ref()
                        .and_then(|h| h.session_id.clone())
                        .map(|id| (id, MatchEvidence::CommandLine))
                });
            if let Some((id, evidence)) = named
                && let Some(path) = self.file_of_session(a.provider, &id, &claimed)
            {
                claimed.insert(path.clone());
                self.matches.insert(key, (path, evidence));
            }
        }
        // Pass 2: same directory, session file begun at or after the process start
        // (closest first); else the most recently active file there that was written to
        // after the process started (a resumed conversation).
        let mut pending: Vec<&&AgentProcess> = all
            .iter()
            .filter(|a| !self.matches.contains_key(&(a.pid, a.start_ticks)))
            .collect();
        // Older agents pick first, so each gets the file begun nearest its own start.
        pending.sort_by_key(|a| a.start_ticks);
        for a in pending {
            let (Some(cwd), Some(start)) = (a.cwd.as_deref(), a.started_at) else {
                continue;
            };
            let slack = chrono::Duration::seconds(5);
            let candidates = self.files.values().filter(|f| {
                f.provider == a.provider
                    && f.cwd.as_deref() == Some(cwd)
                    && !claimed.contains(&f.path)
                    && !is_subagent_file(&f.path)
            });
            let mut begun_after: Vec<(&FileSummary, DateTime<Utc>)> = Vec::new();
            let mut written_after: Vec<(&FileSummary, DateTime<Utc>)> = Vec::new();
            for f in candidates {
                if let Some(s) = parse_time(f.started_at.as_deref())
                    && s + slack >= start
                {
                    begun_after.push((f, s));
                } else if let Some(l) = parse_time(f.last_activity.as_deref())
                    && l >= start
                {
                    written_after.push((f, l));
                }
            }
            begun_after.sort_by_key(|(_, s)| *s);
            written_after.sort_by_key(|(_, l)| std::cmp::Reverse(*l));
            if let Some((f, _)) = begun_after.first().or(written_after.first()) {
                claimed.insert(f.path.clone());
                self.matches.insert(
                    (a.pid, a.start_ticks),
                    (f.path.clone(), MatchEvidence::CwdAndStartTime),
                );
            }
        }
    }

    fn file_of_session(
        &self,
        provider: Provider,
        id: &str,
        claimed: &HashSet<String>,
    ) -> Option<String> {
        self.files
            .values()
            .filter(|f| {
                f.provider == provider && !claimed.contains(&f.path) && !is_subagent_file(&f.path)
            })
            .filter(|f| {
                f.session_id
                    .as_deref()
                    .is_some_and(|s| s == id || s.starts_with(id))
            })
            .max_by_key(|f| f.size)
            .map(|f| f.path.clone())
    }

    fn row(
        &mut self,
        a: &AgentProcess,
        live: &HashMap<u32, ClaudeLiveSession>,
        now: Timestamp,
    ) -> AgentRow {
        let key = (a.pid, a.start_ticks);
        let matched = self.matches.get(&key).cloned();
        let file = matched
            .as_ref()
            .and_then(|(p, _)| self.files.get(p))
            .cloned();
        let claude = live.get(&a.pid);

        let mut evidence = StatusEvidence::new(a.provider);
        evidence.has_running_tool = a.has_running_tool;
        evidence.running_tool = a.running_tool.clone();
        evidence.cpu_percent = a.cpu_percent;
        evidence.live_status = claude.and_then(|c| c.status.clone());
        evidence.live_updated_at = claude.and_then(|c| c.status_updated_at.or(c.updated_at));
        evidence.tail = file.as_ref().map(|f| f.tail.clone());
        evidence.file_modified_at = file.as_ref().and_then(|f| modified_at(&f.path));
        let (status, reason) = derive_status(&evidence, now);
        let (status, mut reason) = self.debouncer.update(key, status, reason, now);
        if file.is_none() {
            reason = format!("{reason}; no session file matched yet");
        }

        let (tokens, cost, model, title, session_id, last_activity) = match &file {
            Some(f) => {
                let (_, cost) = price_models(&self.prices, &f.models);
                (
                    f.tokens,
                    cost,
                    f.main_model.clone(),
                    f.title.clone(),
                    f.session_id.clone(),
                    f.last_activity.clone(),
                )
            }
            None => (
                Default::default(),
                Some(0.0),
                None,
                None,
                claude.map(|c| c.session_id.clone()),
                None,
            ),
        };
        let (tokens, cost) = match (&self.telemetry, &session_id) {
            (Some(store), Some(id)) => match store.session(a.provider, id) {
                Some(tel) => {
                    let turns = file.as_ref().map_or(0, |f| f.turns);
                    let (t, _, c) = crate::otlp::merge::merge_totals_priced(
                        tokens,
                        turns,
                        cost,
                        &tel,
                        &self.prices,
                    );
                    (t, c)
                }
                None => (tokens, cost),
            },
            _ => (tokens, cost),
        };
        let cwd = a
            .cwd
            .clone()
            .or_else(|| file.as_ref().and_then(|f| f.cwd.clone()));
        AgentRow {
            pid: a.pid,
            provider: a.provider,
            status,
            status_reason: reason,
            model,
            project: project_name(cwd.as_deref()),
            cwd,
            session_id,
            session_file: matched.as_ref().map(|(p, _)| p.clone()),
            match_evidence: matched.map(|(_, e)| e).unwrap_or(MatchEvidence::None),
            title,
            started_at: a.started_at.map(|t| t.to_rfc3339()),
            last_activity,
            last_action: file.as_ref().and_then(|f| f.tail.last_action.clone()),
            tokens,
            cost_usd: cost,
            rss_bytes: a.rss_bytes,
            cpu_percent: a.cpu_percent.unwrap_or(0.0) as f32,
            command: a.argv.join(" "),
            location: "local".into(),
            tmux_target: tmux_target(a.pid),
            children: a
                .children
                .iter()
                .map(|c| RowChild {
                    pid: c.process.pid,
                    ppid: c.process.ppid,
                    name: c.process.comm.clone(),
                    command: c.process.argv.join(" "),
                    role: match c.role {
                        ChildRole::Core => "runtime",
                        ChildRole::Helper => "helper",
                        ChildRole::Tool => "tool",
                    }
                    .into(),
                })
                .collect(),
            subagents: a.subagents.iter().map(|s| self.row(s, live, now)).collect(),
            remote: None,
        }
    }
}

fn is_subagent_file(path: &str) -> bool {
    path.contains("/subagents/")
}

fn parse_time(t: Option<&str>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn modified_at(path: &str) -> Option<Timestamp> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(m))
}

/// The tmux pane an agent runs in, from its own environment (`TMUX`, `TMUX_PANE`): no
/// `tmux` process is asked. Only those two variables are read; nothing else of the
/// environment (which can hold API keys) is kept.
pub fn tmux_target(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let mut socket = None;
    let mut pane = None;
    for var in env.split(|b| *b == 0) {
        if let Some(v) = var.strip_prefix(b"TMUX=") {
            let v = String::from_utf8_lossy(v);
            socket = v.split(',').next().map(str::to_string);
        } else if let Some(v) = var.strip_prefix(b"TMUX_PANE=") {
            pane = Some(String::from_utf8_lossy(v).into_owned());
        }
    }
    Some(format!("{}:{}", socket?, pane?))
}

/// Whether a home has any provider data at all (for friendly empty states).
pub fn has_agent_data(home: &Path) -> bool {
    [".claude", ".codex", ".gemini"]
        .iter()
        .any(|d| home.join(d).exists())
}
