//! How to make each agent CLI send its telemetry to aimux (for spawning agents).
//!
//! * Claude Code 2.1.197: environment variables (tested end to end, http/json and
//!   http/protobuf).
//! * Codex 0.171.0: an `[otel]` section in `~/.codex/config.toml` (tested end to end, json
//!   and binary); [`codex_config`] gives the TOML, [`codex_overrides`] the same as `-c`
//!   command-line overrides (the override form itself was not exercised).
//! * Gemini CLI 0.61.0: the `GEMINI_TELEMETRY_*` variables found in its bundle (telemetry
//!   via `settings.json` was observed; these variables were not exercised).

use aimux_core::Provider;

/// OTLP/HTTP encoding an agent should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Protobuf,
}

/// Environment variables for `provider` to export to `endpoint` (a base URL such as
/// `http://127.0.0.1:4318`). `log_prompts` also sends prompt text.
pub fn agent_env(
    provider: Provider,
    endpoint: &str,
    protocol: Protocol,
    log_prompts: bool,
) -> Vec<(String, String)> {
    let e = endpoint.trim_end_matches('/').to_string();
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    match provider {
        Provider::Claude => {
            let mut v = vec![
                kv("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
                kv("OTEL_LOGS_EXPORTER", "otlp"),
                kv("OTEL_METRICS_EXPORTER", "otlp"),
                kv(
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    match protocol {
                        Protocol::Json => "http/json",
                        Protocol::Protobuf => "http/protobuf",
                    },
                ),
                kv("OTEL_EXPORTER_OTLP_ENDPOINT", &e),
                kv("OTEL_METRIC_EXPORT_INTERVAL", "5000"),
                kv("OTEL_LOGS_EXPORT_INTERVAL", "1000"),
                kv("OTEL_LOG_TOOL_DETAILS", "1"),
            ];
            if log_prompts {
                v.push(kv("OTEL_LOG_USER_PROMPTS", "1"));
            }
            v
        }
        Provider::Gemini => vec![
            kv("GEMINI_TELEMETRY_ENABLED", "true"),
            kv("GEMINI_TELEMETRY_TARGET", "local"),
            kv("GEMINI_TELEMETRY_OTLP_ENDPOINT", &e),
            kv("GEMINI_TELEMETRY_OTLP_PROTOCOL", "http"),
            kv(
                "GEMINI_TELEMETRY_LOG_PROMPTS",
                if log_prompts { "true" } else { "false" },
            ),
        ],
        // Codex reads its exporter from config.toml, not the environment.
        Provider::Codex | Provider::Opencode => Vec::new(),
    }
}

fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn codex_protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Json => "json",
        Protocol::Protobuf => "binary",
    }
}

/// The `[otel]` section for `~/.codex/config.toml`.
pub fn codex_config(endpoint: &str, protocol: Protocol, log_prompts: bool) -> String {
    format!(
        "[otel]\nenvironment = \"aimux\"\nlog_user_prompt = {log_prompts}\n[otel.exporter.\"otlp-http\"]\nendpoint = {}\nprotocol = \"{}\"\n",
        toml_str(&format!("{}/v1/logs", endpoint.trim_end_matches('/'))),
        codex_protocol(protocol)
    )
}

/// The same settings as `codex -c key=value` arguments.
pub fn codex_overrides(endpoint: &str, protocol: Protocol, log_prompts: bool) -> Vec<String> {
    vec![
        "-c".into(),
        format!("otel.log_user_prompt={log_prompts}"),
        "-c".into(),
        format!(
            "otel.exporter={{otlp-http={{endpoint={},protocol=\"{}\"}}}}",
            toml_str(&format!("{}/v1/logs", endpoint.trim_end_matches('/'))),
            codex_protocol(protocol)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_env_points_at_the_endpoint() {
        let env = agent_env(
            Provider::Claude,
            "http://127.0.0.1:4318/",
            Protocol::Protobuf,
            false,
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            Some("http://127.0.0.1:4318")
        );
        assert_eq!(get("OTEL_EXPORTER_OTLP_PROTOCOL"), Some("http/protobuf"));
        assert_eq!(get("OTEL_LOG_USER_PROMPTS"), None);
        assert!(agent_env(Provider::Codex, "http://x", Protocol::Json, true).is_empty());
    }

    #[test]
    fn codex_config_is_valid_toml_shape() {
        let c = codex_config("http://127.0.0.1:4318", Protocol::Protobuf, true);
        assert!(c.contains("endpoint = \"http://127.0.0.1:4318/v1/logs\""));
        assert!(c.contains("protocol = \"binary\""));
        assert!(c.contains("log_user_prompt = true"));
        let o = codex_overrides("http://h:1", Protocol::Json, false);
        assert_eq!(o.len(), 4);
        assert!(o[3].contains("protocol=\"json\""));
    }
}
