//! Which processes are coding agents, which are their helpers, and which are neither.
//!
//! Recognition looks at the *program*, never at substrings of the whole command line:
//! argv[0]'s basename, or, when argv[0] is a JavaScript runtime (`node`, `bun`), the
//! basename of the script it runs. So `grep claude`, `vim claude.md`, `tmux new claude` and
//! `timeout 120 claude -p …` are not agents (their children may be).

use super::procfs::{ProcInfo, basename};
use aimux_core::Provider;
use serde::{Deserialize, Serialize};

/// How an agent process was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchForm {
    /// A binary (Claude's native build, Codex's musl binary, a renamed process title).
    Native,
    /// A script run by a JavaScript runtime (`node …/.bin/codex`, `node …/gemini`): a
    /// same-provider process started directly by it is part of the same agent (Codex's
    /// native binary, Gemini's `--max-old-space-size` relaunch).
    Script,
}

/// Long-lived processes an agent starts that are not tool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperKind {
    /// `codex app-server … --managed-daemon`: Codex's TUI daemon. Tools run under it, so its
    /// descendants are still classified on their own.
    CodexAppServer,
    /// `codex app-server daemon pid-update-loop`.
    CodexDaemonUpdater,
    /// An MCP server (`claude mcp serve`, `codex mcp-server`, `npx @modelcontextprotocol/…`,
    /// anything whose program name contains `mcp`).
    McpServer,
}

impl HelperKind {
    pub fn label(self) -> &'static str {
        match self {
            HelperKind::CodexAppServer => "codex app-server daemon",
            HelperKind::CodexDaemonUpdater => "codex daemon pid-update-loop",
            HelperKind::McpServer => "mcp server",
        }
    }

    /// True when the helper's own descendants are part of the helper rather than tools.
    pub fn owns_descendants(self) -> bool {
        matches!(self, HelperKind::McpServer | HelperKind::CodexDaemonUpdater)
    }
}

/// What one process is, judged on its own (the tree walk adds the context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcKind {
    Agent {
        provider: Provider,
        form: LaunchForm,
    },
    Helper(HelperKind),
    Other,
}

/// The program a process runs: for `node [opts] script args…` the script, otherwise argv[0].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program<'a> {
    /// Basename of the program (`claude`, `codex.js`, `gemini`).
    pub name: &'a str,
    /// The program as written on the command line.
    pub path: &'a str,
    /// Arguments after the program.
    pub args: &'a [String],
    pub form: LaunchForm,
}

const JS_RUNTIMES: &[&str] = &["node", "nodejs", "bun"];

/// Node/Bun options that take their value as the next argument.
const RUNTIME_VALUE_OPTS: &[&str] = &[
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "-C",
    "--conditions",
    "--title",
    "--inspect-port",
    "--env-file",
    "--preload",
];

/// Options after which there is no script (`node -e code`).
const RUNTIME_NO_SCRIPT: &[&str] = &["-e", "--eval", "-p", "--print", "-i", "--interactive"];

pub fn program(p: &ProcInfo) -> Program<'_> {
    let Some(first) = p.argv.first() else {
        return Program {
            name: &p.comm,
            path: &p.comm,
            args: &[],
            form: LaunchForm::Native,
        };
    };
    let name0 = basename(first);
    let native = Program {
        name: if name0.is_empty() { &p.comm } else { name0 },
        path: first,
        args: p.argv.get(1..).unwrap_or(&[]),
        form: LaunchForm::Native,
    };
    if !JS_RUNTIMES.contains(&name0) {
        return native;
    }
    let mut i = 1;
    while let Some(arg) = p.argv.get(i) {
        if RUNTIME_NO_SCRIPT.contains(&arg.as_str()) || arg == "--" {
            return native;
        }
        if RUNTIME_VALUE_OPTS.contains(&arg.as_str()) {
            i += 2;
            continue;
        }
        if arg.starts_with('-') || (name0 == "bun" && arg == "run") {
            i += 1;
            continue;
        }
        return Program {
            name: basename(arg),
            path: arg,
            args: p.argv.get(i + 1..).unwrap_or(&[]),
            form: LaunchForm::Script,
        };
    }
    native
}

