//! Session ids named on an agent's command line.

use super::classify::{CODEX_VALUE_OPTS, positionals};
use aimux_core::Provider;
use serde::{Deserialize, Serialize};

/// What the command line says about which session the agent works on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionHint {
    /// A session id from the command line: the session being resumed, or the id given to a
    /// new session (`--session-id`).
    pub session_id: Option<String>,
    /// "Continue the most recent session" (`claude -c`, `codex resume --last`,
    /// `gemini --resume` / `--resume latest`, `opencode -c`).
    pub latest: bool,
    /// The resumed session is forked into a new one (`--fork-session`, `codex fork`): the
    /// live session id differs from `session_id`.
    pub forked: bool,
    /// The flag or sub-command the hint came from (`--resume`, `--session-id`, `resume`).
    pub source: String,
}

impl SessionHint {
    fn is_empty(&self) -> bool {
        self.session_id.is_none() && !self.latest
    }
}

/// A plausible id: one word, not an option. (Prompts have spaces; pickers take no value.)
fn id_like(v: &str) -> bool {
    !v.is_empty() && !v.starts_with('-') && v.len() <= 200 && !v.chars().any(char::is_whitespace)
}

/// `--flag value` or `--flag=value` at `args[i]`; returns the value and how many
/// arguments were consumed.
fn flag_value<'a>(
    args: &'a [String],
    i: usize,
    names: &[&str],
) -> Option<(Option<&'a str>, usize)> {
    let a = args.get(i)?;
    for n in names {
        if a == n {
            let v = args
                .get(i + 1)
                .map(String::as_str)
                .filter(|v| !v.starts_with('-'));
            return Some((v, if v.is_some() { 2 } else { 1 }));
        }
        if let Some(v) = a.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
            return Some((Some(v), 1));
        }
    }
    None
}

/// Reads the session hint from the arguments after the program (`argv[1..]` for a native
/// binary, the arguments after the script for `node script`).
pub fn session_hint(provider: Provider, args: &[String]) -> Option<SessionHint> {
    let hint = match provider {
        Provider::Codex => codex_hint(args),
        Provider::Claude | Provider::Gemini | Provider::Opencode => flag_hint(provider, args),
    };
    hint.filter(|h| !h.is_empty())
}

fn flag_hint(provider: Provider, args: &[String]) -> Option<SessionHint> {
    let (resume, new_id, cont): (&[&str], &[&str], &[&str]) = match provider {
        Provider::Claude => (
            &["--resume", "-r"],
            &["--session-id"],
            &["--continue", "-c"],
        ),
        Provider::Gemini => (&["--resume", "-r"], &["--session-id"], &[]),
        Provider::Opencode => (&[], &["--session", "-s"], &["--continue", "-c"]),
        Provider::Codex => (&[], &[], &[]),
    };
    let mut hint = SessionHint::default();
    let mut i = 0;
    while i < args.len() {
        if args.get(i).is_some_and(|a| a == "--") {
            break;
        }
        if let Some((v, n)) = flag_value(args, i, resume) {
            match v {
                Some("latest") if provider == Provider::Gemini => set_latest(&mut hint, "--resume"),
                // Gemini takes an index into its session list: not an id.
                Some(v)
                    if provider == Provider::Gemini && v.chars().all(|c| c.is_ascii_digit()) => {}
                Some(v) if id_like(v) => set_id(&mut hint, v, "--resume"),
                // Bare `--resume`: Gemini resumes the latest, Claude opens a picker.
                None if provider == Provider::Gemini => set_latest(&mut hint, "--resume"),
                _ => {}
            }
            i += n;
        } else if let Some((v, n)) = flag_value(args, i, new_id) {
            if let Some(v) = v.filter(|v| id_like(v)) {
                set_id(&mut hint, v, new_id.first().copied().unwrap_or(""));
            }
            i += n;
        } else {
            let a = args.get(i).map(String::as_str).unwrap_or("");
            if cont.contains(&a) {
                set_latest(&mut hint, cont.first().copied().unwrap_or(""));
            } else if provider == Provider::Claude && a == "--fork-session" {
                hint.forked = true;
            }
            i += 1;
        }
    }
    Some(hint)
}

fn set_id(h: &mut SessionHint, id: &str, source: &str) {
    if h.session_id.is_none() {
        h.session_id = Some(id.to_string());
        h.source = source.to_string();
    }
}

fn set_latest(h: &mut SessionHint, source: &str) {
    if !h.latest && h.session_id.is_none() {
        h.source = source.to_string();
    }
    h.latest = true;
}

