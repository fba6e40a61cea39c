//! The node lifecycle controller (being written).
