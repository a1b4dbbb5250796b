//! tmux helpers against a real tmux server on a private socket (`-S`): argument vectors
//! reach the program verbatim, the pane hosting a process is found by ancestry and by the
//! process's own TMUX variables, send-keys types literal text, kill closes aimux's own
//! session. Skips (printing `SKIPPED <test>: <reason>`) when tmux or python3 is missing.

use aimux_engine::actions::kill_agent;
use aimux_engine::live::tmux_target;
use aimux_engine::tmux::{Socket, Tmux, find_agent_pane};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Server {
    tmux: Tmux,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.tmux.run(&["kill-server"]);
    }
}

fn server(test: &str) -> Option<Server> {
    for (p, a) in [("tmux", "-V"), ("python3", "--version")] {
        if !have(p, a) {
            println!("SKIPPED {test}: {p} is not installed");
            return None;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new(Socket::Path(dir.path().join("tmux.sock")));
    Some(Server { tmux, dir })
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const NASTY: &str = "\"quotes\"; $(touch PWNED) `touch PWNED` 'single' \\ \n second line -x";

#[test]
fn argv_reaches_the_program_verbatim_and_no_shell_runs() {
    let Some(s) = server("argv_reaches_the_program_verbatim_and_no_shell_runs") else {
        return;
    };
    let out = s.dir.path().join("argv.json");
    let nasty = NASTY.replace("PWNED", &s.dir.path().join("pwned").display().to_string());
    let argv = vec![
        "python3".to_string(),
        "-c".into(),
        "import sys, json, time; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:])); time.sleep(30)".into(),
        out.display().to_string(),
        nasty.clone(),
        "--".into(),
    ];
    let pane = s
        .tmux
        .new_session(
            "aimux-test-proj-1",
            s.dir.path(),
            &argv,
            &[("AIMUX_T".into(), "v w".into())],
            (80, 24),
        )
        .expect("new session");
    assert_eq!(pane.session, "aimux-test-proj-1");
    let got: Vec<String> = wait_for("the recorder's argv", || {
        let text = std::fs::read_to_string(&out).ok()?;
        serde_json::from_str(&text).ok()
    });
    assert_eq!(got, vec![nasty, "--".to_string()]);
    assert!(
        !s.dir.path().join("pwned").exists(),
        "a shell ran the argument"
    );
    // The pane's process is the program itself (exec'd, no shell in between), with the
    // extra environment.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pane.pid)).expect("cmdline");
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = String::from_utf8_lossy(argv0);
    assert!(
        argv0
            .rsplit('/')
            .next()
            .is_some_and(|b| b.starts_with("python")),
        "the pane runs {argv0}, not python"
    );
    let environ = std::fs::read(format!("/proc/{}/environ", pane.pid)).expect("environ");
    assert!(environ.split(|b| *b == 0).any(|v| v == b"AIMUX_T=v w"));
    assert_eq!(s.tmux.sessions(), vec!["aimux-test-proj-1".to_string()]);
}

#[test]
fn a_single_program_name_is_not_run_by_a_shell() {
    let Some(s) = server("a_single_program_name_is_not_run_by_a_shell") else {
        return;
    };
    // A lone argument would go to `sh -c`; one with shell syntax proves it does not.
    let marker = s.dir.path().join("ran");
    let odd = format!("true; touch {}", marker.display());
    let pane = s
        .tmux
        .new_session("aimux-one-1", s.dir.path(), &[odd], &[], (80, 24));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "a shell interpreted the program name");
    // env reports the missing program and the session ends (or never started).
    if let Ok(p) = pane {
        assert!(p.id.starts_with('%'));
    }
}

#[test]
fn pane_found_by_ancestry_and_send_keys_types_literally() {
    let Some(s) = server("pane_found_by_ancestry_and_send_keys_types_literally") else {
        return;
    };
    let line_file = s.dir.path().join("line.txt");
    let pid_file = s.dir.path().join("child.pid");
    // A parent (python) with a child (sleep) below it: the child is found in the pane.
    let script = format!(
        "import subprocess, sys; c = subprocess.Popen(['sleep', '60']); \
         open({:?}, 'w').write(str(c.pid)); \
         open({:?}, 'w').write(sys.stdin.readline()); c.wait()",
        pid_file.display().to_string(),
        line_file.display().to_string()
    );
    let argv = vec!["python3".to_string(), "-c".into(), script];
    let pane = s
        .tmux
        .new_session("user-session", s.dir.path(), &argv, &[], (100, 30))
        .expect("new session");
    let child: u32 = wait_for("the child pid", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });
    // The child's own environment names the server and the pane.
    let target = tmux_target(child).expect("TMUX in the child's env");
    let sock = s.dir.path().join("tmux.sock");
    assert!(
        target.starts_with(&sock.display().to_string()) && target.ends_with(&pane.id),
        "{target}"
    );
    let found = find_agent_pane(child, Some(&target)).expect("pane found");
    assert_eq!(found.pane.id, pane.id);
    assert_eq!(found.pane.pid, pane.pid);
    assert!(!found.spawned_by_aimux(), "a user's own session");
    // A stale target naming an unrelated pane never matches.
    assert!(find_agent_pane(std::process::id(), Some(&target)).is_none());

    let text = "héllo \"there\"; $(nope) C-c Enter";
    s.tmux.send_text(&pane.id, text).expect("send");
    let got = wait_for("the typed line", || {
        let t = std::fs::read_to_string(&line_file).ok()?;
        t.ends_with('\n').then_some(t)
    });
    assert_eq!(got, format!("{text}\n"));
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|st| st != "Z")
    })
}

fn fake_agent_bin(dir: &Path) -> PathBuf {
    // Discovery recognises an agent by its program name: `claude` (here: sleep).
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let link = bin.join("claude");
    let sleep = ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sleep");
    std::os::unix::fs::symlink(sleep, &link).expect("symlink");
    link
}

#[test]
fn kill_closes_the_tmux_session_aimux_started() {
    let Some(s) = server("kill_closes_the_tmux_session_aimux_started") else {
        return;
    };
    let claude = fake_agent_bin(s.dir.path());
    // A shell keeps the pane alive after the agent ends: the session must be closed
    // explicitly by kill.
    let script = format!("{} 300; sleep 300", claude.display());
    let argv = vec!["sh".to_string(), "-c".into(), script];
    let pane = s
        .tmux
        .new_session("aimux-claude-proj-1", s.dir.path(), &argv, &[], (80, 24))
        .expect("new session");
    let agent: u32 = wait_for("the fake agent", || {
        let children =
            std::fs::read_to_string(format!("/proc/{}/task/{}/children", pane.pid, pane.pid))
                .ok()?;
        children.split_whitespace().next()?.parse().ok()
    });
    let summary = match kill_agent(agent, Duration::from_secs(2)) {
        Ok(s) => s,
        Err(e) => panic!("kill: {e}"),
    };
    assert!(summary.contains("aimux-claude-proj-1"), "{summary}");
    assert!(!alive(agent));
    assert!(!s.tmux.has_session("aimux-claude-proj-1"), "session closed");
}
