//! The pure core of aimux: the session model, prices, and one incremental parser per
//! provider. Nothing here touches terminals, sockets or the filesystem: parsers take bytes
//! and produce records, so they can be fuzzed and property-tested in isolation.

pub mod lines;
pub mod model;
pub mod parsers;
pub mod pricing;
pub mod status;
pub mod text;

pub use model::*;
