#!/usr/bin/env python3
"""A scratch environment for the REAL agent CLIs: importable module and small CLI.

Standard library only. Shared by scripts/gen-fixtures (which imports the setup from here)
and by the end-to-end test crates/aimux/tests/e2e_agents.rs (which drives the CLI).

    agents_env.py start --state DIR [--providers claude,codex,gemini] [--bin-dir D]
                        [--owner-pid PID] [--ttl SECONDS] [--ready-timeout SECONDS]
        Starts testkit/model_server.py on a free 127.0.0.1 port, seeds a scratch HOME and a
        git project under DIR, starts a private tmux server (tmux -S DIR/tmux.sock) with one
        interactive session per CLI in the project directory, waits until every TUI shows
        its idle prompt, and prints one JSON object:
          {state, home, project, tmux_socket, port, record, bin_dir,
           panes: {claude: "%0", ...}, pane_pids: {claude: 1234, ...}}
        With --owner-pid, a watchdog process runs `stop DIR` as soon as that process is
        gone (a test that crashed or was killed leaves nothing behind); --ttl bounds the
        whole environment's lifetime.
    agents_env.py send DIR AGENT TEXT     types TEXT into AGENT's pane, then Enter
    agents_env.py keys DIR AGENT KEY...   tmux send-keys (key names, e.g. Enter, C-c)
    agents_env.py capture DIR AGENT       prints AGENT's screen (tmux capture-pane -p)
    agents_env.py stop DIR                kills every process of the environment by PID

Process bookkeeping: every process started for DIR carries AIMUX_AGENTS_ENV=<DIR> in its
environment (the model server, the tmux server, the CLIs and everything they start, the
watchdog), and DIR/env.json records the pids with their start times. `stop` kills the pane
process trees first (Gemini ignores SIGHUP, so killing the tmux server alone would leave it
running), then the tmux server, then whatever else still carries the marker (re-parented
orphans included), then the model server. It is idempotent: a second call finds nothing.

The CLIs are taken from ${AIMUX_AGENTS_PREFIX:-$HOME/.cache/aimux-agents}/node_modules/.bin
(scripts/install-agents installs them there); `start` does not install anything.
"""
import argparse
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(REPO, "testkit", "model_server.py")
INSTALL = os.path.join(REPO, "scripts", "install-agents")
CLAUDE_KEY = "sk-ant-scripted-key-0123456789abcdefghij"
PROJECT_NAME = "aimux-fixture-proj"
E2E_PROJECT_NAME = "aimux-e2e-proj"
PROVIDERS = ("claude", "codex", "gemini")
# what each TUI shows once it waits for a prompt
READY = {"claude": r"for shortcuts", "codex": r"Ask Codex|\u203a ", "gemini": r"Type your message"}
MARKER = "AIMUX_AGENTS_ENV"

STARTED = []  # Popen objects of everything this process started
LOG_NAME = "agents_env"  # log prefix; scripts/gen-fixtures sets its own


def log(msg):
    print("[%s] %s" % (LOG_NAME, msg), file=sys.stderr, flush=True)


def default_bin_dir():
    prefix = os.environ.get("AIMUX_AGENTS_PREFIX") or os.path.join(
        os.path.expanduser("~"), ".cache", "aimux-agents")
    return os.path.join(prefix, "node_modules", ".bin")


