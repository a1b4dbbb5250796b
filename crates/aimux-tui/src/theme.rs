//! Colours come from a theme of semantic roles. The default is built in; the user's config
//! overrides single roles (`theme: {status_waiting: "magenta bold"}`). With `NO_COLOR` set,
//! every role keeps only its modifiers (bold, reverse, …): icons and text still carry the
//! meaning.

use ratatui::style::{Color, Modifier, Style};
use std::collections::BTreeMap;
use std::str::FromStr;

macro_rules! roles {
    ($($name:ident),* $(,)?) => {
        /// Semantic styles. Field names are the keys of the config's `theme:` section.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            /// False under `NO_COLOR`: no colours at all, syntax highlighting included.
            pub color: bool,
            $(pub $name: Style,)*
        }

        impl Theme {
            pub const ROLES: &'static [&'static str] = &[$(stringify!($name)),*];

            fn role_mut(&mut self, name: &str) -> Option<&mut Style> {
                match name {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }

            fn strip_colors(&mut self) {
                $(self.$name = Style::default().add_modifier(self.$name.add_modifier);)*
            }
        }
    };
}

roles!(
    text,
    muted,
    accent,
    title,
    border,
    header,
    selected,
    key,
    status_active,
    status_waiting,
    status_idle,
    status_error,
    status_unknown,
    cost_zero,
    cost_normal,
    cost_warn,
    cost_high,
    label_good,
    label_bad,
    label_waste,
    error,
    warning,
    ok,
    heading,
    code,
    quote,
    link,
    search_match,
    user_prompt,
    tree,
);

fn fg(c: Color) -> Style {
    Style::default().fg(c)
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            color: true,
            text: Style::default(),
            muted: fg(Color::DarkGray),
            accent: fg(Color::Cyan),
            title: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            border: fg(Color::DarkGray),
            header: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::default()
                .bg(Color::DarkGray)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            status_active: fg(Color::Green).add_modifier(Modifier::BOLD),
            status_waiting: fg(Color::Magenta).add_modifier(Modifier::BOLD),
            status_idle: fg(Color::Blue),
            status_error: fg(Color::Red).add_modifier(Modifier::BOLD),
            status_unknown: fg(Color::DarkGray),
            cost_zero: fg(Color::DarkGray),
            cost_normal: Style::default(),
            cost_warn: fg(Color::Yellow),
            cost_high: fg(Color::Red).add_modifier(Modifier::BOLD),
            label_good: fg(Color::Green).add_modifier(Modifier::BOLD),
            label_bad: fg(Color::Red).add_modifier(Modifier::BOLD),
            label_waste: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            error: fg(Color::Red),
            warning: fg(Color::Yellow),
            ok: fg(Color::Green),
            heading: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            code: fg(Color::Yellow),
            quote: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
            link: fg(Color::Blue).add_modifier(Modifier::UNDERLINED),
            search_match: Style::default().bg(Color::Yellow).fg(Color::Black),
            user_prompt: fg(Color::White).add_modifier(Modifier::BOLD),
            tree: fg(Color::DarkGray),
        }
    }
}

impl Theme {
    /// The default theme with the user's overrides applied, colours removed when
    /// `no_color`. Returns warnings for unknown roles and unreadable values.
    pub fn build(overrides: &BTreeMap<String, String>, no_color: bool) -> (Theme, Vec<String>) {
        let mut theme = Theme::default();
        let mut warnings = Vec::new();
        for (role, value) in overrides {
            let Some(slot) = theme.role_mut(role) else {
                warnings.push(format!(
                    "theme: unknown role '{role}' ignored (roles: {})",
                    Theme::ROLES.join(", ")
                ));
                continue;
            };
            match parse_style(value) {
                Ok(style) => *slot = style,
                Err(e) => warnings.push(format!("theme.{role}: {e}")),
            }
        }
        if no_color {
            theme.color = false;
            theme.strip_colors();
            // Without colours, selection and search hits need a modifier to show.
            theme.selected = theme.selected.add_modifier(Modifier::REVERSED);
            theme.search_match = theme
                .search_match
                .add_modifier(Modifier::REVERSED | Modifier::UNDERLINED);
        }
        (theme, warnings)
    }

