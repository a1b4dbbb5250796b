//! Gemini CLI 0.61.0 chats: `~/.gemini/tmp/<project>/chats/session-<ts>-<id8>.jsonl`.
//!
//! Mirrors the real files: a header line, a `$set` with the session-context message, then
//! message records each followed by `{"$set":{"lastUpdated":…}}`. A `gemini` message that
//! called tools is written twice with the same `id`: first without, then with `toolCalls`
//! (the second write is not followed by a `$set`). Tool results come back as a `user`
//! message of `functionResponse` parts. Sessions may end with a `$set` of `summary` and
//! `memoryScratchpad`.

use crate::corpus::{Fillers, Project, SessionWriter};
use crate::plan::{Clock, SessionTruth, Tokens, ToolKind, ToolPlan, TurnPlan};
use crate::rng::Rng;
use crate::text::{self, J};
use crate::time::{civil, iso};
use std::fmt::Write as _;

const MODELS: &[&str] = &[
    "gemini-3.1-pro-preview",
    "gemini-3.5-flash",
    "gemini-2.5-pro",
];

pub struct GeminiWriter {
    id: String,
    cwd: String,
    name: String,
    hash: String,
    model: &'static str,
    clock: Clock,
    ctx: u64,
    pending: u64,
    tools_used: Vec<String>,
    first_answer: String,
    truth: SessionTruth,
    rel_path: String,
}