def install_agents():
    """Runs scripts/install-agents (installs the pinned CLIs if missing); returns the bin dir."""
    return subprocess.run([INSTALL], check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip().splitlines()[-1]


# ----------------------------------------------------------------- processes
def become_subreaper():
    """PR_SET_CHILD_SUBREAPER: orphaned descendants are re-parented to us, not to PID 1."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(36, 1, 0, 0, 0) != 0:
            log("warning: prctl(PR_SET_CHILD_SUBREAPER) failed")
    except (OSError, AttributeError):
        log("warning: cannot become a child subreaper")


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1]), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_ticks(pid):
    f = _stat_fields(pid)
    try:
        return int(f[19]) if f else None
    except (IndexError, ValueError):
        return None


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.append(int(d))
    return out


def descendants(pid):
    out = []
    for c in children_of(pid):
        out.extend(descendants(c))
        out.append(c)
    return out


def kill_pids(pids, what):
    pids = [p for p in pids if p != os.getpid() and os.path.exists("/proc/%d" % p)
            and not is_zombie(p)]
    if not pids:
        return
    log("stopping %s: pid %s" % (what, " ".join(map(str, pids))))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for p in pids:
            try:
                os.kill(p, sig)
                alive.append(p)
            except ProcessLookupError:
                pass
        if not alive:
            break
        deadline = time.time() + 2
        while time.time() < deadline:
            reap()
            alive = [p for p in alive if os.path.exists("/proc/%d" % p) and not is_zombie(p)]
            if not alive:
                break
            time.sleep(0.05)
        pids = alive


def is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_leftovers(exclude=()):
    """Kill every remaining descendant of this process (by PID), except `exclude` trees."""
    keep = set(exclude)
    for p in exclude:
        keep.update(descendants(p))
    left = [p for p in descendants(os.getpid()) if p not in keep and not is_zombie(p)]
    if left:
        kill_pids(left, "leftover processes")


def marked_pids(value):
    """Live processes whose environment holds MARKER=value."""
    want = ("%s=%s" % (MARKER, value)).encode()
    out = []
    for pid in all_pids():
        if pid == os.getpid():
            continue
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want in env and not is_zombie(pid):
            out.append(pid)
    return out


# ----------------------------------------------------------------- setup
def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def seed_home(home, proj, port):
    write(os.path.join(home, ".claude.json"), json.dumps({
        "hasCompletedOnboarding": True, "lastOnboardingVersion": "2.1.197", "theme": "dark",
        "customApiKeyResponses": {"approved": [CLAUDE_KEY[-20:]], "rejected": []},
        "autoUpdates": False,
        "projects": {proj: {"hasTrustDialogAccepted": True,
                            "hasCompletedProjectOnboarding": True, "allowedTools": []}},
    }, indent=2) + "\n")
    write(os.path.join(home, ".claude", "settings.json"), json.dumps({
        "permissions": {"allow": ["Bash(ls:*)", "Bash(echo:*)", "Bash(sleep:*)"]}}) + "\n")
    write(os.path.join(home, ".codex", "config.toml"), """\
model = "gpt-5-codex-scripted"
model_provider = "scripted"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[features]
daemon_auto_start = false

[model_providers.scripted]
name = "aimux scripted model"
base_url = "http://127.0.0.1:%d/v1"
env_key = "SCRIPTED_OPENAI_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
supports_websockets = false

[projects."%s"]
trust_level = "trusted"
""" % (port, proj))
    write(os.path.join(home, ".gemini", "settings.json"), json.dumps({
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }, indent=2) + "\n")
    write(os.path.join(home, ".gemini", "trustedFolders.json"),
          json.dumps({proj: "TRUST_FOLDER"}) + "\n")


def make_project(proj):
    os.makedirs(proj)
    write(os.path.join(proj, "README.md"), "# fixture project\nUsed by scripts/gen-fixtures.\n")
    write(os.path.join(proj, "main.py"), 'print("hello")\n')
    git = ["git", "-c", "user.email=fixtures@example.invalid", "-c", "user.name=fixtures",
           "-c", "init.defaultBranch=main"]
    for args in (["init", "-q", "."], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(git + args, cwd=proj, check=True, stdout=subprocess.DEVNULL)


def cli_env(home, bin_dir, port):
    env = {
        "HOME": home,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TERM": "xterm-256color",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
        # Claude Code
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:%d" % port,
        "ANTHROPIC_API_KEY": CLAUDE_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        # Codex
        "SCRIPTED_OPENAI_API_KEY": "sk-scripted-codex-key",
        # Gemini CLI
        "GEMINI_API_KEY": "scripted-gemini-key",
        "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:%d" % port,
    }
    return env


class Tmux:
    """A private tmux server (own socket, no config) for the interactive sessions."""

    def __init__(self, scratch, env):
        self.sock = os.path.join(scratch, "tmux.sock")
        self.env = env

    def __call__(self, *args):
        r = subprocess.run(["tmux", "-f", "/dev/null", "-S", self.sock] + list(args),
                           env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        return r.stdout if r.returncode == 0 else None

    def screen(self, name):
        return self("capture-pane", "-p", "-t", name) or ""

    def wait_screen(self, name, pattern, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.screen(name)):
                return True
            time.sleep(0.3)
        return False

    def server_pid(self):
        out = self("display-message", "-p", "#{pid}")
        return int(out.strip()) if out and out.strip().isdigit() else None


class Server:
    """testkit/model_server.py on a free port, recording into SCRATCH/server-record.jsonl."""

    def __init__(self, scratch, env=None):
        self.port_file = os.path.join(scratch, "port")
        self.record = os.path.join(scratch, "server-record.jsonl")
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--port-file", self.port_file,
             "--record", self.record, "--log", os.path.join(scratch, "server-log.jsonl")],
            stdout=open(os.path.join(scratch, "server.out"), "wb"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        STARTED.append(self.proc)
        deadline = time.time() + 15
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit("model server did not start (see %s/server.out)" % scratch)
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())

    def label(self, label):
        req = urllib.request.Request("http://127.0.0.1:%d/_control/label" % self.port,
                                     data=json.dumps({"label": label}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            if json.load(r).get("label") != label:
                raise SystemExit("label was not set")

    def stop(self):
        kill_pids(descendants(self.proc.pid) + [self.proc.pid], "model server")
        self.proc.wait()


def jsonl(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue


# ----------------------------------------------------------------- the environment (CLI)
def _env_file(state):
    return os.path.join(state, "env.json")


def load_env(state):
    try:
        with open(_env_file(state)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _save_env(state, info):
    tmp = _env_file(state) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    os.replace(tmp, _env_file(state))


def _record_pid(info, name, pid):
    """Remembers a pid with its start time, so that `stop` never kills a reused pid."""
    if pid:
        info["pids"][name] = [pid, start_ticks(pid)]


def _same_process(entry):
    try:
        pid, ticks = entry
    except (TypeError, ValueError):
        return None
    if not isinstance(pid, int) or pid <= 1 or is_zombie(pid) or start_ticks(pid) != ticks:
        return None
    return pid


def start(args):
    state = os.path.realpath(args.state)
    providers = [p for p in args.providers.split(",") if p]
    for p in providers:
        if p not in PROVIDERS:
            raise SystemExit("unknown provider %s" % p)
    bin_dir = os.path.abspath(args.bin_dir or default_bin_dir())
    missing = [p for p in providers if not os.access(os.path.join(bin_dir, p), os.X_OK)]
    if missing:
        raise SystemExit("missing CLIs in %s: %s (run scripts/install-agents)" % (
            bin_dir, ", ".join(missing)))
    os.makedirs(state, exist_ok=True)
    if load_env(state):
        raise SystemExit("%s already holds an environment; stop it first" % state)
    home, proj = os.path.join(state, "home"), os.path.join(state, E2E_PROJECT_NAME)
    os.makedirs(home)
    make_project(proj)
    info = {"state": state, "home": home, "project": proj,
            "tmux_socket": os.path.join(state, "tmux.sock"), "port": None,
            "record": os.path.join(state, "server-record.jsonl"), "bin_dir": bin_dir,
            "providers": providers, "panes": {}, "pane_pids": {}, "pids": {},
            "stopped": False}
    _save_env(state, info)  # from here on `stop` can clean up
    ok = False
    try:
        if args.owner_pid or args.ttl:
            info["pids"]["watchdog"] = [spawn_watchdog(state, args.owner_pid, args.ttl), None]
            info["pids"]["watchdog"][1] = start_ticks(info["pids"]["watchdog"][0])
            _save_env(state, info)
        server = Server(state, env=dict(os.environ, **{MARKER: state}))
        info["port"] = server.port
        _record_pid(info, "server", server.proc.pid)
        _save_env(state, info)
        seed_home(home, proj, server.port)
        env = cli_env(home, bin_dir, server.port)
        env[MARKER] = state
        tmux = Tmux(state, env)
        for p in providers:
            if tmux("new-session", "-d", "-s", p, "-x", "200", "-y", "50", "-c", proj,
                    "exec %s" % p) is None:
                raise SystemExit("tmux new-session failed for %s" % p)
            if "tmux" not in info["pids"]:
                _record_pid(info, "tmux", tmux.server_pid())
            out = tmux("display-message", "-p", "-t", p, "#{pane_id} #{pane_pid}") or ""
            parts = out.split()
            if len(parts) != 2 or not parts[1].isdigit():
                raise SystemExit("cannot read the pane of %s: %r" % (p, out))
            info["panes"][p] = parts[0]
            info["pane_pids"][p] = int(parts[1])
            _record_pid(info, "pane:" + p, int(parts[1]))
            _save_env(state, info)
        deadline = time.time() + args.ready_timeout
        waiting = list(providers)
        while waiting and time.time() < deadline:
            waiting = [p for p in waiting if not re.search(READY[p], tmux.screen(p))]
            if waiting:
                time.sleep(0.3)
        if waiting:
            for p in waiting:
                log("%s TUI did not become ready:\n%s" % (p, tmux.screen(p)))
            raise SystemExit("TUI not ready: %s" % ", ".join(waiting))
        time.sleep(1.0)  # the prompt is drawn a moment before input is taken
        ok = True
    finally:
        if not ok:
            stop_env(state)
    out = {k: info[k] for k in ("state", "home", "project", "tmux_socket", "port", "record",
                                "bin_dir", "panes", "pane_pids")}
    print(json.dumps(out))
    return 0


def spawn_watchdog(state, owner_pid, ttl):
    env = dict(os.environ, **{MARKER: state})
    argv = [sys.executable, os.path.abspath(__file__), "_watchdog", state,
            str(owner_pid or 0), str(start_ticks(owner_pid) if owner_pid else 0), str(ttl or 0)]
    with open(os.path.join(state, "watchdog.log"), "ab") as logf:
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, start_new_session=True)
    return p.pid


def watchdog(state, owner_pid, owner_ticks, ttl):
    """Stops the environment when its owner is gone or its time is up."""
    t0 = time.time()
    while True:
        info = load_env(state)
        if info is None or info.get("stopped"):
            return 0
        if owner_pid and (is_zombie(owner_pid) or start_ticks(owner_pid) != owner_ticks):
            log("owner %d is gone: stopping %s" % (owner_pid, state))
            break
        if ttl and time.time() - t0 > ttl:
            log("ttl of %ds reached: stopping %s" % (ttl, state))
            break
        time.sleep(0.5)
    stop_env(state)
    return 0


def stop_env(state):
    """Kills every process of the environment in STATE; safe to call any number of times."""
    state = os.path.realpath(state)
    info = load_env(state) or {}
    pids = info.get("pids") or {}
    # 1. the agents in their panes, with everything below them (before the tmux server
    #    goes: Gemini ignores SIGHUP and would outlive it)
    for name in sorted(k for k in pids if k.startswith("pane:")):
        pid = _same_process(pids[name])
        if pid:
            kill_pids(descendants(pid) + [pid], name)
    # 2. the tmux server
    sock = os.path.join(state, "tmux.sock")
    tpid = _same_process(pids.get("tmux"))
    if tpid:
        subprocess.run(["tmux", "-S", sock, "kill-server"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kill_pids(descendants(tpid) + [tpid], "tmux server")
    # 3. anything else that carries the marker: orphans re-parented to PID 1, tool
    #    processes, a Codex daemon, the model server, the watchdog (never ourselves)
    left = marked_pids(state)
    if left:
        kill_pids(left, "remaining processes of %s" % state)
    spid = _same_process(pids.get("server"))
    if spid:
        kill_pids([spid], "model server")
    wpid = _same_process(pids.get("watchdog"))
    if wpid and wpid != os.getpid():
        kill_pids([wpid], "watchdog")
    if info and not info.get("stopped"):
        info["stopped"] = True
        _save_env(state, info)
    return 0


def _tmux_for(state):
    info = load_env(os.path.realpath(state))
    if not info or info.get("stopped"):
        raise SystemExit("no running environment in %s" % state)
    return info, Tmux(info["state"], dict(os.environ))


def _pane(info, agent):
    pane = info["panes"].get(agent)
    if not pane:
        raise SystemExit("no pane for %s (have: %s)" % (agent, ", ".join(info["panes"])))
    return pane


def send(state, agent, text):
    info, tmux = _tmux_for(state)
    pane = _pane(info, agent)
    if tmux("send-keys", "-t", pane, "-l", text) is None:
        raise SystemExit("send-keys to %s failed" % agent)
    time.sleep(0.5)  # a paste followed at once by Enter can be taken as a newline
    if tmux("send-keys", "-t", pane, "Enter") is None:
        raise SystemExit("send-keys Enter to %s failed" % agent)
    return 0


def keys(state, agent, names):
    info, tmux = _tmux_for(state)
    if tmux("send-keys", "-t", _pane(info, agent), *names) is None:
        raise SystemExit("send-keys to %s failed" % agent)
    return 0


def capture(state, agent):
    info, tmux = _tmux_for(state)
    out = tmux("capture-pane", "-p", "-t", _pane(info, agent))
    if out is None:
        raise SystemExit("capture-pane of %s failed" % agent)
    sys.stdout.write(out)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start server, tmux and the TUIs; print JSON")
    s.add_argument("--state", required=True, help="directory for everything (created)")
    s.add_argument("--providers", default=",".join(PROVIDERS))
    s.add_argument("--bin-dir", help="directory holding claude, codex, gemini")
    s.add_argument("--owner-pid", type=int, default=0,
                   help="stop the environment when this process is gone")
    s.add_argument("--ttl", type=int, default=0, help="stop it after this many seconds")
    s.add_argument("--ready-timeout", type=float, default=90.0)
    for name in ("stop",):
        sub.add_parser(name).add_argument("state")
    p = sub.add_parser("send")
    p.add_argument("state")
    p.add_argument("agent")
    p.add_argument("text")
    p = sub.add_parser("keys")
    p.add_argument("state")
    p.add_argument("agent")
    p.add_argument("names", nargs="+")
    p = sub.add_parser("capture")
    p.add_argument("state")
    p.add_argument("agent")
    p = sub.add_parser("_watchdog")
    for a in ("state", "owner_pid", "owner_ticks", "ttl"):
        p.add_argument(a)
    args = ap.parse_args(argv)
    if args.cmd == "start":
        return start(args)
    if args.cmd == "stop":
        return stop_env(args.state)
    if args.cmd == "send":
        return send(args.state, args.agent, args.text)
    if args.cmd == "keys":
        return keys(args.state, args.agent, args.names)
    if args.cmd == "capture":
        return capture(args.state, args.agent)
    return watchdog(os.path.realpath(args.state), int(args.owner_pid),
                    int(args.owner_ticks), int(args.ttl))


if __name__ == "__main__":
    sys.exit(main())
