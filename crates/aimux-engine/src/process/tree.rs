//! Grouping a process table into agents: one parent-chain walk for every provider.

use super::classify::{HelperKind, LaunchForm, ProcKind, classify, program};
use super::hints::{SessionHint, session_hint};
use super::procfs::ProcInfo;
use aimux_core::{Provider, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Why a process is listed under an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildRole {
    /// Part of the agent itself: Codex's native binary under its node shim, Gemini's
    /// relaunched node.
    Core,
    /// A daemon or server the agent started (Codex app-server, an MCP server), and the
    /// processes an MCP server runs.
    Helper,
    /// Anything else: tool runs (bash, sleep, test runners), node helpers.
    Tool,
}

/// A descendant of an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildProcess {
    pub role: ChildRole,
    /// Set for `Helper` processes that were recognised as such (their own descendants
    /// inherit the role without a kind).
    pub helper: Option<HelperKind>,
    /// Generations below the agent's top process (1 = direct child).
    pub depth: u32,
    #[serde(flatten)]
    pub process: ProcInfo,
}

/// One running coding agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentProcess {
    /// The agent's top process (the node shim for Codex, the outer node for Gemini).
    pub pid: u32,
    pub provider: Provider,
    /// The process that does the work and spawns the tools (Codex's native binary,
    /// Gemini's relaunched node); equals `pid` for single-process agents like Claude.
    pub main_pid: u32,
    /// The top process's command line, as typed.
    pub argv: Vec<String>,
    /// The main process's executable.
    pub exe: Option<String>,
    /// The main process's working directory (the top one's if unreadable).
    pub cwd: Option<String>,
    pub started_at: Option<Timestamp>,
    /// The top process's start time in clock ticks (pid-reuse-safe identity).
    pub start_ticks: u64,
    pub tty: Option<String>,
    /// Resident memory of the agent's own processes (top + core).
    pub rss_bytes: u64,
    /// CPU of the agent's own processes (top + core) since the previous scan; `None`
    /// before a second sample.
    pub cpu_percent: Option<f64>,
    /// Every descendant that is not an agent or under a sub-agent, in tree order.
    pub children: Vec<ChildProcess>,
    /// Agents whose nearest agent ancestor is this one.
    pub subagents: Vec<AgentProcess>,
    /// A descendant that is neither part of the agent nor a helper is alive (a tool run),
    /// or a sub-agent runs.
    pub has_running_tool: bool,
    /// The deepest running tool process's name (`sleep` under `bash -c`), for reasons.
    pub running_tool: Option<String>,
    pub session_hint: Option<SessionHint>,
}

impl AgentProcess {
    /// This agent and all its sub-agents, depth first.
    pub fn iter(&self) -> impl Iterator<Item = &AgentProcess> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let a = stack.pop()?;
            stack.extend(a.subagents.iter().rev());
            Some(a)
        })
    }
}

/// All agents of a process table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentTree {
    /// Agents that are not under another agent, by pid.
    pub agents: Vec<AgentProcess>,
    /// Codex daemons no agent owns any more (after the TUI quit they re-parent to PID 1
    /// and live on).
    pub detached_helpers: Vec<ChildProcess>,
}

impl AgentTree {
    /// Every agent including sub-agents, depth first.
    pub fn iter(&self) -> impl Iterator<Item = &AgentProcess> {
        self.agents.iter().flat_map(AgentProcess::iter)
    }

    pub fn find(&self, pid: u32) -> Option<&AgentProcess> {
        self.iter().find(|a| a.pid == pid)
    }
}

struct Collected {
    children: Vec<ChildProcess>,
    subagents: Vec<usize>,
}

struct Graph<'a> {
    procs: &'a [ProcInfo],
    kinds: Vec<ProcKind>,
    index: HashMap<u32, usize>,
    kids: HashMap<u32, Vec<usize>>,
}

impl Graph<'_> {
    fn parent(&self, i: usize) -> Option<usize> {
        let p = self.procs.get(i)?;
        if p.ppid == p.pid {
            return None;
        }
        self.index.get(&p.ppid).copied()
    }

    /// A same-provider process started directly by a script-launched agent process is
    /// part of that agent (shim → native binary, Gemini's relaunch).
    fn is_core(&self, i: usize) -> bool {
        let Some(ProcKind::Agent { provider, .. }) = self.kinds.get(i) else {
            return false;
        };
        self.parent(i).is_some_and(|p| {
            matches!(self.kinds.get(p), Some(ProcKind::Agent { provider: pp, form: LaunchForm::Script }) if pp == provider)
        })
    }

    fn is_root(&self, i: usize) -> bool {
        matches!(self.kinds.get(i), Some(ProcKind::Agent { .. })) && !self.is_core(i)
    }

    fn kids_of(&self, i: usize) -> &[usize] {
        self.procs
            .get(i)
            .and_then(|p| self.kids.get(&p.pid))
            .map_or(&[], Vec::as_slice)
    }

    /// Depth-first walk below an agent root, stopping at other agent roots.
    fn collect(&self, root: usize, seen: &mut HashSet<usize>) -> Collected {
        let mut out = Collected {
            children: Vec::new(),
            subagents: Vec::new(),
        };
        let mut stack: Vec<(usize, u32, Option<HelperKind>)> = self
            .kids_of(root)
            .iter()
            .rev()
            .map(|&k| (k, 1, None))
            .collect();
        while let Some((i, depth, owner)) = stack.pop() {
            if i == root || !seen.insert(i) {
                continue;
            }
            if self.is_root(i) {
                out.subagents.push(i);
                continue;
            }
            let Some(p) = self.procs.get(i) else { continue };
            let (role, helper, owner) = match self.kinds.get(i) {
                Some(ProcKind::Agent { .. }) => (ChildRole::Core, None, owner),
                Some(ProcKind::Helper(k)) => (
                    ChildRole::Helper,
                    Some(*k),
                    if k.owns_descendants() {
                        Some(*k)
                    } else {
                        owner
                    },
                ),
                _ if owner.is_some() => (ChildRole::Helper, None, owner),
                _ => (ChildRole::Tool, None, owner),
            };
            out.children.push(ChildProcess {
                role,
                helper,
                depth,
                process: p.clone(),
            });
            stack.extend(self.kids_of(i).iter().rev().map(|&k| (k, depth + 1, owner)));
        }
        out
    }
}

