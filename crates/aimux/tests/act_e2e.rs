//! End to end for acting on agents: `aimux spawn`, `aimux resume`, `aimux send` against
//! the REAL Claude Code, Codex and Gemini CLIs and the scripted model server
//! (`testkit/agents_env.py` starts the server, seeds a scratch HOME and project; aimux
//! starts the agents itself, on a private tmux server named by `AIMUX_TMUX_SOCKET`).
//!
//! Expected values come from outside aimux: what the model server recorded, the session
//! files on disk, tmux's pane list, `/proc`. Skips (printing `SKIPPED <test>: <reason>`)
//! when tmux, python3, git, node or the CLIs are missing.

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROVIDERS: [&str; 3] = ["claude", "codex", "gemini"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script() -> PathBuf {
    workspace().join("testkit/agents_env.py")
}

fn bin_dir() -> Option<PathBuf> {
    let prefix = match std::env::var_os("AIMUX_AGENTS_PREFIX") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache/aimux-agents"),
    };
    Some(prefix.join("node_modules/.bin"))
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn skip_reason() -> Option<String> {
    for (p, a) in [
        ("tmux", "-V"),
        ("python3", "--version"),
        ("git", "--version"),
        ("node", "--version"),
    ] {
        if !runs(p, a) {
            return Some(format!("{p} is not installed"));
        }
    }
    if !script().exists() {
        return Some("testkit/agents_env.py is missing".into());
    }
    let bin = bin_dir()?;
    for p in PROVIDERS {
        if !bin.join(p).exists() {
            return Some(format!(
                "{p} CLI not installed in {} (scripts/install-agents)",
                bin.display()
            ));
        }
    }
    None
}

struct Env {
    state: PathBuf,
    project: PathBuf,
    record: PathBuf,
    home: PathBuf,
    socket: PathBuf,
    cli_env: Vec<(String, String)>,
}

impl Drop for Env {
    fn drop(&mut self) {
        // Every process started under the marker (the tmux server aimux started, the CLIs,
        // the model server) is killed by pid.
        let _ = Command::new("python3")
            .arg(script())
            .arg("stop")
            .arg(&self.state)
            .stdin(Stdio::null())
            .status();
    }
}

fn start_env(name: &str) -> Env {
    let state = std::env::temp_dir().join(format!("aimux-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&state);
    let out = Command::new("python3")
        .arg(script())
        .args(["start", "--state"])
        .arg(&state)
        .args(["--providers", ""])
        .args([
            "--owner-pid",
            &std::process::id().to_string(),
            "--ttl",
            "900",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run agents_env.py start");
    assert!(
        out.status.success(),
        "agents_env.py start failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).expect("start prints JSON");
    let s = |k: &str| PathBuf::from(info[k].as_str().expect(k));
    let state = s("state");
    let marker = state.display().to_string();
    // The CLIs' environment exactly as agents_env.py builds it for its own tmux sessions.
    let py = format!(
        "import sys, json; sys.path.insert(0, {:?}); import agents_env as a; \
         print(json.dumps(a.cli_env({:?}, {:?}, {})))",
        workspace().join("testkit").display().to_string(),
        info["home"].as_str().expect("home"),
        info["bin_dir"].as_str().expect("bin_dir"),
        info["port"].as_u64().expect("port")
    );
    let out = Command::new("python3")
        .args(["-c", &py])
        .output()
        .expect("cli_env");
    let env: serde_json::Map<String, Value> =
        serde_json::from_slice(&out.stdout).expect("cli_env JSON");
    let mut cli_env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect();
    cli_env.push(("AIMUX_AGENTS_ENV".into(), marker));
    Env {
        socket: state.join("aimux-tmux.sock"),
        project: s("project"),
        record: s("record"),
        home: s("home"),
        state,
        cli_env,
    }
}

impl Env {
    /// The aimux binary with the CLIs' environment (the tmux server it starts inherits it).
    fn aimux(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aimux"));
        c.env_clear();
        for (k, v) in &self.cli_env {
            c.env(k, v);
        }
        c.env("AIMUX_TMUX_SOCKET", &self.socket)
            .env("AIMUX_DATA_HOME", &self.home)
            .env("AIMUX_HOME", self.state.join("aimux-home"))
            .stdin(Stdio::null());
        c
    }

    fn aimux_ok(&self, args: &[&str]) -> String {
        let out = self.aimux().args(args).output().expect("run aimux");
        assert!(
            out.status.success(),
            "aimux {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn records(&self) -> Vec<Value> {
        fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn received(&self, text: &str) -> bool {
        self.records()
            .iter()
            .any(|r| r["user_text"].as_str() == Some(text))
    }

    fn agents(&self) -> Vec<Value> {
        let out = self.aimux_ok(&["agents", "--json"]);
        let v: Value = serde_json::from_str(&out).expect("agents JSON");
        let mut all = Vec::new();
        fn walk(rows: &Value, out: &mut Vec<Value>) {
            for r in rows.as_array().into_iter().flatten() {
                out.push(r.clone());
                walk(&r["subagents"], out);
            }
        }
        walk(&v["agents"], &mut all);
        all
    }
}

fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(700));
    }
}

fn ancestors(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut cur = pid;
    for _ in 0..64 {
        let Ok(stat) = fs::read_to_string(format!("/proc/{cur}/stat")) else {
            break;
        };
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            break;
        };
        if ppid <= 1 {
            break;
        }
        out.push(ppid);
        cur = ppid;
    }
    out
}

/// The agent row hosted by tmux pane pid `pane_pid` (the agent is that process or below it).
fn agent_in_pane(agents: &[Value], pane_pid: u32) -> Option<Value> {
    agents
        .iter()
        .find(|a| {
            a["pid"]
                .as_u64()
                .is_some_and(|p| ancestors(p as u32).contains(&pane_pid))
        })
        .cloned()
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        if let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
            && p != pid
            && ancestors(p).contains(&pid)
        {
            out.push(p);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|st| st != "Z")
    })
}

fn kill_tree(pid: u32) {
    let mut pids = descendants(pid);
    pids.push(pid);
    for sig in ["-TERM", "-KILL"] {
        let mut c = Command::new("kill");
        c.arg(sig);
        for p in &pids {
            c.arg(p.to_string());
        }
        let _ = c.stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && pids.iter().any(|p| alive(*p)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        if !pids.iter().any(|p| alive(*p)) {
            return;
        }
    }
}

fn session_files(home: &Path, provider: &str) -> BTreeSet<PathBuf> {
    let root = home.join(match provider {
        "claude" => ".claude/projects",
        "codex" => ".codex/sessions",
        _ => ".gemini/tmp",
    });
    let mut out = BTreeSet::new();
    fn walk(d: &Path, out: &mut BTreeSet<PathBuf>, depth: usize) {
        if depth > 6 {
            return;
        }
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out, depth + 1);
            } else if p.extension().is_some_and(|x| x == "jsonl" || x == "json")
                && !p.to_string_lossy().contains("/subagents/")
                && (p.to_string_lossy().contains("/chats/")
                    || !p.to_string_lossy().contains(".gemini"))
            {
                out.insert(p);
            }
        }
    }
    walk(&root, &mut out, 0);
    out
}

