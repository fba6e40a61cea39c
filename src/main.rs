//! The real-mode binary `kubesim`. Its subcommands (`apiserver`, `load`) land with issues #3 and #4.

fn main() {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        None | Some("-h") | Some("--help") => {
            println!("kubesim: a Kubernetes-compatible API server core and simulator\n");
            println!("Usage: kubesim <COMMAND>\n");
            println!("The simulation runs with `cargo sim`; see README.md.");
        }
        Some("--version") => println!("kubesim {}", env!("CARGO_PKG_VERSION")),
        Some(other) => {
            eprintln!("kubesim: unknown command {other:?} (see `kubesim --help`)");
            std::process::exit(2);
        }
    }
}
