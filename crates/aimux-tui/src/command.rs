//! The `:` command bar: commands, aliases and Tab completion.

use crate::input::{InputOutcome, TextInput};
use crossterm::event::KeyEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Agents,
    Costs,
    Sessions,
    History,
    Teams,
    Health,
    /// `:trace [session-id]`: the given session, else the selected row's.
    Trace(Option<String>),
    Help,
    Quit,
    /// `:new`: the launcher overlay.
    New,
    /// `:send TEXT`: type a prompt into the selected agent's tmux pane.
    Send(String),
    /// `:export` / `:export-otel`: the selected or open session, as JSONL or OTLP.
    Export {
        otlp: bool,
    },
    /// `:tasks`: the workers' task queue.
    Tasks,
    /// `:task PROVIDER PROMPT…`: queue a task for a worker.
    SubmitTask {
        provider: String,
        prompt: String,
    },
    /// A command this build does not have yet (named honestly, never faked).
    NotAvailable(&'static str),
}

/// Providers a worker can run a task with (the coordination schema's list).
pub const TASK_PROVIDERS: [&str; 3] = ["claude", "codex", "gemini"];

pub struct CommandInfo {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub args: &'static str,
    pub description: &'static str,
    pub available: bool,
}

pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "agents",
        aliases: &["a", "ag"],
        args: "",
        description: "live agents",
        available: true,
    },
    CommandInfo {
        name: "costs",
        aliases: &["c", "cost"],
        args: "",
        description: "costs by project",
        available: true,
    },
    CommandInfo {
        name: "sessions",
        aliases: &["s", "ss"],
        args: "",
        description: "all sessions",
        available: true,
    },
    CommandInfo {
        name: "history",
        aliases: &["hist"],
        args: "",
        description: "all sessions, most recent first",
        available: true,
    },
    CommandInfo {
        name: "teams",
        aliases: &["tm"],
        args: "",
        description: "Claude Code agent teams",
        available: true,
    },
    CommandInfo {
        name: "health",
        aliases: &["hc"],
        args: "",
        description: "providers and backends",
        available: true,
    },
    CommandInfo {
        name: "trace",
        aliases: &["tr"],
        args: "[session-id]",
        description: "trace of a session",
        available: true,
    },
    CommandInfo {
        name: "tasks",
        aliases: &["tk"],
        args: "",
        description: "task queue of the workers (Redis)",
        available: true,
    },
    CommandInfo {
        name: "task",
        aliases: &[],
        args: "PROVIDER PROMPT",
        description: "queue a task for a worker (claude, codex, gemini)",
        available: true,
    },
    CommandInfo {
        name: "new",
        aliases: &[],
        args: "",
        description: "start a new agent (in tmux)",
        available: true,
    },
    CommandInfo {
        name: "send",
        aliases: &[],
        args: "TEXT",
        description: "type a prompt into the selected idle agent (tmux)",
        available: true,
    },
    CommandInfo {
        name: "export",
        aliases: &[],
        args: "",
        description: "export the session as JSONL (~/.aimux/exports)",
        available: true,
    },
    CommandInfo {
        name: "export-otel",
        aliases: &[],
        args: "",
        description: "export the session as an OTLP trace (export.endpoint)",
        available: true,
    },
    CommandInfo {
        name: "help",
        aliases: &["h", "?"],
        args: "",
        description: "keys and commands",
        available: true,
    },
    CommandInfo {
        name: "quit",
        aliases: &["q", "q!", "exit"],
        args: "",
        description: "quit aimux",
        available: true,
    },
];

fn lookup(word: &str) -> Option<&'static CommandInfo> {
    COMMANDS
        .iter()
        .find(|c| c.name == word || c.aliases.contains(&word))
}

/// Parses a command line (without the `:`).
pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let Some(word) = words.next() else {
        return Err("empty command".into());
    };
    let word_l = word.to_ascii_lowercase();
    let Some(info) = lookup(&word_l) else {
        return Err(format!(
            "unknown command ':{word}' — Tab completes, :help lists commands"
        ));
    };
    let arg = words.next().map(str::to_string);
    if info.args.is_empty() && arg.is_some() {
        return Err(format!(":{} takes no argument", info.name));
    }
    Ok(match info.name {
        "agents" => Command::Agents,
        "costs" => Command::Costs,
        "sessions" => Command::Sessions,
        "history" => Command::History,
        "teams" => Command::Teams,
        "health" => Command::Health,
        "trace" => Command::Trace(arg),
        "help" => Command::Help,
        "quit" => Command::Quit,
        "new" => Command::New,
        "export" => Command::Export { otlp: false },
        "export-otel" => Command::Export { otlp: true },
        "tasks" => Command::Tasks,
        "task" => {
            let usage = || {
                format!(
                    ":task needs a provider ({}) and a prompt: :task claude fix the flaky test",
                    TASK_PROVIDERS.join(", ")
                )
            };
            let Some(provider) = arg.map(|p| p.to_ascii_lowercase()) else {
                return Err(usage());
            };
            if !TASK_PROVIDERS.contains(&provider.as_str()) {
                return Err(format!(
                    "unknown provider '{provider}' — {}",
                    usage().trim_start_matches(':')
                ));
            }
            let rest = line
                .trim_start()
                .get(word.len()..)
                .unwrap_or("")
                .trim_start();
            let prompt = rest.get(provider.len()..).unwrap_or("").trim();
            if prompt.is_empty() {
                return Err(usage());
            }
            Command::SubmitTask {
                provider,
                prompt: prompt.to_string(),
            }
        }
        "send" => {
            let rest = line.trim_start().get(word.len()..).unwrap_or("").trim();
            if rest.is_empty() {
                return Err(":send needs the text to type: :send TEXT".into());
            }
            Command::Send(rest.to_string())
        }
        other => Command::NotAvailable(
            COMMANDS
                .iter()
                .find(|c| c.name == other)
                .map(|c| c.name)
                .unwrap_or("?"),
        ),
    })
}

