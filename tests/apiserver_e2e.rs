//! End to end, as a new user would: start `kubesim apiserver` (on the embedded store, and on a
//! real etcd — plain, with TLS client certificates, and two API servers over one etcd), then drive
//! it with a real kubectl (1.30+; `cargo xtask test` installs one) and the official Python client.
#![cfg(not(madsim))]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubesim::testing::{spawn_serving, EtcdServer, EtcdServerTls};

const ADMIN_TOKEN: &str = "e2e-admin-token";

fn kubectl_binary() -> PathBuf {
    if let Some(k) = std::env::var_os("KUBESIM_KUBECTL") {
        return PathBuf::from(k);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join("kubectl")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("kubectl not found: run `cargo xtask deps` (or `cargo xtask test`), which installs it")
    })
}

struct Apiserver {
    child: Child,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Drop for Apiserver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Apiserver {
    fn start(extra: &[String]) -> Apiserver {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(&tokens, format!("{ADMIN_TOKEN},admin,1,\"system:masters\"\n")).unwrap();
        let certs = dir.path().join("certs");
        let child = spawn_serving(
            Command::new(env!("CARGO_BIN_EXE_kubesim"))
                .arg("apiserver")
                .arg(format!("--secure-port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--cert-dir={}", certs.display()))
                .arg(format!("--token-auth-file={}", tokens.display()))
                .args(extra),
        );
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {}\nusers:\n- name: admin\n  user:\n    token: {ADMIN_TOKEN}\ncontexts:\n- name: kubesim\n  context: {{cluster: kubesim, user: admin}}\ncurrent-context: kubesim\n",
                certs.join("ca.crt").display()
            ),
        )
        .unwrap();
        Apiserver { child, dir, kubeconfig }
    }

    fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(kubectl_binary())
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("running kubectl");
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    fn kubectl_ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.kubectl(args);
        assert!(ok, "kubectl {args:?} failed:\n{text}");
        text
    }
}

const APP: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: e2e
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: e2e
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.27
";

