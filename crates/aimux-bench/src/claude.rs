//! Claude Code 2.1.197 transcripts: `~/.claude/projects/<slug>/<session-uuid>.jsonl`.
//!
//! Mirrors the real files: interactive sessions open with `mode` / `permission-mode`, each
//! prompt gets a `file-history-snapshot` (sdk sessions: `queue-operation` enqueue/dequeue),
//! the first prompt is followed by two `attachment` records, every streamed content block
//! is its own `assistant` line (all lines of one API response share `message.id` and carry
//! the same usage), each tool result is a `user` line with `toolUseResult`, interactive
//! turns end with `system/turn_duration`, and the file ends with `last-prompt`.

use crate::corpus::{Fillers, Project, SessionWriter};
use crate::plan::{Clock, SessionTruth, StepPlan, Tokens, ToolKind, ToolPlan, TurnPlan};
use crate::rng::Rng;
use crate::text::{J, json_string};
use crate::time::iso;
use std::fmt::Write as _;

const MODELS: &[&str] = &[
    "claude-opus-4-8",
    "claude-sonnet-4-6",
    "claude-haiku-4-5-20251001",
];
const VERSION: &str = "2.1.197";

pub struct ClaudeWriter {
    id: String,
    cwd: String,
    interactive: bool,
    model: &'static str,
    common: String,
    clock: Clock,
    parent: Option<String>,
    first: bool,
    /// Cached prompt prefix, in tokens.
    ctx: u64,
    /// Prompt tokens added since the last API call.
    pending: u64,
    last_call: i64,
    last_prompt: String,
    truth: SessionTruth,
    rel_path: String,
    files: Vec<String>,
    title: String,
}