/// Command names starting with `prefix`.
pub fn candidates(prefix: &str) -> Vec<&'static str> {
    let p = prefix.to_ascii_lowercase();
    COMMANDS
        .iter()
        .filter(|c| c.name.starts_with(&p))
        .map(|c| c.name)
        .collect()
}

fn common_prefix(words: &[&str]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut len = first.len();
    for w in words.iter().skip(1) {
        len = len.min(
            first
                .bytes()
                .zip(w.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    first.get(..len).unwrap_or_default().to_string()
}

/// The command bar's state.
#[derive(Debug, Clone, Default)]
pub struct CommandBar {
    pub input: TextInput,
    /// Candidates shown while completing, and which one Tab put in the input.
    pub matches: Vec<&'static str>,
    pub cycle: Option<usize>,
}

pub enum BarOutcome {
    Continue,
    Cancel,
    Run(String),
}

impl CommandBar {
    pub fn handle(&mut self, key: &KeyEvent) -> BarOutcome {
        match self.input.handle(key) {
            InputOutcome::Submit => BarOutcome::Run(self.input.text()),
            InputOutcome::Cancel => BarOutcome::Cancel,
            InputOutcome::Complete => {
                self.complete();
                BarOutcome::Continue
            }
            InputOutcome::Changed => {
                self.cycle = None;
                let text = self.input.text();
                self.matches = if text.contains(' ') || text.is_empty() {
                    Vec::new()
                } else {
                    candidates(&text)
                };
                BarOutcome::Continue
            }
            InputOutcome::Moved | InputOutcome::Ignored => BarOutcome::Continue,
        }
    }

    /// Tab: complete a unique match, extend to the common prefix, else cycle matches.
    pub fn complete(&mut self) {
        let text = self.input.text();
        if text.contains(' ') {
            return;
        }
        if let Some(i) = self.cycle {
            if self.matches.is_empty() {
                return;
            }
            let next = (i + 1) % self.matches.len();
            self.cycle = Some(next);
            if let Some(m) = self.matches.get(next) {
                self.input.set(m);
            }
            return;
        }
        let matches = candidates(&text);
        self.matches = matches.clone();
        match matches.as_slice() {
            [] => {}
            [one] => {
                let takes_args = lookup(one).is_some_and(|c| !c.args.is_empty());
                self.input.set(&if takes_args {
                    format!("{one} ")
                } else {
                    one.to_string()
                });
                self.matches.clear();
            }
            many => {
                let prefix = common_prefix(many);
                if prefix.len() > text.len() {
                    self.input.set(&prefix);
                } else {
                    self.cycle = Some(0);
                    if let Some(m) = many.first() {
                        self.input.set(m);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn type_str(bar: &mut CommandBar, s: &str) {
        for c in s.chars() {
            bar.handle(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    fn tab(bar: &mut CommandBar) {
        bar.handle(&KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    }

    #[test]
    fn aliases_and_unknowns() {
        assert_eq!(parse("a"), Ok(Command::Agents));
        assert_eq!(parse("q"), Ok(Command::Quit));
        assert_eq!(parse("  costs "), Ok(Command::Costs));
        assert_eq!(parse("trace abc"), Ok(Command::Trace(Some("abc".into()))));
        assert_eq!(parse("tasks"), Ok(Command::Tasks));
        assert_eq!(parse("tk"), Ok(Command::Tasks));
        assert_eq!(parse("export-otel"), Ok(Command::Export { otlp: true }));
        assert!(parse("frobnicate").is_err_and(|e| e.contains(":frobnicate")));
        assert!(parse("costs now").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn task_takes_a_provider_and_the_rest_as_prompt() {
        assert_eq!(
            parse("task Claude  fix the  flaky test "),
            Ok(Command::SubmitTask {
                provider: "claude".into(),
                prompt: "fix the  flaky test".into()
            })
        );
        assert!(parse("task").is_err_and(|e| e.contains("claude, codex, gemini")));
        assert!(parse("task codex").is_err_and(|e| e.contains("a prompt")));
        assert!(parse("task gpt4 do it").is_err_and(|e| e.contains("unknown provider 'gpt4'")));
    }

    #[test]
    fn tab_completes_unique_prefix() {
        let mut bar = CommandBar::default();
        type_str(&mut bar, "co");
        tab(&mut bar);
        assert_eq!(bar.input.text(), "costs");
        let mut bar = CommandBar::default();
        type_str(&mut bar, "tr");
        tab(&mut bar);
        assert_eq!(bar.input.text(), "trace ");
    }

    #[test]
    fn tab_extends_common_prefix_then_cycles() {
        let mut bar = CommandBar::default();
        type_str(&mut bar, "ex");
        tab(&mut bar);
        assert_eq!(bar.input.text(), "export");
        tab(&mut bar);
        assert_eq!(bar.input.text(), "export");
        tab(&mut bar);
        assert_eq!(bar.input.text(), "export-otel");
        tab(&mut bar);
        assert_eq!(bar.input.text(), "export");
        let mut bar = CommandBar::default();
        type_str(&mut bar, "h");
        tab(&mut bar);
        // history, health, help share only "h": Tab cycles through them.
        assert_eq!(bar.input.text(), "history");
        tab(&mut bar);
        assert_eq!(bar.input.text(), "health");
    }
}
