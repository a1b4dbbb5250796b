//! Grouping on synthetic process tables shaped like the trees observed with the real CLIs
//! (claude-code 2.1.197, codex 0.171.0, gemini-cli 0.61.0).

use aimux_core::Provider;
use aimux_engine::process::{
    AgentProcess, AgentTree, ChildRole, HelperKind, ProcInfo, SessionHint, group_agents,
};

const BIN: &str = "/tmp/agents/node_modules/.bin";
const CODEX_NATIVE: &str =
    "/tmp/agents/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex";
const CODEX_DAEMON: &str =
    "/root/.codex/packages/app-server-daemon/releases/0.171.0-x86_64-unknown-linux-musl/bin/codex";

fn p(pid: u32, ppid: u32, argv: &[&str]) -> ProcInfo {
    ProcInfo::new(pid, ppid, argv)
}

fn only(tree: &AgentTree) -> &AgentProcess {
    assert_eq!(tree.agents.len(), 1, "{:#?}", tree.agents);
    &tree.agents[0]
}

fn child_pids(a: &AgentProcess, role: ChildRole) -> Vec<u32> {
    a.children
        .iter()
        .filter(|c| c.role == role)
        .map(|c| c.process.pid)
        .collect()
}

/// A login shell and tmux around everything, like a real machine.
fn base() -> Vec<ProcInfo> {
    vec![
        p(1, 0, &["/sbin/init"]),
        p(
            50,
            1,
            &[
                "tmux",
                "-S",
                "/tmp/s/tmux.sock",
                "new-session",
                "-d",
                "claude",
            ],
        ),
        p(60, 1, &["-bash"]),
    ]
}

