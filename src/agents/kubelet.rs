//! The kubelet agent (being written).
