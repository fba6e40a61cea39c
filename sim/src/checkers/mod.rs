//! Checkers, each named after the guarantee it checks (see README "Invariants").
