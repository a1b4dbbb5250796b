//! OpenTelemetry both ways.
//!
//! * [`server`]: a bounded OTLP/HTTP receiver (`/v1/logs`, `/v1/traces`, `/v1/metrics`,
//!   protobuf and JSON, gzip, chunked bodies) feeding a [`store::TelemetryStore`].
//! * [`store`]: what Claude Code, Codex and Gemini CLI send, mapped onto the shared
//!   Session/Turn/ToolCall model, keyed by (provider, session id), within a memory budget.
//! * [`merge`]: telemetry merged with file-parsed sessions (file wins for content,
//!   telemetry fills tokens/cost/timings the file does not have yet, nothing counted twice).
//! * [`export`]: a session as one OTLP trace (session → turns → tool calls) for MLflow or
//!   any OTLP backend, and as JSONL.

pub mod agent_env;
pub mod decode;
pub mod export;
pub mod merge;
pub mod server;
pub mod store;

pub use opentelemetry_proto::tonic as proto;
