//! tmux, driven with argument vectors (never a shell string), on any server socket.
//!
//! aimux runs every agent it starts in a detached tmux session and reaches agents that the
//! user started in tmux through the pane that hosts them: `send-keys -l` to type a prompt,
//! `capture-pane` to read the screen, a tmux client in a PTY to attach.
//!
//! Which server: an agent's own `TMUX` variable names the socket it runs under
//! ([`crate::live::tmux_target`]); for sessions aimux creates, the user's default server,
//! or the one named by `AIMUX_TMUX_SOCKET` (a path: `-S`; a bare name: `-L`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The environment variable choosing the tmux server aimux starts its sessions on.
pub const SOCKET_ENV: &str = "AIMUX_TMUX_SOCKET";
/// Every tmux session aimux creates is named with this prefix.
pub const SESSION_PREFIX: &str = "aimux-";

#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    #[error("tmux is not installed (or not on PATH): {0}")]
    Missing(std::io::Error),
    #[error("tmux {args}: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("unexpected tmux output: {0}")]
    Output(String),
}

/// Which tmux server to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    /// tmux's own choice: `$TMUX` when inside tmux, else the default socket.
    Default,
    /// `-S PATH`.
    Path(PathBuf),
    /// `-L NAME` (under `$TMUX_TMPDIR`).
    Name(String),
}

impl Socket {
    /// A value as given in `AIMUX_TMUX_SOCKET`: a path when it contains `/`, else a name.
    pub fn parse(value: &str) -> Socket {
        let v = value.trim();
        if v.is_empty() {
            Socket::Default
        } else if v.contains('/') {
            Socket::Path(PathBuf::from(v))
        } else {
            Socket::Name(v.to_string())
        }
    }

    /// The server aimux starts its sessions on: `AIMUX_TMUX_SOCKET`, else the default.
    pub fn from_env() -> Socket {
        std::env::var(SOCKET_ENV)
            .map(|v| Socket::parse(&v))
            .unwrap_or(Socket::Default)
    }

    /// `-S path` / `-L name` (nothing for the default).
    pub fn args(&self) -> Vec<String> {
        match self {
            Socket::Default => Vec::new(),
            Socket::Path(p) => vec!["-S".into(), p.display().to_string()],
            Socket::Name(n) => vec!["-L".into(), n.clone()],
        }
    }
}

/// A tmux pane with the pid of the process it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    /// `%3`
    pub id: String,
    pub pid: u32,
    pub session: String,
    pub window: String,
    pub active: bool,
}

/// A tmux server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmux {
    pub socket: Socket,
}

impl Tmux {
    pub fn new(socket: Socket) -> Tmux {
        Tmux { socket }
    }

    /// The server aimux starts sessions on (see [`Socket::from_env`]).
    pub fn from_env() -> Tmux {
        Tmux::new(Socket::from_env())
    }

    /// The server named by an agent's `tmux_target` (`socket-path:%pane`), with the pane.
    pub fn for_target(target: &str) -> Option<(Tmux, String)> {
        let (socket, pane) = target.rsplit_once(':')?;
        if socket.is_empty() || !pane.starts_with('%') {
            return None;
        }
        Some((
            Tmux::new(Socket::Path(PathBuf::from(socket))),
            pane.to_string(),
        ))
    }

