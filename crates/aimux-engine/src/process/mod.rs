//! Live process discovery: which coding agents run right now, what they run, and what
//! Claude says about itself. Linux `/proc` is read directly (no `ps`, `lsof` or any other
//! subprocess); on other platforms scanning returns [`ProcessError::Unsupported`].
//!
//! # Public API
//!
//! * [`ProcessScanner::scan`] → [`ProcessTable`]: one pass over `/proc` reading
//!   `stat`, `cmdline` and the `exe` / `cwd` links of each process. Each [`ProcInfo`] has
//!   pid, ppid, process group, session, tty, state, comm, argv, exe, cwd, start ticks and
//!   absolute start time, RSS bytes, cumulative CPU ticks, and CPU % since the scanner's
//!   previous scan. Kernel threads, processes that vanish mid-scan and unreadable ones are
//!   skipped, never an error. [`read_process_table`] is a one-off scan without CPU %.
//!   Clock ticks per second and the page size come from `/proc/self/auxv` (fallbacks 100
//!   and 4096), boot time from `/proc/stat`.
//! * [`group_agents`]`(&table.procs)` → [`AgentTree`]: pure, works on any
//!   `&[ProcInfo]`. Each [`AgentProcess`] has its provider, top `pid` and `main_pid`
//!   (the process that does the work), argv, exe, cwd, start, RSS and CPU of its own
//!   processes, `children` (every descendant, each a [`ChildProcess`] with a
//!   [`ChildRole`]: `Core` / `Helper` / `Tool`), `subagents` (agents whose nearest agent
//!   ancestor is this one), `has_running_tool`, `running_tool` (e.g. `sleep`) and
//!   `session_hint` (ids named on the command line, see [`SessionHint`]).
//!   [`AgentTree::iter`] walks all agents including sub-agents;
//!   [`AgentTree::detached_helpers`] lists Codex daemons that outlived their TUI.
//! * [`classify`] / [`program`]: the per-process recognition used by the walk.
//! * [`read_claude_live_sessions`]`(home, &table)` → [`ClaudeLiveScan`]: Claude's
//!   `~/.claude/sessions/<pid>.json` by pid, without the stale ones (dead pid, or a
//!   `procStart` that is not the live process's start ticks), with warnings for
//!   malformed files.
//! * Status derivation itself is pure and lives in [`aimux_core::status`]: fill a
//!   `StatusEvidence` from an [`AgentProcess`] (`has_running_tool`, `running_tool`,
//!   `cpu_percent`), the Claude live record (`status`, `updated_at`) and the matched
//!   session's `TailState`.
//!
//! # Recognition
//!
//! A process is an agent when its *program* is one: argv[0]'s basename, or for
//! `node`/`bun` the script's basename (`claude`, `claude.exe`, `codex`, `codex.js`,
//! `gemini`, `gemini.js`, `opencode`, plus the packages' `cli.js` / `index.js` entry
//! points). Arguments are never searched for substrings, so `grep claude`,
//! `vim claude.md`, `tmux new claude` or `timeout 120 claude` are not agents. Sub-commands
//! that do not run a session (`claude doctor`, `codex login`, `--version`) are not agents;
//! `codex app-server` (daemon and `pid-update-loop`) and MCP servers are helpers.
//!
//! # Grouping
//!
//! One walk for every provider. An agent process started *directly* by a script-launched
//! agent process of the same provider is part of it (`Core`): Codex's node shim → musl
//! binary, Gemini's node → `node --max-old-space-size=N` relaunch. So each of those is ONE
//! agent whose `pid` is the top process. Every other descendant belongs to its nearest
//! agent ancestor; an agent found below another agent (usually through a `bash -c`) is a
//! sub-agent of it. Tools under Codex's app-server daemon still count as tools of the
//! agent that owns the daemon (the daemon runs Codex's tool commands). Known limit: a
//! daemon shared by several Codex TUIs is attributed to the TUI that started it.

pub mod classify;
pub mod claude_live;
pub mod hints;
pub mod procfs;
pub mod tree;

pub use classify::{HelperKind, LaunchForm, ProcKind, Program, classify, program, provider_of};
pub use claude_live::{
    ClaudeLiveScan, ClaudeLiveSession, parse_claude_live, read_claude_live_dir,
    read_claude_live_sessions,
};
pub use hints::{SessionHint, session_hint};
pub use procfs::{
    ProcInfo, ProcessError, ProcessScanner, ProcessTable, basename, read_process_table,
};
pub use tree::{AgentProcess, AgentTree, ChildProcess, ChildRole, group_agents};