    /// No colours, modifiers only (what `NO_COLOR` gives).
    pub fn monochrome() -> Theme {
        Theme::build(&BTreeMap::new(), true).0
    }

    /// True when `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub fn no_color_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    pub fn status(&self, s: aimux_core::status::Status) -> Style {
        use aimux_core::status::Status;
        match s {
            Status::Active => self.status_active,
            Status::Waiting => self.status_waiting,
            Status::Idle => self.status_idle,
            Status::Error => self.status_error,
            Status::Unknown => self.status_unknown,
        }
    }

    /// Grey for $0, normal under $10, yellow under $50, red from $50; unknown is muted.
    pub fn cost(&self, c: Option<f64>) -> Style {
        match c {
            None => self.muted,
            Some(v) if v <= 0.0 => self.cost_zero,
            Some(v) if v < 10.0 => self.cost_normal,
            Some(v) if v < 50.0 => self.cost_warn,
            Some(_) => self.cost_high,
        }
    }
}

/// `"red"`, `"#ff8800 bold"`, `"black on yellow"`, `"bold underlined"`.
pub fn parse_style(value: &str) -> Result<Style, String> {
    let mut style = Style::default();
    let mut words = value.split_whitespace().peekable();
    if words.peek().is_none() {
        return Err(format!(
            "'{value}' is empty; give a colour like \"red\" or \"#ff8800\""
        ));
    }
    while let Some(w) = words.next() {
        let lw = w.to_ascii_lowercase();
        let modifier = match lw.as_str() {
            "bold" => Some(Modifier::BOLD),
            "dim" => Some(Modifier::DIM),
            "italic" => Some(Modifier::ITALIC),
            "underlined" | "underline" => Some(Modifier::UNDERLINED),
            "reversed" | "reverse" => Some(Modifier::REVERSED),
            _ => None,
        };
        if let Some(m) = modifier {
            style = style.add_modifier(m);
            continue;
        }
        if lw == "on" {
            let Some(bg) = words.next() else {
                return Err(format!(
                    "'{value}': 'on' needs a background colour after it"
                ));
            };
            style = style.bg(color(bg, value)?);
            continue;
        }
        style = style.fg(color(w, value)?);
    }
    Ok(style)
}

fn color(word: &str, whole: &str) -> Result<Color, String> {
    Color::from_str(word).map_err(|_| {
        format!(
            "'{word}' in '{whole}' is not a colour; use a name (red, lightblue, darkgray), \
             an index (0-255) or #rrggbb"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_warnings() {
        let mut o = BTreeMap::new();
        o.insert("status_waiting".to_string(), "#ff8800 bold".to_string());
        o.insert("nope".to_string(), "red".to_string());
        o.insert("muted".to_string(), "blurple".to_string());
        let (t, w) = Theme::build(&o, false);
        assert_eq!(
            t.status_waiting,
            Style::default()
                .fg(Color::Rgb(0xff, 0x88, 0))
                .add_modifier(Modifier::BOLD)
        );
        assert_eq!(w.len(), 2);
        assert!(w.iter().any(|x| x.contains("'nope'")));
        assert!(w.iter().any(|x| x.contains("'blurple'")));
        assert_eq!(t.muted, Theme::default().muted);
    }

    #[test]
    fn no_color_keeps_modifiers_only() {
        let t = Theme::monochrome();
        assert!(!t.color);
        assert_eq!(t.status_active.fg, None);
        assert!(t.status_active.add_modifier.contains(Modifier::BOLD));
        assert_eq!(t.selected.bg, None);
    }

    #[test]
    fn cost_thresholds() {
        let t = Theme::default();
        assert_eq!(t.cost(Some(0.0)), t.cost_zero);
        assert_eq!(t.cost(Some(9.99)), t.cost_normal);
        assert_eq!(t.cost(Some(10.0)), t.cost_warn);
        assert_eq!(t.cost(Some(50.0)), t.cost_high);
        assert_eq!(t.cost(None), t.muted);
    }
}
