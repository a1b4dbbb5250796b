//! aimux benchmarks: a deterministic generator of realistic agent session files (Claude
//! Code, Codex CLI, Gemini CLI), the ground truth of what it wrote, and helpers shared by
//! the bench runner.

pub mod claude;
pub mod codex;
pub mod corpus;
pub mod gemini;
pub mod live;
pub mod measure;
pub mod plan;
pub mod rng;
pub mod text;
pub mod time;

pub use corpus::{Config, Summary, generate, parse_size};
pub use plan::{SessionTruth, Tokens};