    /// A `tmux` command on this server, arguments to be added.
    pub fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(self.socket.args());
        c
    }

    /// The argv of a `tmux` invocation on this server (for running it in a PTY).
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec!["tmux".to_string()];
        v.extend(self.socket.args());
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// Runs tmux with `args`; stdout on success.
    pub fn run<S: AsRef<str>>(&self, args: &[S]) -> Result<String, TmuxError> {
        let out = self
            .command()
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null())
            .output()
            .map_err(TmuxError::Missing)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(TmuxError::Failed {
                args: args
                    .first()
                    .map(|a| a.as_ref().to_string())
                    .unwrap_or_default(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    /// Whether a server answers on this socket.
    pub fn is_running(&self) -> bool {
        self.run(&["list-sessions", "-F", "#{session_name}"])
            .is_ok()
    }

    /// Names of the sessions (none when no server runs).
    pub fn sessions(&self) -> Vec<String> {
        self.run(&["list-sessions", "-F", "#{session_name}"])
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn has_session(&self, name: &str) -> bool {
        self.sessions().iter().any(|s| s == name)
    }

    /// Every pane of every session (none when no server runs).
    pub fn panes(&self) -> Vec<Pane> {
        let Ok(out) = self.run(&[
            "list-panes",
            "-a",
            "-F",
            "#{pane_id}\t#{pane_pid}\t#{session_name}\t#{window_index}\t#{pane_active}",
        ]) else {
            return Vec::new();
        };
        out.lines().filter_map(parse_pane_line).collect()
    }

    /// Starts a detached session running `argv` (executed directly, no shell) in `cwd`,
    /// with `env` added to its environment. Returns its pane.
    pub fn new_session(
        &self,
        name: &str,
        cwd: &Path,
        argv: &[String],
        env: &[(String, String)],
        size: (u16, u16),
    ) -> Result<Pane, TmuxError> {
        if argv.is_empty() {
            return Err(TmuxError::Output("nothing to run".into()));
        }
        let mut args: Vec<String> = vec![
            "new-session".into(),
            "-d".into(),
            "-P".into(),
            "-F".into(),
            "#{pane_id}\t#{pane_pid}\t#{session_name}\t#{window_index}\t#{pane_active}".into(),
            "-s".into(),
            name.into(),
            "-x".into(),
            size.0.to_string(),
            "-y".into(),
            size.1.to_string(),
            "-c".into(),
            cwd.display().to_string(),
        ];
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.push("--".into());
        // tmux hands a single argument to `sh -c`; two or more are exec'd as they are.
        // `env` in front keeps even a lone program name out of the shell.
        if argv.len() == 1 {
            args.push("env".into());
        }
        args.extend(argv.iter().cloned());
        let out = self.run(&args)?;
        out.lines()
            .find_map(parse_pane_line)
            .ok_or_else(|| TmuxError::Output(out.clone()))
    }

    /// Types `text` into `pane` literally (no key names interpreted), then presses Enter.
    pub fn send_text(&self, pane: &str, text: &str) -> Result<(), TmuxError> {
        if !text.is_empty() {
            self.run(&["send-keys", "-t", pane, "-l", "--", text])?;
            // A paste followed at once by Enter can be taken as a newline in the input.
            std::thread::sleep(Duration::from_millis(400));
        }
        self.run(&["send-keys", "-t", pane, "Enter"])?;
        Ok(())
    }

    /// The visible screen of `pane`, as text.
    pub fn capture(&self, pane: &str) -> Result<String, TmuxError> {
        self.run(&["capture-pane", "-p", "-t", pane])
    }

    pub fn kill_session(&self, name: &str) -> Result<(), TmuxError> {
        self.run(&["kill-session", "-t", &exact(name)]).map(|_| ())
    }
}

/// `=name`: a target that matches the session name exactly (no prefix matching).
pub fn exact(session: &str) -> String {
    format!("={session}")
}

fn parse_pane_line(line: &str) -> Option<Pane> {
    let mut f = line.split('\t');
    let id = f.next()?.to_string();
    let pid = f.next()?.parse().ok()?;
    let session = f.next()?.to_string();
    let window = f.next()?.to_string();
    let active = f.next().is_some_and(|a| a == "1");
    id.starts_with('%').then_some(Pane {
        id,
        pid,
        session,
        window,
        active,
    })
}

/// Parent pid of every process (one read of `/proc`).
pub fn parent_map() -> HashMap<u32, u32> {
    let mut map = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return map;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            && let Some((_, rest)) = stat.rsplit_once(')')
            && let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok())
        {
            map.insert(pid, ppid);
        }
    }
    map
}

/// `pid` itself and its ancestors, nearest first.
pub fn ancestors(pid: u32, parents: &HashMap<u32, u32>) -> Vec<u32> {
    let mut out = vec![pid];
    let mut cur = pid;
    while let Some(&p) = parents.get(&cur) {
        if p == 0 || out.contains(&p) || out.len() > 256 {
            break;
        }
        out.push(p);
        cur = p;
    }
    out
}

/// The pane whose process is `pid` or one of its ancestors.
pub fn pane_of_pid(panes: &[Pane], pid: u32, parents: &HashMap<u32, u32>) -> Option<Pane> {
    let chain = ancestors(pid, parents);
    chain
        .iter()
        .find_map(|a| panes.iter().find(|p| p.pid == *a))
        .cloned()
}

/// Where an agent runs in tmux: the server and the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPane {
    pub tmux: Tmux,
    pub pane: Pane,
}

