//! The keymap is data: every action has a name (the same word the config uses), a
//! description, the views it works in and its default keys. Help (`?`) and the footer are
//! generated from it, so they can never disagree with what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;
use std::fmt;

/// Where a binding applies. `Global` bindings work in every view unless the view binds
/// the same key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Global,
    Agents,
    Sessions,
    Costs,
    Trace,
    Teams,
    Health,
    Tasks,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Everywhere",
            Scope::Agents => "Agents",
            Scope::Sessions => "Sessions",
            Scope::Costs => "Costs",
            Scope::Trace => "Trace",
            Scope::Teams => "Teams",
            Scope::Health => "Health",
            Scope::Tasks => "Tasks",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    Command,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Refresh,
    Health,
    Filter,
    Sort,
    Open,
    Trace,
    Expand,
    Collapse,
    Kill,
    CostScope,
    CostGroup,
    NextTurn,
    PrevTurn,
    ToggleTurn,
    ToggleAll,
    Annotate,
    Note,
    Search,
    NextMatch,
    PrevMatch,
    Follow,
    Resume,
    Attach,
    Delete,
    Tasks,
    TaskDetails,
    NewTask,
}

pub struct ActionInfo {
    pub action: Action,
    /// The config name (`keymap: {kill: "ctrl-k"}`).
    pub name: &'static str,
    pub description: &'static str,
    /// Footer label; empty keeps the action out of the footer.
    pub short: &'static str,
    pub scopes: &'static [Scope],
    pub keys: &'static [&'static str],
}

use Scope::*;

const LISTS: &[Scope] = &[Agents, Sessions];
const FILTERED: &[Scope] = &[Agents, Sessions, Tasks];