pub fn slug(cwd: &str) -> String {
    cwd.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

impl ClaudeWriter {
    pub fn new(rng: &mut Rng, project: &Project, start: i64, limit: i64) -> ClaudeWriter {
        let id = rng.uuid4();
        let interactive = rng.chance(0.8);
        let model = MODELS[rng.weighted(&[70, 25, 5])];
        let entrypoint = if interactive { "cli" } else { "sdk-cli" };
        let common = format!(
            r#""userType":"external","entrypoint":"{entrypoint}","cwd":{},"sessionId":"{id}","version":"{VERSION}","gitBranch":{}"#,
            J(&project.cwd),
            J(&project.branch)
        );
        let rel_path = format!(".claude/projects/{}/{id}.jsonl", slug(&project.cwd));
        let truth = SessionTruth {
            provider: "claude".into(),
            path: rel_path.clone(),
            session_id: id.clone(),
            project: project.name.clone(),
            cwd: project.cwd.clone(),
            ..Default::default()
        };
        let title = crate::text::title(rng);
        ClaudeWriter {
            id,
            cwd: project.cwd.clone(),
            interactive,
            model,
            common,
            clock: Clock { t: start, limit },
            parent: None,
            first: true,
            ctx: 0,
            pending: 0,
            last_call: start,
            last_prompt: String::new(),
            truth,
            rel_path,
            files: project.files.clone(),
            title,
        }
    }

    fn parent_json(&self) -> String {
        match &self.parent {
            Some(p) => format!("\"{p}\""),
            None => "null".to_string(),
        }
    }

    fn abs(&self, rel: &str) -> String {
        format!("{}/{}", self.cwd, rel)
    }

    fn usage(&mut self, step: &StepPlan, now: i64, rng: &mut Rng) -> (Tokens, String) {
        let (cache_read, cache_write) = if self.ctx == 0 || now - self.last_call > 300_000 {
            (0, self.ctx + self.pending)
        } else {
            (self.ctx, self.pending)
        };
        let input = rng.range(1, 9);
        // Claude's output_tokens include thinking.
        let output = step.output_tokens + step.thinking_tokens;
        self.ctx = cache_read + cache_write;
        self.pending = output;
        self.last_call = now;
        if self.ctx > 180_000 {
            // auto-compact: the context shrinks, the next call writes a new cache
            self.ctx = 0;
            self.pending = 20_000 + rng.below(10_000);
        }
        let t = Tokens {
            input,
            output,
            cache_read,
            cache_write,
        };
        let json = format!(
            r#"{{"input_tokens":{input},"cache_creation_input_tokens":{cache_write},"cache_read_input_tokens":{cache_read},"output_tokens":{output},"server_tool_use":{{"web_search_requests":0,"web_fetch_requests":0}},"service_tier":"standard","cache_creation":{{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":{cache_write}}},"inference_geo":"","iterations":[],"speed":"standard"}}"#
        );
        (t, json)
    }

    fn tool_input(&self, t: &ToolPlan) -> String {
        match t.kind {
            ToolKind::Shell => format!(
                r#"{{"command":{},"description":{}}}"#,
                J(&t.command),
                J(&t.description)
            ),
            ToolKind::Read => format!(r#"{{"file_path":{}}}"#, J(&self.abs(&t.path))),
            ToolKind::Edit => format!(
                r#"{{"file_path":{},"old_string":{},"new_string":{},"replace_all":false}}"#,
                J(&self.abs(&t.path)),
                J(&t.old),
                J(&t.new)
            ),
            ToolKind::Grep => format!(
                r#"{{"pattern":{},"path":{},"output_mode":"content","-n":true}}"#,
                J(&t.command),
                J(&self.cwd)
            ),
            ToolKind::Glob => format!(r#"{{"pattern":{}}}"#, J(&t.command)),
            ToolKind::List => format!(
                r#"{{"command":{},"description":"List files"}}"#,
                J(&format!(
                    "ls {}",
                    t.path.rsplit_once('/').map_or(".", |p| p.0)
                ))
            ),
            ToolKind::Write => format!(
                r#"{{"file_path":{},"content":{}}}"#,
                J(&self.abs(&t.path)),
                J(&t.new)
            ),
        }
    }

    fn tool_name(t: &ToolPlan) -> &'static str {
        match t.kind {
            ToolKind::Shell | ToolKind::List => "Bash",
            ToolKind::Read => "Read",
            ToolKind::Edit => "Edit",
            ToolKind::Grep => "Grep",
            ToolKind::Glob => "Glob",
            ToolKind::Write => "Write",
        }
    }

    /// `(tool_result content, toolUseResult JSON)`
    fn tool_result(&self, t: &ToolPlan) -> (String, String) {
        if t.failed {
            let content = match t.kind {
                ToolKind::Shell | ToolKind::List => format!("Exit code 1\n{}", t.error),
                ToolKind::Read => "<tool_use_error>File does not exist.</tool_use_error>".into(),
                ToolKind::Edit => {
                    "<tool_use_error>String to replace not found in file.\nString: ".to_string()
                        + t.old.lines().next().unwrap_or("")
                        + "</tool_use_error>"
                }
                _ => format!("<tool_use_error>{}</tool_use_error>", t.error),
            };
            let tur = json_string(&format!("Error: {content}"));
            return (content, tur);
        }
        match t.kind {
            ToolKind::Shell | ToolKind::List => (
                t.output.clone(),
                format!(
                    r#"{{"stdout":{},"stderr":"","interrupted":false,"isImage":false,"noOutputExpected":false}}"#,
                    J(&t.output)
                ),
            ),
            ToolKind::Read => {
                let mut numbered = String::with_capacity(t.output.len() + t.lines * 8);
                for (i, l) in t.output.lines().enumerate() {
                    let _ = writeln!(numbered, "{:>6}\t{l}", i + 1);
                }
                (
                    numbered,
                    format!(
                        r#"{{"type":"text","file":{{"filePath":{},"content":{},"numLines":{},"startLine":1,"totalLines":{}}}}}"#,
                        J(&self.abs(&t.path)),
                        J(&t.output),
                        t.lines,
                        t.lines
                    ),
                )
            }
            ToolKind::Edit => {
                let path = self.abs(&t.path);
                let mut snippet = String::new();
                for (i, l) in t.output.lines().enumerate() {
                    let _ = writeln!(snippet, "{:>6}\t{l}", i + 1);
                }
                (
                    format!(
                        "The file {path} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n{snippet}"
                    ),
                    format!(
                        r#"{{"filePath":{},"oldString":{},"newString":{},"originalFile":{},"structuredPatch":[{{"oldStart":1,"oldLines":{},"newStart":1,"newLines":{},"lines":[]}}],"userModified":false,"replaceAll":false}}"#,
                        J(&path),
                        J(&t.old),
                        J(&t.new),
                        J(&t.output),
                        t.old.lines().count(),
                        t.new.lines().count()
                    ),
                )
            }
            ToolKind::Grep => (
                t.output.clone(),
                format!(
                    r#"{{"mode":"content","numFiles":0,"filenames":[],"content":{},"numLines":{}}}"#,
                    J(&t.output),
                    t.lines
                ),
            ),
            ToolKind::Glob => {
                let list: Vec<String> = t
                    .files
                    .iter()
                    .map(|f| J(&self.abs(f)).to_string())
                    .collect();
                (
                    t.files
                        .iter()
                        .map(|f| self.abs(f))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    format!(
                        r#"{{"filenames":[{}],"durationMs":{},"numFiles":{},"truncated":false}}"#,
                        list.join(","),
                        t.duration_ms,
                        t.files.len()
                    ),
                )
            }
            ToolKind::Write => {
                let path = self.abs(&t.path);
                (
                    format!("File created successfully at: {path}"),
                    format!(
                        r#"{{"type":"create","filePath":{},"content":{},"structuredPatch":[],"originalFile":null}}"#,
                        J(&path),
                        J(&t.new)
                    ),
                )
            }
        }
    }
}

impl SessionWriter for ClaudeWriter {
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

    fn begin(&mut self, _rng: &mut Rng, _f: &Fillers, out: &mut String) {
        if self.interactive {
            let id = &self.id;
            let _ = writeln!(
                out,
                r#"{{"type":"mode","mode":"normal","sessionId":"{id}"}}"#
            );
            let _ = writeln!(
                out,
                r#"{{"type":"permission-mode","permissionMode":"default","sessionId":"{id}"}}"#
            );
        }
    }

    fn turn(&mut self, rng: &mut Rng, f: &Fillers, plan: &TurnPlan, out: &mut String) {
        let id = self.id.clone();
        let now = self.clock.advance(plan.gap_ms);
        let user_uuid = rng.uuid4();
        let prompt_id = rng.uuid4();
        let ts = iso(now);
        if self.interactive {
            let _ = writeln!(
                out,
                r#"{{"type":"file-history-snapshot","messageId":"{user_uuid}","snapshot":{{"messageId":"{user_uuid}","trackedFileBackups":{{}},"timestamp":"{ts}"}},"isSnapshotUpdate":false}}"#
            );
        } else {
            let _ = writeln!(
                out,
                r#"{{"type":"queue-operation","operation":"enqueue","timestamp":"{ts}","sessionId":"{id}","content":{}}}"#,
                J(&plan.prompt)
            );
            let _ = writeln!(
                out,
                r#"{{"type":"queue-operation","operation":"dequeue","timestamp":"{ts}","sessionId":"{id}"}}"#
            );
        }
        let origin = if self.interactive {
            r#""origin":{"kind":"human"},"promptSource":"typed""#
        } else {
            r#""promptSource":"sdk""#
        };
        let now = self.clock.advance(rng.range(1, 150));
        let _ = writeln!(
            out,
            r#"{{"parentUuid":{},"isSidechain":false,"promptId":"{prompt_id}","type":"user","message":{{"role":"user","content":{}}},"uuid":"{user_uuid}","timestamp":"{}","permissionMode":"default",{origin},{}}}"#,
            self.parent_json(),
            J(&plan.prompt),
            iso(now),
            self.common
        );
        self.parent = Some(user_uuid);
        self.pending += plan.prompt.len() as u64 / 4 + 8;
        let turn_start = now;
        let mut messages = 1u64;
        if self.first {
            self.first = false;
            self.pending += 19_500 + rng.below(3_000);
            for body in [&f.claude_agents, &f.claude_skills] {
                let u = rng.uuid4();
                let _ = writeln!(
                    out,
                    r#"{{"parentUuid":{},"isSidechain":false,"attachment":{body},"type":"attachment","uuid":"{u}","timestamp":"{}",{}}}"#,
                    self.parent_json(),
                    iso(now),
                    self.common
                );
                self.parent = Some(u);
            }
            if self.interactive {
                let _ = writeln!(
                    out,
                    r#"{{"type":"ai-title","aiTitle":{},"sessionId":"{id}"}}"#,
                    J(&self.title)
                );
            }
        }
        self.last_prompt = plan.prompt.clone();
        for step in &plan.steps {
            let now = self.clock.advance(step.latency_ms);
            let (tokens, usage) = self.usage(step, now, rng);
            self.truth.add_usage(self.model, tokens);
            let msg_id = format!("msg_01{}", rng.base62(22));
            let req_id = format!("req_011C{}", rng.base62(20));
            let stop = if step.tools.is_empty() {
                "end_turn"
            } else {
                "tool_use"
            };
            let mut blocks: Vec<(String, Option<usize>)> = Vec::new();
            if let Some(t) = &step.text {
                blocks.push((format!(r#"{{"type":"text","text":{}}}"#, J(t)), None));
            }
            let mut tool_ids = Vec::new();
            for (i, t) in step.tools.iter().enumerate() {
                let tid = format!("toolu_01{}", rng.base62(22));
                blocks.push((
                    format!(
                        r#"{{"type":"tool_use","id":"{tid}","name":"{}","input":{}}}"#,
                        Self::tool_name(t),
                        self.tool_input(t)
                    ),
                    Some(i),
                ));
                tool_ids.push((tid, String::new()));
            }
            for (block, tool) in &blocks {
                let u = rng.uuid4();
                let ts = iso(self.clock.advance(rng.range(20, 200)));
                let _ = writeln!(
                    out,
                    r#"{{"parentUuid":{},"isSidechain":false,"message":{{"id":"{msg_id}","type":"message","role":"assistant","model":"{}","content":[{block}],"stop_reason":"{stop}","stop_sequence":null,"usage":{usage},"stop_details":null}},"requestId":"{req_id}","type":"assistant","uuid":"{u}","timestamp":"{ts}",{}}}"#,
                    self.parent_json(),
                    self.model,
                    self.common
                );
                if let Some(i) = tool
                    && let Some(slot) = tool_ids.get_mut(*i)
                {
                    slot.1 = u.clone();
                }
                self.parent = Some(u);
                messages += 1;
            }
            for (t, (tid, src)) in step.tools.iter().zip(&tool_ids) {
                let (content, tur) = self.tool_result(t);
                self.pending += content.len() as u64 / 4 + 10;
                let u = rng.uuid4();
                let ts = iso(self.clock.advance(t.duration_ms));
                let err = if t.failed { "true" } else { "false" };
                let _ = writeln!(
                    out,
                    r#"{{"parentUuid":{},"isSidechain":false,"promptId":"{prompt_id}","type":"user","message":{{"role":"user","content":[{{"tool_use_id":"{tid}","type":"tool_result","content":{},"is_error":{err}}}]}},"uuid":"{u}","timestamp":"{ts}","toolUseResult":{tur},"sourceToolAssistantUUID":"{src}",{}}}"#,
                    self.parent_json(),
                    J(&content),
                    self.common
                );
                self.parent = Some(u);
                messages += 1;
            }
        }
        if self.interactive {
            let now = self.clock.advance(rng.range(20, 120));
            let u = rng.uuid4();
            let _ = writeln!(
                out,
                r#"{{"parentUuid":{},"isSidechain":false,"type":"system","subtype":"turn_duration","durationMs":{},"messageCount":{messages},"timestamp":"{}","uuid":"{u}","isMeta":false,{}}}"#,
                self.parent_json(),
                now - turn_start,
                iso(now),
                self.common
            );
            self.parent = Some(u);
        }
        self.truth.count_turn(plan);
    }

    fn end(&mut self, rng: &mut Rng, _f: &Fillers, out: &mut String) {
        if !self.interactive || rng.chance(0.7) {
            let _ = writeln!(
                out,
                r#"{{"type":"last-prompt","lastPrompt":{},"leafUuid":{},"sessionId":"{}"}}"#,
                J(&self.last_prompt),
                self.parent_json(),
                self.id
            );
        }
    }
}

impl ClaudeWriter {
    pub fn files(&self) -> &[String] {
        &self.files
    }
}
