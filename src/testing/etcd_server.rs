//! A real etcd for tests and benches: started on free loopback ports with a temporary data dir,
//! stopped (and its data removed) on drop.
//!
//! A missing `etcd` binary is a loud failure naming the install command, never a silent skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long etcd may take to start answering.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How often a started etcd sends progress notifications to idle watches (etcd's
/// `--experimental-watch-progress-notify-interval`; its default is 10 minutes).
pub const PROGRESS_NOTIFY_INTERVAL: &str = "500ms";

/// The command that installs etcd on Debian.
pub const INSTALL_HINT: &str =
    "apt-get install -y etcd-server (or run `cargo xtask test`, which installs it)";

/// TLS files for an etcd that serves HTTPS and requires client certificates.
#[derive(Clone, Debug)]
pub struct EtcdServerTls {
    /// CA that signed both the server and the client certificates.
    pub ca_file: PathBuf,
    /// Server certificate (SAN 127.0.0.1).
    pub cert_file: PathBuf,
    /// Server key.
    pub key_file: PathBuf,
}

/// A running etcd.
#[derive(Debug)]
pub struct EtcdServer {
    child: Child,
    endpoint: String,
    dir: tempfile::TempDir,
}

/// Finds the etcd binary: `$KUBESIM_ETCD_BIN`, else `etcd` on PATH, else /usr/bin/etcd.
pub fn etcd_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("KUBESIM_ETCD_BIN") {
        return Some(PathBuf::from(bin));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("etcd"))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral loopback port")
}

impl EtcdServer {
    /// Starts a plain-HTTP etcd. Panics (with the install command) if etcd is missing or does not
    /// come up.
    pub fn start() -> Self {
        Self::start_with(None, &[])
    }

    /// Starts an etcd, with TLS and client-certificate authentication when `tls` is given, and
    /// with `extra_args` appended to its command line.
    pub fn start_with(tls: Option<&EtcdServerTls>, extra_args: &[&str]) -> Self {
        Self::start_in(None, tls, extra_args)
    }

    /// Starts a plain-HTTP etcd whose data lives in memory (tmpfs, /dev/shm) where there is one,
    /// as for benchmarks: the fsyncs of a shared virtual disk vary run to run far more than
    /// anything measured. Falls back to the temporary directory, saying so.
    pub fn start_in_memory(extra_args: &[&str]) -> Self {
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            Self::start_in(Some(shm), None, extra_args)
        } else {
            eprintln!("etcd: no /dev/shm here; its data goes to the temporary directory (on disk)");
            Self::start_in(None, None, extra_args)
        }
    }

    fn start_in(base: Option<&Path>, tls: Option<&EtcdServerTls>, extra_args: &[&str]) -> Self {
        let bin = etcd_binary().unwrap_or_else(|| panic!("etcd not found: {INSTALL_HINT}"));
        let mut last_error = String::new();
        // A free port can be taken between our probe and etcd's bind: try a few times.
        for _ in 0..3 {
            match Self::try_start(&bin, base, tls, extra_args) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("etcd at {} did not start: {last_error}", bin.display());
    }

    fn try_start(
        bin: &Path,
        base: Option<&Path>,
        tls: Option<&EtcdServerTls>,
        extra_args: &[&str],
    ) -> Result<Self, String> {
        let dir = match base {
            Some(base) => tempfile::tempdir_in(base),
            None => tempfile::tempdir(),
        }
        .map_err(|e| e.to_string())?;
        let (client_port, peer_port) = (free_port(), free_port());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let endpoint = format!("{scheme}://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).map_err(|e| e.to_string())?;
        let mut command = Command::new(bin);
        command
            .arg("--name=kubesim-test")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=kubesim-test={peer}"))
            .arg(format!("--experimental-watch-progress-notify-interval={PROGRESS_NOTIFY_INTERVAL}"))
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(tls) = tls {
            command
                .arg(format!("--cert-file={}", tls.cert_file.display()))
                .arg(format!("--key-file={}", tls.key_file.display()))
                .arg(format!("--trusted-ca-file={}", tls.ca_file.display()))
                .arg("--client-cert-auth");
        }
        let child = command.spawn().map_err(|e| format!("spawning {}: {e}", bin.display()))?;
        let mut server = EtcdServer { child, endpoint, dir };
        server.wait_ready(client_port)?;
        Ok(server)
    }

    fn wait_ready(&mut self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("etcd exited with {status}; log:\n{}", self.log()));
            }
            // The first request after the accept still waits for leadership, which a one-member
            // cluster wins at once; EtcdStore::connect makes that first request.
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("no answer within {START_TIMEOUT:?}; log:\n{}", self.log()))
    }

    /// The client endpoint, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// etcd's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
