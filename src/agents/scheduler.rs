//! The scheduler agent (being written).
