//! The aimux engine: finds every provider's session files, keeps the index current by
//! reading only appended bytes, and serves sessions, costs and traces from it.

pub mod actions;
pub mod agents;
pub mod annotations;
pub mod catalog;
pub mod costs;
pub mod health;
pub mod home;
pub mod index;
pub mod live;
pub mod opencode;
pub mod otlp;
pub mod process;
pub mod scan;
pub mod search;
pub mod sources;
pub mod spawn;
pub mod teams;
pub mod titles;
pub mod tmux;
pub mod trace;
pub mod trash;