/// `codex resume <id>`, `codex resume --last`, `codex exec resume <id> [prompt]`,
/// `codex exec resume --last [prompt]`, `codex fork <id>`.
fn codex_hint(args: &[String]) -> Option<SessionHint> {
    let pos = positionals(args, CODEX_VALUE_OPTS);
    let last = args.iter().any(|a| a == "--last");
    let (sub, rest) = match pos.as_slice() {
        ["exec" | "e", sub, rest @ ..] => (*sub, rest),
        [sub, rest @ ..] => (*sub, rest),
        [] => return None,
    };
    let forked = match sub {
        "resume" => false,
        "fork" => true,
        _ => return None,
    };
    let mut hint = SessionHint {
        forked,
        source: sub.to_string(),
        ..SessionHint::default()
    };
    if last {
        hint.latest = true;
    } else if let Some(id) = rest.first().filter(|v| id_like(v)) {
        hint.session_id = Some(id.to_string());
    }
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(p: Provider, args: &[&str]) -> Option<SessionHint> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        session_hint(p, &args)
    }

    fn id(source: &str, id: &str) -> Option<SessionHint> {
        Some(SessionHint {
            session_id: Some(id.into()),
            source: source.into(),
            ..SessionHint::default()
        })
    }

    fn latest(source: &str) -> Option<SessionHint> {
        Some(SessionHint {
            latest: true,
            source: source.into(),
            ..SessionHint::default()
        })
    }

    const U: &str = "a8f82001-3e68-453a-bc59-16b287a0a2b1";

    #[test]
    fn claude() {
        assert_eq!(hint(Provider::Claude, &["--resume", U]), id("--resume", U));
        assert_eq!(
            hint(Provider::Claude, &["-r", U, "-p", "hi"]),
            id("--resume", U)
        );
        assert_eq!(
            hint(Provider::Claude, &[&format!("--resume={U}")]),
            id("--resume", U)
        );
        assert_eq!(
            hint(Provider::Claude, &["--session-id", U]),
            id("--session-id", U)
        );
        assert_eq!(hint(Provider::Claude, &["-c"]), latest("--continue"));
        assert_eq!(
            hint(Provider::Claude, &["--continue", "-p", "x"]),
            latest("--continue")
        );
        // Bare --resume opens a picker; a prompt is not an id.
        assert_eq!(hint(Provider::Claude, &["--resume"]), None);
        assert_eq!(hint(Provider::Claude, &["--resume", "-p", "hi"]), None);
        assert_eq!(hint(Provider::Claude, &["-p", "please --resume x"]), None);
        assert_eq!(
            hint(
                Provider::Claude,
                &["-p", "SLEEP_TOOL 8", "--allowedTools", "Bash"]
            ),
            None
        );
        let mut forked = id("--resume", U);
        if let Some(h) = forked.as_mut() {
            h.forked = true;
        }
        assert_eq!(
            hint(Provider::Claude, &["--resume", U, "--fork-session"]),
            forked
        );
    }

    #[test]
    fn codex() {
        assert_eq!(hint(Provider::Codex, &["resume", U]), id("resume", U));
        assert_eq!(
            hint(Provider::Codex, &["-c", "a=b", "resume", U]),
            id("resume", U)
        );
        assert_eq!(
            hint(Provider::Codex, &["resume", "--last"]),
            latest("resume")
        );
        assert_eq!(
            hint(Provider::Codex, &["exec", "resume", U, "go on"]),
            id("resume", U)
        );
        assert_eq!(
            hint(Provider::Codex, &["exec", "resume", "--last", "go on"]),
            latest("resume")
        );
        let mut f = id("fork", U);
        if let Some(h) = f.as_mut() {
            h.forked = true;
        }
        assert_eq!(hint(Provider::Codex, &["fork", U]), f);
        assert_eq!(hint(Provider::Codex, &["resume"]), None);
        assert_eq!(
            hint(Provider::Codex, &["exec", "SLEEP_TOOL 6 then list files"]),
            None
        );
        assert_eq!(
            hint(Provider::Codex, &["exec", "resume my work please"]),
            None
        );
        assert_eq!(hint(Provider::Codex, &[]), None);
    }

    #[test]
    fn gemini() {
        assert_eq!(hint(Provider::Gemini, &["--resume", U]), id("--resume", U));
        assert_eq!(
            hint(Provider::Gemini, &["-r", "latest"]),
            latest("--resume")
        );
        assert_eq!(hint(Provider::Gemini, &["--resume"]), latest("--resume"));
        assert_eq!(
            hint(Provider::Gemini, &["--resume", "-p", "x"]),
            latest("--resume")
        );
        assert_eq!(hint(Provider::Gemini, &["--resume", "5"]), None);
        assert_eq!(
            hint(Provider::Gemini, &["--session-id", U]),
            id("--session-id", U)
        );
        assert_eq!(
            hint(Provider::Gemini, &["-p", "SLEEP_TOOL 6 please", "--yolo"]),
            None
        );
        // `-c` means nothing to Gemini.
        assert_eq!(hint(Provider::Gemini, &["-c"]), None);
    }

    #[test]
    fn opencode() {
        assert_eq!(
            hint(Provider::Opencode, &["run", "--session", "ses_1"]),
            id("--session", "ses_1")
        );
        assert_eq!(
            hint(Provider::Opencode, &["-s", "ses_2"]),
            id("--session", "ses_2")
        );
        assert_eq!(hint(Provider::Opencode, &["-c"]), latest("--continue"));
    }

    #[test]
    fn arguments_after_double_dash_are_ignored() {
        assert_eq!(hint(Provider::Claude, &["--", "--resume", U]), None);
    }
}