/// The provider a program belongs to, from its name (or, for scripts, its package path).
pub fn provider_of(prog: &Program<'_>) -> Option<Provider> {
    let name = prog.name;
    let script = prog.form == LaunchForm::Script;
    let path = prog.path.replace('\\', "/");
    match name {
        "claude" | "claude.exe" => return Some(Provider::Claude),
        "codex" => return Some(Provider::Codex),
        "gemini" => return Some(Provider::Gemini),
        "opencode" | "opencode.exe" => return Some(Provider::Opencode),
        _ => {}
    }
    if !script {
        return None;
    }
    match name {
        "codex.js" => Some(Provider::Codex),
        "gemini.js" => Some(Provider::Gemini),
        "opencode.js" => Some(Provider::Opencode),
        "cli.js" | "cli.mjs" if path.contains("/@anthropic-ai/claude-code/") => {
            Some(Provider::Claude)
        }
        "index.js" if path.contains("/@google/gemini-cli/") => Some(Provider::Gemini),
        _ => None,
    }
}

/// First positional argument, skipping options (and the values of the given options).
pub(crate) fn positionals<'a>(args: &'a [String], value_opts: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            out.extend(args.get(i + 1..).unwrap_or(&[]).iter().map(String::as_str));
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            i += if !a.contains('=') && value_opts.contains(&a.as_str()) {
                2
            } else {
                1
            };
            continue;
        }
        out.push(a.as_str());
        i += 1;
    }
    out
}

pub(crate) const CODEX_VALUE_OPTS: &[&str] = &[
    "-c",
    "--config",
    "-m",
    "--model",
    "-p",
    "--profile",
    "-s",
    "--sandbox",
    "-a",
    "--ask-for-approval",
    "-C",
    "--cd",
    "-i",
    "--image",
    "--add-dir",
    "--local-provider",
    "--output-schema",
    "-o",
    "--output-last-message",
    "--color",
    "--enable",
    "--disable",
    "--listen",
];

pub(crate) const CLAUDE_VALUE_OPTS: &[&str] = &[
    "--model",
    "--session-id",
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
    "--tools",
    "--output-format",
    "--input-format",
    "--permission-mode",
    "--permission-prompt-tool",
    "--append-system-prompt",
    "--system-prompt",
    "--mcp-config",
    "--settings",
    "--setting-sources",
    "--add-dir",
    "--agents",
    "--agent",
    "--fallback-model",
    "--max-turns",
    "--plugin-dir",
];

pub(crate) const GEMINI_VALUE_OPTS: &[&str] = &[
    "-m",
    "--model",
    "-p",
    "--prompt",
    "-i",
    "--prompt-interactive",
    "--session-id",
    "-e",
    "--extensions",
    "--include-directories",
    "--approval-mode",
    "-o",
    "--output-format",
    "--allowed-tools",
    "--allowed-mcp-server-names",
];

pub(crate) const OPENCODE_VALUE_OPTS: &[&str] = &[
    "-m",
    "--model",
    "-s",
    "--session",
    "--agent",
    "--prompt",
    "--port",
    "--hostname",
    "--log-level",
];

fn value_opts(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Claude => CLAUDE_VALUE_OPTS,
        Provider::Codex => CODEX_VALUE_OPTS,
        Provider::Gemini => GEMINI_VALUE_OPTS,
        Provider::Opencode => OPENCODE_VALUE_OPTS,
    }
}

/// Sub-commands that do not run an agent session (management, auth, servers).
fn non_agent_subcommand(provider: Provider, sub: &str) -> bool {
    let list: &[&str] = match provider {
        Provider::Claude => &[
            "mcp",
            "config",
            "doctor",
            "update",
            "upgrade",
            "install",
            "migrate-installer",
            "setup-token",
            "plugin",
            "plugins",
        ],
        Provider::Codex => &[
            "mcp",
            "login",
            "logout",
            "completion",
            "debug",
            "sandbox",
            "apply",
            "a",
            "cloud",
            "features",
            "responses-api-proxy",
            "stdio-to-uds",
            "help",
            "update",
        ],
        Provider::Gemini => &["mcp", "extensions", "extension", "skills", "hooks"],
        Provider::Opencode => &[
            "auth",
            "models",
            "upgrade",
            "uninstall",
            "mcp",
            "stats",
            "export",
            "import",
            "github",
            "debug",
            "completion",
            "agent",
        ],
    };
    list.contains(&sub)
}

