//! aimux engine.
