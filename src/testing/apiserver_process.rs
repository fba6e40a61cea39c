//! A `kubesim apiserver` process for end-to-end tests: started, and waited for until it says it
//! serves (the binary's path comes from the test, `env!("CARGO_BIN_EXE_kubesim")`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long an API server may take to print its "serving on" line.
pub const APISERVER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Spawns `command` (a `kubesim apiserver …`), keeps reading its stdout so it never blocks, and
/// returns once it prints "serving on". Panics if it does not within [`APISERVER_START_TIMEOUT`].
pub fn spawn_serving(command: &mut Command) -> Child {
    let mut child =
        command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("starting kubesim apiserver");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + APISERVER_START_TIMEOUT;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("serving on") => return child,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("kubesim apiserver did not come up within {APISERVER_START_TIMEOUT:?}");
            }
        }
    }
}