/// Spawns every provider with a prompt full of shell syntax; checks discovery lists each
/// with its session, the prompt arrived verbatim, no shell ran it; then ends each agent,
/// resumes its conversation with `aimux resume`, types a second prompt with `aimux send`
/// and checks the same session file grew (no new one).
#[test]
fn spawn_send_resume_with_real_clis() {
    const TEST: &str = "spawn_send_resume_with_real_clis";
    if let Some(why) = skip_reason() {
        println!("SKIPPED {TEST}: {why}");
        return;
    }
    let env = start_env("act");
    let pwned = std::env::temp_dir().join(format!("pwned-aimux-{}", std::process::id()));
    let _ = fs::remove_file(&pwned);
    let prompt = format!(
        "USE_TOOL list files \"quotes\"; $(touch {}) `touch {}`",
        pwned.display(),
        pwned.display()
    );

    let mut spawned = Vec::new();
    for p in PROVIDERS {
        let out = env.aimux_ok(&[
            "spawn",
            p,
            "--dir",
            env.project.to_str().expect("utf-8 path"),
            "--prompt",
            &prompt,
            "--detach",
            "--json",
        ]);
        let s: Value = serde_json::from_str(&out).expect("spawn --json");
        let session = s["session"].as_str().expect("session").to_string();
        assert_eq!(session, format!("aimux-{p}-aimux-e2e-proj-1"));
        let pane_pid = s["pid"].as_u64().expect("pid") as u32;
        // tmux itself lists the session with that pane process
        let panes = env.tmux(&["list-panes", "-a", "-F", "#{session_name} #{pane_pid}"]);
        assert!(
            panes.lines().any(|l| l == format!("{session} {pane_pid}")),
            "{p}: tmux panes: {panes}"
        );
        spawned.push((p, session, pane_pid));
    }

    // Discovery lists each with a session file that the CLI wrote.
    let mut sessions = Vec::new();
    for (p, session, pane_pid) in &spawned {
        let row = wait_for(&format!("{p} agent with a session"), 120, || {
            let agents = env.agents();
            let a = agent_in_pane(&agents, *pane_pid)?;
            let file = a["session_file"].as_str()?;
            (Path::new(file).exists() && a["session_id"].is_string()).then_some(a)
        });
        assert_eq!(row["provider"].as_str(), Some(*p));
        assert!(
            row["tmux_target"]
                .as_str()
                .is_some_and(|t| t.starts_with(&env.socket.display().to_string())),
            "{p}: tmux target {:?}",
            row["tmux_target"]
        );
        let id = row["session_id"].as_str().expect("id").to_string();
        let file = PathBuf::from(row["session_file"].as_str().expect("file"));
        assert!(
            fs::read_to_string(&file).is_ok_and(|t| t.contains(&id)),
            "{p}: the session file names the session id"
        );
        sessions.push((*p, session.clone(), *pane_pid, id, file));
    }
    // The prompt reached the model verbatim, and nothing ran it through a shell.
    wait_for("the spawn prompt at the model server", 90, || {
        env.received(&prompt).then_some(())
    });
    wait_for("every dialect to receive the prompt", 60, || {
        let got: BTreeSet<String> = env
            .records()
            .iter()
            .filter(|r| r["user_text"].as_str() == Some(prompt.as_str()))
            .filter_map(|r| r["dialect"].as_str().map(str::to_string))
            .collect();
        (got.len() == 3).then_some(())
    });
    assert!(!pwned.exists(), "the prompt was run by a shell");

    // Resume: end each agent, re-open its conversation, type a second prompt.
    for (p, session, pane_pid, id, file) in &sessions {
        let before: BTreeSet<PathBuf> = session_files(&env.home, p);
        assert!(before.contains(file), "{p}: {file:?} among {before:?}");
        // wait for the first turn to finish before ending it
        wait_for(&format!("{p} idle"), 120, || {
            let agents = env.agents();
            let a = agent_in_pane(&agents, *pane_pid)?;
            (a["status"].as_str() == Some("idle")).then_some(())
        });
        kill_tree(*pane_pid);
        let _ = env.tmux(&["kill-session", "-t", &format!("={session}")]);
        let size = fs::metadata(file).map(|m| m.len()).unwrap_or(0);

        let out = env.aimux_ok(&["resume", id, "--detach", "--json"]);
        let s: Value = serde_json::from_str(&out).expect("resume --json");
        let argv: Vec<&str> = s["argv"]
            .as_array()
            .expect("argv")
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert!(
            argv.iter().any(|a| a.contains(id.as_str())),
            "{p}: resume argv {argv:?}"
        );
        assert_eq!(
            s["dir"].as_str(),
            Some(env.project.to_str().expect("utf-8"))
        );
        let new_pid = s["pid"].as_u64().expect("pid") as u32;
        let second = format!("USE_TOOL list files again for {p}");
        // The resumed TUI takes input once its prompt box is drawn (the session file still
        // says "idle" from the last run while the new process starts).
        let ready: &[&str] = match *p {
            "claude" => &["for shortcuts"],
            "codex" => &["Ask Codex", "\u{203a} "],
            _ => &["Type your message"],
        };
        let pane = s["pane"].as_str().expect("pane").to_string();
        wait_for(&format!("{p} resumed TUI ready"), 120, || {
            let screen = env.tmux(&["capture-pane", "-p", "-t", &pane]);
            ready.iter().any(|r| screen.contains(r)).then_some(())
        });
        std::thread::sleep(Duration::from_secs(1));
        // aimux send refuses until the resumed agent is idle; then types the prompt.
        wait_for(&format!("{p} resumed and idle"), 120, || {
            let agents = env.agents();
            let a = agent_in_pane(&agents, new_pid)?;
            if a["session_id"].as_str() != Some(id.as_str()) || a["status"] != "idle" {
                return None;
            }
            let pid = a["pid"].as_u64()?.to_string();
            let out = env.aimux().args(["send", &pid, &second]).output().ok()?;
            out.status.success().then_some(())
        });
        wait_for(&format!("{p} second prompt at the model"), 90, || {
            env.received(&second).then_some(())
        });
        wait_for(&format!("{p} session file to grow"), 60, || {
            let now = fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            let text = fs::read_to_string(file).unwrap_or_default();
            (now > size && text.contains(&second)).then_some(())
        });
        // No new conversation: a file that appeared must belong to the same session.
        // (Gemini CLI 0.61 writes a two-line stub `session-<resume minute>-<id8>.jsonl`
        // with the same sessionId when resumed in another minute; the turns still go to
        // the original file, checked above.)
        let after = session_files(&env.home, p);
        let foreign: Vec<&PathBuf> = after
            .difference(&before)
            .filter(|f| {
                !fs::read_to_string(f)
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains(id.as_str()))
            })
            .collect();
        assert!(
            foreign.is_empty(),
            "{p}: resume started a new session: {foreign:?}"
        );
        kill_tree(new_pid);
    }
}

