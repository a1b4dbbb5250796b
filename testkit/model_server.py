#!/usr/bin/env python3
"""aimux's scripted model server: lets the REAL agent CLIs run against 127.0.0.1.

Standard library only (Python 3.11). One process, three API dialects, chosen by path:

  * Anthropic Messages   POST /v1/messages[?beta=true]  (streaming SSE and plain JSON)
                         POST /v1/messages/count_tokens
  * OpenAI Responses     POST /v1/responses             (streaming SSE and plain JSON)
  * Gemini               POST /v1beta/models/<m>:streamGenerateContent?alt=sse
                         POST /v1beta/models/<m>:generateContent
                         POST /v1beta/models/<m>:countTokens
  * Control              POST /_control/label  {"label": "..."}  -> sets the run label
                         GET  /_control/label                    -> {"label": ...}
                         GET  /_control/health                   -> {"ok": true}
  Anything else answers 200 {} (a WebSocket upgrade gets 426) and is not recorded.

Scenarios are scripted and stateless: they are decided from the request itself.

  * conversation ends in a tool result   -> final text that quotes the tool output
  * last user text contains ...
      FAIL_TOOL       -> one shell call that exits non-zero: `ls nonexistent-aimux-path`
                         (a relative path: Claude Code refuses absolute paths outside the
                         workspace before running them, which would not be an exit code)
      TWO_TOOLS       -> ONE response with TWO shell calls: `ls -la` and `echo two`
      SLEEP_TOOL <n>  -> one shell call `sleep <n>; echo slept <n>`
      USE_TOOL or "list (the) files" -> one shell call `ls -la`
      anything else   -> a short text answer
  * structured-output requests (Claude's session-title request with output_config json_schema,
    Gemini's router / next-speaker checks with responseMimeType application/json) get a
    schema-shaped JSON object.

The shell tool is taken from what the request declares: Claude `Bash {command}`, Codex
`exec_command {cmd}` (else shell_command / shell), Gemini `run_shell_command {command}` (else
`list_directory` for the ls scenarios, which is what headless Gemini offers without --yolo).

Usage numbers grow with the request size (about 4 characters per token) and always include
cached prompt tokens, and for Anthropic cache-creation tokens, and reasoning/thought tokens for
OpenAI/Gemini, so that every token category is exercised.

Recording (--record FILE): one JSON line per model request answered (count_tokens included):
  seq, ts, dialect (anthropic|responses|gemini), path, model, stream,
  session_key + session_key_source (Claude: X-Claude-Code-Session-Id header; Codex:
      session-id, else thread-id header; Gemini: a session header/body field if any, else
      "label:<run label>"),
  label (the run label current when the request arrived),
  auxiliary (bool) + aux_kind (title: Claude's / Codex's session-title request;
      router / next_speaker: Gemini's JSON checks; session_summary: Gemini's summary of the
      previous session; json_schema, no_tools, count_tokens), kind (turn_start |
      tool_followup | auxiliary),
  scenario, user_text (first 200 chars of the last text part of the last user message),
  tool_calls: [{id, name, command, designed_to_fail}],
  response_id,
  usage_reported: the usage exactly as sent, in the provider's own convention
      (anthropic: the final message_delta usage; responses: response.usage;
       gemini: the usageMetadata of the final frame),
  usage: the same normalised: {input (excl. cache), cache_read, cache_write,
      output (incl. reasoning/thoughts)}.

Usage: model_server.py [--port 0] [--port-file F] [--record F] [--log F] [--label L]
                       [--delay 0.01] [--record-headers]
"""
import argparse
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ARGS = None
LOCK = threading.Lock()
STATE = {"label": None, "seq": 0}

TEXT_REPLY = ("Hello from the aimux scripted model server. This is a scripted reply; "
              "no real model was consulted.")
FAIL_COMMAND = "ls nonexistent-aimux-path"
TWO_COMMANDS = ["ls -la", "echo two"]
# aimux's own session-title requests carry this phrase (see aimux_title below).
TITLE_MARKER = "You name coding-agent sessions"
LS_COMMAND = "ls -la"

FAIL_MARKER = re.compile(r"FAIL_TOOL")
TWO_MARKER = re.compile(r"TWO_TOOLS")
SLEEP_MARKER = re.compile(r"SLEEP_TOOL\s+(\d+)")
TOOL_MARKER = re.compile(r"USE_TOOL|list (the )?files", re.I)
SECRET_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "cookie")


