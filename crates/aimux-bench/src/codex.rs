//! Codex CLI 0.171.0 rollouts: `~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<thread-id>.jsonl`.
//!
//! Mirrors the real files: `session_meta`, then per turn `task_started`, (first turn:
//! developer + environment messages, `world_state`), `turn_context`,
//! (`thread_settings_applied`), the user message and its `item_completed`; per model call
//! `function_call`s, a `token_usage_record`, `item_completed(CommandExecution)` +
//! `function_call_output` per call and a cumulative `token_count`; the answer is an
//! `item_completed(AgentMessage)` + assistant message, and the turn ends with
//! `task_complete`. Every line carries an increasing `ordinal`.

use crate::corpus::{Fillers, Project, SessionWriter};
use crate::plan::{Clock, SessionTruth, Tokens, ToolKind, ToolPlan, TurnPlan};
use crate::rng::Rng;
use crate::text::J;
use crate::time::{civil, date, iso};
use std::fmt::Write as _;

const MODELS: &[&str] = &["gpt-5.3-codex", "gpt-5.1-codex-mini", "gpt-5.1-codex"];
const RATE_LIMITS: &str = r#"{"limit_id":"codex","limit_name":null,"primary":null,"secondary":null,"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}"#;

#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
}

impl Usage {
    fn add(&mut self, o: &Usage) {
        self.input += o.input;
        self.cached += o.cached;
        self.output += o.output;
        self.reasoning += o.reasoning;
    }

    fn json(&self) -> String {
        format!(
            r#"{{"input_tokens":{},"cached_input_tokens":{},"cache_write_input_tokens":0,"output_tokens":{},"reasoning_output_tokens":{},"total_tokens":{}}}"#,
            self.input,
            self.cached,
            self.output,
            self.reasoning,
            self.input + self.output
        )
    }
}

pub struct CodexWriter {
    id: String,
    cwd: String,
    branch: String,
    commit: String,
    tui: bool,
    model: &'static str,
    clock: Clock,
    ordinal: u64,
    history: u64,
    sampled: u64,
    input_order: u64,
    first: bool,
    ctx: u64,
    pending: u64,
    thread: Usage,
    truth: SessionTruth,
    rel_path: String,
}

fn create_time(rng: &mut Rng, ms: i64) -> String {
    format!("{}.{:03}{:04}", ms / 1000, ms % 1000, rng.below(10_000))
}

impl CodexWriter {
    pub fn new(rng: &mut Rng, project: &Project, start: i64, limit: i64) -> CodexWriter {
        let id = rng.uuid7(start);
        let (y, mo, d, h, mi, s, _) = civil(start);
        let rel_path = format!(
            ".codex/sessions/{y:04}/{mo:02}/{d:02}/rollout-{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{s:02}-{id}.jsonl"
        );
        let truth = SessionTruth {
            provider: "codex".into(),
            path: rel_path.clone(),
            session_id: id.clone(),
            project: project.name.clone(),
            cwd: project.cwd.clone(),
            ..Default::default()
        };
        CodexWriter {
            id,
            cwd: project.cwd.clone(),
            branch: project.branch.clone(),
            commit: project.commit.clone(),
            tui: rng.chance(0.6),
            model: MODELS[rng.weighted(&[60, 25, 15])],
            clock: Clock { t: start, limit },
            ordinal: 0,
            history: 0,
            sampled: 0,
            input_order: 0,
            first: true,
            ctx: 0,
            pending: 0,
            thread: Usage::default(),
            truth,
            rel_path,
        }
    }

    /// Starts a line: `{"timestamp":…,"ordinal":…,"type":"<kind>","payload":`
    fn head(&mut self, out: &mut String, ms: i64, kind: &str) {
        let _ = write!(
            out,
            r#"{{"timestamp":"{}","ordinal":{},"type":"{kind}","payload":"#,
            iso(ms),
            self.ordinal
        );
        self.ordinal += 1;
    }