pub const ACTIONS: &[ActionInfo] = &[
    ActionInfo {
        action: Action::Quit,
        name: "quit",
        description: "quit aimux",
        short: "quit",
        scopes: &[Global],
        keys: &["q", "ctrl-c"],
    },
    ActionInfo {
        action: Action::Help,
        name: "help",
        description: "show this help",
        short: "help",
        scopes: &[Global],
        keys: &["?"],
    },
    ActionInfo {
        action: Action::Command,
        name: "command",
        description: "command bar (:costs, :sessions, …; Tab completes)",
        short: "cmd",
        scopes: &[Global],
        keys: &[":"],
    },
    ActionInfo {
        action: Action::Back,
        name: "back",
        description: "close popup / clear filter / previous view",
        short: "back",
        scopes: &[Global],
        keys: &["esc"],
    },
    ActionInfo {
        action: Action::Up,
        name: "up",
        description: "move up",
        short: "",
        scopes: &[Global],
        keys: &["k", "up"],
    },
    ActionInfo {
        action: Action::Down,
        name: "down",
        description: "move down",
        short: "",
        scopes: &[Global],
        keys: &["j", "down"],
    },
    ActionInfo {
        action: Action::PageUp,
        name: "page_up",
        description: "page up",
        short: "",
        scopes: &[Global],
        keys: &["pgup", "ctrl-b"],
    },
    ActionInfo {
        action: Action::PageDown,
        name: "page_down",
        description: "page down",
        short: "",
        scopes: &[Global],
        keys: &["pgdn", "ctrl-f"],
    },
    ActionInfo {
        action: Action::Top,
        name: "top",
        description: "go to the top",
        short: "",
        scopes: &[Global],
        keys: &["g", "home"],
    },
    ActionInfo {
        action: Action::Bottom,
        name: "bottom",
        description: "go to the bottom",
        short: "",
        scopes: &[Global],
        keys: &["G", "end"],
    },
    ActionInfo {
        action: Action::Refresh,
        name: "refresh",
        description: "reload the current view now",
        short: "",
        scopes: &[Global],
        keys: &["ctrl-r"],
    },
    ActionInfo {
        action: Action::Health,
        name: "health",
        description: "health of providers and backends",
        short: "",
        scopes: &[Global],
        keys: &["H"],
    },
    ActionInfo {
        action: Action::Tasks,
        name: "tasks",
        description: "task queue of the workers (Redis coordination)",
        short: "",
        scopes: &[Global],
        keys: &["T"],
    },
    ActionInfo {
        action: Action::Filter,
        name: "filter",
        description: "filter rows (name, dir, model, provider, status)",
        short: "filter",
        scopes: FILTERED,
        keys: &["/"],
    },
    ActionInfo {
        action: Action::Sort,
        name: "sort",
        description: "cycle the sort order",
        short: "sort",
        scopes: LISTS,
        keys: &["s"],
    },
    ActionInfo {
        action: Action::Open,
        name: "open",
        description: "open the trace of the selected row",
        short: "trace",
        scopes: &[Agents, Sessions, Teams],
        keys: &["enter"],
    },
    ActionInfo {
        action: Action::Trace,
        name: "trace",
        description: "open the trace (same as enter)",
        short: "",
        scopes: LISTS,
        keys: &["t"],
    },
    ActionInfo {
        action: Action::Expand,
        name: "expand",
        description: "expand / collapse children and subagents",
        short: "tree",
        scopes: &[Agents],
        keys: &["space", "right", "l"],
    },
    ActionInfo {
        action: Action::Collapse,
        name: "collapse",
        description: "collapse children and subagents",
        short: "",
        scopes: &[Agents],
        keys: &["left", "h"],
    },
    ActionInfo {
        action: Action::Kill,
        name: "kill",
        description: "kill the selected agent (asks first)",
        short: "kill",
        scopes: &[Agents],
        keys: &["x"],
    },
    ActionInfo {
        action: Action::CostScope,
        name: "cost_scope",
        description: "scope: live agents → today → 7 days → all",
        short: "scope",
        scopes: &[Costs],
        keys: &["tab"],
    },
    ActionInfo {
        action: Action::CostGroup,
        name: "cost_group",
        description: "group by project → provider → model → day",
        short: "group",
        scopes: &[Costs],
        keys: &["b"],
    },
    ActionInfo {
        action: Action::NextTurn,
        name: "next_turn",
        description: "next turn",
        short: "next",
        scopes: &[Trace],
        keys: &["n"],
    },
    ActionInfo {
        action: Action::PrevTurn,
        name: "prev_turn",
        description: "previous turn",
        short: "prev",
        scopes: &[Trace],
        keys: &["p"],
    },
    ActionInfo {
        action: Action::ToggleTurn,
        name: "toggle_turn",
        description: "fold / unfold the current turn",
        short: "fold",
        scopes: &[Trace],
        keys: &["enter", "space"],
    },
    ActionInfo {
        action: Action::ToggleAll,
        name: "toggle_all",
        description: "fold / unfold all turns",
        short: "",
        scopes: &[Trace],
        keys: &["z"],
    },
    ActionInfo {
        action: Action::Annotate,
        name: "annotate",
        description: "label the turn: GOOD → BAD → WASTE → none",
        short: "label",
        scopes: &[Trace],
        keys: &["a"],
    },
    ActionInfo {
        action: Action::Note,
        name: "note",
        description: "edit the turn's note",
        short: "note",
        scopes: &[Trace],
        keys: &["N"],
    },
    ActionInfo {
        action: Action::Search,
        name: "search",
        description: "search in the trace",
        short: "search",
        scopes: &[Trace],
        keys: &["/"],
    },
    ActionInfo {
        action: Action::NextMatch,
        name: "next_match",
        description: "next search match",
        short: "match",
        scopes: &[Trace],
        keys: &["]"],
    },
    ActionInfo {
        action: Action::PrevMatch,
        name: "prev_match",
        description: "previous search match",
        short: "",
        scopes: &[Trace],
        keys: &["["],
    },
    ActionInfo {
        action: Action::Follow,
        name: "follow",
        description: "follow the live tail (stick to the end)",
        short: "follow",
        scopes: &[Trace],
        keys: &["F"],
    },
    ActionInfo {
        action: Action::Resume,
        name: "resume",
        description: "resume the session in a new tmux session (its own CLI, its directory)",
        short: "",
        scopes: &[Sessions],
        keys: &["r"],
    },
    ActionInfo {
        action: Action::Attach,
        name: "attach",
        description: "live terminal beside the trace (tmux); else trace only or resume",
        short: "",
        scopes: &[Agents],
        keys: &["a"],
    },
    ActionInfo {
        action: Action::Delete,
        name: "delete",
        description: "move the session's files to the trash (asks first)",
        short: "",
        scopes: &[Sessions],
        keys: &["d"],
    },
    ActionInfo {
        action: Action::TaskDetails,
        name: "task_details",
        description: "the task's prompt, result, error, times and log",
        short: "details",
        scopes: &[Tasks],
        keys: &["enter"],
    },
    ActionInfo {
        action: Action::NewTask,
        name: "new_task",
        description: "submit a task (provider, prompt) for a worker",
        short: "new",
        scopes: &[Tasks],
        keys: &["n"],
    },
];

pub fn info(action: Action) -> Option<&'static ActionInfo> {
    ACTIONS.iter().find(|a| a.action == action)
}