/// Classifies one process on its own.
pub fn classify(p: &ProcInfo) -> ProcKind {
    if p.is_zombie() {
        return ProcKind::Other;
    }
    let prog = program(p);
    let Some(provider) = provider_of(&prog) else {
        return if is_mcp_server(p) {
            ProcKind::Helper(HelperKind::McpServer)
        } else {
            ProcKind::Other
        };
    };
    if let Some(first) = prog.args.first()
        && matches!(
            first.as_str(),
            "--version" | "-v" | "-V" | "--help" | "-h" | "help"
        )
    {
        return ProcKind::Other;
    }
    let pos = positionals(prog.args, value_opts(provider));
    let sub = pos.first().copied().unwrap_or("");
    match (provider, sub) {
        (Provider::Codex, "app-server") => {
            return ProcKind::Helper(if pos.contains(&"pid-update-loop") {
                HelperKind::CodexDaemonUpdater
            } else {
                HelperKind::CodexAppServer
            });
        }
        (Provider::Codex, "mcp-server") => return ProcKind::Helper(HelperKind::McpServer),
        (Provider::Claude | Provider::Gemini | Provider::Opencode, "mcp")
            if pos.get(1) == Some(&"serve") =>
        {
            return ProcKind::Helper(HelperKind::McpServer);
        }
        _ => {}
    }
    if non_agent_subcommand(provider, sub) {
        return ProcKind::Other;
    }
    ProcKind::Agent {
        provider,
        form: prog.form,
    }
}

/// Launchers whose next positional argument is the program that really runs.
const LAUNCHERS: &[&str] = &[
    "node",
    "nodejs",
    "bun",
    "bunx",
    "deno",
    "npx",
    "pnpx",
    "pnpm",
    "npm",
    "npm-cli.js",
    "npx-cli.js",
    "uv",
    "uvx",
    "pipx",
    "python",
    "python3",
    "env",
];
/// Words a launcher takes before the program (`uv tool run`, `npm exec`, `pnpm dlx`).
const LAUNCHER_WORDS: &[&str] = &["run", "tool", "exec", "dlx", "x", "-m"];

