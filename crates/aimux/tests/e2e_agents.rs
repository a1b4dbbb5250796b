//! End to end: live discovery (`aimux agents --json`) against the REAL Claude Code, Codex
//! and Gemini CLIs running interactively in a private tmux server, talking to the scripted
//! model server (`testkit/agents_env.py` sets all of that up and tears it down).
//!
//! Every expected value comes from outside aimux: session ids from the session files the
//! CLIs wrote, models from the model server's record, pids from `/proc` and tmux, and the
//! approval dialog from the screen. Skips (printing `SKIPPED <test>: <reason>`) when tmux,
//! python3, git, node or the CLIs are missing; `scripts/test` installs them.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PROVIDERS: [&str; 3] = ["claude", "codex", "gemini"];
const TEST: &str = "live_agents_of_real_clis_in_tmux";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn agents_env_script() -> PathBuf {
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

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    if !Path::new("/proc/self/stat").exists() {
        return Some("no /proc (live discovery is Linux-only)".into());
    }
    for (program, arg) in [
        ("tmux", "-V"),
        ("python3", "--version"),
        ("git", "--version"),
        ("node", "--version"),
    ] {
        if !runs(program, arg) {
            return Some(format!(
                "`{program}` is not installed (scripts/test installs it)"
            ));
        }
    }
    let Some(bin) = bin_dir() else {
        return Some("neither AIMUX_AGENTS_PREFIX nor HOME is set".into());
    };
    for cli in PROVIDERS {
        if !bin.join(cli).exists() {
            return Some(format!(
                "{} is missing (run scripts/install-agents)",
                bin.join(cli).display()
            ));
        }
    }
    None
}

// ----------------------------------------------------------------- the environment

struct Env {
    state: PathBuf,
    home: PathBuf,
    project: String,
    socket: String,
    record: PathBuf,
    panes: HashMap<String, String>,
    pane_pids: HashMap<String, u32>,
    aimux_home: PathBuf,
}

/// Stops every process of the environment, whatever happens to the test.
struct EnvGuard {
    state: PathBuf,
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        let out = Command::new("python3")
            .arg(agents_env_script())
            .arg("stop")
            .arg(&self.state)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) => eprint!("{}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => eprintln!("agents_env.py stop failed to run: {e}"),
        }
    }
}

