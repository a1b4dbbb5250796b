//! Provider-neutral plans of what happens in a turn; each provider writer renders a plan in
//! its own file format. Everything is drawn from the session's [`Rng`], so a seed fixes it.

use crate::rng::Rng;
use crate::text;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Shell,
    Read,
    Edit,
    Grep,
    Glob,
    Write,
    List,
}

#[derive(Debug, Clone)]
pub struct ToolPlan {
    pub kind: ToolKind,
    /// Path relative to the project root (Read, Edit, Write, List).
    pub path: String,
    /// Shell command line (Shell) or pattern (Grep, Glob).
    pub command: String,
    pub description: String,
    /// What the tool returned when it succeeded (file text, stdout, listing …).
    pub output: String,
    /// Edit: replaced and replacement text. Write: `new` is the file content.
    pub old: String,
    pub new: String,
    pub failed: bool,
    /// The error text when `failed`.
    pub error: String,
    pub duration_ms: u64,
    /// Lines of `output`.
    pub lines: usize,
    /// Paths in a Glob/List result.
    pub files: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StepPlan {
    /// Text the model wrote before its tool calls (or the final answer).
    pub text: Option<String>,
    pub tools: Vec<ToolPlan>,
    /// Visible output tokens (text and tool-call arguments).
    pub output_tokens: u64,
    /// Reasoning / thinking tokens (Codex reasoning, Gemini thoughts).
    pub thinking_tokens: u64,
    /// Time from the request to the response.
    pub latency_ms: u64,
}

#[derive(Debug, Clone)]
pub struct TurnPlan {
    pub prompt: String,
    /// The last step has no tool calls and carries the final answer.
    pub steps: Vec<StepPlan>,
    /// Idle time before the prompt.
    pub gap_ms: u64,
}

impl TurnPlan {
    pub fn tool_calls(&self) -> usize {
        self.steps.iter().map(|s| s.tools.len()).sum()
    }
}

/// Clamped log-normal draw as an integer.
fn ln(rng: &mut Rng, median: f64, sigma: f64, lo: u64, hi: u64) -> u64 {
    (rng.lognormal(median, sigma) as u64).clamp(lo, hi)
}

pub fn plan_tool(rng: &mut Rng, files: &[String], max_lines: usize) -> ToolPlan {
    let kind = match rng.weighted(&[34, 30, 12, 10, 5, 3, 6]) {
        0 => ToolKind::Shell,
        1 => ToolKind::Read,
        2 => ToolKind::Edit,
        3 => ToolKind::Grep,
        4 => ToolKind::Glob,
        5 => ToolKind::Write,
        _ => ToolKind::List,
    };
    let path = if files.is_empty() {
        text::rel_path(rng)
    } else {
        rng.pick(files).clone()
    };
    let mut t = ToolPlan {
        kind,
        path,
        command: String::new(),
        description: String::new(),
        output: String::new(),
        old: String::new(),
        new: String::new(),
        failed: false,
        error: String::new(),
        duration_ms: ln(rng, 40.0, 1.0, 2, 5_000),
        lines: 0,
        files: Vec::new(),
    };
    match kind {
        ToolKind::Shell => {
            let (cmd, desc) = match rng.index(8) {
                0 => ("cargo test --workspace".to_string(), "Run the test suite"),
                1 => ("cargo build --release".to_string(), "Build in release mode"),
                2 => (
                    format!("git diff --stat {}", t.path),
                    "Show the diff summary",
                ),
                3 => ("git status --short".to_string(), "Show working tree status"),
                4 => (format!("npm test -- {}", t.path), "Run the affected tests"),
                5 => (
                    format!(
                        "rg -n \"{}\" src",
                        text::words(rng, 8).trim_end_matches('.')
                    ),
                    "Search the sources",
                ),
                6 => ("ls -la".to_string(), "List files in the working directory"),
                _ => (
                    format!("python -m pytest -q {}", t.path),
                    "Run pytest on the module",
                ),
            };
            t.command = cmd;
            t.description = desc.to_string();
            t.lines = (ln(rng, 8.0, 1.3, 0, 600) as usize).min(max_lines);
            t.output = text::command_output(rng, t.lines);
            t.duration_ms = ln(rng, 1_500.0, 1.5, 20, 300_000);
            t.failed = rng.chance(0.12);
        }
        ToolKind::Read => {
            t.lines = (ln(rng, 90.0, 0.9, 3, 2_000) as usize).min(max_lines);
            t.output = text::code(rng, t.lines);
            t.failed = rng.chance(0.04);
        }
        ToolKind::Edit => {
            t.old = {
                let n = ln(rng, 4.0, 0.8, 1, 60) as usize;
                text::code(rng, n)
            };
            t.new = {
                let n = ln(rng, 5.0, 0.8, 1, 80) as usize;
                text::code(rng, n)
            };
            t.lines = ln(rng, 12.0, 0.5, 3, 40) as usize;
            t.output = text::code(rng, t.lines);
            t.failed = rng.chance(0.08);
        }
        ToolKind::Grep => {
            t.command = text::words(rng, 10).trim_end_matches('.').to_string();
            t.lines = (ln(rng, 10.0, 0.9, 0, 400) as usize).min(max_lines);
            let mut s = String::new();
            for _ in 0..t.lines {
                s.push_str(&text::rel_path(rng));
                s.push(':');
                s.push_str(&rng.range(1, 900).to_string());
                s.push(':');
                text::push_code_line(rng, &mut s);
                s.push('\n');
            }
            t.output = s;
            t.failed = rng.chance(0.02);
        }
        ToolKind::Glob | ToolKind::List => {
            t.command = format!("**/*.{}", rng.pick(text::EXTS));
            let n = (ln(rng, 12.0, 0.8, 1, 300) as usize).min(max_lines);
            t.files = (0..n).map(|_| text::rel_path(rng)).collect();
            t.lines = n;
            t.output = t.files.join("\n");
            t.failed = rng.chance(0.02);
        }
        ToolKind::Write => {
            t.new = {
                let n = (ln(rng, 60.0, 0.8, 5, 800) as usize).min(max_lines);
                text::code(rng, n)
            };
            t.failed = rng.chance(0.02);
        }
    }
    if t.failed {
        t.error = text::error_output(rng);
    }
    t
}

/// Plans one turn. `budget` is roughly how many bytes the session may still grow: small
/// budgets get fewer steps and shorter tool outputs, so small sessions stay small.
pub fn plan_turn(rng: &mut Rng, files: &[String], budget: u64) -> TurnPlan {
    let prompt_len = ln(rng, 140.0, 1.0, 8, 6_000) as usize;
    let prompt = text::words(rng, prompt_len);
    let max_steps = 1 + (budget / 10_000) as usize;
    let nsteps = (ln(rng, 3.0, 0.8, 1, 40) as usize).min(max_steps);
    let max_lines = (3 + budget / (nsteps as u64 * 250)) as usize;
    let mut steps = Vec::with_capacity(nsteps);
    for i in 0..nsteps {
        let last = i + 1 == nsteps;
        let text = if last {
            Some({
                let n = ln(rng, 450.0, 0.9, 20, 12_000) as usize;
                text::words(rng, n)
            })
        } else if rng.chance(0.4) {
            Some({
                let n = ln(rng, 120.0, 0.8, 10, 2_000) as usize;
                text::words(rng, n)
            })
        } else {
            None
        };
        let tools: Vec<ToolPlan> = if last {
            Vec::new()
        } else {
            let n = 1 + rng.weighted(&[70, 20, 10]);
            (0..n).map(|_| plan_tool(rng, files, max_lines)).collect()
        };
        let visible = text.as_ref().map_or(0, |t| t.len() as u64 / 4)
            + tools
                .iter()
                .map(|t| {
                    (t.command.len() + t.path.len() + t.old.len() + t.new.len()) as u64 / 4 + 12
                })
                .sum::<u64>();
        let thinking = if rng.chance(0.6) {
            rng.range(8, 900)
        } else {
            0
        };
        steps.push(StepPlan {
            text,
            tools,
            output_tokens: visible + rng.range(5, 60),
            thinking_tokens: thinking,
            latency_ms: ln(rng, 3_000.0, 0.8, 200, 120_000),
        });
    }
    let gap_ms = if rng.chance(0.15) {
        ln(rng, 600_000.0, 1.0, 60_000, 7_200_000)
    } else {
        ln(rng, 30_000.0, 1.0, 2_000, 600_000)
    };
    TurnPlan {
        prompt,
        steps,
        gap_ms,
    }
}

/// Normalised token counts (the aimux convention: `input` excludes cached prompt tokens,
/// `output` includes reasoning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Tokens {
    pub fn add(&mut self, o: &Tokens) {
        self.input += o.input;
        self.output += o.output;
        self.cache_read += o.cache_read;
        self.cache_write += o.cache_write;
    }

    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_write
    }
}