/// Groups a process table into agents. Pure: works on any `&[ProcInfo]`, so synthetic
/// tables test it.
pub fn group_agents(procs: &[ProcInfo]) -> AgentTree {
    let kinds: Vec<ProcKind> = procs.iter().map(classify).collect();
    let index: HashMap<u32, usize> = procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
    let mut kids: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, p) in procs.iter().enumerate() {
        if p.ppid != p.pid {
            kids.entry(p.ppid).or_default().push(i);
        }
    }
    for v in kids.values_mut() {
        v.sort_by_key(|&i| procs.get(i).map_or(0, |p| p.pid));
    }
    let g = Graph {
        procs,
        kinds,
        index,
        kids,
    };

    let roots: Vec<usize> = (0..procs.len()).filter(|&i| g.is_root(i)).collect();
    let mut collected: HashMap<usize, Collected> = HashMap::new();
    let mut owned: HashSet<usize> = HashSet::new();
    let mut is_sub: HashSet<usize> = HashSet::new();
    for &r in &roots {
        let mut seen = HashSet::new();
        let c = g.collect(r, &mut seen);
        owned.extend(seen);
        is_sub.extend(c.subagents.iter().copied());
        collected.insert(r, c);
    }

    let mut agents: Vec<AgentProcess> = roots
        .iter()
        .filter(|r| !is_sub.contains(r))
        .filter_map(|&r| build(&g, r, &mut collected))
        .collect();
    agents.sort_by_key(|a| a.pid);

    let detached_helpers = (0..procs.len())
        .filter(|i| !owned.contains(i))
        .filter_map(|i| match (g.kinds.get(i), procs.get(i)) {
            (
                Some(ProcKind::Helper(
                    k @ (HelperKind::CodexAppServer | HelperKind::CodexDaemonUpdater),
                )),
                Some(p),
            ) => Some(ChildProcess {
                role: ChildRole::Helper,
                helper: Some(*k),
                depth: 0,
                process: p.clone(),
            }),
            _ => None,
        })
        .collect();

    AgentTree {
        agents,
        detached_helpers,
    }
}

/// Assembles one agent; each root's collected data is taken once, so a malformed table
/// cannot make this loop.
fn build(
    g: &Graph<'_>,
    r: usize,
    collected: &mut HashMap<usize, Collected>,
) -> Option<AgentProcess> {
    let c = collected.remove(&r)?;
    let top = g.procs.get(r)?;
    let provider = match g.kinds.get(r) {
        Some(ProcKind::Agent { provider, .. }) => *provider,
        _ => return None,
    };
    // The main process: follow the chain of core processes down from the top.
    let mut main = top;
    loop {
        let next = c
            .children
            .iter()
            .find(|ch| ch.role == ChildRole::Core && ch.process.ppid == main.pid);
        match next {
            Some(n) => main = &n.process,
            None => break,
        }
    }
    let own = std::iter::once(top).chain(
        c.children
            .iter()
            .filter(|ch| ch.role == ChildRole::Core)
            .map(|ch| &ch.process),
    );
    let (mut rss, mut cpu) = (0u64, None::<f64>);
    for p in own {
        rss = rss.saturating_add(p.rss_bytes);
        if let Some(c) = p.cpu_percent {
            cpu = Some(cpu.unwrap_or(0.0) + c);
        }
    }
    let running = c
        .children
        .iter()
        .filter(|ch| ch.role == ChildRole::Tool && !ch.process.is_zombie())
        .max_by_key(|ch| (ch.depth, ch.process.start_ticks, ch.process.pid));
    let mut subagents: Vec<AgentProcess> = c
        .subagents
        .iter()
        .filter_map(|&s| build(g, s, collected))
        .collect();
    subagents.sort_by_key(|a| a.pid);
    let hint_args = program(main).args;
    Some(AgentProcess {
        pid: top.pid,
        provider,
        main_pid: main.pid,
        argv: top.argv.clone(),
        exe: main.exe.clone().or_else(|| top.exe.clone()),
        cwd: main.cwd.clone().or_else(|| top.cwd.clone()),
        started_at: top.started_at,
        start_ticks: top.start_ticks,
        tty: top.tty.clone(),
        rss_bytes: rss,
        cpu_percent: cpu,
        has_running_tool: running.is_some() || !subagents.is_empty(),
        running_tool: running.map(|ch| ch.process.name().to_string()),
        session_hint: session_hint(provider, hint_args),
        children: c.children,
        subagents,
    })
}