fn agents_env(args: &[&str]) -> std::process::Output {
    let out = Command::new("python3")
        .arg(agents_env_script())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run agents_env.py");
    assert!(
        out.status.success(),
        "agents_env.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn start_env(state: &Path) -> Env {
    let bin = bin_dir().expect("bin dir");
    let owner = std::process::id().to_string();
    let out = Command::new("python3")
        .arg(agents_env_script())
        .args(["start", "--state"])
        .arg(state)
        .arg("--bin-dir")
        .arg(&bin)
        .args(["--owner-pid", &owner, "--ttl", "600"])
        .stdin(Stdio::null())
        .output()
        .expect("run agents_env.py start");
    assert!(
        out.status.success(),
        "agents_env.py start failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("start prints JSON");
    let text = |k: &str| v[k].as_str().expect(k).to_string();
    let mut panes = HashMap::new();
    let mut pane_pids = HashMap::new();
    for p in PROVIDERS {
        panes.insert(
            p.to_string(),
            v["panes"][p].as_str().expect("pane").to_string(),
        );
        let pid = v["pane_pids"][p].as_u64().expect("pane pid");
        pane_pids.insert(p.to_string(), u32::try_from(pid).expect("pid fits u32"));
    }
    Env {
        state: PathBuf::from(text("state")),
        home: PathBuf::from(text("home")),
        project: text("project"),
        socket: text("tmux_socket"),
        record: PathBuf::from(text("record")),
        panes,
        pane_pids,
        aimux_home: state.join("aimux-home"),
    }
}

impl Env {
    fn send(&self, agent: &str, text: &str) {
        let state = self.state.to_string_lossy();
        agents_env(&["send", &state, agent, text]);
    }

    fn capture(&self, agent: &str) -> String {
        let state = self.state.to_string_lossy();
        String::from_utf8_lossy(&agents_env(&["capture", &state, agent]).stdout).into_owned()
    }

    fn aimux(&self) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("aimux"));
        cmd.env("AIMUX_HOME", &self.aimux_home)
            .arg("--home")
            .arg(&self.home)
            .stdin(Stdio::null());
        cmd
    }

    /// One `aimux --home HOME agents --json`.
    fn snapshot(&self) -> Value {
        let out = self
            .aimux()
            .args(["agents", "--json"])
            .output()
            .expect("run aimux agents");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "aimux agents --json failed: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        serde_json::from_slice(&out.stdout).expect("aimux agents --json prints JSON")
    }

    fn records(&self) -> Vec<Value> {
        fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Whether a process belongs to this environment: it carries the environment's marker
    /// variable, or it descends from one of the panes.
    fn owns(&self, pid: u32) -> bool {
        let marker = format!("AIMUX_AGENTS_ENV={}", self.state.display());
        let marked = fs::read(format!("/proc/{pid}/environ"))
            .map(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
            .unwrap_or(false);
        marked
            || ancestors(pid)
                .iter()
                .any(|a| self.pane_pids.values().any(|p| p == a))
    }
}

// ----------------------------------------------------------------- /proc

fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z"))
}

/// pid itself first, then its parent, ... up to (not including) pid 0.
fn ancestors(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut cur = pid;
    while out.len() < 64 {
        let Some(ppid) = stat_fields(cur).and_then(|f| f.get(1)?.parse::<u32>().ok()) else {
            break;
        };
        if ppid == 0 {
            break;
        }
        out.push(ppid);
        cur = ppid;
    }
    out
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Live `sleep` processes below `agent`.
fn sleeps_under(agent: u32) -> BTreeSet<u32> {
    all_pids()
        .into_iter()
        .filter(|&p| p != agent && alive(p))
        .filter(|&p| {
            fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
        .filter(|&p| ancestors(p).contains(&agent))
        .collect()
}

/// Every process of the environment that is not a pane's top process: runtimes,
/// relaunches, shells, tools, the model server, tmux.
fn non_agent_processes(env: &Env) -> BTreeSet<u32> {
    all_pids()
        .into_iter()
        .filter(|&p| alive(p) && env.owns(p))
        .filter(|p| !env.pane_pids.values().any(|q| q == p))
        .collect()
}

// ----------------------------------------------------------------- JSON helpers

fn flatten<'a>(rows: &'a Value, out: &mut Vec<&'a Value>) {
    for r in rows.as_array().map(Vec::as_slice).unwrap_or_default() {
        out.push(r);
        flatten(&r["subagents"], out);
    }
}

fn all_agents(snap: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    flatten(&snap["agents"], &mut out);
    out
}

fn pid_of(row: &Value) -> u32 {
    row["pid"]
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .expect("agent pid")
}

fn children_of(row: &Value) -> BTreeSet<u32> {
    row["children"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|p| p.as_u64().and_then(|p| u32::try_from(p).ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// The agents of this environment in a snapshot, by provider (foreign agents are other
/// people's CLIs on the same machine; they are printed, never counted).
fn ours<'a>(env: &Env, snap: &'a Value) -> HashMap<String, Vec<&'a Value>> {
    let mut by = HashMap::new();
    for row in all_agents(snap) {
        let pid = pid_of(row);
        if env.owns(pid) {
            let provider = row["provider"].as_str().unwrap_or("?").to_string();
            by.entry(provider).or_insert_with(Vec::new).push(row);
        }
    }
    by
}

fn only<'a>(by: &HashMap<String, Vec<&'a Value>>, provider: &str) -> Option<&'a Value> {
    match by.get(provider).map(Vec::as_slice) {
        Some([one]) => Some(*one),
        _ => None,
    }
}

fn summary(env: &Env, snap: &Value) -> String {
    let mut s = String::new();
    for row in all_agents(snap) {
        let pid = pid_of(row);
        s.push_str(&format!(
            "  {}{:>7} {:<7} {:<8} {:<45} session={} children={:?}\n",
            if env.owns(pid) { "" } else { "(foreign) " },
            pid,
            row["provider"].as_str().unwrap_or("?"),
            row["status"].as_str().unwrap_or("?"),
            row["status_reason"].as_str().unwrap_or(""),
            row["session_id"].as_str().unwrap_or("-"),
            children_of(row),
        ));
    }
    s.push_str(&format!("  errors: {}\n", snap["errors"]));
    s
}

/// Asserts that no listed agent is one of the environment's tool/helper processes.
fn assert_no_helper_is_an_agent(env: &Env, snap: &Value, helpers: &BTreeSet<u32>) {
    for row in all_agents(snap) {
        let pid = pid_of(row);
        assert!(
            !helpers.contains(&pid),
            "pid {pid} is a tool/helper process of an agent, yet listed as an agent:\n{}",
            summary(env, snap)
        );
    }
    for rows in ours(env, snap).values() {
        for row in rows {
            let pid = pid_of(row);
            assert!(
                env.pane_pids.values().any(|p| *p == pid),
                "agent {pid} of this environment is not a pane's CLI process:\n{}",
                summary(env, snap)
            );
        }
    }
}

// ----------------------------------------------------------------- session files

fn files_under(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if depth > 0 {
                files_under(&p, depth - 1, out);
            }
        } else {
            out.push(p);
        }
    }
}