# ----------------------------------------------------------------- helpers
def iso_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def rid(prefix, n=24):
    return prefix + uuid.uuid4().hex[:n]


def approx_tokens(obj):
    """Crude but stable token estimate (~4 characters per token), at least 40."""
    try:
        s = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True)
    except (TypeError, ValueError):
        s = str(obj)
    return max(40, len(s) // 4)


def text_tokens(text):
    return max(1, len(text) // 4)


def chunks_of(text, n=3):
    """Split text into word groups so the client sees several deltas."""
    words = re.findall(r"\S+\s*", text)
    out = ["".join(words[i:i + n]) for i in range(0, len(words), n)]
    return out or [text]


def last_part(parts):
    """The last non-empty text part (the prompt itself, not a prepended reminder)."""
    for p in reversed(parts):
        if isinstance(p, str) and p.strip():
            return p.strip()[:200]
    return ""


def choose_scenario(user_text, has_tool_result):
    t = user_text or ""
    if has_tool_result:
        return "final_after_tool"
    if FAIL_MARKER.search(t):
        return "tool_fail"
    if TWO_MARKER.search(t):
        return "tool_two"
    m = SLEEP_MARKER.search(t)
    if m:
        return "tool_sleep:%s" % m.group(1)
    if TOOL_MARKER.search(t):
        return "tool_ls"
    return "text"


def commands_for(scenario):
    """[(command, designed_to_fail)] for one assistant response."""
    if scenario == "tool_two":
        return [(c, False) for c in TWO_COMMANDS]
    if scenario == "tool_fail":
        return [(FAIL_COMMAND, True)]
    if scenario.startswith("tool_sleep:"):
        n = scenario.split(":", 1)[1]
        return [("sleep %s; echo slept %s" % (n, n), False)]
    if scenario == "tool_ls":
        return [(LS_COMMAND, False)]
    return []


def describe(cmd):
    if cmd == FAIL_COMMAND:
        return "List a directory that does not exist"
    if cmd.startswith("ls"):
        return "List files in the working directory"
    if cmd.startswith("sleep"):
        return "Sleep for a while"
    return "Run: %s" % cmd


def fake_json_for_schema(schema):
    """A small JSON value that satisfies a (simple) JSON schema."""
    if not isinstance(schema, dict):
        return {}
    t = schema.get("type")
    if isinstance(t, list):
        t = t[0] if t else None
    if schema.get("enum"):
        return schema["enum"][0]
    if t == "object" or "properties" in schema:
        out = {}
        for k, sub in (schema.get("properties") or {}).items():
            if k == "title":
                out[k] = "Scripted fixture session"
            elif k == "next_speaker":
                out[k] = "user"
            elif k == "model_choice":
                out[k] = "flash"
            elif k == "reasoning":
                out[k] = "scripted"
            else:
                out[k] = fake_json_for_schema(sub)
        return out
    if t == "array":
        return []
    if t in ("integer", "number"):
        return 1
    if t == "boolean":
        return False
    return "scripted"


def final_text(tool_output):
    snippet = (tool_output or "").strip().replace("\r", "")
    if len(snippet) > 300:
        snippet = snippet[:300] + " ..."
    return ("The tool returned:\n\n" + snippet + "\n\nThat completes the scripted tool scenario.")


def split_prompt(total, cached_share=0.5, write_share=0.0):
    """(uncached, cache_read, cache_write) that sum to total, all > 0 where asked."""
    cache_read = max(1, int(total * cached_share))
    cache_write = max(1, int(total * write_share)) if write_share else 0
    uncached = max(1, total - cache_read - cache_write)
    return uncached, cache_read, cache_write


def parse_json_safe(s, default=None):
    try:
        return json.loads(s)
    except (TypeError, ValueError):
        return default


# ----------------------------------------------------------------- handler
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AimuxScriptedModel/1.0"

    def log_message(self, fmt, *args):
        if ARGS.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    # -- low level
    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not n and self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(parts)
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            import gzip
            raw = gzip.decompress(raw)
        body = parse_json_safe(raw.decode("utf-8", "replace")) if raw else {}
        return raw, body if isinstance(body, dict) else {}

    def _send_json(self, obj, status=200, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _start_sse(self, headers=None):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _sse(self, obj, event=None):
        s = ("event: %s\n" % event) if event else ""
        s += "data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj))
        self._chunk(s.encode())
        if ARGS.delay:
            time.sleep(ARGS.delay)

    # -- logging / recording
    def _log(self, extra):
        if not ARGS.log:
            return
        rec = {"ts": iso_now(), "method": self.command, "path": self.path}
        rec.update(extra)
        with LOCK:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def _headers_safe(self):
        return {k: (v[:8] + "...") if k.lower() in SECRET_HEADERS else v
                for k, v in self.headers.items()}

    def _record(self, rec):
        with LOCK:
            STATE["seq"] += 1
            out = {"seq": STATE["seq"], "ts": iso_now(), "label": STATE["label"]}
            out.update(rec)
            if out.get("session_key") is None:
                out["session_key"] = "label:%s" % out["label"]
                out["session_key_source"] = "label"
            if ARGS.record_headers:
                out["headers"] = self._headers_safe()
            if ARGS.record:
                with open(ARGS.record, "a") as f:
                    f.write(json.dumps(out) + "\n")

    # -- routing
    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        path = urlparse(self.path).path
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._log({"note": "websocket rejected"})
            self._send_json({"error": {"message": "websockets are not supported"}}, 426)
            return
        if path == "/_control/label":
            self._send_json({"label": STATE["label"]})
            return
        if path == "/_control/health":
            self._send_json({"ok": True})
            return
        self._log({"note": "other GET"})
        self._send_json({})

    def do_POST(self):
        raw, body = self._read_body()
        u = urlparse(self.path)
        path = u.path
        q = parse_qs(u.query)
        self._log({"body_len": len(raw), "headers": self._headers_safe()})
        try:
            if path == "/_control/label":
                with LOCK:
                    STATE["label"] = body.get("label")
                self._send_json({"label": STATE["label"]})
            elif self.aimux_title(path, body):
                pass
            elif path.endswith("/chat/completions"):
                self.chat_completions(body)
            elif path.endswith("/messages/count_tokens"):
                self.count_tokens("anthropic", body, {"input_tokens": approx_tokens(body)})
            elif path.endswith("/messages"):
                self.anthropic(body)
            elif path.endswith("/responses"):
                self.openai_responses(body)
            elif ":streamGenerateContent" in path:
                self.gemini(body, stream=True, sse=(q.get("alt") == ["sse"]))
            elif ":generateContent" in path:
                self.gemini(body, stream=False, sse=False)
            elif ":countTokens" in path:
                self.count_tokens("gemini", body, {"totalTokens": approx_tokens(body)})
            else:
                self._send_json({})
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- aimux session titles (aimux's own title requests; see `aimux titles`) ---------
    # A request whose text contains TITLE_MARKER is aimux asking for a session title, in
    # any of the three dialects (plain JSON, never streamed). The answer is derived from
    # the request: "Title: " + the first four words of the line after "Prompt 1:".
    # Recorded with aux_kind "aimux_title".
    def aimux_title(self, path, body):
        dump = json.dumps(body)
        if TITLE_MARKER not in dump:
            return False
        if path.endswith("/messages"):
            dialect = "anthropic"
        elif path.endswith("/chat/completions"):
            dialect = "chat_completions"
        elif ":generateContent" in path:
            dialect = "gemini"
        else:
            return False
        text = json.loads(dump)
        joined = []

        def walk(v):
            if isinstance(v, str):
                joined.append(v)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)
        walk(text)
        words = []
        for chunk in joined:
            m = re.search(r"Prompt 1:\s*(.*)", chunk)
            if m:
                words = re.findall(r"[A-Za-z0-9_]+", m.group(1))[:4]
                break
        title = "Title: " + (" ".join(words) if words else "untitled")
        model = body.get("model") or (path.split("/models/")[-1].split(":")[0]
                                      if "/models/" in path else None)
        self._record({"dialect": dialect, "path": self.path, "model": model, "stream": False,
                      "auxiliary": True, "aux_kind": "aimux_title", "kind": "auxiliary",
                      "scenario": "aimux_title", "user_text": "", "tool_calls": [],
                      "title": title})
        if dialect == "anthropic":
            self._send_json({"id": rid("msg_"), "type": "message", "role": "assistant",
                             "model": model, "content": [{"type": "text", "text": title}],
                             "stop_reason": "end_turn",
                             "usage": {"input_tokens": approx_tokens(body), "output_tokens": 5}})
        elif dialect == "chat_completions":
            self._send_json({"id": rid("chatcmpl-"), "object": "chat.completion",
                             "model": model,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": title}}],
                             "usage": {"prompt_tokens": approx_tokens(body),
                                       "completion_tokens": 5}})
        else:
            self._send_json({"candidates": [{"content": {"role": "model",
                                                         "parts": [{"text": title}]},
                                             "finishReason": "STOP", "index": 0}],
                             "usageMetadata": {"promptTokenCount": approx_tokens(body),
                                               "candidatesTokenCount": 5,
                                               "totalTokenCount": approx_tokens(body) + 5},
                             "modelVersion": model})
        return True

    def chat_completions(self, body):
        """OpenAI-compatible chat/completions: a plain text answer (no tools)."""
        model = body.get("model")
        self._record({"dialect": "chat_completions", "path": self.path, "model": model,
                      "stream": False, "auxiliary": False, "kind": "turn_start",
                      "scenario": "text", "user_text": "", "tool_calls": []})
        self._send_json({"id": rid("chatcmpl-"), "object": "chat.completion", "model": model,
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": TEXT_REPLY}}],
                         "usage": {"prompt_tokens": approx_tokens(body), "completion_tokens": 20}})
    # -- end of aimux session titles ----------------------------------------------------

    def count_tokens(self, dialect, body, answer):
        self._record({"dialect": dialect, "path": self.path, "model": body.get("model"),
                     "stream": False, "session_key": None, "session_key_source": None,
                     "auxiliary": True, "aux_kind": "count_tokens", "kind": "auxiliary",
                     "scenario": "count_tokens", "user_text": "", "tool_calls": [],
                     "response_id": None, "usage_reported": answer,
                     "usage": {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}})
        self._send_json(answer)

    # ------------------------------------------------------------- Anthropic
    def anthropic(self, body):
        msgs = body.get("messages") or []
        # Claude Code can append role:"system" messages after the user turn
        # (mid-conversation-system beta): decide from the last user/assistant message.
        convo = [m for m in msgs if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
        last = convo[-1] if convo else {}
        has_tool_result, tool_out, user_text, text_parts = False, "", "", []
        if last.get("role") == "user":
            content = last.get("content")
            if isinstance(content, str):
                user_text = content
                text_parts.append(content)
            else:
                for b in content or []:
                    if not isinstance(b, dict):
                        continue
                    if b.get("type") == "tool_result":
                        has_tool_result = True
                        c = b.get("content")
                        if isinstance(c, list):
                            tool_out += "".join(x.get("text", "") for x in c if isinstance(x, dict))
                        elif isinstance(c, str):
                            tool_out += c
                    elif b.get("type") == "text":
                        user_text += b.get("text", "") + "\n"
                        text_parts.append(b.get("text", ""))
        tools = {t.get("name"): t for t in (body.get("tools") or []) if isinstance(t, dict)}
        fmt = (body.get("output_config") or {}).get("format") or {}
        wants_json = fmt.get("type") == "json_schema"
        scenario = "json_schema" if wants_json else choose_scenario(user_text, has_tool_result)
        calls = []  # (id, name, input, command, designed_to_fail)
        if scenario.startswith("tool"):
            if "Bash" in tools:
                for cmd, fails in commands_for(scenario):
                    calls.append((rid("toolu_scripted_"), "Bash",
                                  {"command": cmd, "description": describe(cmd)}, cmd, fails))
            else:
                scenario = "text(no-usable-tool)"
        model = body.get("model") or "claude-scripted"

        if wants_json:
            props = set(((fmt.get("schema") or {}).get("properties") or {}).keys())
            aux_kind = "title" if "title" in props else "json_schema"
        elif not tools:
            aux_kind = "no_tools"
        else:
            aux_kind = None

        if scenario == "final_after_tool":
            text = final_text(tool_out)
        elif wants_json:
            text = json.dumps(fake_json_for_schema(fmt.get("schema")))
        elif len(calls) > 1:
            text = "I'll run %d commands in parallel." % len(calls)
        elif calls:
            text = "I'll run a command to check."
        else:
            text = TEXT_REPLY
        prompt = approx_tokens(body)
        uncached, cache_read, cache_write = split_prompt(prompt, 0.5, 0.3)
        out_tok = text_tokens(text) + 40 * len(calls)
        breakdown = {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0}
        usage_start = {"input_tokens": uncached, "cache_creation_input_tokens": cache_write,
                       "cache_read_input_tokens": cache_read, "output_tokens": 1,
                       "cache_creation": dict(breakdown), "service_tier": "standard"}
        final_usage = {"input_tokens": uncached, "cache_creation_input_tokens": cache_write,
                       "cache_read_input_tokens": cache_read, "output_tokens": out_tok,
                       "cache_creation": dict(breakdown)}
        msg_id = rid("msg_scripted_")
        request_id = rid("req_scripted_")
        stop_reason = "tool_use" if calls else "end_turn"
        sid = self.headers.get("X-Claude-Code-Session-Id")
        sid_src = "header:X-Claude-Code-Session-Id" if sid else None
        if not sid:  # metadata.user_id is a JSON string with session_id
            meta = parse_json_safe((body.get("metadata") or {}).get("user_id") or "{}", {})
            sid = meta.get("session_id") if isinstance(meta, dict) else None
            sid_src = "body:metadata.user_id.session_id" if sid else None

        self._record({
            "dialect": "anthropic", "path": self.path, "model": model,
            "stream": bool(body.get("stream")), "session_key": sid, "session_key_source": sid_src,
            "auxiliary": aux_kind is not None, "aux_kind": aux_kind,
            "kind": "auxiliary" if aux_kind else (
                "tool_followup" if has_tool_result else "turn_start"),
            "scenario": scenario, "user_text": last_part(text_parts),
            "tool_calls": [{"id": c[0], "name": c[1], "command": c[3], "designed_to_fail": c[4]}
                           for c in calls],
            "response_id": msg_id, "request_id": request_id,
            "usage_reported": final_usage,
            "usage": {"input": uncached, "cache_read": cache_read, "cache_write": cache_write,
                      "output": out_tok},
        })
        content = [{"type": "text", "text": text}]
        for cid, name, inp, _, _ in calls:
            content.append({"type": "tool_use", "id": cid, "name": name, "input": inp})
        if not body.get("stream"):
            self._send_json({"id": msg_id, "type": "message", "role": "assistant",
                             "model": model, "content": content, "stop_reason": stop_reason,
                             "stop_sequence": None, "usage": dict(final_usage)},
                            headers={"request-id": request_id})
        else:
            self._start_sse({"request-id": request_id})
            self._sse({"type": "message_start", "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": usage_start}}, "message_start")
            self._sse({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "text", "text": ""}}, "content_block_start")
            self._sse({"type": "ping"}, "ping")
            for piece in chunks_of(text):
                self._sse({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
            self._sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            for bi, (cid, name, inp, _, _) in enumerate(calls, start=1):
                self._sse({"type": "content_block_start", "index": bi, "content_block": {
                    "type": "tool_use", "id": cid, "name": name, "input": {}}},
                    "content_block_start")
                js = json.dumps(inp)
                half = len(js) // 2
                for part in (js[:half], js[half:]):
                    self._sse({"type": "content_block_delta", "index": bi,
                               "delta": {"type": "input_json_delta", "partial_json": part}},
                              "content_block_delta")
                self._sse({"type": "content_block_stop", "index": bi}, "content_block_stop")
            self._sse({"type": "message_delta",
                       "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                       "usage": dict(final_usage)}, "message_delta")
            self._sse({"type": "message_stop"}, "message_stop")
            self._end_chunks()

    # ------------------------------------------------------------- OpenAI Responses
    def openai_responses(self, body):
        items = body.get("input") or []
        if isinstance(items, str):
            items = [{"type": "message", "role": "user", "content": items}]
        items = [it for it in items if isinstance(it, dict)]
        last_user_idx = -1
        for i, it in enumerate(items):
            if it.get("role") == "user" and it.get("type", "message") == "message":
                last_user_idx = i
        has_tool_result, tool_out, user_text = False, "", ""
        for it in items[last_user_idx + 1:]:
            if it.get("type") in ("function_call_output", "custom_tool_call_output",
                                  "local_shell_call_output"):
                has_tool_result = True
                o = it.get("output")
                if isinstance(o, dict):
                    o = o.get("content") or json.dumps(o)
                elif isinstance(o, list):
                    o = "".join(x.get("text", "") for x in o if isinstance(x, dict))
                tool_out += (o if isinstance(o, str) else json.dumps(o)) + "\n"
        text_parts = []
        if last_user_idx >= 0:
            c = items[last_user_idx].get("content")
            if isinstance(c, str):
                text_parts = [c]
            else:
                text_parts = [str(x.get("text", "")) for x in c or [] if isinstance(x, dict)]
            user_text = "\n".join(text_parts)
        tools = {}
        for t in body.get("tools") or []:
            if isinstance(t, dict):
                tools[t.get("name") or t.get("type")] = t
        fmt_type = ((body.get("text") or {}).get("format") or {}).get("type")
        wants_json = fmt_type == "json_schema"
        scenario = "json_schema" if wants_json else choose_scenario(user_text, has_tool_result)
        calls = []  # (call_id, name, args, command, designed_to_fail)
        if scenario.startswith("tool"):
            for cmd, fails in commands_for(scenario):
                if "exec_command" in tools:
                    # yield_time_ms: make Codex wait for the command instead of answering
                    # "Process running with session ID ..." after its default ~10 s.
                    calls.append((rid("call_scripted_"), "exec_command",
                                  {"cmd": cmd, "yield_time_ms": 120000}, cmd, fails))
                elif "shell_command" in tools:
                    calls.append((rid("call_scripted_"), "shell_command", {"command": cmd},
                                  cmd, fails))
                elif "shell" in tools:
                    calls.append((rid("call_scripted_"), "shell",
                                  {"command": ["bash", "-lc", cmd]}, cmd, fails))
            if not calls:
                scenario = "text(no-usable-tool)"
        model = body.get("model") or ARGS.openai_model
        if wants_json:
            schema = (((body.get("text") or {}).get("format") or {}).get("schema")) or {}
            # Codex's TUI names a new thread with such a request, in its own ephemeral thread
            aux_kind = ("title" if "title" in (schema.get("properties") or {})
                        or "title" in user_text.lower() else "json_schema")
        else:
            aux_kind = "no_tools" if not tools else None

        if scenario == "final_after_tool":
            text = final_text(tool_out)
        elif wants_json:
            schema = (((body.get("text") or {}).get("format") or {}).get("schema")) or {}
            text = json.dumps(fake_json_for_schema(schema))
        else:
            text = TEXT_REPLY
        prompt = approx_tokens(body)
        # input_tokens counts every prompt token; the cached and cache-written parts are
        # broken out in input_tokens_details (Codex reads both into its token_count).
        uncached, cached, cache_write = split_prompt(prompt, 0.5, 0.1)
        reasoning = 8
        out_tok = text_tokens(text) + 30 * len(calls) + reasoning  # includes reasoning
        usage = {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached,
                                                         "cache_write_tokens": cache_write},
                 "output_tokens": out_tok,
                 "output_tokens_details": {"reasoning_tokens": reasoning},
                 "total_tokens": prompt + out_tok}
        resp_id = rid("resp_scripted_")
        base = {"id": resp_id, "object": "response", "created_at": int(time.time()),
                "status": "in_progress", "model": model, "output": [],
                "parallel_tool_calls": len(calls) > 1, "tool_choice": "auto", "tools": []}
        output_items = [{"type": "function_call", "id": rid("fc_scripted_"), "call_id": c[0],
                         "name": c[1], "arguments": json.dumps(c[2]), "status": "completed"}
                        for c in calls]
        if not calls:
            output_items.append({"type": "message", "id": rid("msg_scripted_"),
                                 "status": "completed", "role": "assistant",
                                 "content": [{"type": "output_text", "text": text,
                                              "annotations": []}]})
        sid = self.headers.get("session-id")
        sid_src = "header:session-id" if sid else None
        if not sid and self.headers.get("thread-id"):
            sid, sid_src = self.headers.get("thread-id"), "header:thread-id"
        turn_meta = parse_json_safe(self.headers.get("x-codex-turn-metadata") or "{}", {})
        self._record({
            "dialect": "responses", "path": self.path, "model": model,
            "stream": bool(body.get("stream")), "session_key": sid, "session_key_source": sid_src,
            "turn_id": turn_meta.get("turn_id") if isinstance(turn_meta, dict) else None,
            "auxiliary": aux_kind is not None, "aux_kind": aux_kind,
            "kind": "auxiliary" if aux_kind else (
                "tool_followup" if has_tool_result else "turn_start"),
            "scenario": scenario, "user_text": last_part(text_parts),
            "tool_calls": [{"id": c[0], "name": c[1], "command": c[3], "designed_to_fail": c[4]}
                           for c in calls],
            "response_id": resp_id,
            "usage_reported": usage,
            "usage": {"input": uncached, "cache_read": cached, "cache_write": cache_write,
                      "output": out_tok},
        })
        if not body.get("stream"):
            self._send_json(dict(base, status="completed", output=output_items, usage=usage))
        else:
            self._start_sse({"x-request-id": rid("req_scripted_")})
            seq = [0]

            def ev(obj):
                obj["sequence_number"] = seq[0]
                seq[0] += 1
                self._sse(obj, obj["type"])

            ev({"type": "response.created", "response": base})
            ev({"type": "response.in_progress", "response": base})
            for idx, item in enumerate(output_items):
                if item["type"] == "message":
                    ev({"type": "response.output_item.added", "output_index": idx,
                        "item": dict(item, status="in_progress", content=[])})
                    ev({"type": "response.content_part.added", "item_id": item["id"],
                        "output_index": idx, "content_index": 0,
                        "part": {"type": "output_text", "text": "", "annotations": []}})
                    for piece in chunks_of(text):
                        ev({"type": "response.output_text.delta", "item_id": item["id"],
                            "output_index": idx, "content_index": 0, "delta": piece})
                    ev({"type": "response.output_text.done", "item_id": item["id"],
                        "output_index": idx, "content_index": 0, "text": text})
                    ev({"type": "response.content_part.done", "item_id": item["id"],
                        "output_index": idx, "content_index": 0,
                        "part": {"type": "output_text", "text": text, "annotations": []}})
                else:
                    ev({"type": "response.output_item.added", "output_index": idx,
                        "item": dict(item, status="in_progress", arguments="")})
                    ev({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                        "output_index": idx, "delta": item["arguments"]})
                    ev({"type": "response.function_call_arguments.done", "item_id": item["id"],
                        "output_index": idx, "arguments": item["arguments"]})
                ev({"type": "response.output_item.done", "output_index": idx, "item": item})
            ev({"type": "response.completed",
                "response": dict(base, status="completed", output=output_items, usage=usage)})
            self._end_chunks()

    # ------------------------------------------------------------- Gemini
    def gemini(self, body, stream, sse):
        path = urlparse(self.path).path
        model = path.split("/models/")[-1].split(":")[0] if "/models/" in path else "gemini"
        contents = [c for c in (body.get("contents") or []) if isinstance(c, dict)]
        last = contents[-1] if contents else {}
        has_tool_result, tool_out, user_text, text_parts = False, "", "", []
        for p in last.get("parts") or []:
            if not isinstance(p, dict):
                continue
            if "functionResponse" in p:
                has_tool_result = True
                resp = (p.get("functionResponse") or {}).get("response")
                tool_out += str(resp.get("output", resp)) if isinstance(resp, dict) else json.dumps(resp)
            elif "text" in p and last.get("role", "user") == "user":
                user_text += str(p.get("text")) + "\n"
                text_parts.append(str(p.get("text")))
        decls = {}
        for t in body.get("tools") or []:
            for d in (t.get("functionDeclarations") or []) if isinstance(t, dict) else []:
                decls[d.get("name")] = d
        gen_cfg = body.get("generationConfig") or {}
        wants_json = gen_cfg.get("responseMimeType") == "application/json"
        scenario = "json" if wants_json else choose_scenario(user_text, has_tool_result)
        calls = []  # (id, name, args, command, designed_to_fail)
        if scenario.startswith("tool"):
            for cmd, fails in commands_for(scenario):
                if "run_shell_command" in decls:
                    calls.append((None, "run_shell_command",
                                  {"command": cmd, "description": describe(cmd)}, cmd, fails))
                elif "list_directory" in decls and cmd.startswith("ls"):
                    d = decls["list_directory"]
                    schema = d.get("parametersJsonSchema") or d.get("parameters") or {}
                    props = schema.get("properties") or {}
                    pn = next((c for c in ("dir_path", "path", "absolute_path") if c in props),
                              "dir_path")
                    target = "nonexistent-aimux-path" if fails else "."
                    calls.append((None, "list_directory", {pn: target},
                                  "list_directory %s" % target, fails))
            if not calls:
                scenario = "text(no-usable-tool)"
        if wants_json:
            schema = gen_cfg.get("responseJsonSchema") or gen_cfg.get("responseSchema") or {}
            props = set((schema.get("properties") or {}).keys())
            aux_kind = ("router" if props & {"complexity_score", "model_choice"}
                        else "next_speaker" if "next_speaker" in props else "json_schema")
            text = json.dumps(fake_json_for_schema(schema) or {"reasoning": "n/a"})
        elif not decls:
            # Gemini summarises the PREVIOUS session at interactive start-up and writes the
            # summary into that session's file ({"$set": {"summary": ...}}).
            summary = user_text.lstrip().startswith("Summarize")
            aux_kind = "session_summary" if summary else "no_tools"
            text = "Scripted session summary." if summary else TEXT_REPLY
        else:
            aux_kind = None
            text = final_text(tool_out) if scenario == "final_after_tool" else TEXT_REPLY
        prompt = approx_tokens(body)
        uncached, cached, _ = split_prompt(prompt, 0.5)
        thoughts = 12
        cand_tok = 25 * len(calls) if calls else text_tokens(text)
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": cand_tok,
                 "cachedContentTokenCount": cached, "thoughtsTokenCount": thoughts,
                 "totalTokenCount": prompt + cand_tok + thoughts,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
                 "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": cached}]}
        response_id = uuid.uuid4().hex[:22]

        def cand(parts, finish=None):
            c = {"content": {"parts": parts, "role": "model"}, "index": 0}
            if finish:
                c["finishReason"] = finish
            return c

        if calls:
            pieces = [[{"functionCall": {"name": c[1], "args": c[2]}} for c in calls]]
        else:
            pieces = [[{"text": p}] for p in (chunks_of(text) if stream else [text])]
        frames = []
        for i, parts in enumerate(pieces):
            is_last = i == len(pieces) - 1
            fr = {"candidates": [cand(parts, "STOP" if is_last else None)],
                  "modelVersion": model, "responseId": response_id,
                  # partial usage on intermediate frames, the full one on the last frame
                  "usageMetadata": usage if is_last else {"promptTokenCount": prompt,
                                                          "totalTokenCount": prompt}}
            frames.append(fr)
        sid, sid_src = None, None
        for k, v in self.headers.items():
            if "session" in k.lower() and v:
                sid, sid_src = v, "header:%s" % k
                break
        if not sid and isinstance(body.get("session_id"), str) and body.get("session_id"):
            sid, sid_src = body["session_id"], "body:session_id"
        self._record({
            "dialect": "gemini", "path": self.path, "model": model, "stream": stream,
            "session_key": sid, "session_key_source": sid_src,
            "user_prompt_id": body.get("user_prompt_id"),
            "auxiliary": aux_kind is not None, "aux_kind": aux_kind,
            "kind": "auxiliary" if aux_kind else (
                "tool_followup" if has_tool_result else "turn_start"),
            "scenario": scenario, "user_text": last_part(text_parts),
            "tool_calls": [{"id": c[0], "name": c[1], "command": c[3], "designed_to_fail": c[4]}
                           for c in calls],
            "response_id": response_id,
            "usage_reported": usage,
            "usage": {"input": uncached, "cache_read": cached, "cache_write": 0,
                      "output": cand_tok + thoughts},
        })
        if not stream:
            self._send_json(frames[-1])
        elif sse:
            self._start_sse()
            for fr in frames:
                self._sse(fr)
            self._end_chunks()
        else:  # JSON-array streaming (no alt=sse)
            self._send_json(frames)


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--record", help="JSONL file: one line per model request answered")
    ap.add_argument("--log", help="JSONL debug log of every POST (headers, body length)")
    ap.add_argument("--label", default=None, help="initial run label")
    ap.add_argument("--record-headers", action="store_true",
                    help="also store request headers (secrets truncated) in the record")
    ap.add_argument("--delay", type=float, default=0.01, help="seconds between SSE events")
    ap.add_argument("--openai-model", default="gpt-5-codex-scripted")
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()
    STATE["label"] = ARGS.label
    srv = ThreadingHTTPServer((ARGS.host, ARGS.port), Handler)
    srv.daemon_threads = True
    port = srv.server_address[1]
    if ARGS.port_file:
        tmp = ARGS.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, ARGS.port_file)
    print("scripted model server on http://%s:%d (record: %s)" % (ARGS.host, port, ARGS.record),
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
