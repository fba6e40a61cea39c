#![cfg(not(madsim))]
#[test]
fn placeholder() {}
