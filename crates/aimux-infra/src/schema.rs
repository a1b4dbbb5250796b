//! The ONE Redis key schema of aimux. Everything that talks to Redis — the `aimux` CLI, the
//! TUI, the MCP server (`aimux mcp`) and the worker (`aimux worker`, the entrypoint a pod
//! runs) — builds its keys and field names here and nowhere else.
//!
//! Every timestamp stored in Redis is an integer number of milliseconds since the Unix epoch
//! (`now_ms()`), written as a decimal string; heartbeats included. There is no float or
//! seconds format anywhere.
//!
//! | key | type | content |
//! |---|---|---|
//! | `{p}:seq:task` | string | counter for task ids (`t-<n>`) |
//! | `{p}:queue:{provider}` | list | pending task ids; LPUSH on submit/requeue, claimed from the right (FIFO) |
//! | `{p}:task:{id}` | hash | the task record ([`task`] fields) |
//! | `{p}:task:{id}:log` | list | log lines of the task, oldest first |
//! | `{p}:tasks` | zset | every task id, scored by created_at ms |
//! | `{p}:agents` | zset | registered agent ids, scored by last heartbeat ms |
//! | `{p}:agent:{id}` | hash | the agent record ([`agent`] fields) |
//! | `{p}:inbox:{id}` | list | messages for an agent (JSON [`crate::coord::Message`]); LPUSH, read from the right |
//! | `{p}:usage:{id}` | hash | per-agent counters: `tokens:{model}:{category}` and [`usage`] fields |
//! | `{p}:usage-agents` | set | agent ids that have usage counters (kept after the agent leaves) |

use std::time::{SystemTime, UNIX_EPOCH};

/// The env var a worker pod gets its own name in (downward API); the worker registers
/// with it as `host`, which ties heartbeats to pods.
pub const POD_NAME_ENV: &str = "AIMUX_POD_NAME";

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "aimux";

/// Milliseconds since the Unix epoch: the one timestamp format stored in Redis.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Field names of a task record hash.
pub mod task {
    pub const ID: &str = "id";
    pub const PROMPT: &str = "prompt";
    pub const ROLE: &str = "role";
    pub const PROVIDER: &str = "provider";
    pub const DIR: &str = "dir";
    pub const STATUS: &str = "status";
    pub const ASSIGNEE: &str = "assignee";
    pub const CREATED_AT: &str = "created_at";
    pub const CLAIMED_AT: &str = "claimed_at";
    pub const STARTED_AT: &str = "started_at";
    pub const FINISHED_AT: &str = "finished_at";
    pub const RESULT: &str = "result";
    pub const ERROR: &str = "error";
    pub const RETRIES: &str = "retries";
    pub const MAX_RETRIES: &str = "max_retries";
    /// JSON object `{input, output, cache_read, cache_write}` of the last run.
    pub const TOKENS: &str = "tokens";
    /// The model the agent reported, if any.
    pub const MODEL: &str = "model";
    /// Cost in micro-USD priced by aimux (aimux-core pricing); absent when unknown.
    pub const COST_MICRO_USD: &str = "cost_micro_usd";
    /// Cost in micro-USD the agent itself reported (Claude's total_cost_usd), if any.
    pub const REPORTED_COST_MICRO_USD: &str = "reported_cost_micro_usd";
}

/// Field names of an agent record hash.
pub mod agent {
    pub const ID: &str = "id";
    pub const PROVIDER: &str = "provider";
    pub const HOST: &str = "host";
    pub const PID: &str = "pid";
    /// `idle`, `busy` or `stopping`.
    pub const STATUS: &str = "status";
    pub const CURRENT_TASK: &str = "current_task";
    pub const REGISTERED_AT: &str = "registered_at";
    pub const HEARTBEAT_AT: &str = "heartbeat_at";
    /// Where the agent runs: `local` or `k8s`.
    pub const LOCATION: &str = "location";
}

/// Field names of a usage counter hash besides the `tokens:{model}:{category}` fields.
pub mod usage {
    pub const TASKS_DONE: &str = "tasks_done";
    pub const TASKS_FAILED: &str = "tasks_failed";
    pub const REPORTED_COST_MICRO_USD: &str = "reported_cost_micro_usd";
    /// Prefix of token counter fields: `tokens:{model}:{category}`.
    pub const TOKENS_PREFIX: &str = "tokens:";
    pub const CATEGORIES: [&str; 4] = ["input", "output", "cache_read", "cache_write"];

    pub fn token_field(model: &str, category: &str) -> String {
        format!("{TOKENS_PREFIX}{model}:{category}")
    }

    /// Splits `tokens:{model}:{category}` (the model may itself contain ':').
    pub fn parse_token_field(field: &str) -> Option<(&str, &str)> {
        let rest = field.strip_prefix(TOKENS_PREFIX)?;
        let (model, cat) = rest.rsplit_once(':')?;
        CATEGORIES.contains(&cat).then_some((model, cat))
    }
}

/// Task statuses, as stored.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const CLAIMED: &str = "claimed";
    pub const RUNNING: &str = "running";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
}

/// Builds every key under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new(DEFAULT_PREFIX)
    }
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_string(),
        }
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn task_seq(&self) -> String {
        format!("{}:seq:task", self.prefix)
    }
    pub fn queue(&self, provider: &str) -> String {
        format!("{}:queue:{provider}", self.prefix)
    }
    pub fn task(&self, id: &str) -> String {
        format!("{}:task:{id}", self.prefix)
    }
    /// `task(id)` is `task_key_prefix() + id` (the claim script builds keys this way).
    pub fn task_key_prefix(&self) -> String {
        format!("{}:task:", self.prefix)
    }
    pub fn task_log(&self, id: &str) -> String {
        format!("{}:task:{id}:log", self.prefix)
    }
    pub fn tasks(&self) -> String {
        format!("{}:tasks", self.prefix)
    }
    pub fn agents(&self) -> String {
        format!("{}:agents", self.prefix)
    }
    pub fn agent(&self, id: &str) -> String {
        format!("{}:agent:{id}", self.prefix)
    }
    pub fn inbox(&self, id: &str) -> String {
        format!("{}:inbox:{id}", self.prefix)
    }
    pub fn usage(&self, id: &str) -> String {
        format!("{}:usage:{id}", self.prefix)
    }
    pub fn usage_agents(&self) -> String {
        format!("{}:usage-agents", self.prefix)
    }
}

/// The providers a worker knows how to run non-interactively.
pub const PROVIDERS: [&str; 3] = ["claude", "codex", "gemini"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_prefix() {
        let k = Keys::new("x");
        assert_eq!(k.task("t-1"), "x:task:t-1");
        assert_eq!(format!("{}t-1", k.task_key_prefix()), k.task("t-1"));
        assert_eq!(k.queue("claude"), "x:queue:claude");
        assert_eq!(k.inbox("w1"), "x:inbox:w1");
    }

    #[test]
    fn token_fields_round_trip_models_with_colons() {
        let f = usage::token_field("vertex:claude-sonnet-4", "cache_read");
        assert_eq!(
            usage::parse_token_field(&f),
            Some(("vertex:claude-sonnet-4", "cache_read"))
        );
        assert_eq!(usage::parse_token_field("tokens:m:bogus"), None);
        assert_eq!(usage::parse_token_field("tasks_done"), None);
    }

    #[test]
    fn now_is_integer_milliseconds() {
        let t = now_ms();
        // after 2020-01-01 and before 2100 in ms, i.e. not seconds and not micro
        assert!(t > 1_577_836_800_000 && t < 4_102_444_800_000, "{t}");
    }
}
