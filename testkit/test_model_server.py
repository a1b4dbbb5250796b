#!/usr/bin/env python3
"""Tests of testkit/model_server.py over real HTTP (stdlib only).

    python3 testkit/test_model_server.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "model_server.py")


def sse_events(raw):
    """data: payloads of an SSE body, decoded as JSON."""
    out = []
    for block in raw.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                out.append(json.loads(line[len("data: "):]))
    return out


class ModelServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.port_file = os.path.join(cls.tmp.name, "port")
        cls.record = os.path.join(cls.tmp.name, "record.jsonl")
        cls.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--port-file", cls.port_file,
             "--record", cls.record, "--delay", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while not os.path.exists(cls.port_file):
            if time.time() > deadline or cls.proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        with open(cls.port_file) as f:
            cls.port = int(f.read())

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(5)
        err = cls.proc.stderr.read().decode()
        cls.proc.stderr.close()
        cls.tmp.cleanup()
        if "Traceback" in err:
            raise AssertionError("server raised:\n" + err)

    # -- helpers
    def post(self, path, body, headers=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     data=json.dumps(body).encode(),
                                     headers=dict({"Content-Type": "application/json"},
                                                  **(headers or {})))
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def label(self, label):
        self.assertEqual(json.loads(self.post("/_control/label", {"label": label}))["label"],
                         label)

    def last_record(self):
        with open(self.record) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        return lines[-1]

    # -- Anthropic
    def test_anthropic_two_tools_in_one_streamed_message(self):
        self.label("a-two")
        raw = self.post("/v1/messages?beta=true", {
            "model": "claude-x", "stream": True,
            "tools": [{"name": "Bash", "input_schema": {}}],
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                {"type": "text", "text": "TWO_TOOLS now"}]},
                # Claude Code may put a system message after the user turn
                {"role": "system", "content": "mid-conversation note"}]},
            {"X-Claude-Code-Session-Id": "sess-a"})
        events = sse_events(raw)
        starts = [e["content_block"] for e in events if e.get("type") == "content_block_start"
                  and e["content_block"]["type"] == "tool_use"]
        self.assertEqual(len(starts), 2)
        partial = {}
        for e in events:
            if e.get("type") == "content_block_delta" and \
                    e["delta"]["type"] == "input_json_delta":
                partial[e["index"]] = partial.get(e["index"], "") + e["delta"]["partial_json"]
        cmds = [json.loads(v)["command"] for _, v in sorted(partial.items())]
        self.assertEqual(cmds, ["ls -la", "echo two"])
        delta = [e for e in events if e.get("type") == "message_delta"][0]
        self.assertEqual(delta["delta"]["stop_reason"], "tool_use")
        rec = self.last_record()
        self.assertEqual(rec["label"], "a-two")
        self.assertEqual(rec["session_key"], "sess-a")
        self.assertEqual(rec["kind"], "turn_start")
        self.assertFalse(rec["auxiliary"])
        self.assertEqual(rec["user_text"], "TWO_TOOLS now")
        self.assertEqual([t["command"] for t in rec["tool_calls"]], ["ls -la", "echo two"])
        u, rep = rec["usage"], rec["usage_reported"]
        self.assertEqual(rep, delta["usage"])
        self.assertEqual(u["input"], rep["input_tokens"])
        self.assertEqual(u["cache_read"], rep["cache_read_input_tokens"])
        self.assertEqual(u["cache_write"], rep["cache_creation_input_tokens"])
        self.assertEqual(u["output"], rep["output_tokens"])
        for k in ("input", "cache_read", "cache_write", "output"):
            self.assertGreater(u[k], 0, k)

    def test_anthropic_tool_result_is_a_followup(self):
        self.label("a-follow")
        raw = self.post("/v1/messages", {
            "model": "claude-x", "stream": False, "tools": [{"name": "Bash"}],
            "messages": [
                {"role": "user", "content": "FAIL_TOOL"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1",
                                                   "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                              "content": "Exit code 2", "is_error": True}]}]})
        body = json.loads(raw)
        self.assertEqual(body["stop_reason"], "end_turn")
        self.assertIn("Exit code 2", body["content"][0]["text"])
        rec = self.last_record()
        self.assertEqual(rec["kind"], "tool_followup")
        self.assertEqual(rec["tool_calls"], [])
        self.assertEqual(rec["session_key"], "label:a-follow")

    def test_anthropic_fail_tool_is_marked(self):
        self.post("/v1/messages", {"model": "m", "tools": [{"name": "Bash"}],
                                   "messages": [{"role": "user", "content": "FAIL_TOOL x"}]})
        calls = self.last_record()["tool_calls"]
        self.assertEqual(len(calls), 1)
        self.assertTrue(calls[0]["designed_to_fail"])
        self.assertNotEqual(calls[0]["command"], "ls -la")

    def test_anthropic_title_request_is_auxiliary(self):
        raw = self.post("/v1/messages", {
            "model": "claude-x", "messages": [{"role": "user", "content": "USE_TOOL"}],
            "output_config": {"format": {"type": "json_schema", "schema": {
                "type": "object", "properties": {"title": {"type": "string"}}}}}})
        text = json.loads(raw)["content"][0]["text"]
        self.assertIn("title", json.loads(text))
        rec = self.last_record()
        self.assertTrue(rec["auxiliary"])
        self.assertEqual(rec["aux_kind"], "title")
        self.assertEqual(rec["kind"], "auxiliary")
        self.assertEqual(rec["tool_calls"], [])

    def test_sleep_tool(self):
        self.post("/v1/messages", {"model": "m", "tools": [{"name": "Bash"}],
                                   "messages": [{"role": "user", "content": "SLEEP_TOOL 3"}]})
        self.assertEqual(self.last_record()["tool_calls"][0]["command"], "sleep 3; echo slept 3")

    def test_count_tokens_is_auxiliary(self):
        json.loads(self.post("/v1/messages/count_tokens", {"messages": []}))
        rec = self.last_record()
        self.assertEqual(rec["aux_kind"], "count_tokens")
        self.assertTrue(rec["auxiliary"])

    # -- OpenAI Responses
    def responses(self, text, extra_input=(), headers=None):
        raw = self.post("/v1/responses", {
            "model": "gpt-x", "stream": True,
            "tools": [{"type": "function", "name": "exec_command"}],
            "input": [{"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": text}]}] + list(extra_input)},
            headers)
        return sse_events(raw)

    def test_responses_two_tools_and_usage_convention(self):
        events = self.responses("TWO_TOOLS", headers={"session-id": "thread-1"})
        done = [e for e in events if e["type"] == "response.completed"][0]["response"]
        calls = [i for i in done["output"] if i["type"] == "function_call"]
        self.assertEqual([json.loads(c["arguments"])["cmd"] for c in calls],
                         ["ls -la", "echo two"])
        rec = self.last_record()
        self.assertEqual(rec["session_key"], "thread-1")
        self.assertEqual(len(rec["tool_calls"]), 2)
        rep, u = done["usage"], rec["usage"]
        self.assertEqual(rec["usage_reported"], rep)
        cached = rep["input_tokens_details"]["cached_tokens"]
        written = rep["input_tokens_details"]["cache_write_tokens"]
        self.assertGreater(cached, 0)
        self.assertGreater(written, 0)
        self.assertEqual(u["input"], rep["input_tokens"] - cached - written)
        self.assertEqual(u["cache_read"], cached)
        self.assertEqual(u["cache_write"], written)
        # OpenAI's output_tokens already includes reasoning tokens
        self.assertGreater(rep["output_tokens_details"]["reasoning_tokens"], 0)
        self.assertEqual(u["output"], rep["output_tokens"])

    def test_responses_followup_after_function_output(self):
        self.responses("FAIL_TOOL", extra_input=[
            {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "exit 2"}])
        rec = self.last_record()
        self.assertEqual(rec["kind"], "tool_followup")
        self.assertEqual(rec["scenario"], "final_after_tool")

    # -- Gemini
    def test_gemini_two_tools_sse_and_label_session(self):
        self.label("g-two")
        raw = self.post("/v1beta/models/gemini-x:streamGenerateContent?alt=sse", {
            "contents": [{"role": "user", "parts": [{"text": "TWO_TOOLS"}]}],
            "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}]})
        frames = sse_events(raw)
        parts = [p for fr in frames for c in fr["candidates"] for p in c["content"]["parts"]]
        self.assertEqual([p["functionCall"]["args"]["command"] for p in parts],
                         ["ls -la", "echo two"])
        rec = self.last_record()
        self.assertEqual(rec["session_key"], "label:g-two")
        self.assertEqual(rec["model"], "gemini-x")
        rep, u = frames[-1]["usageMetadata"], rec["usage"]
        self.assertEqual(rec["usage_reported"], rep)
        self.assertEqual(u["input"], rep["promptTokenCount"] - rep["cachedContentTokenCount"])
        self.assertEqual(u["cache_read"], rep["cachedContentTokenCount"])
        self.assertEqual(u["output"], rep["candidatesTokenCount"] + rep["thoughtsTokenCount"])
        self.assertEqual(u["cache_write"], 0)

    def test_gemini_router_is_auxiliary(self):
        raw = self.post("/v1beta/models/flash-lite:generateContent", {
            "contents": [{"role": "user", "parts": [{"text": "USE_TOOL"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {
                "type": "object", "properties": {"reasoning": {"type": "string"},
                                                 "model_choice": {"type": "string"}}}}})
        text = json.loads(raw)["candidates"][0]["content"]["parts"][0]["text"]
        self.assertEqual(json.loads(text)["model_choice"], "flash")
        rec = self.last_record()
        self.assertEqual(rec["aux_kind"], "router")
        self.assertTrue(rec["auxiliary"])

    def test_gemini_function_response_is_followup(self):
        self.post("/v1beta/models/gemini-x:generateContent", {
            "contents": [{"role": "user", "parts": [{"text": "USE_TOOL"}]},
                         {"role": "model", "parts": [{"functionCall": {"name": "x"}}]},
                         {"role": "user", "parts": [{"functionResponse": {
                             "name": "x", "response": {"output": "listing"}}}]}],
            "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}]})
        rec = self.last_record()
        self.assertEqual(rec["kind"], "tool_followup")

    def test_seq_increases(self):
        self.post("/v1/messages", {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                   "tools": [{"name": "Bash"}]})
        a = self.last_record()["seq"]
        self.post("/v1/messages", {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                   "tools": [{"name": "Bash"}]})
        self.assertEqual(self.last_record()["seq"], a + 1)


if __name__ == "__main__":
    unittest.main()