/// `aimux send` refuses an agent that is not in tmux, with a message that says so.
#[test]
fn send_refuses_a_pid_that_is_not_an_agent() {
    let out = Command::new(env!("CARGO_BIN_EXE_aimux"))
        .args(["send", "1", "hello"])
        .env("AIMUX_DATA_HOME", std::env::temp_dir().join("aimux-none"))
        .env("AIMUX_HOME", std::env::temp_dir().join("aimux-none-home"))
        .output()
        .expect("run aimux");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a running agent"), "{err}");
}

/// Kills a private tmux server on drop.
struct OuterTmux(PathBuf);

impl Drop for OuterTmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn outer(sock: &Path, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-S")
        .arg(sock)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The real aimux dashboard in an outer tmux: Enter on a tmux-hosted Claude Code opens
/// the split view with its live screen; text typed there reaches the model; the agent's
/// tmux server sees exactly one client while attached and none after detaching; there is
/// one agent process tree before, during and after.
#[test]
fn attach_split_view_types_into_the_real_agent() {
    const TEST: &str = "attach_split_view_types_into_the_real_agent";
    if let Some(why) = skip_reason() {
        println!("SKIPPED {TEST}: {why}");
        return;
    }
    let env = start_env("attach");
    let out = env.aimux_ok(&[
        "spawn",
        "claude",
        "--dir",
        env.project.to_str().expect("utf-8"),
        "--detach",
        "--json",
    ]);
    let s: Value = serde_json::from_str(&out).expect("spawn --json");
    let pane = s["pane"].as_str().expect("pane").to_string();
    let pane_pid = s["pid"].as_u64().expect("pid") as u32;
    wait_for("claude ready", 120, || {
        env.tmux(&["capture-pane", "-p", "-t", &pane])
            .contains("for shortcuts")
            .then_some(())
    });
    let ours = |env: &Env| -> Vec<Value> {
        env.agents()
            .into_iter()
            .filter(|a| a["cwd"].as_str() == env.project.to_str())
            .collect()
    };
    let agent = wait_for("claude discovered in tmux", 60, || {
        let a = agent_in_pane(&env.agents(), pane_pid)?;
        a["tmux_target"].is_string().then_some(a)
    });
    let agent_pid = agent["pid"].as_u64().expect("pid");
    assert_eq!(ours(&env).len(), 1, "one agent before attaching");

    let outer_sock = env.state.join("outer.sock");
    let _guard = OuterTmux(outer_sock.clone());
    let mut argv: Vec<String> = vec!["env".into()];
    for (k, v) in &env.cli_env {
        argv.push(format!("{k}={v}"));
    }
    argv.push(format!("AIMUX_DATA_HOME={}", env.home.display()));
    argv.push(format!(
        "AIMUX_HOME={}",
        env.state.join("aimux-home").display()
    ));
    argv.push(format!("AIMUX_TMUX_SOCKET={}", env.socket.display()));
    argv.push(env!("CARGO_BIN_EXE_aimux").into());
    let mut cmd = Command::new("tmux");
    cmd.arg("-S")
        .arg(&outer_sock)
        .args(["-f", "/dev/null", "new-session", "-d", "-s", "outer"])
        .args(["-x", "160", "-y", "48", "--"])
        .args(&argv)
        .env("AIMUX_AGENTS_ENV", &env.state)
        .env_remove("TMUX")
        .stdin(Stdio::null());
    assert!(cmd.status().expect("outer tmux").success());
    let screen = || outer(&outer_sock, &["capture-pane", "-p", "-t", "outer"]);
    let send = |keys: &[&str]| {
        let mut a = vec!["send-keys", "-t", "outer"];
        a.extend_from_slice(keys);
        outer(&outer_sock, &a);
    };
    wait_for("the dashboard lists the agent", 60, || {
        screen().contains(&agent_pid.to_string()).then_some(())
    });
    // Filter to our agent (the machine may run others), then Enter.
    send(&["-l", &format!("/{agent_pid}")]);
    send(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    send(&["Enter"]);
    wait_for("the split view shows the agent's live screen", 30, || {
        let sc = screen();
        (sc.contains("ctrl-\\ detach") && sc.contains("for shortcuts")).then_some(())
    });
    let clients = outer_clients(&env);
    assert_eq!(
        clients, 1,
        "one tmux client attached to the agent's session"
    );

    let typed = "hello from the aimux split view \u{e9}";
    send(&["-l", typed]);
    std::thread::sleep(Duration::from_millis(600));
    send(&["Enter"]);
    wait_for("the typed prompt at the model server", 60, || {
        env.received(typed).then_some(())
    });
    assert_eq!(ours(&env).len(), 1, "still one agent while attached");

    send(&["C-\\"]);
    wait_for("the client detached", 20, || {
        (outer_clients(&env) == 0).then_some(())
    });
    assert!(alive(pane_pid), "detaching left the agent running");
    assert_eq!(ours(&env).len(), 1, "one agent after detaching");
    let sc = screen();
    assert!(sc.contains("keeps running"), "{sc}");

    // The `:new` launcher starts a second agent through the dashboard's backend.
    send(&["Escape"]);
    send(&["-l", ":new"]);
    send(&["Enter"]);
    wait_for("the launcher", 10, || {
        screen().contains("New agent").then_some(())
    });
    send(&["Enter"]); // claude
    send(&["C-u"]);
    send(&["-l", env.project.to_str().expect("utf-8")]);
    send(&["Enter"]);
    let prompt = "launched from the aimux launcher; \"quoted\" $(true)";
    send(&["-l", prompt]);
    for _ in 0..3 {
        send(&["Down"]);
    }
    send(&["Enter"]);
    wait_for(
        "the launched agent's prompt at the model server",
        90,
        || env.received(prompt).then_some(()),
    );
    let sessions = env.tmux(&["list-sessions", "-F", "#{session_name}"]);
    assert!(
        sessions
            .lines()
            .any(|l| l == "aimux-claude-aimux-e2e-proj-2"),
        "{sessions}"
    );
    assert_eq!(ours(&env).len(), 2, "the launched agent is discovered");
}

fn outer_clients(env: &Env) -> usize {
    env.tmux(&["list-clients", "-F", "#{client_pid}"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}