/// What the generator wrote into one session file: the ground truth parsers are held to.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SessionTruth {
    pub provider: String,
    /// Path relative to the corpus HOME.
    pub path: String,
    pub session_id: String,
    pub project: String,
    pub cwd: String,
    pub turns: u64,
    pub tool_calls: u64,
    pub failed_tool_calls: u64,
    pub tokens: Tokens,
    pub models: BTreeMap<String, Tokens>,
    pub started_at: String,
    pub last_activity: String,
    pub bytes: u64,
    pub lines: u64,
}

impl SessionTruth {
    pub fn add_usage(&mut self, model: &str, t: Tokens) {
        self.tokens.add(&t);
        self.models.entry(model.to_string()).or_default().add(&t);
    }

    pub fn count_turn(&mut self, plan: &TurnPlan) {
        self.turns += 1;
        for s in &plan.steps {
            for t in &s.tools {
                self.tool_calls += 1;
                if t.failed {
                    self.failed_tool_calls += 1;
                }
            }
        }
    }
}

/// A session's clock: advances by planned durations, never past `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub t: i64,
    pub limit: i64,
}

impl Clock {
    pub fn advance(&mut self, ms: u64) -> i64 {
        self.t = (self.t + ms as i64).min(self.limit).max(self.t);
        self.t
    }
}
