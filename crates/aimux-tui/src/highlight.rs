//! Syntax highlighting of fenced code with syntect (pure-Rust regex engine) and the syntax
//! definitions bundled by two-face. The `ansi` theme maps to the terminal's own palette,
//! so code looks right on dark and light terminals alike. Loaded once, on first use.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use std::sync::OnceLock;
use syntect::easy::HighlightLines;
use syntect::highlighting::FontStyle;
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;
use two_face::theme::{EmbeddedLazyThemeSet, EmbeddedThemeName};

/// Blocks longer than this are shown plain past this line (highlighting is per line and
/// not free).
const MAX_HIGHLIGHTED_LINES: usize = 400;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(two_face::syntax::extra_newlines)
}

fn themes() -> &'static EmbeddedLazyThemeSet {
    static SET: OnceLock<EmbeddedLazyThemeSet> = OnceLock::new();
    SET.get_or_init(two_face::theme::extra)
}

/// `ansi`-theme colours: alpha 0 carries a palette index in `r`, alpha 1 means "the
/// terminal's default".
fn to_color(c: syntect::highlighting::Color) -> Option<Color> {
    match c.a {
        0 => Some(match c.r {
            0 => Color::Black,
            1 => Color::Red,
            2 => Color::Green,
            3 => Color::Yellow,
            4 => Color::Blue,
            5 => Color::Magenta,
            6 => Color::Cyan,
            7 => Color::Gray,
            n => Color::Indexed(n),
        }),
        1 => None,
        _ => Some(Color::Rgb(c.r, c.g, c.b)),
    }
}

/// Highlights `code` written in `lang` (a fence token: `rust`, `py`, `sh`, …). Without
/// colour, or for an unknown language, lines come back in `plain` style.
pub fn highlight(code: &str, lang: &str, color: bool, plain: Style) -> Vec<Line<'static>> {
    let plain_lines = |text: &str| -> Vec<Line<'static>> {
        text.lines()
            .map(|l| Line::from(Span::styled(l.replace('\t', "    "), plain)))
            .collect()
    };
    if !color {
        return plain_lines(code);
    }
    let set = syntaxes();
    let token = lang.split([',', ' ', '{']).next().unwrap_or("").trim();
    let Some(syntax) = (!token.is_empty())
        .then(|| set.find_syntax_by_token(token))
        .flatten()
    else {
        return plain_lines(code);
    };
    let theme = themes().get(EmbeddedThemeName::Ansi);
    let mut h = HighlightLines::new(syntax, theme);
    let mut out = Vec::new();
    let mut lines = LinesWithEndings::from(code);
    for line in lines.by_ref().take(MAX_HIGHLIGHTED_LINES) {
        let Ok(ranges) = h.highlight_line(line, set) else {
            out.extend(plain_lines(line));
            continue;
        };
        let spans: Vec<Span<'static>> = ranges
            .into_iter()
            .filter_map(|(style, text)| {
                let text = text.trim_end_matches(['\n', '\r']).replace('\t', "    ");
                if text.is_empty() {
                    return None;
                }
                let mut s = Style::default();
                if let Some(fg) = to_color(style.foreground) {
                    s = s.fg(fg);
                }
                if style.font_style.contains(FontStyle::BOLD) {
                    s = s.add_modifier(Modifier::BOLD);
                }
                if style.font_style.contains(FontStyle::ITALIC) {
                    s = s.add_modifier(Modifier::ITALIC);
                }
                Some(Span::styled(text, s))
            })
            .collect();
        out.push(Line::from(spans));
    }
    let rest: String = lines.collect();
    if !rest.is_empty() {
        out.extend(plain_lines(&rest));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_gets_colours_and_plain_stays_plain() {
        let code = "fn main() {\n    let x = 1;\n}\n";
        let lines = highlight(code, "rust", true, Style::default());
        assert_eq!(lines.len(), 3);
        let text: String = lines[0].spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "fn main() {");
        assert!(
            lines[0].spans.iter().any(|s| s.style.fg.is_some()),
            "keyword coloured: {:?}",
            lines[0]
        );
        let mono = highlight(code, "rust", false, Style::default());
        assert!(
            mono.iter()
                .all(|l| l.spans.iter().all(|s| s.style.fg.is_none()))
        );
        let unknown = highlight("x", "no-such-lang", true, Style::default());
        assert_eq!(unknown.len(), 1);
    }
}
