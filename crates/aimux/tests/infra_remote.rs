//! Remote agents end to end against the in-repo fake Kubernetes API server (no real
//! kube-apiserver can run here; see the README's testing section) with real tmux and a
//! real redis-server:
//! - `aimux remote new` starts a session pod whose agent runs inside tmux; `remote list`
//!   and `agents --json` show it (LOC k8s);
//! - `aimux remote attach`, run in a real local tmux pane, shows the remote screen, carries
//!   keystrokes and the local Vertex settings, and C-b d detaches leaving the agent running;
//! - worker pods show the status of their worker's heartbeats (a real `aimux worker` as the
//!   pod's process, registered in real Redis under its pod name);
//! - `aimux remote kill` stops exactly the selected pod.

mod infra_support;

use aimux_infra::fake_k8s::FakeK8s;
use infra_support::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Polls until `probe` returns something, or fails the test saying `what`.
fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn write_exe(path: &Path, body: &str) {
    std::fs::write(path, body).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A tmux server of its own (socket under `dir`).
struct Tmux {
    socket: std::path::PathBuf,
    tmpdir: Option<std::path::PathBuf>,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("tmux");
        match &self.tmpdir {
            Some(t) => c.env("TMUX_TMPDIR", t),
            None => c.arg("-S").arg(&self.socket),
        };
        c.args(args).env_remove("TMUX").output().expect("tmux")
    }

    fn text(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.run(args).stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// A command running in a real terminal: the one window of a private tmux server.
struct Terminal {
    tmux: Tmux,
}

impl Terminal {
    fn start(socket: std::path::PathBuf, (cols, rows): (u16, u16), command: &str) -> Terminal {
        let tmux = Tmux {
            socket,
            tmpdir: None,
        };
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let started = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "term",
            "-x",
            &cols,
            "-y",
            &rows,
            command,
        ]);
        assert!(started.status.success(), "{started:?}");
        Terminal { tmux }
    }

    fn screen(&self) -> String {
        self.tmux.text(&["capture-pane", "-p", "-t", "term"])
    }

    /// tmux key names (`Enter`, `C-b`, `Tab`) or, after `-l`, literal text.
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "term"];
        args.extend_from_slice(keys);
        let sent = self.tmux.run(&args);
        assert!(sent.status.success(), "{sent:?}");
    }

    fn type_line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    /// Waits until the screen satisfies `ok`; fails with the last screen.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(25);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn remote_list(cmd: &dyn Fn(&[&str]) -> Command) -> Vec<Value> {
    let (code, out, err) = run(&mut cmd(&["remote", "list", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str::<Vec<Value>>(&out).expect("a JSON array of pods")
}

/// A fake cluster whose pods are local processes: `sh` (session pods: tmux + a stub
/// claude that prints `marker` and echoes what it is typed) and the real `aimux` (worker
/// pods); the pods' tmux server lives under `pod_tmux`. Writes aimux's config.
struct Cluster {
    fake: aimux_infra::fake_k8s::BackgroundFakeK8s,
    pod_tmux: std::path::PathBuf,
    marker: String,
}

fn cluster(test: &str, s: &Path, redis_url: &str) -> Option<Cluster> {
    for tool in ["tmux", "script", "sh"] {
        if on_path(tool).is_none() {
            eprintln!("SKIPPED {test}: {tool} is not installed");
            return None;
        }
    }
    let bin = s.join("image-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let marker = format!("REMOTE-CLAUDE-{}", std::process::id());
    write_exe(
        &bin.join("claude"),
        &format!(
            "#!/bin/sh\necho {marker}\nwhile read -r line; do case \"$line\" in ask-permission) echo \"│ Allow execution of [Shell]?\";; *) echo \"agent got: $line\";; esac; done\nexec sleep 600\n"
        ),
    );
    let pod_tmux = s.join("pod-tmux");
    std::fs::create_dir_all(&pod_tmux).expect("mkdir");
    let base_env = vec![
        ("TMUX_TMPDIR".to_string(), pod_tmux.display().to_string()),
        (
            "PATH".to_string(),
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
        (
            "AIMUX_HOME".to_string(),
            s.join("pod-aimux-home").display().to_string(),
        ),
    ];
    let sh = on_path("sh").expect("sh");
    let fake = FakeK8s::start_background(
        HashMap::from([("sh".to_string(), sh), ("aimux".to_string(), aimux())]),
        base_env,
    )
    .expect("fake api");
    let kubeconfig = s.join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).expect("write");
    let aimux_home = s.join("aimux-home");
    std::fs::create_dir_all(&aimux_home).expect("mkdir");
    std::fs::create_dir_all(s.join("data-home")).expect("mkdir");
    std::fs::write(
        aimux_home.join("config.yaml"),
        format!(
            "kubernetes:\n  kubeconfig: {}\n  namespace: remote-e2e\n  image: aimux-worker:test\n  redis_url: {redis_url}\n",
            kubeconfig.display(),
        ),
    )
    .expect("config");
    Some(Cluster {
        fake,
        pod_tmux,
        marker,
    })
}

#[test]
fn remote_session_attach_detach_heartbeats_and_kill() {
    let test = "remote_session_attach_detach_heartbeats_and_kill";
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let Some(redis) = redis(test, s) else { return };
    let Some(Cluster {
        fake,
        pod_tmux,
        marker,
    }) = cluster(test, s, &redis.url())
    else {
        return;
    };
    let aimux_home = s.join("aimux-home");
    let cmd = |args: &[&str]| {
        let mut c = aimux_cmd(s, &redis.url());
        c.args(args);
        c
    };

    // a session pod, its agent inside tmux
    let (code, out, err) = run(&mut cmd(&[
        "remote",
        "new",
        "--provider",
        "claude",
        "--wait",
        "20",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let pod = out.trim().to_string();
    assert_eq!(pod, "aimux-session-claude-1-0");
    let in_pod = Tmux {
        socket: Default::default(),
        tmpdir: Some(pod_tmux.clone()),
    };
    wait_for(
        "the remote agent never started",
        Duration::from_secs(15),
        || {
            in_pod
                .text(&["capture-pane", "-p", "-t", "agent"])
                .contains(&marker)
                .then_some(())
        },
    );

    let pods = remote_list(&cmd);
    let session = pods
        .iter()
        .find(|p| p["name"] == pod.as_str())
        .unwrap_or_else(|| panic!("{pod} not listed: {pods:?}"));
    assert_eq!(session["role"], "session");
    assert_eq!(session["phase"], "Running");
    // its status comes from its screen: the stub shows no work in progress
    assert_eq!(session["status"], "idle", "{session}");
    assert_eq!(session["provider"], "claude");

    // the dashboard's agents include it, located in k8s
    let (code, out, err) = run(&mut cmd(&["agents", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let agents: Value = serde_json::from_str(&out).expect("json");
    let row = agents["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["location"] == "k8s")
        .unwrap_or_else(|| panic!("no k8s agent: {agents}"));
    assert_eq!(row["remote"]["pod"], pod.as_str());
    assert_eq!(row["remote"]["attachable"], true);
    assert_eq!(row["provider"], "claude");

    // attach from a real local terminal (a tmux pane of our own), with Vertex settings
    let attach = format!(
        "env AIMUX_HOME={} AIMUX_DATA_HOME={} AIMUX_REDIS_URL={} CLAUDE_CODE_USE_VERTEX=1 CLOUD_ML_REGION=europe-west4 ANTHROPIC_API_KEY=sk-never-forwarded {} remote attach {pod}; echo ATTACH-ENDED; sleep 600",
        aimux_home.display(),
        s.join("data-home").display(),
        redis.url(),
        aimux().display()
    );
    let local = Terminal::start(s.join("local.sock"), (120, 30), &attach);
    local.wait("the attach never showed the remote screen", |s| {
        s.contains(&marker)
    });
    // keystrokes reach the remote agent (and only it)
    local.type_line("typed-through-the-bridge");
    wait_for(
        "keystrokes never reached the agent",
        Duration::from_secs(15),
        || {
            in_pod
                .text(&["capture-pane", "-p", "-t", "agent"])
                .contains("agent got: typed-through-the-bridge")
                .then_some(())
        },
    );
    // an approval prompt on the remote screen: the agent waits on the user
    local.type_line("ask-permission");
    let waiting = wait_for(
        "the approval prompt never showed as waiting",
        Duration::from_secs(15),
        || {
            remote_list(&cmd)
                .into_iter()
                .find(|p| p["name"] == pod.as_str() && p["status"] == "waiting")
        },
    );
    assert!(
        waiting["status_reason"]
            .as_str()
            .is_some_and(|r| r.contains("Allow execution")),
        "{waiting}"
    );
    // the local Vertex settings were carried into the session; the API key was not
    let env = in_pod.text(&["show-environment", "-t", "agent"]);
    assert!(env.contains("CLOUD_ML_REGION=europe-west4"), "{env}");
    assert!(env.contains("CLAUDE_CODE_USE_VERTEX=1"), "{env}");
    assert!(!env.contains("sk-never-forwarded"), "{env}");

    // detach with C-b d: the attach ends, the agent keeps running
    local.keys(&["C-b"]);
    local.keys(&["d"]);
    local.wait("the attach did not end on C-b d", |s| {
        s.contains("ATTACH-ENDED")
    });
    assert!(
        local.screen().contains("agent keeps running"),
        "{}",
        local.screen()
    );
    assert!(in_pod.run(&["has-session", "-t", "agent"]).status.success());
    assert!(
        in_pod
            .text(&["list-clients", "-t", "agent"])
            .trim()
            .is_empty(),
        "a client is still attached"
    );

    // workers: real `aimux worker` processes as the pods, registered under their pod names
    let (code, out, err) = run(&mut cmd(&[
        "infra",
        "scale",
        "--provider",
        "claude",
        "2",
        "--wait",
        "20",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let workers = wait_for(
        "workers never reported idle",
        Duration::from_secs(20),
        || {
            let pods = remote_list(&cmd);
            let idle: Vec<&Value> = pods
                .iter()
                .filter(|p| p["role"] == "worker" && p["status"] == "idle")
                .collect();
            (idle.len() == 2).then_some(pods)
        },
    );
    for w in workers.iter().filter(|p| p["role"] == "worker") {
        assert!(
            w["worker_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{w}"
        );
        assert!(w["heartbeat_age_ms"].as_i64().is_some(), "{w}");
    }

    // kill the selected worker pod: exactly that one goes
    let (code, out, err) = run(&mut cmd(&[
        "remote",
        "kill",
        "aimux-worker-claude-0",
        "--yes",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let names: Vec<String> = remote_list(&cmd)
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    assert!(
        names.contains(&"aimux-worker-claude-1".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"aimux-worker-claude-0".to_string()),
        "{names:?}"
    );
    let dep = fake
        .get("deployments", "remote-e2e", "aimux-worker-claude")
        .expect("deployment");
    assert_eq!(dep["spec"]["replicas"], 1);

    // kill the session: its deployment and pod are gone
    let (code, out, err) = run(&mut cmd(&["remote", "kill", &pod, "--yes"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        fake.get("deployments", "remote-e2e", "aimux-session-claude-1")
            .is_none()
    );
    let names: Vec<String> = remote_list(&cmd)
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    assert!(!names.contains(&pod), "{names:?}");
}

#[test]
fn remote_without_a_cluster_says_how_to_configure_one() {
    let scratch = tempfile::tempdir().expect("tempdir");
    for args in [
        &["remote", "list"][..],
        &["remote", "new", "--provider", "claude"],
        &["remote", "attach", "p"],
    ] {
        let (code, _, err) = run(aimux_cmd(scratch.path(), "redis://127.0.0.1:1").args(args));
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains("no Kubernetes cluster configured") && err.contains("kubernetes:"),
            "{err}"
        );
    }
    let (code, _, err) = run(aimux_cmd(scratch.path(), "redis://127.0.0.1:1").args([
        "remote",
        "new",
        "--provider",
        "nope",
    ]));
    assert_eq!(code, 1);
    assert!(err.contains("unknown provider"), "{err}");
}

#[test]
fn the_worker_image_pins_the_cli_versions_the_tests_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dockerfile =
        std::fs::read_to_string(root.join("deploy/worker/Dockerfile")).expect("Dockerfile");
    let install = std::fs::read_to_string(root.join("scripts/install-agents")).expect("script");
    for (package, arg) in [
        ("@anthropic-ai/claude-code", "CLAUDE_CODE_VERSION"),
        ("@openai/codex", "CODEX_VERSION"),
        ("@google/gemini-cli", "GEMINI_CLI_VERSION"),
    ] {
        let tested = install
            .split(&format!("\"{package}@"))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{package} not pinned in scripts/install-agents"));
        assert!(
            dockerfile.contains(&format!("ARG {arg}={tested}\n")),
            "deploy/worker/Dockerfile must pin {package} at {tested} (ARG {arg})"
        );
    }
    assert!(dockerfile.contains("tmux"), "remote sessions need tmux");
}

#[test]
fn starting_pods_without_an_image_says_how_to_build_one() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let fake = FakeK8s::start_background(HashMap::new(), Vec::new()).expect("fake api");
    let kubeconfig = s.join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).expect("write");
    std::fs::create_dir_all(s.join("aimux-home")).expect("mkdir");
    std::fs::write(
        s.join("aimux-home/config.yaml"),
        format!("kubernetes:\n  kubeconfig: {}\n", kubeconfig.display()),
    )
    .expect("config");
    for args in [
        &["remote", "new", "--provider", "claude", "--wait", "1"][..],
        &["infra", "scale", "--provider", "claude", "1", "--wait", "1"],
    ] {
        let (code, _, err) = run(aimux_cmd(s, "redis://127.0.0.1:1").args(args));
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains("deploy/worker/Dockerfile") && err.contains("kubernetes.image"),
            "{err}"
        );
    }
    assert_eq!(fake.count("deployments"), 0, "nothing was created");
}

/// The dashboard, driven in a real tmux pane: `:new` → Tab (remote) → Enter starts a pod
/// and attaches the split view to it; keys reach the remote agent; ctrl-\ detaches and the
/// agent keeps running; the agents view lists the pod (LOC k8s); `x` + `y` stops it.
#[test]
fn dashboard_starts_attaches_lists_and_stops_a_remote_agent() {
    let test = "dashboard_starts_attaches_lists_and_stops_a_remote_agent";
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let Some(redis) = redis(test, s) else { return };
    let Some(Cluster {
        fake,
        pod_tmux,
        marker,
    }) = cluster(test, s, &redis.url())
    else {
        return;
    };
    let in_pod = Tmux {
        socket: Default::default(),
        tmpdir: Some(pod_tmux),
    };
    let dashboard = format!(
        "env -u NO_COLOR AIMUX_HOME={} AIMUX_DATA_HOME={} AIMUX_REDIS_URL={} {}; echo DASHBOARD-ENDED; sleep 600",
        s.join("aimux-home").display(),
        s.join("data-home").display(),
        redis.url(),
        aimux().display()
    );
    let local = Terminal::start(s.join("local.sock"), (140, 36), &dashboard);
    local.wait("the dashboard", |s| {
        s.starts_with(" aimux ") && s.contains("q quit")
    });

    // :new → Tab (remote) → Enter: a pod starts and the split view attaches to it
    local.keys(&[":"]);
    local.keys(&["-l", "new"]);
    local.keys(&["Enter"]);
    local.wait("the launcher", |s| {
        s.contains("New agent") && s.contains("remote")
    });
    local.keys(&["Tab"]);
    local.wait("remote chosen", |s| {
        s.contains("[ remote: Kubernetes pod ]")
    });
    local.keys(&["Enter"]);
    local.wait("the remote agent's screen in the split view", |s| {
        s.contains(&marker) && s.contains("(k8s)")
    });
    local.keys(&["-l", "typed-in-the-dashboard"]);
    local.keys(&["Enter"]);
    wait_for(
        "keys never reached the remote agent",
        Duration::from_secs(15),
        || {
            in_pod
                .text(&["capture-pane", "-p", "-t", "agent"])
                .contains("agent got: typed-in-the-dashboard")
                .then_some(())
        },
    );
    // ctrl-\ detaches; the agent keeps running in its pod
    local.keys(&["C-\\"]);
    local.wait("the detach message", |s| {
        s.contains("detached from pod") && !s.contains("· live ·")
    });
    assert!(in_pod.run(&["has-session", "-t", "agent"]).status.success());
    wait_for(
        "the remote tmux client never left",
        Duration::from_secs(10),
        || {
            in_pod
                .text(&["list-clients", "-t", "agent"])
                .trim()
                .is_empty()
                .then_some(())
        },
    );

    // the agents view lists the pod as an agent located in k8s
    local.keys(&[":"]);
    local.keys(&["-l", "agents"]);
    local.keys(&["Enter"]);
    local.keys(&["/"]);
    local.keys(&["-l", "aimux-session"]);
    local.keys(&["Enter"]);
    local.wait("the pod in the agents view", |s| {
        s.contains("Agents (1/") && s.contains("aimux-session-claude-1-0") && s.contains(" k8s ")
    });
    // x → the confirmation names the pod → y stops it
    local.keys(&["x"]);
    local.wait("the stop confirmation", |s| {
        s.contains("Stop remote agent?") && s.contains("aimux-session-claude-1-0")
    });
    local.keys(&["y"]);
    wait_for(
        "the session was never deleted",
        Duration::from_secs(15),
        || {
            fake.get("deployments", "remote-e2e", "aimux-session-claude-1")
                .is_none()
                .then_some(())
        },
    );
    local.keys(&["q"]);
    local.wait("the dashboard to quit", |s| s.contains("DASHBOARD-ENDED"));
}