/// kubectl as a new user drives it (k8s-api.md §2.2).
fn drive_with_kubectl(s: &Apiserver) {
    let manifest = s.dir.path().join("app.yaml");
    std::fs::write(&manifest, APP).unwrap();
    let m = manifest.to_str().unwrap();
    // `kubectl apply` with its default (strict, server-side) validation needs our OpenAPI.
    let out = s.kubectl_ok(&["apply", "-f", m]);
    assert!(out.contains("namespace/e2e created") && out.contains("pod/web created"), "{out}");
    let out = s.kubectl_ok(&["apply", "-f", m]);
    assert!(out.contains("pod/web unchanged"), "re-apply: {out}");

    let out = s.kubectl_ok(&["get", "pods", "-n", "e2e", "-o", "wide"]);
    assert!(out.contains("NOMINATED NODE") && out.contains("web") && out.contains("Pending"), "{out}");
    let out = s.kubectl_ok(&["get", "nodes"]);
    assert!(out.contains("No resources found"), "{out}");
    let out = s.kubectl_ok(&["get", "namespaces"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease", "e2e"] {
        assert!(out.contains(ns), "namespace {ns} missing: {out}");
    }

    // `kubectl get pods -w` sees a change made by another kubectl.
    let mut watcher = Command::new(kubectl_binary())
        .args(["get", "pods", "-n", "e2e", "-w", "--output-watch-events"])
        .env("KUBECONFIG", &s.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watcher.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20)).expect("kubectl -w printed its header");
    assert!(first.contains("EVENT"), "{first}");
    let added = rx.recv_timeout(Duration::from_secs(20)).expect("the initial ADDED row");
    assert!(added.contains("ADDED") && added.contains("web"), "{added}");
    s.kubectl_ok(&["label", "pod", "web", "-n", "e2e", "color=blue"]);
    let changed = rx.recv_timeout(Duration::from_secs(20)).expect("kubectl -w saw the label change");
    assert!(changed.contains("MODIFIED") && changed.contains("web"), "{changed}");
    let _ = watcher.kill();
    let _ = watcher.wait();

    // kubectl patch: strategic merge (the default), merge and JSON patch.
    s.kubectl_ok(&["patch", "pod", "web", "-n", "e2e", "-p", r#"{"metadata":{"labels":{"tier":"front"}}}"#]);
    s.kubectl_ok(&[
        "patch",
        "pod",
        "web",
        "-n",
        "e2e",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:1.28"}]"#,
    ]);
    let out = s.kubectl_ok(&[
        "get",
        "pod",
        "web",
        "-n",
        "e2e",
        "-o",
        "jsonpath={.metadata.labels.tier} {.spec.containers[0].image}",
    ]);
    assert_eq!(out.trim(), "front nginx:1.28");
    let (ok, out) = s.kubectl(&[
        "patch",
        "pod",
        "web",
        "-n",
        "e2e",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/nope"}]"#,
    ]);
    assert!(!ok && out.contains("rejected"), "a bad JSON patch is refused: {out}");

    // kubectl delete: the pod, then the namespace (waits until it is gone).
    let out = s.kubectl_ok(&["delete", "pod", "web", "-n", "e2e"]);
    assert!(out.contains("pod \"web\" deleted"), "{out}");
    let out = s.kubectl_ok(&["get", "pods", "-n", "e2e"]);
    assert!(out.contains("No resources found"), "{out}");
    s.kubectl_ok(&["delete", "namespace", "e2e", "--timeout=60s"]);
    let (ok, out) = s.kubectl(&["get", "namespace", "e2e"]);
    assert!(!ok && out.contains("NotFound"), "{out}");
}

fn drive_with_python(s: &Apiserver) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/python_client.py");
    let out = Command::new("python3").arg(&script).env("KUBECONFIG", &s.kubeconfig).output().expect(
        "python3 not found: the end-to-end tests need python3 with the kubernetes package (cargo xtask deps)",
    );
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python client checks failed:\n{text}");
    assert!(text.contains("python client: all checks passed"), "{text}");
}

fn apply(s: &Apiserver, manifest: &str) {
    let path = s.dir.path().join("manifest.yaml");
    std::fs::write(&path, manifest).unwrap();
    s.kubectl_ok(&["apply", "-f", path.to_str().unwrap()]);
}

/// The Python script's 410 check needs a short pods history.
fn small_history() -> String {
    "--watch-cache-sizes=pods#8".into()
}

#[test]
fn kubectl_and_python_client_against_the_embedded_store() {
    let s = Apiserver::start(&[small_history()]);
    drive_with_kubectl(&s);
    drive_with_python(&s);
}

#[test]
fn kubectl_and_python_client_against_a_real_etcd() {
    let etcd = EtcdServer::start();
    let s = Apiserver::start(&[format!("--etcd-servers={}", etcd.endpoint()), small_history()]);
    drive_with_kubectl(&s);
    drive_with_python(&s);
}

#[test]
fn two_apiservers_over_one_etcd_serve_one_cluster() {
    let etcd = EtcdServer::start();
    let a = Apiserver::start(&[format!("--etcd-servers={}", etcd.endpoint())]);
    let b = Apiserver::start(&[format!("--etcd-servers={}", etcd.endpoint())]);
    apply(
        &a,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\ndata: {k: v}\n",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, out) = b.kubectl(&["get", "configmap", "shared", "-o", "jsonpath={.data.k}"]);
        if ok && out.trim() == "v" {
            break;
        }
        assert!(Instant::now() < deadline, "B never saw A's configmap: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both bootstrapped the system namespaces without stepping on each other.
    let out = b.kubectl_ok(&["get", "ns", "-o", "name"]);
    assert_eq!(out.lines().filter(|l| l.contains("namespace/")).count(), 4, "{out}");
}

/// A CA plus server and client certificates for an etcd that requires client certificates.
fn etcd_tls_material(dir: &Path) -> (EtcdServerTls, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "etcd-ca");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf = |name: &str, usage: rcgen::ExtendedKeyUsagePurpose| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p.extended_key_usages = vec![usage, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = p.signed_by(&key, &issuer).unwrap();
        let (c, k) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    };
    let (server_cert, server_key) = leaf("etcd-server", rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf("apiserver-etcd-client", rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    let ca_file = dir.join("etcd-ca.crt");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    (EtcdServerTls { ca_file, cert_file: server_cert, key_file: server_key }, client_cert, client_key)
}

#[test]
fn etcd_with_tls_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, client_cert, client_key) = etcd_tls_material(dir.path());
    let etcd = EtcdServer::start_with(Some(&tls), &[]);
    assert!(etcd.endpoint().starts_with("https://"));
    let s = Apiserver::start(&[
        format!("--etcd-servers={}", etcd.endpoint()),
        format!("--etcd-cafile={}", tls.ca_file.display()),
        format!("--etcd-certfile={}", client_cert.display()),
        format!("--etcd-keyfile={}", client_key.display()),
    ]);
    apply(
        &s,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: over-tls, namespace: default}\ndata: {a: b}\n",
    );
    let out = s.kubectl_ok(&["get", "configmap", "over-tls", "-o", "jsonpath={.data.a}"]);
    assert_eq!(out.trim(), "b");
    // Without a client certificate etcd refuses the connection, and the API server says so.
    let out = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .arg("apiserver")
        .arg(format!("--etcd-servers={}", etcd.endpoint()))
        .arg(format!("--etcd-cafile={}", tls.ca_file.display()))
        .arg(format!("--cert-dir={}", dir.path().join("certs2").display()))
        .arg(format!("--secure-port={}", free_port()))
        .arg("--bind-address=127.0.0.1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "an API server without a client certificate must not start");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("etcd"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_flags_are_clear_errors_and_help_lists_flags() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_kubesim")).args(["apiserver", "--no-such-flag"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_kubesim")).args(["apiserver", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--secure-port",
        "--bind-address",
        "--etcd-servers",
        "--etcd-prefix",
        "--etcd-cafile",
        "--etcd-certfile",
        "--etcd-keyfile",
        "--cert-dir",
        "--tls-cert-file",
        "--tls-private-key-file",
        "--token-auth-file",
        "--authorization-mode",
        "--watch-cache",
        "--max-requests-inflight",
        "--max-mutating-requests-inflight",
        "--event-ttl",
    ] {
        assert!(help.contains(flag), "--help does not list {flag}");
    }
}

#[test]
fn events_are_removed_after_the_event_ttl() {
    let s = Apiserver::start(&["--event-ttl=2s".into()]);
    apply(
        &s,
        "apiVersion: v1\nkind: Event\nmetadata: {name: e1, namespace: default}\ninvolvedObject: {kind: Pod, name: p, namespace: default}\nreason: Test\nmessage: short-lived\ntype: Normal\n",
    );
    let out = s.kubectl_ok(&["get", "events", "-n", "default", "-o", "name"]);
    assert!(out.contains("e1"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (ok, out) = s.kubectl(&["get", "event", "e1", "-n", "default"]);
        if !ok && out.contains("NotFound") {
            break;
        }
        assert!(Instant::now() < deadline, "the event outlived --event-ttl=2s by 18 s: {out}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn kubesim_load_against_kubesim_apiserver() {
    let s = Apiserver::start(&[]);
    let report_dir = s.dir.path().join("load-report");
    let out = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["load", "--nodes", "10", "--pods", "100", "--concurrency", "8", "--start-latency-ms", "10,50"])
        .arg(format!("--kubeconfig={}", s.kubeconfig.display()))
        .arg(format!("--report-dir={}", report_dir.display()))
        .arg("--timeout=120s")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "kubesim load failed:\n{text}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["running"], 100, "{report}");
    assert_eq!(report["bindings"], 100);
    assert_eq!(report["scheduler_mode"], "leader-elected");
    assert_eq!(report["schedulers"], 1);
    assert!(report["checks"].as_array().unwrap().iter().all(|c| c["ok"] == true), "{report}");
    assert!(report["pod_startup"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(std::fs::read_to_string(report_dir.join("report.md")).unwrap().contains("API latency by verb"));
    // The pods are gone again.
    let out = s.kubectl_ok(&["get", "pods", "-n", "kubesim-load", "-o", "name"]);
    assert!(out.trim().is_empty() || out.contains("No resources found"), "{out}");
}

/// `--scheduler-mode per-pod-name`: three schedulers bind at once, each the pods naming it.
#[test]
fn kubesim_load_with_many_schedulers_each_owning_its_pods() {
    let s = Apiserver::start(&[]);
    let report_dir = s.dir.path().join("load-report");
    let out = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["load", "--nodes", "6", "--pods", "60", "--concurrency", "6", "--start-latency-ms", "10,50"])
        .args(["--scheduler-mode", "per-pod-name", "--schedulers", "3"])
        .arg(format!("--kubeconfig={}", s.kubeconfig.display()))
        .arg(format!("--report-dir={}", report_dir.display()))
        .arg("--timeout=120s")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "kubesim load failed:\n{text}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["scheduler_mode"], "per-pod-name", "{report}");
    assert_eq!(report["schedulers"], 3);
    assert_eq!(report["running"], 60, "{report}");
    assert_eq!(report["bindings"], 60, "each pod bound once, by its own scheduler");
    assert_eq!(report["binding_conflicts"], 0, "no scheduler binds another's pods");
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["ok"] == true), "{report}");
    assert!(checks.iter().any(|c| c["name"] == "pods spread over every scheduler"), "{report}");
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(md.contains("3 schedulers (per-pod-name)"), "{md}");
}
