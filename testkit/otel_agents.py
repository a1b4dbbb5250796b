#!/usr/bin/env python3
"""Runs one REAL agent CLI one-shot against testkit/model_server.py with its OpenTelemetry
export pointed at an OTLP/HTTP endpoint (aimux serve), then stops everything it started.

    otel_agents.py --state DIR --agent claude|codex --endpoint http://127.0.0.1:P
                   --protocol json|protobuf [--prompt TEXT] [--bin-dir D]

Prints one JSON object: {home, project, rc, session_files: [...], stderr_tail}.
Exit 2 (with a reason on stderr) when the CLI is not installed.

Claude Code: CLAUDE_CODE_ENABLE_TELEMETRY=1, OTEL_LOGS_EXPORTER/OTEL_METRICS_EXPORTER=otlp,
OTEL_EXPORTER_OTLP_PROTOCOL=http/json|http/protobuf, OTEL_EXPORTER_OTLP_ENDPOINT.
Codex: an [otel] section in ~/.codex/config.toml with exporter "otlp-http",
protocol "json" | "binary", endpoint …/v1/logs.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agents_env  # noqa: E402
from agents_env import (Server, cli_env, default_bin_dir, descendants, kill_pids,  # noqa: E402
                        make_project, seed_home)

agents_env.LOG_NAME = "otel_agents"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--agent", choices=["claude", "codex"], required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--protocol", choices=["json", "protobuf"], required=True)
    ap.add_argument("--prompt", default="Please USE_TOOL and tell me what is here")
    ap.add_argument("--bin-dir")
    args = ap.parse_args()
    bin_dir = os.path.abspath(args.bin_dir or default_bin_dir())
    exe = os.path.join(bin_dir, args.agent)
    if not os.access(exe, os.X_OK):
        print("%s is not installed in %s (run scripts/install-agents)" % (args.agent, bin_dir),
              file=sys.stderr)
        return 2
    state = os.path.abspath(args.state)
    home, proj = os.path.join(state, "home"), os.path.join(state, "proj")
    os.makedirs(home, exist_ok=True)
    make_project(proj)
    server = Server(state)
    try:
        seed_home(home, proj, server.port)
        env = cli_env(home, bin_dir, server.port)
        env[agents_env.MARKER] = state
        if args.agent == "claude":
            env.update({
                "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
                "OTEL_LOGS_EXPORTER": "otlp",
                "OTEL_METRICS_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/" + args.protocol,
                "OTEL_EXPORTER_OTLP_ENDPOINT": args.endpoint,
                "OTEL_METRIC_EXPORT_INTERVAL": "1000",
                "OTEL_LOGS_EXPORT_INTERVAL": "500",
                "OTEL_LOG_TOOL_DETAILS": "1",
            })
            argv = [exe, "-p", args.prompt, "--output-format", "json"]
        else:
            with open(os.path.join(home, ".codex", "config.toml"), "a") as f:
                f.write('\n[otel]\nenvironment = "aimux-test"\nlog_user_prompt = false\n'
                        '[otel.exporter."otlp-http"]\nendpoint = "%s/v1/logs"\nprotocol = "%s"\n'
                        % (args.endpoint.rstrip("/"),
                           "json" if args.protocol == "json" else "binary"))
            argv = [exe, "exec", args.prompt]
        out_path = os.path.join(state, "cli.out")
        err_path = os.path.join(state, "cli.err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            p = subprocess.Popen(argv, env=env, cwd=proj, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, start_new_session=True)
            try:
                rc = p.wait(timeout=150)
            except subprocess.TimeoutExpired:
                kill_pids(descendants(p.pid) + [p.pid], "timed-out CLI")
                rc = p.wait()
        # Whatever the CLI left running (exporters flush at exit; nothing should remain).
        kill_pids(agents_env.marked_pids(state), "leftovers")
        time.sleep(0.5)
        pattern = {"claude": ".claude/projects/*/*.jsonl",
                   "codex": ".codex/sessions/*/*/*/rollout-*.jsonl"}[args.agent]
        files = sorted(glob.glob(os.path.join(home, pattern)))
        with open(err_path, "rb") as f:
            tail = f.read()[-2000:].decode("utf-8", "replace")
        print(json.dumps({"home": home, "project": proj, "rc": rc, "session_files": files,
                          "stderr_tail": tail}))
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
