//! `cargo sim …`: the simulation harness entry point. The harness itself lands with issue #5; until
//! then this binary only guards against running a non-simulation build.

#[cfg(madsim)]
fn main() {
    eprintln!("kubesim-sim: the simulation harness is not built yet (see issue #5)");
    std::process::exit(2);
}

#[cfg(not(madsim))]
fn main() {
    eprintln!(
        "kubesim-sim must be built with --cfg madsim: run it as `cargo sim …` \
         (an environment RUSTFLAGS overrides the alias; unset it)"
    );
    std::process::exit(2);
}