/// One key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn from_event(ev: &KeyEvent) -> Key {
        // Shift is folded into the character itself ('G'), except for BackTab.
        Key {
            code: ev.code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// `q`, `G`, `ctrl-c`, `alt-x`, `enter`, `esc`, `tab`, `backtab`, `space`, `up`,
    /// `pgdn`, `f1`, …
    pub fn parse(spec: &str) -> Result<Key, String> {
        let spec = spec.trim();
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = spec;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 5 && lower.starts_with("ctrl-") {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 4 && lower.starts_with("alt-") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n) if (1..=12).contains(&n) => KeyCode::F(n),
                    _ => return Err(bad_key(spec)),
                },
                _ => return Err(bad_key(spec)),
            },
        };
        Ok(Key { code, ctrl, alt })
    }
}

fn bad_key(spec: &str) -> String {
    format!(
        "'{spec}' is not a key; use a character (\"x\", \"G\"), a name (enter, esc, tab, space, \
         up, pgdn, home, f1) or a modifier prefix (\"ctrl-k\", \"alt-x\")"
    )
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("backtab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::F(n) => write!(f, "f{n}"),
            _ => f.write_str("?"),
        }
    }
}

#[derive(Debug, Clone)]
struct Binding {
    key: Key,
    action: Action,
    scope: Scope,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::build(&BTreeMap::new()).0
    }
}

impl Keymap {
    /// The default keymap with the user's overrides (action name → keys) applied. An
    /// override replaces the action's default keys; a key it takes from another action
    /// in an overlapping view is removed there, with a warning.
    pub fn build(overrides: &BTreeMap<String, Vec<String>>) -> (Keymap, Vec<String>) {
        let mut warnings = Vec::new();
        let mut bindings = Vec::new();
        let mut overridden: Vec<(Action, Vec<Key>)> = Vec::new();
        for (name, keys) in overrides {
            let Some(info) = ACTIONS.iter().find(|a| a.name == name.as_str()) else {
                warnings.push(format!(
                    "keymap: unknown action '{name}' ignored (actions: {})",
                    ACTIONS
                        .iter()
                        .map(|a| a.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            };
            let mut parsed = Vec::new();
            for k in keys {
                match Key::parse(k) {
                    Ok(key) => parsed.push(key),
                    Err(e) => warnings.push(format!("keymap.{name}: {e}")),
                }
            }
            if parsed.is_empty() {
                warnings.push(format!("keymap.{name}: no usable key, keeping the default"));
                continue;
            }
            overridden.push((info.action, parsed));
        }
        for info in ACTIONS {
            let keys: Vec<Key> = match overridden.iter().find(|(a, _)| *a == info.action) {
                Some((_, keys)) => keys.clone(),
                None => info
                    .keys
                    .iter()
                    .filter_map(|k| Key::parse(k).ok())
                    .collect(),
            };
            for key in keys {
                for &scope in info.scopes {
                    bindings.push(Binding {
                        key,
                        action: info.action,
                        scope,
                    });
                }
            }
        }
        // Overridden keys win over defaults that share a view.
        for (action, keys) in &overridden {
            let Some(info) = info(*action) else { continue };
            bindings.retain(|b| {
                let clash =
                    b.action != *action && keys.contains(&b.key) && info.scopes.contains(&b.scope);
                if clash {
                    let other = self::info(b.action).map(|i| i.name).unwrap_or("?");
                    warnings.push(format!(
                        "keymap.{}: '{}' was bound to '{other}', which loses it",
                        info.name, b.key
                    ));
                }
                !clash
            });
        }
        (Keymap { bindings }, warnings)
    }

    /// The action a key triggers in `scope`: the view's own bindings first, then global.
    pub fn action(&self, scope: Scope, key: Key) -> Option<Action> {
        let find = |s: Scope| {
            self.bindings
                .iter()
                .find(|b| b.key == key && b.scope == s)
                .map(|b| b.action)
        };
        find(scope).or_else(|| find(Scope::Global))
    }

    /// Keys bound to an action (in binding order, each once).
    pub fn keys(&self, action: Action) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        for b in self.bindings.iter().filter(|b| b.action == action) {
            if !out.contains(&b.key) {
                out.push(b.key);
            }
        }
        out
    }

    /// Keys bound to an action in one view.
    pub fn keys_in(&self, action: Action, scope: Scope) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        for b in self
            .bindings
            .iter()
            .filter(|b| b.action == action && b.scope == scope)
        {
            if !out.contains(&b.key) {
                out.push(b.key);
            }
        }
        out
    }

    /// `(keys, short label)` for the footer of `scope`: the view's actions, then the
    /// global ones that have a label.
    pub fn footer(&self, scope: Scope) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        let scopes = if scope == Scope::Global {
            vec![Scope::Global]
        } else {
            vec![scope, Scope::Global]
        };
        for s in scopes {
            for info in ACTIONS.iter().filter(|a| a.scopes.contains(&s)) {
                if info.short.is_empty() {
                    continue;
                }
                // A global action shadowed in this view by a view binding is not shown.
                let keys: Vec<Key> = self
                    .keys_in(info.action, s)
                    .into_iter()
                    .filter(|k| self.action(scope, *k) == Some(info.action))
                    .collect();
                if let Some(k) = keys.first() {
                    out.push((k.to_string(), info.short));
                }
            }
        }
        out
    }