#[test]
fn claude_print_mode_with_bash_and_sleep() {
    let mut t = base();
    t.extend([
        p(100, 60, &["timeout", "120", "claude", "-p", "SLEEP_TOOL 8 then report", "--output-format", "json", "--allowedTools", "Bash"]),
        p(101, 100, &["claude", "-p", "SLEEP_TOOL 8 then report", "--output-format", "json", "--allowedTools", "Bash"])
            .with_exe("/tmp/agents/node_modules/@anthropic-ai/claude-code/bin/claude.exe")
            .with_cwd("/tmp/agentproj"),
        p(102, 101, &["/bin/bash", "-c", "source /tmp/agenthome/.claude/shell-snapshots/snapshot-bash-1795773386030-suk3eg.sh 2>/dev/null || true && eval 'sleep 8; echo slept 8'"]),
        p(103, 102, &["sleep", "8"]),
    ]);
    let tree = group_agents(&t);
    let a = only(&tree);
    assert_eq!(a.pid, 101);
    assert_eq!(a.main_pid, 101);
    assert_eq!(a.provider, Provider::Claude);
    assert_eq!(a.cwd.as_deref(), Some("/tmp/agentproj"));
    assert_eq!(child_pids(a, ChildRole::Tool), vec![102, 103]);
    assert_eq!(
        a.children.iter().map(|c| c.depth).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(a.has_running_tool);
    assert_eq!(a.running_tool.as_deref(), Some("sleep"));
    assert!(a.subagents.is_empty());
    assert_eq!(a.session_hint, None);
}

#[test]
fn claude_interactive_idle_has_no_running_tool() {
    let mut t = base();
    t.push(p(110, 50, &["claude"]));
    let tree = group_agents(&t);
    let a = only(&tree);
    assert_eq!(a.pid, 110);
    assert!(a.children.is_empty());
    assert!(!a.has_running_tool);
    assert_eq!(a.running_tool, None);
}

#[test]
fn codex_shim_native_bash_sleep_is_one_agent() {
    let mut t = base();
    let mut shim = p(
        200,
        60,
        &[
            "node",
            &format!("{BIN}/codex"),
            "exec",
            "SLEEP_TOOL 6 then list files",
        ],
    )
    .with_exe("/usr/bin/node")
    .with_cwd("/tmp/agentproj");
    shim.rss_bytes = 50 << 20;
    shim.cpu_percent = Some(0.5);
    let mut native = p(
        201,
        200,
        &[CODEX_NATIVE, "exec", "SLEEP_TOOL 6 then list files"],
    )
    .with_exe(CODEX_NATIVE)
    .with_cwd("/tmp/agentproj");
    native.rss_bytes = 230 << 20;
    native.cpu_percent = Some(12.0);
    let mut sleep = p(203, 202, &["sleep", "6"]);
    sleep.rss_bytes = 1 << 20;
    sleep.cpu_percent = Some(50.0);
    t.extend([
        p(
            199,
            60,
            &[
                "timeout",
                "120",
                "codex",
                "exec",
                "SLEEP_TOOL 6 then list files",
            ],
        ),
        shim,
        native,
        p(202, 201, &["/bin/bash", "-c", "sleep 6; echo slept 6"]),
        sleep,
    ]);
    let tree = group_agents(&t);
    let a = only(&tree);
    assert_eq!(a.pid, 200);
    assert_eq!(a.main_pid, 201);
    assert_eq!(a.provider, Provider::Codex);
    assert_eq!(a.exe.as_deref(), Some(CODEX_NATIVE));
    assert_eq!(child_pids(a, ChildRole::Core), vec![201]);
    assert_eq!(child_pids(a, ChildRole::Tool), vec![202, 203]);
    assert!(a.has_running_tool);
    assert_eq!(a.running_tool.as_deref(), Some("sleep"));
    // Own processes only: the tool's memory and CPU are not the agent's.
    assert_eq!(a.rss_bytes, 280 << 20);
    assert_eq!(a.cpu_percent, Some(12.5));
}

#[test]
fn codex_tui_with_daemon_tools_run_under_the_daemon() {
    let mut t = base();
    t.extend([
        p(300, 50, &["node", &format!("{BIN}/codex")]),
        p(301, 300, &[CODEX_NATIVE]),
        p(
            302,
            301,
            &[
                CODEX_DAEMON,
                "app-server",
                "--listen",
                "unix://",
                "--analytics-default-enabled",
                "--managed-daemon",
            ],
        ),
        p(303, 302, &["/bin/bash", "-c", "sleep 20; echo slept 20"]),
        p(304, 303, &["sleep", "20"]),
        p(
            305,
            301,
            &[CODEX_DAEMON, "app-server", "daemon", "pid-update-loop"],
        ),
    ]);
    let tree = group_agents(&t);
    let a = only(&tree);
    assert_eq!((a.pid, a.main_pid), (300, 301));
    assert_eq!(child_pids(a, ChildRole::Helper), vec![302, 305]);
    let kinds: Vec<_> = a.children.iter().filter_map(|c| c.helper).collect();
    assert_eq!(
        kinds,
        vec![HelperKind::CodexAppServer, HelperKind::CodexDaemonUpdater]
    );
    assert_eq!(child_pids(a, ChildRole::Tool), vec![303, 304]);
    assert!(a.has_running_tool);
    assert_eq!(a.running_tool.as_deref(), Some("sleep"));
    assert!(tree.detached_helpers.is_empty());
}

#[test]
fn codex_daemon_alone_is_not_a_running_tool() {
    let mut t = base();
    t.extend([
        p(300, 50, &["node", &format!("{BIN}/codex")]),
        p(301, 300, &[CODEX_NATIVE]),
        p(
            302,
            301,
            &[
                CODEX_DAEMON,
                "app-server",
                "--listen",
                "unix://",
                "--managed-daemon",
            ],
        ),
        p(
            305,
            301,
            &[CODEX_DAEMON, "app-server", "daemon", "pid-update-loop"],
        ),
    ]);
    let tree = group_agents(&t);
    let a = only(&tree);
    assert!(!a.has_running_tool);
    assert_eq!(a.running_tool, None);
}

#[test]
fn codex_daemons_after_quit_are_detached_helpers() {
    let mut t = base();
    t.extend([
        p(
            302,
            1,
            &[
                CODEX_DAEMON,
                "app-server",
                "--listen",
                "unix://",
                "--managed-daemon",
            ],
        ),
        p(
            305,
            1,
            &[CODEX_DAEMON, "app-server", "daemon", "pid-update-loop"],
        ),
    ]);
    let tree = group_agents(&t);
    assert!(tree.agents.is_empty());
    let pids: Vec<u32> = tree
        .detached_helpers
        .iter()
        .map(|h| h.process.pid)
        .collect();
    assert_eq!(pids, vec![302, 305]);
}

#[test]
fn gemini_relaunch_with_two_bashes_and_sleep_is_one_agent() {
    let mut t = base();
    let shell = "shopt -u promptvars nullglob extglob nocaseglob dotglob; _bgpids_file=/tmp/gemini-shell-ocx3Xn/bgpids.tmp (   trap 'jobs -p > \"$_bgpids_file\"' EXIT sleep 6; echo slept 6";
    t.extend([
        p(
            399,
            60,
            &[
                "timeout",
                "120",
                "gemini",
                "-p",
                "SLEEP_TOOL 6 please",
                "--yolo",
            ],
        ),
        p(
            400,
            399,
            &[
                "node",
                &format!("{BIN}/gemini"),
                "-p",
                "SLEEP_TOOL 6 please",
                "--yolo",
            ],
        )
        .with_cwd("/tmp/agentproj"),
        p(
            401,
            400,
            &[
                "/usr/bin/node",
                "--max-old-space-size=12052",
                &format!("{BIN}/gemini"),
                "-p",
                "SLEEP_TOOL 6 please",
                "--yolo",
            ],
        )
        .with_cwd("/tmp/agentproj"),
        p(402, 401, &["/usr/bin/bash", "-c", shell]),
        p(403, 402, &["/usr/bin/bash", "-c", shell]),
        p(404, 403, &["sleep", "6"]),
    ]);
    let tree = group_agents(&t);
    let a = only(&tree);
    assert_eq!(a.provider, Provider::Gemini);
    assert_eq!((a.pid, a.main_pid), (400, 401));
    assert_eq!(child_pids(a, ChildRole::Core), vec![401]);
    assert_eq!(child_pids(a, ChildRole::Tool), vec![402, 403, 404]);
    assert_eq!(a.running_tool.as_deref(), Some("sleep"));
    assert_eq!(
        a.children.iter().map(|c| c.depth).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
}

#[test]
fn claude_started_inside_claude_is_a_subagent() {
    let mut t = base();
    t.extend([
        p(500, 50, &["claude"]),
        p(
            501,
            500,
            &[
                "/bin/bash",
                "-c",
                "claude -p 'review this' --resume a8f82001-3e68-453a-bc59-16b287a0a2b1",
            ],
        ),
        p(
            502,
            501,
            &[
                "claude",
                "-p",
                "review this",
                "--resume",
                "a8f82001-3e68-453a-bc59-16b287a0a2b1",
            ],
        ),
        p(503, 502, &["/bin/bash", "-c", "sleep 3"]),
        p(504, 503, &["sleep", "3"]),
        p(505, 500, &["/usr/bin/git", "status"]),
    ]);
    let tree = group_agents(&t);
    let outer = only(&tree);
    assert_eq!(outer.pid, 500);
    // The bash that runs the sub-agent is the outer agent's tool; the sub-agent's own
    // tools are not listed under the outer agent.
    assert_eq!(child_pids(outer, ChildRole::Tool), vec![501, 505]);
    assert_eq!(outer.subagents.len(), 1);
    let inner = &outer.subagents[0];
    assert_eq!(inner.pid, 502);
    assert_eq!(child_pids(inner, ChildRole::Tool), vec![503, 504]);
    assert_eq!(
        inner.session_hint,
        Some(SessionHint {
            session_id: Some("a8f82001-3e68-453a-bc59-16b287a0a2b1".into()),
            source: "--resume".into(),
            ..SessionHint::default()
        })
    );
    assert!(outer.has_running_tool);
    let all: Vec<u32> = tree.iter().map(|a| a.pid).collect();
    assert_eq!(all, vec![500, 502]);
    assert_eq!(tree.find(502).map(|a| a.provider), Some(Provider::Claude));
}

#[test]
fn gemini_started_by_codex_is_a_subagent_not_core() {
    let mut t = base();
    t.extend([
        p(600, 60, &["node", &format!("{BIN}/codex")]),
        p(601, 600, &[CODEX_NATIVE]),
        p(602, 601, &["/bin/bash", "-c", "gemini -p hi"]),
        p(603, 602, &["node", &format!("{BIN}/gemini"), "-p", "hi"]),
        p(
            604,
            603,
            &[
                "/usr/bin/node",
                "--max-old-space-size=12052",
                &format!("{BIN}/gemini"),
                "-p",
                "hi",
            ],
        ),
    ]);
    let tree = group_agents(&t);
    let a = only(&tree);
    assert_eq!(a.provider, Provider::Codex);
    assert_eq!(a.subagents.len(), 1);
    assert_eq!(a.subagents[0].provider, Provider::Gemini);
    assert_eq!((a.subagents[0].pid, a.subagents[0].main_pid), (603, 604));
}

#[test]
fn grep_claude_is_not_an_agent() {
    let mut t = base();
    t.extend([
        p(700, 60, &["grep", "claude"]),
        p(701, 60, &["vim", "claude.md"]),
        p(702, 60, &["less", "/home/u/.local/bin/claude"]),
        p(
            703,
            60,
            &["node", "/home/u/claude-scripts/run.js", "claude"],
        ),
    ]);
    let tree = group_agents(&t);
    assert!(tree.agents.is_empty(), "{:#?}", tree.agents);
}

#[test]
fn several_agents_sorted_by_pid_and_mcp_servers_are_helpers() {
    let mut t = base();
    t.extend([
        p(900, 60, &["codex", "resume", "--last"]),
        p(800, 60, &["claude", "--continue"]),
        p(
            801,
            800,
            &[
                "node",
                "/usr/bin/npx",
                "-y",
                "@modelcontextprotocol/server-filesystem",
                "/tmp",
            ],
        ),
        p(
            802,
            801,
            &[
                "node",
                "/root/.npm/_npx/abc/node_modules/.bin/mcp-server-filesystem",
                "/tmp",
            ],
        ),
        p(803, 802, &["sh", "-c", "something"]),
    ]);
    let tree = group_agents(&t);
    let pids: Vec<u32> = tree.agents.iter().map(|a| a.pid).collect();
    assert_eq!(pids, vec![800, 900]);
    let claude = &tree.agents[0];
    assert_eq!(child_pids(claude, ChildRole::Helper), vec![801, 802, 803]);
    assert_eq!(claude.children[0].helper, Some(HelperKind::McpServer));
    assert!(!claude.has_running_tool);
    assert_eq!(claude.session_hint.as_ref().map(|h| h.latest), Some(true));
    assert_eq!(
        tree.agents[1].session_hint.as_ref().map(|h| h.latest),
        Some(true)
    );
}

#[test]
fn zombie_tools_do_not_count_as_running() {
    let mut t = base();
    let mut z = p(1001, 1000, &[]).with_comm("bash");
    z.state = 'Z';
    t.extend([p(1000, 60, &["claude"]), z]);
    let tree = group_agents(&t);
    let a = only(&tree);
    assert_eq!(child_pids(a, ChildRole::Tool), vec![1001]);
    assert!(!a.has_running_tool);
}

#[test]
fn malformed_tables_do_not_hang_or_panic() {
    // A ppid cycle, a self-parent, a missing parent and duplicate pids.
    let t = vec![
        p(1, 2, &["claude"]),
        p(2, 1, &["bash"]),
        p(3, 3, &["claude"]),
        p(4, 999, &["codex"]),
        p(4, 999, &["codex"]),
        p(5, 4, &["sleep", "1"]),
    ];
    let tree = group_agents(&t);
    let pids: Vec<u32> = tree.iter().map(|a| a.pid).collect();
    assert!(pids.contains(&3));
    assert!(pids.contains(&4));
    assert_eq!(group_agents(&[]), AgentTree::default());
}
