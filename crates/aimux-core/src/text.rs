//! Small text helpers shared by parsers and views.

/// Cuts `s` to at most `max` bytes on a char boundary, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// First line of `s`, trimmed and cut to `max` bytes: for one-line summaries.
pub fn one_line(s: &str, max: usize) -> String {
    let first = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    truncate(first, max)
}

/// A short, human summary of a tool call's input for LAST ACTION columns:
/// the command for shells, the path for file tools, else compact JSON.
pub fn summarize_tool_input(input: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(input) {
        Ok(value) => summarize_tool_value(&value, input),
        Err(_) => one_line(input, 80),
    }
}

/// [`summarize_tool_input`] for an input already read as JSON (`value` is `input` parsed),
/// so parsers that hold the value do not parse its text again.
pub fn summarize_tool_value(value: &serde_json::Value, input: &str) -> String {
    if let serde_json::Value::Object(map) = value {
        for key in [
            "command",
            "cmd",
            "file_path",
            "path",
            "dir_path",
            "pattern",
            "url",
            "query",
            "description",
        ] {
            match map.get(key) {
                Some(serde_json::Value::String(v)) => return one_line(v, 80),
                Some(serde_json::Value::Array(parts)) => {
                    let joined: Vec<&str> = parts.iter().filter_map(|p| p.as_str()).collect();
                    if !joined.is_empty() {
                        return one_line(&joined.join(" "), 80);
                    }
                }
                _ => {}
            }
        }
    }
    one_line(input, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn summary_prefers_command() {
        assert_eq!(
            summarize_tool_input(r#"{"command":"ls -la","description":"x"}"#),
            "ls -la"
        );
        assert_eq!(
            summarize_tool_input(r#"{"cmd":["bash","-lc","make"]}"#),
            "bash -lc make"
        );
        assert_eq!(summarize_tool_input("plain\nsecond"), "plain");
    }
}