    /// Help sections: scope title and `(keys, description)` rows.
    pub fn help(&self) -> Vec<(&'static str, Vec<(String, &'static str)>)> {
        let order = [
            Scope::Global,
            Scope::Agents,
            Scope::Sessions,
            Scope::Costs,
            Scope::Trace,
            Scope::Teams,
            Scope::Tasks,
        ];
        order
            .iter()
            .filter_map(|s| {
                let rows: Vec<(String, &'static str)> = ACTIONS
                    .iter()
                    .filter(|a| a.scopes.contains(s))
                    .filter_map(|a| {
                        let keys = self.keys_in(a.action, *s);
                        (!keys.is_empty()).then(|| {
                            (
                                keys.iter()
                                    .map(Key::to_string)
                                    .collect::<Vec<_>>()
                                    .join(" "),
                                a.description,
                            )
                        })
                    })
                    .collect();
                (!rows.is_empty()).then_some((s.title(), rows))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Key {
        Key::parse(s).expect("key")
    }

    #[test]
    fn parses_key_specs() {
        assert_eq!(
            k("ctrl-c"),
            Key {
                code: KeyCode::Char('c'),
                ctrl: true,
                alt: false
            }
        );
        assert_eq!(k("G").code, KeyCode::Char('G'));
        assert_eq!(k("pgdn").code, KeyCode::PageDown);
        assert_eq!(k("f5").code, KeyCode::F(5));
        assert!(Key::parse("hyper-x").is_err());
        assert!(Key::parse("f13").is_err());
        assert_eq!(k("ctrl-r").to_string(), "ctrl-r");
    }

    #[test]
    fn view_bindings_shadow_global_ones() {
        let km = Keymap::default();
        assert_eq!(km.action(Scope::Agents, k("/")), Some(Action::Filter));
        assert_eq!(km.action(Scope::Trace, k("/")), Some(Action::Search));
        assert_eq!(
            km.action(Scope::Trace, k("enter")),
            Some(Action::ToggleTurn)
        );
        assert_eq!(km.action(Scope::Agents, k("enter")), Some(Action::Open));
        assert_eq!(km.action(Scope::Health, k("x")), None);
        assert_eq!(km.action(Scope::Health, k("q")), Some(Action::Quit));
    }

    #[test]
    fn overrides_replace_keys_and_steal_with_warning() {
        let mut o = BTreeMap::new();
        o.insert(
            "kill".to_string(),
            vec!["ctrl-k".to_string(), "s".to_string()],
        );
        o.insert("bogus".to_string(), vec!["x".to_string()]);
        let (km, warnings) = Keymap::build(&o);
        assert_eq!(km.action(Scope::Agents, k("ctrl-k")), Some(Action::Kill));
        assert_eq!(km.action(Scope::Agents, k("x")), None);
        assert_eq!(km.action(Scope::Agents, k("s")), Some(Action::Kill));
        // Sessions keep `s` for sort: the kill override does not apply there.
        assert_eq!(km.action(Scope::Sessions, k("s")), Some(Action::Sort));
        assert!(warnings.iter().any(|w| w.contains("'bogus'")));
        assert!(warnings.iter().any(|w| w.contains("'sort'")));
    }

    #[test]
    fn footer_and_help_follow_the_keymap() {
        let mut o = BTreeMap::new();
        o.insert("kill".to_string(), vec!["K".to_string()]);
        let (km, _) = Keymap::build(&o);
        let footer = km.footer(Scope::Agents);
        assert!(footer.contains(&("K".to_string(), "kill")));
        assert!(!footer.iter().any(|(key, _)| key == "x"));
        let help = km.help();
        let agents = help
            .iter()
            .find(|(t, _)| *t == "Agents")
            .expect("agents section");
        assert!(
            agents
                .1
                .iter()
                .any(|(keys, d)| keys == "K" && d.starts_with("kill"))
        );
    }
}