fn set_updated(out: &mut String, ms: i64) {
    let _ = writeln!(out, r#"{{"$set":{{"lastUpdated":"{}"}}}}"#, iso(ms));
}

impl GeminiWriter {
    pub fn new(rng: &mut Rng, project: &Project, start: i64, limit: i64) -> GeminiWriter {
        let id = rng.uuid4();
        let (y, mo, d, h, mi, ..) = civil(start);
        let rel_path = format!(
            ".gemini/tmp/{}/chats/session-{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{}.jsonl",
            project.name,
            id.get(..8).unwrap_or(&id)
        );
        let truth = SessionTruth {
            provider: "gemini".into(),
            path: rel_path.clone(),
            session_id: id.clone(),
            project: project.name.clone(),
            cwd: project.cwd.clone(),
            ..Default::default()
        };
        GeminiWriter {
            id,
            cwd: project.cwd.clone(),
            name: project.name.clone(),
            hash: project.hash.clone(),
            model: MODELS[rng.weighted(&[55, 35, 10])],
            clock: Clock { t: start, limit },
            ctx: 0,
            pending: 0,
            tools_used: Vec::new(),
            first_answer: String::new(),
            truth,
            rel_path,
        }
    }

    fn abs(&self, rel: &str) -> String {
        format!("{}/{}", self.cwd, rel)
    }

    /// `(name, args, displayName, renderOutputAsMarkdown, description)`
    fn call(&self, t: &ToolPlan) -> (&'static str, String, &'static str, bool, String) {
        match t.kind {
            ToolKind::Shell => (
                "run_shell_command",
                format!(
                    r#"{{"command":{},"description":{}}}"#,
                    J(&t.command),
                    J(&t.description)
                ),
                "Shell",
                false,
                t.command.clone(),
            ),
            ToolKind::Read => (
                "read_file",
                format!(r#"{{"file_path":{}}}"#, J(&self.abs(&t.path))),
                "ReadFile",
                true,
                t.path.clone(),
            ),
            ToolKind::Edit => (
                "replace",
                format!(
                    r#"{{"file_path":{},"old_string":{},"new_string":{}}}"#,
                    J(&self.abs(&t.path)),
                    J(&t.old),
                    J(&t.new)
                ),
                "Edit",
                false,
                t.path.clone(),
            ),
            ToolKind::Grep => (
                "grep_search",
                format!(r#"{{"pattern":{}}}"#, J(&t.command)),
                "SearchText",
                false,
                format!("'{}'", t.command),
            ),
            ToolKind::Glob => (
                "glob",
                format!(r#"{{"pattern":{}}}"#, J(&t.command)),
                "FindFiles",
                false,
                format!("'{}'", t.command),
            ),
            ToolKind::List => (
                "list_directory",
                format!(
                    r#"{{"dir_path":{}}}"#,
                    J(t.path.rsplit_once('/').map_or(".", |p| p.0))
                ),
                "ReadFolder",
                true,
                t.path.rsplit_once('/').map_or(".", |p| p.0).to_string(),
            ),
            ToolKind::Write => (
                "write_file",
                format!(
                    r#"{{"file_path":{},"content":{}}}"#,
                    J(&self.abs(&t.path)),
                    J(&t.new)
                ),
                "WriteFile",
                false,
                t.path.clone(),
            ),
        }
    }

    /// `(response object, resultDisplay JSON)`
    fn response(&self, rng: &mut Rng, t: &ToolPlan) -> (String, String) {
        if t.failed {
            return (
                format!(r#"{{"error":{}}}"#, J(&t.error)),
                J(&t.error).to_string(),
            );
        }
        match t.kind {
            ToolKind::Shell => {
                let o = format!(
                    "<untrusted_context>\nOutput: {}\nProcess Group PGID: {}\n</untrusted_context>",
                    t.output,
                    rng.range(1000, 60_000)
                );
                (
                    format!(r#"{{"output":{}}}"#, J(&o)),
                    J(&t.output).to_string(),
                )
            }
            ToolKind::Read => (format!(r#"{{"output":{}}}"#, J(&t.output)), "\"\"".into()),
            ToolKind::Edit => {
                let path = self.abs(&t.path);
                let mut diff = format!(
                    "Index: {}\n===================================================================\n--- {} \tCurrent\n+++ {} \tProposed\n@@ -1,{} +1,{} @@\n",
                    t.path,
                    t.path,
                    t.path,
                    t.old.lines().count(),
                    t.new.lines().count()
                );
                for l in t.old.lines() {
                    let _ = writeln!(diff, "-{l}");
                }
                for l in t.new.lines() {
                    let _ = writeln!(diff, "+{l}");
                }
                (
                    format!(
                        r#"{{"output":{}}}"#,
                        J(&format!(
                            "Successfully modified file: {path} (1 replacements)."
                        ))
                    ),
                    format!(
                        r#"{{"fileDiff":{},"fileName":{},"filePath":{},"originalContent":{},"newContent":{}}}"#,
                        J(&diff),
                        J(t.path.rsplit('/').next().unwrap_or(&t.path)),
                        J(&path),
                        J(&t.output),
                        J(&t.output)
                    ),
                )
            }
            ToolKind::Grep => {
                let o = format!(
                    "Found {} matches for pattern \"{}\" in path \".\":\n---\n{}",
                    t.lines, t.command, t.output
                );
                (
                    format!(r#"{{"output":{}}}"#, J(&o)),
                    J(&format!("Found {} matches", t.lines)).to_string(),
                )
            }
            ToolKind::Glob => {
                let list: Vec<String> = t.files.iter().map(|f| self.abs(f)).collect();
                let o = format!(
                    "Found {} file(s) matching \"{}\" within {}, sorted by modification time (newest first):\n{}",
                    list.len(),
                    t.command,
                    self.cwd,
                    list.join("\n")
                );
                (
                    format!(r#"{{"output":{}}}"#, J(&o)),
                    J(&format!("Found {} matching file(s)", list.len())).to_string(),
                )
            }
            ToolKind::List => {
                let dir = t.path.rsplit_once('/').map_or(".", |p| p.0);
                let o = format!(
                    "Directory listing for {}:\n{}",
                    self.abs(dir),
                    t.files.join("\n")
                );
                let files: Vec<String> = t.files.iter().map(|f| J(f).to_string()).collect();
                (
                    format!(r#"{{"output":{}}}"#, J(&o)),
                    format!(
                        r#"{{"summary":"Found {} item(s).","files":[{}]}}"#,
                        t.files.len(),
                        files.join(",")
                    ),
                )
            }
            ToolKind::Write => (
                format!(
                    r#"{{"output":{}}}"#,
                    J(&format!(
                        "Successfully created and wrote to new file: {}.",
                        self.abs(&t.path)
                    ))
                ),
                format!(
                    r#"{{"fileDiff":"","fileName":{},"filePath":{},"originalContent":"","newContent":{}}}"#,
                    J(t.path.rsplit('/').next().unwrap_or(&t.path)),
                    J(&self.abs(&t.path)),
                    J(&t.new)
                ),
            ),
        }
    }

    fn tokens(&mut self, rng: &mut Rng, output: u64, thoughts: u64) -> String {
        let input = self.ctx + self.pending;
        let cached = if self.ctx > 0 && rng.chance(0.8) {
            self.ctx / 2 + rng.below(self.ctx / 2 + 1)
        } else {
            0
        };
        self.ctx = input;
        self.pending = output + thoughts;
        if self.ctx > 900_000 {
            self.ctx = 0;
            self.pending = 30_000;
        }
        self.truth.add_usage(
            self.model,
            Tokens {
                input: input - cached,
                output: output + thoughts,
                cache_read: cached,
                cache_write: 0,
            },
        );
        format!(
            r#"{{"input":{input},"output":{output},"cached":{cached},"thoughts":{thoughts},"tool":0,"total":{}}}"#,
            input + output + thoughts
        )
    }
}

impl SessionWriter for GeminiWriter {
    fn rel_path(&self) -> &str {
        &self.rel_path
    }

    fn truth(&self) -> &SessionTruth {
        &self.truth
    }

    fn truth_mut(&mut self) -> &mut SessionTruth {
        &mut self.truth
    }

    fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn begin(&mut self, rng: &mut Rng, _f: &Fillers, out: &mut String) {
        let now = self.clock.t;
        let ts = iso(now);
        let _ = writeln!(
            out,
            r#"{{"sessionId":"{}","projectHash":"{}","startTime":"{ts}","lastUpdated":"{ts}","kind":"main"}}"#,
            self.id, self.hash
        );
        let (y, mo, d, ..) = civil(now);
        let mut tree = String::new();
        for _ in 0..rng.range(3, 40) {
            let _ = writeln!(tree, "├───{}", text::rel_path(rng));
        }
        let ctx = format!(
            "<session_context>\nThis is the Gemini CLI. We are setting up the context for our chat.\nToday's date is {y:04}-{mo:02}-{d:02} (formatted according to the user's locale).\nMy operating system is: linux\nThe project's temporary directory is: /home/dev/.gemini/tmp/{}\n- **Workspace Directories:**\n  - {}\n- **Directory Structure:**\n\nShowing up to 200 items (files + folders). Folders or files indicated with ... contain more items not shown, were ignored, or the display limit (200 items) was reached.\n\n{}/\n{tree}└───.git/...\n\n\n</session_context>",
            self.name, self.cwd, self.cwd
        );
        let ts = iso(self.clock.advance(1));
        let _ = writeln!(
            out,
            r#"{{"$set":{{"messages":[{{"id":"{}","timestamp":"{ts}","type":"user","content":[{{"text":{}}}]}}],"lastUpdated":"{ts}"}}}}"#,
            rng.hex(32),
            J(&ctx)
        );
        self.pending = 10_000 + rng.below(3_000) + ctx.len() as u64 / 4;
    }

    fn turn(&mut self, rng: &mut Rng, _f: &Fillers, plan: &TurnPlan, out: &mut String) {
        let now = self.clock.advance(plan.gap_ms);
        let _ = writeln!(
            out,
            r#"{{"id":"{}","timestamp":"{}","type":"user","content":[{{"text":{}}}]}}"#,
            rng.uuid4(),
            iso(now),
            J(&plan.prompt)
        );
        set_updated(out, now);
        self.pending += plan.prompt.len() as u64 / 4 + 4;
        for step in &plan.steps {
            let now = self.clock.advance(step.latency_ms);
            let ts = iso(now);
            let mid = rng.uuid4();
            let content = step.text.as_deref().unwrap_or("");
            let thoughts = if step.thinking_tokens > 0 && rng.chance(0.5) {
                format!(
                    r#"[{{"subject":{},"description":{},"timestamp":"{}"}}]"#,
                    J(text::words(rng, 30).trim_end_matches('.')),
                    J(&{
                        let n = 200 + rng.index(600);
                        text::words(rng, n)
                    }),
                    iso(now - 200)
                )
            } else {
                "[]".to_string()
            };
            let tokens = self.tokens(rng, step.output_tokens, step.thinking_tokens);
            let msg = format!(
                r#"{{"id":"{mid}","timestamp":"{ts}","type":"gemini","content":{},"thoughts":{thoughts},"tokens":{tokens},"model":"{}""#,
                J(content),
                self.model
            );
            let _ = writeln!(out, "{msg}}}");
            set_updated(out, now);
            if step.tools.is_empty() {
                if self.first_answer.is_empty() {
                    self.first_answer = content.chars().take(200).collect();
                }
                continue;
            }
            let mut calls = Vec::new();
            let mut responses = Vec::new();
            let call_ms = now + 40;
            for (i, t) in step.tools.iter().enumerate() {
                let (name, args, display, md, desc) = self.call(t);
                let cid = format!("{name}__{name}_{call_ms}_{i}");
                let (resp, shown) = self.response(rng, t);
                let fr = format!(
                    r#"{{"functionResponse":{{"id":"{cid}","name":"{name}","response":{resp}}}}}"#
                );
                self.pending += resp.len() as u64 / 4 + 10;
                let done = iso(self.clock.advance(t.duration_ms));
                let status = if t.failed { "error" } else { "success" };
                calls.push(format!(
                    r#"{{"id":"{cid}","name":"{name}","args":{args},"result":[{fr}],"status":"{status}","timestamp":"{done}","resultDisplay":{shown},"description":{},"displayName":"{display}","renderOutputAsMarkdown":{md}}}"#,
                    J(&desc)
                ));
                responses.push(fr);
                if !self.tools_used.iter().any(|n| n == name) {
                    self.tools_used.push(name.to_string());
                }
            }
            let _ = writeln!(out, r#"{msg},"toolCalls":[{}]}}"#, calls.join(","));
            let now = self.clock.advance(rng.range(1, 10));
            let _ = writeln!(
                out,
                r#"{{"id":"{}","timestamp":"{}","type":"user","content":[{}]}}"#,
                rng.uuid4(),
                iso(now),
                responses.join(",")
            );
            set_updated(out, now);
        }
        self.truth.count_turn(plan);
    }

    fn end(&mut self, rng: &mut Rng, _f: &Fillers, out: &mut String) {
        if rng.chance(0.5) {
            let seq: Vec<String> = self.tools_used.iter().map(|n| J(n).to_string()).collect();
            let _ = writeln!(
                out,
                r#"{{"$set":{{"summary":{},"memoryScratchpad":{{"version":1,"workflowSummary":{},"toolSequence":[{}]}}}}}}"#,
                J(&self.first_answer),
                J(&self.tools_used.join(" -> ")),
                seq.join(",")
            );
        }
    }
}