/// An MCP server: its program (after launchers like `npx -y` / `uvx` / `node`) has `mcp`
/// or `modelcontextprotocol` in its name.
fn is_mcp_server(p: &ProcInfo) -> bool {
    let mut i = 0;
    for _ in 0..6 {
        let Some(tok) = p.argv.get(i) else {
            return false;
        };
        let name = basename(tok).to_ascii_lowercase();
        if name.contains("mcp") || tok.contains("modelcontextprotocol") {
            return true;
        }
        let launcher = LAUNCHERS.contains(&name.as_str())
            || name
                .strip_prefix("python3.")
                .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()));
        if !launcher {
            return false;
        }
        i += 1;
        while let Some(a) = p.argv.get(i) {
            if LAUNCHER_WORDS.contains(&a.as_str()) || a.starts_with('-') {
                i += 1;
            } else {
                break;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(argv: &[&str]) -> ProcKind {
        classify(&ProcInfo::new(100, 1, argv))
    }

    fn agent(p: Provider, form: LaunchForm) -> ProcKind {
        ProcKind::Agent { provider: p, form }
    }

    #[test]
    fn claude_shapes() {
        let native = agent(Provider::Claude, LaunchForm::Native);
        assert_eq!(kind(&["claude"]), native);
        assert_eq!(
            kind(&[
                "claude",
                "-p",
                "SLEEP_TOOL 8 then report",
                "--output-format",
                "json"
            ]),
            native
        );
        assert_eq!(
            kind(&[
                "/root/.cache/aimux-agents/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
            ]),
            native
        );
        assert_eq!(
            kind(&[
                "node",
                "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js",
                "--resume"
            ]),
            agent(Provider::Claude, LaunchForm::Script)
        );
        // Native installer: argv[0] `claude`, exe a version file.
        let p =
            ProcInfo::new(5, 1, &["claude"]).with_exe("/root/.local/share/claude/versions/2.1.197");
        assert_eq!(classify(&p), native);
    }

    #[test]
    fn mentions_of_claude_are_not_agents() {
        for argv in [
            &["grep", "claude"][..],
            &["vim", "claude.md"],
            &["tmux", "-S", "/tmp/s", "new-session", "-d", "claude"],
            &["timeout", "120", "claude", "-p", "hi"],
            &["bash", "-c", "claude -p hi"],
            &["less", "/x/claude"],
            &["node", "/tmp/claude-helper.js"],
            &["node", "/x/cli.js"],
            &["python3", "claude.py"],
            &["/usr/bin/rg", "codex", "src/"],
            &["cat", "/tmp/gemini"],
        ] {
            assert_eq!(kind(argv), ProcKind::Other, "{argv:?}");
        }
    }

    #[test]
    fn utility_invocations_are_not_agents() {
        assert_eq!(kind(&["claude", "--version"]), ProcKind::Other);
        assert_eq!(kind(&["claude", "doctor"]), ProcKind::Other);
        assert_eq!(kind(&["codex", "login"]), ProcKind::Other);
        assert_eq!(
            kind(&["codex", "-c", "x=1", "mcp", "list"]),
            ProcKind::Other
        );
        assert_eq!(kind(&["gemini", "extensions", "list"]), ProcKind::Other);
        assert_eq!(kind(&["opencode", "auth", "login"]), ProcKind::Other);
        // A prompt that happens to be a word is still an agent.
        assert_eq!(
            kind(&["codex", "exec", "login please"]),
            agent(Provider::Codex, LaunchForm::Native)
        );
        // A value of a known option is not taken for a sub-command.
        assert_eq!(
            kind(&["codex", "-m", "login", "exec", "hi"]),
            agent(Provider::Codex, LaunchForm::Native)
        );
    }

    #[test]
    fn codex_shapes() {
        assert_eq!(
            kind(&[
                "node",
                "/tmp/agents/node_modules/.bin/codex",
                "exec",
                "SLEEP_TOOL 6"
            ]),
            agent(Provider::Codex, LaunchForm::Script)
        );
        assert_eq!(
            kind(&["node", "/x/node_modules/@openai/codex/bin/codex.js"]),
            agent(Provider::Codex, LaunchForm::Script)
        );
        assert_eq!(
            kind(&[
                "/tmp/agents/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex",
                "exec",
                "SLEEP_TOOL 6"
            ]),
            agent(Provider::Codex, LaunchForm::Native)
        );
        assert_eq!(
            kind(&[
                "/root/.codex/packages/app-server-daemon/releases/0.171.0-x86_64-unknown-linux-musl/bin/codex",
                "app-server",
                "--listen",
                "unix://",
                "--analytics-default-enabled",
                "--managed-daemon"
            ]),
            ProcKind::Helper(HelperKind::CodexAppServer)
        );
        assert_eq!(
            kind(&[
                "/root/.codex/packages/x/bin/codex",
                "app-server",
                "daemon",
                "pid-update-loop"
            ]),
            ProcKind::Helper(HelperKind::CodexDaemonUpdater)
        );
        assert_eq!(
            kind(&["codex", "mcp-server"]),
            ProcKind::Helper(HelperKind::McpServer)
        );
        // The sandbox helper runs a tool; it is not an agent.
        assert_eq!(
            kind(&["codex-linux-sandbox", "--", "bash", "-c", "ls"]),
            ProcKind::Other
        );
    }

    #[test]
    fn gemini_and_opencode_shapes() {
        let script = agent(Provider::Gemini, LaunchForm::Script);
        assert_eq!(
            kind(&[
                "node",
                "/tmp/agents/node_modules/.bin/gemini",
                "-p",
                "SLEEP_TOOL 6 please",
                "--yolo"
            ]),
            script
        );
        assert_eq!(
            kind(&[
                "/usr/bin/node",
                "--max-old-space-size=12052",
                "/tmp/agents/node_modules/.bin/gemini",
                "-p",
                "x"
            ]),
            script
        );
        assert_eq!(
            kind(&[
                "node",
                "--require",
                "/x/preload.js",
                "/y/@google/gemini-cli/bundle/gemini.js"
            ]),
            script
        );
        assert_eq!(
            kind(&["node", "/y/node_modules/@google/gemini-cli/dist/index.js"]),
            script
        );
        // `node -e` has no script, even if the code mentions gemini.
        assert_eq!(
            kind(&["node", "-e", "require('/x/gemini')"]),
            ProcKind::Other
        );
        assert_eq!(
            kind(&["gemini"]),
            agent(Provider::Gemini, LaunchForm::Native)
        );
        assert_eq!(
            kind(&["opencode"]),
            agent(Provider::Opencode, LaunchForm::Native)
        );
        assert_eq!(
            kind(&[
                "node",
                "/x/node_modules/opencode-ai/bin/opencode",
                "run",
                "hi"
            ]),
            agent(Provider::Opencode, LaunchForm::Script)
        );
        assert_eq!(
            kind(&["bun", "run", "/x/opencode.js"]),
            agent(Provider::Opencode, LaunchForm::Script)
        );
    }

    #[test]
    fn empty_argv_falls_back_to_comm_and_zombies_are_nothing() {
        let p = ProcInfo::new(7, 1, &[]).with_comm("claude");
        assert_eq!(classify(&p), agent(Provider::Claude, LaunchForm::Native));
        let mut z = ProcInfo::new(8, 1, &[]).with_comm("claude");
        z.state = 'Z';
        assert_eq!(classify(&z), ProcKind::Other);
    }

    #[test]
    fn mcp_servers() {
        let mcp = ProcKind::Helper(HelperKind::McpServer);
        assert_eq!(kind(&["claude", "mcp", "serve"]), mcp);
        assert_eq!(
            kind(&[
                "node",
                "/usr/bin/npx",
                "-y",
                "@modelcontextprotocol/server-filesystem",
                "/tmp"
            ]),
            mcp
        );
        assert_eq!(kind(&["uvx", "mcp-server-git"]), mcp);
        assert_eq!(kind(&["uv", "tool", "run", "mcp-server-fetch"]), mcp);
        assert_eq!(kind(&["python3.11", "-m", "mcp_server_time"]), mcp);
        assert_eq!(kind(&["/opt/bin/github-mcp-server", "stdio"]), mcp);
        // A tool that merely mentions mcp in a later argument is a tool.
        assert_eq!(kind(&["cargo", "test", "-p", "mcp-foo"]), ProcKind::Other);
        assert_eq!(kind(&["node", "/x/test.js", "mcp"]), ProcKind::Other);
        assert_eq!(kind(&["python3.x", "-m", "mcp_x"]), ProcKind::Other);
    }

    #[test]
    fn program_resolution() {
        let p = ProcInfo::new(
            1,
            0,
            &["node", "--max-old-space-size=1", "/a/gemini", "-p", "x"],
        );
        let prog = program(&p);
        assert_eq!(prog.name, "gemini");
        assert_eq!(prog.form, LaunchForm::Script);
        assert_eq!(prog.args, &["-p".to_string(), "x".to_string()][..]);
        let bare = ProcInfo::new(1, 0, &["node"]);
        assert_eq!(program(&bare).name, "node");
        assert_eq!(program(&bare).form, LaunchForm::Native);
    }

    #[test]
    fn positional_parsing() {
        let args: Vec<String> = ["-c", "a=b", "--model=x", "exec", "--", "-not-an-option"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            positionals(&args, CODEX_VALUE_OPTS),
            vec!["exec", "-not-an-option"]
        );
    }
}
