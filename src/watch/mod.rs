//! Watch: the per-resource watch cache that serves lists and watches from memory.

pub mod cache;
pub mod selectable;