fn first_json_line(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(text.lines().next().unwrap_or_default())
        .map_err(|e| format!("{}: first line: {e}", path.display()))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn the_one(what: &str, files: Vec<PathBuf>) -> Result<PathBuf, String> {
    match <[PathBuf; 1]>::try_from(files) {
        Ok([one]) => Ok(one),
        Err(files) => Err(format!("one {what} expected, found {files:?}")),
    }
}

/// The session id each CLI wrote into its one session file (found without aimux).
fn session_ids_from_files(home: &Path) -> Result<HashMap<&'static str, String>, String> {
    let mut ids = HashMap::new();

    let projects = home.join(".claude/projects");
    let mut claude = Vec::new();
    files_under(&projects, 1, &mut claude);
    claude.retain(|p| {
        file_name(p).ends_with(".jsonl") && p.parent().and_then(Path::parent) == Some(&projects)
    });
    let claude = the_one("Claude transcript", claude)?;
    ids.insert(
        "claude",
        file_name(&claude).trim_end_matches(".jsonl").to_string(),
    );

    let mut codex = Vec::new();
    files_under(&home.join(".codex/sessions"), 4, &mut codex);
    codex.retain(|p| file_name(p).starts_with("rollout-") && file_name(p).ends_with(".jsonl"));
    let codex = the_one("Codex rollout", codex)?;
    let meta = first_json_line(&codex)?;
    let id = meta["payload"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if meta["type"] != "session_meta" || !file_name(&codex).ends_with(&format!("-{id}.jsonl")) {
        return Err(format!(
            "{}: no session_meta naming the file's id",
            codex.display()
        ));
    }
    ids.insert("codex", id);

    let mut gemini = Vec::new();
    files_under(&home.join(".gemini/tmp"), 2, &mut gemini);
    gemini.retain(|p| {
        let n = file_name(p);
        n.starts_with("session-")
            && (n.ends_with(".jsonl") || n.ends_with(".json"))
            && p.parent().is_some_and(|d| d.ends_with("chats"))
    });
    let gemini = the_one("Gemini chat file", gemini)?;
    let id = first_json_line(&gemini)?["sessionId"]
        .as_str()
        .ok_or_else(|| format!("{}: no sessionId", gemini.display()))?
        .to_string();
    ids.insert("gemini", id);
    Ok(ids)
}

// ----------------------------------------------------------------- server record

fn dialect(provider: &str) -> &'static str {
    match provider {
        "claude" => "anthropic",
        "codex" => "responses",
        _ => "gemini",
    }
}

/// The provider's main (non-auxiliary) requests, of `session` where the CLI names its
/// session in the request (Claude, Codex); Gemini sends no session id, and the environment
/// runs one Gemini only.
fn main_requests<'a>(
    records: &'a [Value],
    provider: &str,
    session: Option<&str>,
) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["dialect"] == dialect(provider) && r["auxiliary"] != true)
        .filter(|r| match (provider, session) {
            ("gemini", _) | (_, None) => true,
            (_, Some(s)) => r["session_key"] == s,
        })
        .collect()
}

/// Polls `f` until it gives a value; on timeout panics with its last reason.
fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f() {
            Ok(v) => return v,
            Err(why) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; last:\n{why}"
            ),
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

// ----------------------------------------------------------------- aimux agents --watch