    fn command(&self, t: &ToolPlan) -> (String, String) {
        let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        match t.kind {
            ToolKind::Shell => (
                t.command.clone(),
                format!(r#"{{"type":"unknown","cmd":{}}}"#, J(&t.command)),
            ),
            ToolKind::Read => {
                let cmd = format!("sed -n '1,{}p' {}", t.lines.max(1), t.path);
                let name = t.path.rsplit('/').next().unwrap_or(&t.path);
                let pc = format!(
                    r#"{{"type":"read","cmd":{},"name":{},"path":{}}}"#,
                    J(&cmd),
                    J(name),
                    J(&t.path)
                );
                (cmd, pc)
            }
            ToolKind::Grep => {
                let cmd = format!("rg -n {} .", q(&t.command));
                let pc = format!(
                    r#"{{"type":"search","cmd":{},"query":{},"path":"."}}"#,
                    J(&cmd),
                    J(&t.command)
                );
                (cmd, pc)
            }
            ToolKind::Glob | ToolKind::List => {
                let cmd = "rg --files".to_string();
                let pc = format!(r#"{{"type":"list_files","cmd":{},"path":null}}"#, J(&cmd));
                (cmd, pc)
            }
            ToolKind::Edit | ToolKind::Write => {
                let mut patch = String::from("apply_patch <<'PATCH'\n*** Begin Patch\n");
                if t.kind == ToolKind::Edit {
                    let _ = writeln!(patch, "*** Update File: {}\n@@", t.path);
                    for l in t.old.lines() {
                        let _ = writeln!(patch, "-{l}");
                    }
                } else {
                    let _ = writeln!(patch, "*** Add File: {}", t.path);
                }
                for l in t.new.lines() {
                    let _ = writeln!(patch, "+{l}");
                }
                patch.push_str("*** End Patch\nPATCH");
                let pc = format!(r#"{{"type":"unknown","cmd":{}}}"#, J(&patch));
                (patch, pc)
            }
        }
    }

    fn output_of(t: &ToolPlan) -> String {
        if t.failed {
            return t.error.clone();
        }
        match t.kind {
            ToolKind::Edit => format!("Success. Updated the following files:\nM {}\n", t.path),
            ToolKind::Write => format!("Success. Updated the following files:\nA {}\n", t.path),
            _ => t.output.clone(),
        }
    }

    fn usage_lines(
        &mut self,
        out: &mut String,
        rng: &mut Rng,
        tid: &str,
        turn: &mut Usage,
        step_out: u64,
        think: u64,
    ) {
        let input = self.ctx + self.pending;
        let cached = if self.ctx >= 1024 {
            (self.ctx / 128) * 128
        } else {
            0
        };
        let u = Usage {
            input,
            cached,
            output: step_out + think,
            reasoning: think,
        };
        self.ctx = input;
        self.pending = u.output;
        if self.ctx > 200_000 {
            self.ctx = 0;
            self.pending = 24_000 + rng.below(8_000);
        }
        turn.add(&u);
        self.thread.add(&u);
        self.truth.add_usage(
            self.model,
            Tokens {
                input: u.input - u.cached,
                output: u.output,
                cache_read: u.cached,
                cache_write: 0,
            },
        );
        let now = self.clock.advance(rng.range(10, 40));
        self.head(out, now, "token_usage_record");
        let _ = writeln!(
            out,
            r#"{{"thread_id":"{id}","turn_id":"{tid}","session_id":"{id}","root_turn_id":"{tid}","response_id":"resp_{}","usage":{},"turn_token_usage":{},"thread_token_usage":{}}}}}"#,
            rng.hex(32),
            u.json(),
            turn.json(),
            self.thread.json(),
            id = self.id
        );
        let now = self.clock.advance(rng.range(1, 5));
        self.head(out, now, "event_msg");
        let _ = writeln!(
            out,
            r#"{{"type":"token_count","info":{{"total_token_usage":{},"last_token_usage":{},"last_usage_includes_reasoning":false,"model_context_window":258400}},"rate_limits":{RATE_LIMITS}}}}}"#,
            self.thread.json(),
            u.json()
        );
    }

    fn agent_message(
        &mut self,
        out: &mut String,
        rng: &mut Rng,
        tid: &str,
        text: &str,
        started: i64,
    ) {
        let msg_id = format!("msg_{}", rng.hex(32));
        let now = self.clock.t;
        self.head(out, now, "event_msg");
        let _ = writeln!(
            out,
            r#"{{"type":"item_completed","thread_id":"{}","turn_id":"{tid}","item":{{"type":"AgentMessage","id":"{msg_id}","content":[{{"type":"Text","text":{}}}]}},"started_at_ms":{started},"completed_at_ms":{now}}}}}"#,
            self.id,
            J(text)
        );
        self.history += 1;
        self.input_order += 1;
        let now = self.clock.advance(rng.range(1, 4));
        self.head(out, now, "response_item");
        let _ = writeln!(
            out,
            r#"{{"type":"message","status":"completed","id":"{msg_id}","role":"assistant","content":[{{"type":"output_text","text":{},"annotations":[]}}],"internal_chat_message_metadata_passthrough":{{"turn_id":"{tid}","content_item_kinds":["unknown"]}}}},"metadata":{{"history_sequence":{},"sampled_through_sequence":{},"retained_source":{{"id":{{"message_id":"{msg_id}","turn_id":"{tid}","role":"assistant"}},"revision":"retained_{}","complete":true}},"client_authored":false,"user_input_order":{},"model_search_state":"unused"}}}}"#,
            J(text),
            self.history,
            self.sampled,
            rng.uuid7(now),
            self.input_order
        );
    }
}

impl SessionWriter for CodexWriter {
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

    fn begin(&mut self, rng: &mut Rng, f: &Fillers, out: &mut String) {
        let now = self.clock.t;
        let (originator, source) = if self.tui {
            ("codex-tui", "cli")
        } else {
            ("codex_exec", "exec")
        };
        self.head(out, now + rng.range(5, 40) as i64, "session_meta");
        let _ = writeln!(
            out,
            r#"{{"account_scoped":true,"session_id":"{id}","id":"{id}","timestamp":"{}","cwd":{cwd},"runtime_workspace_roots":[{cwd}],"originator":"{originator}","cli_version":"0.171.0","source":"{source}","thread_source":"user","model_provider":"openai","base_instructions":{{"text":{},"provenance":{{"type":"model","model":"{}"}}}},"history_mode":"paginated","context_window":{{"window_id":"{}"}},"git":{{"commit_hash":"{}","branch":{}}}}}}}"#,
            iso(now),
            f.codex_base,
            self.model,
            rng.uuid7(now),
            self.commit,
            J(&self.branch),
            id = self.id,
            cwd = J(&self.cwd)
        );
    }

    fn turn(&mut self, rng: &mut Rng, f: &Fillers, plan: &TurnPlan, out: &mut String) {
        let id = self.id.clone();
        let cwd = J(&self.cwd).to_string();
        let model = self.model;
        let now = self.clock.advance(plan.gap_ms);
        let turn_start = now;
        let tid = rng.uuid7(now);
        let trigger = if self.tui { "user" } else { "exec" };
        self.head(out, now, "event_msg");
        let _ = writeln!(
            out,
            r#"{{"type":"task_started","turn_attribution":{{"turn_id":"{tid}","turn_trigger":"{trigger}","parent_turn_id":null,"initiating_agent_path":null,"root_turn_id":"{tid}"}},"turn_id":"{tid}","root_turn_id":"{tid}","started_at":{},"model_context_window":258400,"collaboration_mode_kind":"default"}}}}"#,
            now / 1000
        );
        let collab = if self.tui {
            f.codex_collab.as_str()
        } else {
            "null"
        };
        if self.first {
            let now = self.clock.advance(rng.range(5, 20));
            self.history += 1;
            self.head(out, now, "response_item");
            let (extra, kinds, meta) = if self.tui {
                (
                    format!(r#",{{"type":"input_text","text":{}}}"#, f.codex_collab),
                    r#","collaboration_mode.instructions""#,
                    r#",{"provenance":{"type":"harness","hook":false}}"#,
                )
            } else {
                (String::new(), "", "")
            };
            let _ = writeln!(
                out,
                r#"{{"type":"message","id":"msg_{}","role":"developer","content":[{{"type":"input_text","text":{}}},{{"type":"input_text","text":{}}}{extra}],"internal_chat_message_metadata_passthrough":{{"turn_id":"{tid}","create_time":{},"content_item_kinds":["host_skills.instructions","permissions.instructions"{kinds}],"content_item_metadata":[{{"provenance":{{"type":"skills"}}}},{{"provenance":{{"type":"harness","hook":false}}}}{meta}]}}}},"metadata":{{"history_sequence":{},"sampled_through_sequence":0,"client_authored":false,"mcp_attribution":{{"status":"none"}},"model_search_state":"unused"}}}}"#,
                rng.uuid7(now),
                f.codex_skills,
                f.codex_perms,
                create_time(rng, now),
                self.history
            );
            let fs_xml = format!(
                "<filesystem><workspace_roots><root>{}</root></workspace_roots><permission_profile type=\"disabled\"><file_system type=\"unrestricted\" /></permission_profile></filesystem>",
                self.cwd
            );
            let env = format!(
                "<environment_context>\n  <cwd>{}</cwd>\n  <shell>bash</shell>\n  <current_date>{}</current_date>\n  <timezone>Etc/UTC</timezone>\n  {fs_xml}\n</environment_context>",
                self.cwd,
                date(now)
            );
            self.history += 1;
            self.head(out, now, "response_item");
            let _ = writeln!(
                out,
                r#"{{"type":"message","id":"msg_{}","role":"user","content":[{{"type":"input_text","text":{}}}],"internal_chat_message_metadata_passthrough":{{"turn_id":"{tid}","create_time":{},"content_item_kinds":["environments.environment_context"],"content_item_metadata":[{{"provenance":{{"type":"harness","hook":false}}}}]}}}},"metadata":{{"history_sequence":{},"sampled_through_sequence":0,"client_authored":false,"model_search_state":"unused"}}}}"#,
                rng.uuid7(now),
                J(&env),
                create_time(rng, now),
                self.history
            );
            let now = self.clock.advance(1);
            self.head(out, now, "world_state");
            let _ = writeln!(
                out,
                r#"{{"full":true,"state":{{"agents_md":{{}},"apps_instructions":false,"collaboration_mode":{{"mode":"default","model":"{model}","instructions":"{}"}},"context_window_guidance":"","environments":{{"environments":{{"local":{{"cwd":{cwd},"status":"available","shell":"bash"}}}},"current_date":"{}","timezone":"Etc/UTC","filesystem":{}}},"environments_instructions":false,"git_attribution":false,"host_skills":{{"body":{},"includeInstructions":true}},"managed_developer_instructions":{{}},"model":"{model}","model_catalog":"{}","multi_agent_mode":{{}},"permissions":{{"instructions":"{}","approved_command_prefixes":[]}},"persistent_mode":{{}},"plugins_instructions":false,"realtime":{{"active":false}},"skills":{{"includeInstructions":true}}}}}}}}"#,
                f.codex_hashes[0],
                date(now),
                J(&fs_xml),
                f.codex_host_skills,
                f.codex_hashes[1],
                f.codex_hashes[2]
            );
            // the first call also sends the system prompt and tool schemas
            self.pending += 10_000 + rng.below(800);
        }
        let now = self.clock.advance(1);
        self.head(out, now, "turn_context");
        let _ = writeln!(
            out,
            r#"{{"turn_id":"{tid}","root_turn_id":"{tid}","disabled_plugin_ids":[],"cwd":{cwd},"approval_policy":"never","approvals_reviewer":"user","permission_profile":{{"type":"disabled"}},"model":"{model}","collaboration_mode":{{"mode":"default","settings":{{"model":"{model}","reasoning_effort":null,"developer_instructions":{collab}}}}},"multi_agent_version":"v1","realtime_active":false,"summary":"none","sandbox_policy":{{"type":"danger-full-access"}}}}}}"#
        );
        if self.first {
            self.first = false;
            self.head(out, now, "event_msg");
            let _ = writeln!(
                out,
                r#"{{"type":"thread_settings_applied","thread_id":"{id}","thread_settings":{{"model":"{model}","model_provider_id":"openai","approval_policy":"never","approvals_reviewer":"user","requested_approvals_reviewer":"user","permission_profile":{{"type":"disabled"}},"cwd":{cwd},"runtime_workspace_roots":[{cwd}],"collaboration_mode":{{"mode":"default","settings":{{"model":"{model}","reasoning_effort":null,"developer_instructions":{collab}}}}},"disabled_plugin_ids":[]}}}}}}"#
            );
        }
        let now = self.clock.advance(rng.range(2, 12));
        let msg = rng.uuid7(now);
        self.history += 1;
        self.head(out, now, "response_item");
        let _ = writeln!(
            out,
            r#"{{"type":"message","id":"msg_{msg}","role":"user","content":[{{"type":"input_text","text":{}}}],"internal_chat_message_metadata_passthrough":{{"turn_id":"{tid}","create_time":{},"content_item_kinds":["user.text"],"content_item_metadata":[{{"provenance":{{"type":"user"}}}}]}}}},"metadata":{{"history_sequence":{},"sampled_through_sequence":{},"retained_source":{{"id":{{"message_id":"msg_{msg}","turn_id":"{tid}","role":"user"}},"revision":"retained_{}","complete":true}},"client_authored":false,"user_input_order":{},"mcp_attribution":{{"status":"none"}},"model_search_state":"unused"}}}}"#,
            J(&plan.prompt),
            create_time(rng, now),
            self.history,
            self.sampled,
            rng.uuid7(now),
            self.input_order
        );
        self.pending += plan.prompt.len() as u64 / 4 + 6;
        let client = if self.tui {
            format!(r#","client_id":"{}""#, rng.uuid4())
        } else {
            String::new()
        };
        self.head(out, now, "event_msg");
        let _ = writeln!(
            out,
            r#"{{"type":"item_completed","thread_id":"{id}","turn_id":"{tid}","item":{{"type":"UserMessage","id":"{}"{client},"content":[{{"type":"text","text":{},"text_elements":[]}}]}},"started_at_ms":{now},"completed_at_ms":{now}}}}}"#,
            rng.uuid7(now),
            J(&plan.prompt)
        );
        let mut turn = Usage::default();
        let mut first_token = 0;
        let mut last_text = String::new();
        for step in &plan.steps {
            let started = self.clock.t;
            let now = self.clock.advance(step.latency_ms);
            if first_token == 0 {
                first_token = (now - turn_start).max(1) / 3;
            }
            self.sampled = self.history;
            if let Some(text) = &step.text {
                self.agent_message(out, rng, &tid, text, started);
                last_text = text.clone();
            }
            if step.tools.is_empty() {
                self.usage_lines(
                    out,
                    rng,
                    &tid,
                    &mut turn,
                    step.output_tokens,
                    step.thinking_tokens,
                );
                continue;
            }
            let mut calls = Vec::new();
            for t in &step.tools {
                let call_id = format!("call_{}", rng.base62(24));
                let (cmd, parsed) = self.command(t);
                let args = format!(
                    r#"{{"cmd":{},"workdir":{},"yield_time_ms":10000}}"#,
                    J(&cmd),
                    J(&self.cwd)
                );
                self.history += 1;
                self.input_order += 1;
                let now = self.clock.advance(rng.range(1, 30));
                self.head(out, now, "response_item");
                let _ = writeln!(
                    out,
                    r#"{{"type":"function_call","status":"completed","id":"fc_{}","name":"exec_command","arguments":{},"call_id":"{call_id}","internal_chat_message_metadata_passthrough":{{"turn_id":"{tid}"}}}},"metadata":{{"history_sequence":{},"sampled_through_sequence":{},"client_authored":false,"user_input_order":{},"model_search_state":"unused"}}}}"#,
                    rng.hex(32),
                    J(&args),
                    self.history,
                    self.sampled,
                    self.input_order
                );
                calls.push((call_id, cmd, parsed));
            }
            self.usage_lines(
                out,
                rng,
                &tid,
                &mut turn,
                step.output_tokens,
                step.thinking_tokens,
            );
            for (t, (call_id, cmd, parsed)) in step.tools.iter().zip(calls) {
                let start = self.clock.t;
                let now = self.clock.advance(t.duration_ms);
                let output = Self::output_of(t);
                let (status, code) = if t.failed {
                    ("failed", 1)
                } else {
                    ("completed", 0)
                };
                self.head(out, now, "event_msg");
                let _ = writeln!(
                    out,
                    r#"{{"type":"item_completed","thread_id":"{id}","turn_id":"{tid}","item":{{"type":"CommandExecution","id":"{call_id}","process_id":"{}","command":["/bin/bash","-lc",{}],"cwd":"file://{}","parsed_cmd":[{parsed}],"source":"unified_exec_startup","status":"{status}","aggregated_output":{},"exit_code":{code},"duration":{{"secs":{},"nanos":{}}}}},"started_at_ms":{start},"completed_at_ms":{now}}}}}"#,
                    rng.range(1000, 99_999),
                    J(&cmd),
                    self.cwd,
                    J(&output),
                    t.duration_ms / 1000,
                    (t.duration_ms % 1000) * 1_000_000 + rng.below(1_000_000)
                );
                let body = format!(
                    "Chunk ID: {}\nWall time: {}.{:04} seconds\nProcess exited with code {code}\nOriginal token count: {}\nOutput:\n{output}",
                    rng.hex(6),
                    t.duration_ms / 1000,
                    (t.duration_ms % 1000) * 10,
                    output.len() / 4
                );
                self.pending += body.len() as u64 / 4 + 8;
                self.history += 1;
                let now = self.clock.advance(rng.range(1, 8));
                self.head(out, now, "response_item");
                let _ = writeln!(
                    out,
                    r#"{{"type":"function_call_output","id":"fco_{}","call_id":"{call_id}","output":{},"internal_chat_message_metadata_passthrough":{{"turn_id":"{tid}","create_time":{}}}}},"metadata":{{"history_sequence":{},"sampled_through_sequence":{},"client_authored":false,"fallback_token_limit_override":3000,"model_search_state":"unused"}}}}"#,
                    rng.uuid7(now),
                    J(&body),
                    create_time(rng, now),
                    self.history,
                    self.sampled
                );
            }
        }
        let now = self.clock.advance(rng.range(1, 5));
        self.head(out, now, "event_msg");
        let _ = writeln!(
            out,
            r#"{{"type":"task_complete","root_turn_id":"{tid}","turn_id":"{tid}","last_agent_message":{},"started_at":{},"completed_at":{},"duration_ms":{},"time_to_first_token_ms":{first_token}}}}}"#,
            J(&last_text),
            turn_start / 1000,
            now / 1000,
            now - turn_start
        );
        self.truth.count_turn(plan);
    }

    fn end(&mut self, _rng: &mut Rng, _f: &Fillers, _out: &mut String) {}
}
