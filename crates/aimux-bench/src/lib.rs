//! aimux benchmarks: a deterministic generator of realistic agent session files (Claude
//! Code, Codex CLI, Gemini CLI), the ground truth of what it wrote, and helpers shared by
//! the bench runner (load generators, process measurement, stand-in agents).

pub mod claude;
pub mod codex;
pub mod corpus;
pub mod fake_agent;
pub mod gemini;
pub mod http;
pub mod live;
pub mod live_tick;
pub mod measure;
pub mod otlp_load;
pub mod plan;
pub mod procstat;
pub mod rng;
pub mod serve;
pub mod text;
pub mod time;

pub use corpus::{Config, Summary, generate, parse_size};
pub use plan::{SessionTruth, Tokens};