struct Watch {
    child: Child,
    lines: mpsc::Receiver<(Instant, Value)>,
}

impl Watch {
    fn start(env: &Env, interval_ms: u64) -> Watch {
        let mut child = env
            .aimux()
            .args(["agents", "--watch", "--json", "--interval-ms"])
            .arg(interval_ms.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn aimux agents --watch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send((Instant::now(), v)).is_err()
                {
                    break;
                }
            }
        });
        Watch { child, lines: rx }
    }

    fn next_until(&self, deadline: Instant) -> Option<(Instant, Value)> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(left).ok()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

// ----------------------------------------------------------------- the test

#[test]
fn live_agents_of_real_clis_in_tmux() {
    if let Some(reason) = skip_reason() {
        println!("SKIPPED {TEST}: {reason}");
        return;
    }
    let t_start = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("env");
    let _guard = EnvGuard {
        state: state.clone(),
    };
    let env = start_env(&state);
    eprintln!(
        "[e2e] environment up in {:?}: {}",
        t_start.elapsed(),
        env.state.display()
    );

    // ---- 1. three idle CLIs, each with one answered prompt (so each has a session file)
    for p in PROVIDERS {
        env.send(p, "Say hello in one short sentence.");
    }
    wait_until("the three first answers", Duration::from_secs(90), || {
        let records = env.records();
        let missing: Vec<&str> = PROVIDERS
            .into_iter()
            .filter(|p| {
                !main_requests(&records, p, None)
                    .iter()
                    .any(|r| r["scenario"] == "text")
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("no answer recorded for {missing:?}"))
        }
    });
    let sids = wait_until("one session file per CLI", Duration::from_secs(30), || {
        session_ids_from_files(&env.home)
    });
    let records = env.records();
    let mut models = HashMap::new();
    for p in PROVIDERS {
        let reqs = main_requests(&records, p, Some(&sids[p]));
        let set: BTreeSet<&str> = reqs.iter().filter_map(|r| r["model"].as_str()).collect();
        assert_eq!(
            set.len(),
            1,
            "{p}: one model recorded for session {}: {set:?}",
            sids[p]
        );
        models.insert(p, set.into_iter().next().unwrap_or_default().to_string());
    }
    eprintln!("[e2e] sessions from files: {sids:?}; models from the server record: {models:?}");

    let snap = wait_until("three idle agents", Duration::from_secs(40), || {
        let snap = env.snapshot();
        let by = ours(&env, &snap);
        let ready = PROVIDERS.iter().all(|p| {
            only(&by, p).is_some_and(|r| r["status"] == "idle" && r["session_id"].is_string())
        });
        if ready {
            Ok(snap)
        } else {
            Err(summary(&env, &snap))
        }
    });
    eprint!("[e2e] idle:\n{}", summary(&env, &snap));
    let by = ours(&env, &snap);
    let count: usize = by.values().map(Vec::len).sum();
    assert_eq!(
        count,
        3,
        "exactly three agents of this environment:\n{}",
        summary(&env, &snap)
    );
    let helpers = non_agent_processes(&env);
    assert_no_helper_is_an_agent(&env, &snap, &helpers);
    assert_eq!(
        snap["errors"],
        serde_json::json!([]),
        "no discovery errors in a clean HOME"
    );
    for p in PROVIDERS {
        let row = only(&by, p).unwrap_or_else(|| panic!("one {p} agent"));
        let ctx = format!("{p}: {row:#}");
        assert_eq!(
            pid_of(row),
            env.pane_pids[p],
            "agent pid is the pane's process; {ctx}"
        );
        assert_eq!(row["cwd"], env.project.as_str(), "{ctx}");
        assert_eq!(
            row["session_id"],
            sids[p].as_str(),
            "session id from the file; {ctx}"
        );
        assert_eq!(
            row["model"],
            models[p].as_str(),
            "model from the server record; {ctx}"
        );
        let evidence = row["match_evidence"].as_str().unwrap_or("none");
        assert_ne!(evidence, "none", "match evidence reported; {ctx}");
        assert_eq!(
            row["tmux_target"],
            format!("{}:{}", env.socket, env.panes[p]).as_str(),
            "{ctx}"
        );
        let agent = pid_of(row);
        let strays: Vec<u32> = children_of(row)
            .into_iter()
            .filter(|k| alive(*k) && !ancestors(*k).contains(&agent))
            .collect();
        assert!(
            strays.is_empty(),
            "children {strays:?} do not descend from the agent; {ctx}"
        );
    }

    // ---- 2. SLEEP_TOOL 30: Claude and Codex run `sleep`, Gemini asks for approval
    let t_sleep = Instant::now();
    for p in PROVIDERS {
        env.send(p, "SLEEP_TOOL 30");
    }
    let mut seen_active: HashMap<&str, u32> = HashMap::new();
    let mut dialog_on_screen = false;
    let mut gemini_waiting = false;
    let mut last = String::new();
    while !(seen_active.len() == 2 && gemini_waiting) {
        let elapsed = t_sleep.elapsed();
        assert!(
            seen_active.len() == 2 || elapsed < Duration::from_secs(28),
            "claude/codex not seen active with their `sleep` as a child while it ran \
             (seen: {seen_active:?}); last snapshot:\n{last}"
        );
        assert!(
            elapsed < Duration::from_secs(45),
            "gemini not `waiting` at its approval dialog (dialog on screen: \
             {dialog_on_screen}); last snapshot:\n{last}"
        );
        if !dialog_on_screen {
            let screen = env.capture("gemini");
            dialog_on_screen = screen.contains("Allow execution");
        }
        let before: HashMap<&str, BTreeSet<u32>> = ["claude", "codex"]
            .into_iter()
            .map(|p| (p, sleeps_under(env.pane_pids[p])))
            .collect();
        let snap = env.snapshot();
        last = summary(&env, &snap);
        let by = ours(&env, &snap);
        let listed: BTreeSet<u32> = all_agents(&snap).into_iter().map(pid_of).collect();
        for p in ["claude", "codex"] {
            // a sleep seen before and after the snapshot ran during it
            let after = sleeps_under(env.pane_pids[p]);
            for s in before[p].intersection(&after) {
                assert!(
                    !listed.contains(s),
                    "`sleep` {s} listed as an agent:\n{last}"
                );
                if let Some(row) = only(&by, p)
                    && row["status"] == "active"
                    && children_of(row).contains(s)
                {
                    seen_active.entry(p).or_insert(*s);
                }
            }
        }
        if dialog_on_screen && let Some(row) = only(&by, "gemini") {
            assert!(
                sleeps_under(env.pane_pids["gemini"]).is_empty(),
                "gemini runs `sleep` although its dialog is on screen"
            );
            gemini_waiting = row["status"] == "waiting";
        }
        let helpers = non_agent_processes(&env);
        assert_no_helper_is_an_agent(&env, &snap, &helpers);
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "[e2e] active with sleep children {seen_active:?}, gemini waiting, after {:?}:\n{last}",
        t_sleep.elapsed()
    );

    // ---- 3. the sleeps end, the follow-up requests are answered: Claude and Codex idle
    wait_until(
        "claude's and codex's follow-up answers",
        Duration::from_secs(60),
        || {
            let records = env.records();
            let missing: Vec<&str> = ["claude", "codex"]
                .into_iter()
                .filter(|p| {
                    !main_requests(&records, p, Some(&sids[p]))
                        .iter()
                        .any(|r| r["kind"] == "tool_followup")
                })
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no follow-up recorded for {missing:?}"))
            }
        },
    );
    let snap = wait_until(
        "claude and codex idle again",
        Duration::from_secs(30),
        || {
            let snap = env.snapshot();
            let by = ours(&env, &snap);
            let idle = ["claude", "codex"]
                .iter()
                .all(|p| only(&by, p).is_some_and(|r| r["status"] == "idle"));
            if idle {
                Ok(snap)
            } else {
                Err(summary(&env, &snap))
            }
        },
    );
    let by = ours(&env, &snap);
    for p in ["claude", "codex"] {
        let row = only(&by, p).unwrap_or_else(|| panic!("one {p} agent"));
        assert_eq!(
            row["session_id"],
            sids[p].as_str(),
            "same session after the tool: {row:#}"
        );
    }
    assert_eq!(
        only(&by, "gemini").map(|r| r["status"].clone()),
        Some("waiting".into())
    );

    // ---- 4. kill Gemini (it ignores SIGTERM): gone within two refreshes, others stay
    let watch = Watch::start(&env, 1000);
    let mut added = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while added.len() < 3 {
        let (_, ev) = watch
            .next_until(deadline)
            .unwrap_or_else(|| panic!("watch did not list the three agents: {added:?}"));
        if ev["event"] == "added" {
            let pid = pid_of(&ev["agent"]);
            if env.pane_pids.values().any(|p| *p == pid) {
                added.insert(pid);
            }
        }
    }
    let victim = env.pane_pids["gemini"];
    let mut t_signal = Instant::now();
    signal(victim, "-TERM");
    let grace = Instant::now() + Duration::from_secs(3);
    while alive(victim) && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(victim) {
        eprintln!("[e2e] gemini {victim} survived SIGTERM for 3 s: SIGKILL");
        t_signal = Instant::now();
        signal(victim, "-KILL");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(victim) {
        assert!(
            Instant::now() < deadline,
            "gemini {victim} survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // first seen dead (it died at most 50 ms earlier): two refreshes of 1 s, each allowed
    // 0.5 s of work, from here
    let t_dead = Instant::now();
    let removed_by = t_dead + 2 * Duration::from_millis(1000 + 500);
    let mut removed_at = None;
    while removed_at.is_none() {
        let Some((at, ev)) = watch.next_until(removed_by) else {
            break;
        };
        if ev["event"] == "removed" {
            let pid = pid_of(&ev["agent"]);
            assert!(
                pid == victim || !env.pane_pids.values().any(|p| *p == pid),
                "agent {pid} removed although only {victim} was killed: {ev}"
            );
            if pid == victim {
                removed_at = Some(at);
            }
        }
    }
    let removed_at = removed_at.unwrap_or_else(|| {
        panic!(
            "killed gemini {victim} not removed from `aimux agents --watch` within two \
             refreshes; now:\n{}",
            summary(&env, &env.snapshot())
        )
    });
    eprintln!(
        "[e2e] gemini {victim} removed {:?} after the signal that ended it ({:?} after it was \
         seen dead)",
        removed_at.saturating_duration_since(t_signal),
        removed_at.saturating_duration_since(t_dead)
    );
    drop(watch);
    let snap = env.snapshot();
    let by = ours(&env, &snap);
    for p in ["claude", "codex"] {
        let row =
            only(&by, p).unwrap_or_else(|| panic!("{p} still listed:\n{}", summary(&env, &snap)));
        assert_eq!(pid_of(row), env.pane_pids[p]);
    }
    for row in all_agents(&snap) {
        let pid = pid_of(row);
        assert_ne!(
            pid,
            victim,
            "killed agent listed:\n{}",
            summary(&env, &snap)
        );
        if env.owns(pid) {
            assert!(
                alive(pid),
                "agent {pid} listed but not running:\n{}",
                summary(&env, &snap)
            );
        }
    }

    // ---- 5. Codex's data directory unreadable (for root too): others listed, error named
    let sessions = env.home.join(".codex/sessions");
    fs::rename(&sessions, env.home.join(".codex/sessions.moved")).expect("move sessions away");
    std::os::unix::fs::symlink("sessions", &sessions).expect("symlink loop");
    assert!(
        fs::read_dir(&sessions).is_err(),
        "the symlink loop is unreadable"
    );
    let snap = env.snapshot();
    eprint!("[e2e] codex sessions unreadable:\n{}", summary(&env, &snap));
    let by = ours(&env, &snap);
    let claude = only(&by, "claude")
        .unwrap_or_else(|| panic!("claude still listed:\n{}", summary(&env, &snap)));
    assert_eq!(claude["session_id"], sids["claude"].as_str(), "{claude:#}");
    let codex = only(&by, "codex")
        .unwrap_or_else(|| panic!("codex's process still listed:\n{}", summary(&env, &snap)));
    assert_eq!(pid_of(codex), env.pane_pids["codex"]);
    let errors = snap["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors.iter().any(|e| e["provider"] == "codex"),
        "expected an entry {{\"provider\": \"codex\", \"error\": \"… {} …\"}} in `errors` of \
         `aimux agents --json`; got errors = {}",
        sessions.display(),
        snap["errors"]
    );

    eprintln!("[e2e] done in {:?}", t_start.elapsed());
}