impl AgentPane {
    /// `socket:%pane` for display.
    pub fn target(&self) -> String {
        match &self.tmux.socket {
            Socket::Path(p) => format!("{}:{}", p.display(), self.pane.id),
            Socket::Name(n) => format!("-L {n}:{}", self.pane.id),
            Socket::Default => self.pane.id.clone(),
        }
    }

    /// Whether aimux created the session (it then ends it with the agent).
    pub fn spawned_by_aimux(&self) -> bool {
        self.pane.session.starts_with(SESSION_PREFIX)
    }
}

/// Finds the pane hosting agent `pid`: on the server its `tmux_target` names (from the
/// agent's own environment) when given, else on aimux's server. The pane's process must be
/// the agent or one of its ancestors, so a stale pane id never matches another program.
pub fn find_agent_pane(pid: u32, tmux_target: Option<&str>) -> Option<AgentPane> {
    let parents = parent_map();
    let mut servers = Vec::new();
    if let Some((t, _)) = tmux_target.and_then(Tmux::for_target) {
        servers.push(t);
    }
    let own = Tmux::from_env();
    if !servers.contains(&own) {
        servers.push(own);
    }
    for tmux in servers {
        let panes = tmux.panes();
        if let Some(pane) = pane_of_pid(&panes, pid, &parents) {
            return Some(AgentPane { tmux, pane });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_values() {
        assert_eq!(Socket::parse(""), Socket::Default);
        assert_eq!(
            Socket::parse("aimux-test"),
            Socket::Name("aimux-test".into())
        );
        assert_eq!(
            Socket::parse("/tmp/x/tmux.sock"),
            Socket::Path("/tmp/x/tmux.sock".into())
        );
        assert_eq!(
            Socket::Name("n".into()).args(),
            vec!["-L".to_string(), "n".into()]
        );
    }

    #[test]
    fn targets_from_agent_env() {
        let (t, pane) = Tmux::for_target("/tmp/tmux-0/default:%12").expect("target");
        assert_eq!(t.socket, Socket::Path("/tmp/tmux-0/default".into()));
        assert_eq!(pane, "%12");
        assert!(Tmux::for_target("garbage").is_none());
        assert!(Tmux::for_target(":%1").is_none());
        assert!(Tmux::for_target("/s:notapane").is_none());
    }

    #[test]
    fn pane_lines() {
        let p = parse_pane_line("%3\t4242\taimux-claude-proj-1\t0\t1").expect("pane");
        assert_eq!(p.pid, 4242);
        assert_eq!(p.session, "aimux-claude-proj-1");
        assert!(p.active);
        assert!(parse_pane_line("%3\tnotapid\ts\t0\t1").is_none());
        assert!(parse_pane_line("").is_none());
    }

    #[test]
    fn ancestor_walk_finds_the_hosting_pane() {
        let parents: HashMap<u32, u32> = [(30, 20), (20, 10), (10, 1), (1, 0), (99, 1)]
            .into_iter()
            .collect();
        let pane = |id: &str, pid| Pane {
            id: id.into(),
            pid,
            session: "s".into(),
            window: "0".into(),
            active: true,
        };
        let panes = vec![pane("%1", 99), pane("%2", 10)];
        assert_eq!(
            pane_of_pid(&panes, 30, &parents).map(|p| p.id),
            Some("%2".into())
        );
        assert_eq!(pane_of_pid(&panes, 1, &parents), None);
        // a cycle in a racy table does not loop
        let cyclic: HashMap<u32, u32> = [(5, 6), (6, 5)].into_iter().collect();
        assert_eq!(ancestors(5, &cyclic), vec![5, 6]);
    }
}
