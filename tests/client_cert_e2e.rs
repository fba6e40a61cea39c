//! Client certificates end to end (issue #7): `kubesim apiserver --client-ca-file=…
//! --authorization-mode=Node,RBAC` driven by a real kubectl whose kubeconfig carries
//! client-certificate-data/client-key-data. The certificate's CN is the user and its O the groups;
//! a certificate from another CA is refused at the TLS handshake.
#![cfg(not(madsim))]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use base64::Engine;
use kubesim::testing::spawn_serving;

fn kubectl_binary() -> PathBuf {
    if let Some(k) = std::env::var_os("KUBESIM_KUBECTL") {
        return PathBuf::from(k);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join("kubectl")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("kubectl not found: run `cargo xtask deps` (or `cargo xtask test`), which installs it")
    })
}

struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).unwrap();
    Ca { pem: cert.pem(), issuer: rcgen::Issuer::new(params, key) }
}

/// A client certificate (PEM) and key (PEM) for CN `user`, O `group`.
fn client_cert(ca: &Ca, user: &str, group: Option<&str>) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, user);
    if let Some(g) = group {
        params.distinguished_name.push(rcgen::DnType::OrganizationName, g);
    }
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

struct Apiserver {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Apiserver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Apiserver {
    fn start(client_ca: &str) -> Apiserver {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let ca_file = dir.path().join("client-ca.crt");
        std::fs::write(&ca_file, client_ca).unwrap();
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(&tokens, "cert-e2e-admin,admin,1,\"system:masters\"\n").unwrap();
        let child = spawn_serving(
            Command::new(env!("CARGO_BIN_EXE_kubesim"))
                .arg("apiserver")
                .arg(format!("--secure-port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--cert-dir={}", dir.path().join("certs").display()))
                .arg(format!("--client-ca-file={}", ca_file.display()))
                .arg(format!("--token-auth-file={}", tokens.display()))
                .arg("--authorization-mode=Node,RBAC"),
        );
        Apiserver { child, dir, port }
    }

    /// A kubeconfig for a user with a client certificate (or a token).
    fn kubeconfig(&self, name: &str, user: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.kubeconfig"));
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n{user}contexts:\n- name: kubesim\n  context: {{cluster: kubesim, user: u}}\ncurrent-context: kubesim\n",
                self.port,
                self.dir.path().join("certs/ca.crt").display()
            ),
        )
        .unwrap();
        path
    }

    fn cert_kubeconfig(&self, name: &str, (cert, key): &(String, String)) -> PathBuf {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        self.kubeconfig(
            name,
            &format!("    client-certificate-data: {}\n    client-key-data: {}\n", b64(cert), b64(key)),
        )
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(kubectl_binary())
        .args(args)
        .args(["--request-timeout=20s"])
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("running kubectl");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("$ kubectl {}\n{text}", args.join(" "));
    (out.status.success(), text)
}

#[test]
fn kubectl_with_client_certificates() {
    let ours = ca("kubesim-client-ca");
    let theirs = ca("someone-else");
    let s = Apiserver::start(&ours.pem);

    // A masters certificate from our CA: the user is its CN, and system:masters (its O) may do
    // anything.
    let admin = s.cert_kubeconfig("admin", &client_cert(&ours, "jane", Some("system:masters")));
    let (ok, out) = kubectl(&admin, &["get", "ns"]);
    assert!(ok && out.contains("default") && out.contains("kube-node-lease"), "kubectl get ns: {out}");
    // A certificate without groups: authenticated as its CN, and RBAC gives it discovery only.
    let viewer = s.cert_kubeconfig("viewer", &client_cert(&ours, "viewer", None));
    let (ok, out) = kubectl(&viewer, &["get", "ns"]);
    assert!(!ok, "viewer has no role: {out}");
    assert!(
        out.contains(
            "User \"viewer\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
        ),
        "{out}"
    );

    // A node certificate: the Node authorizer lets it read its own Node only.
    let node = s.cert_kubeconfig("node", &client_cert(&ours, "system:node:a", Some("system:nodes")));
    let (ok, out) = kubectl(&node, &["get", "node", "a"]);
    assert!(!ok && out.contains("NotFound"), "node a reading its own (absent) Node is authorized: {out}");
    let (ok, out) = kubectl(&node, &["get", "nodes"]);
    assert!(!ok && out.contains("node 'a' cannot read all nodes, only its own Node object"), "{out}");

    // The same masters identity signed by another CA never gets past the handshake.
    let impostor = s.cert_kubeconfig("impostor", &client_cert(&theirs, "jane", Some("system:masters")));
    let (ok, out) = kubectl(&impostor, &["get", "ns"]);
    assert!(!ok, "a certificate from another CA must be refused: {out}");
    assert!(
        out.contains("certificate") && !out.contains("Forbidden") && !out.contains("Unauthorized"),
        "expected a TLS handshake failure: {out}"
    );

    // Tokens still work next to client certificates (client auth is optional at the TLS layer).
    let token = s.kubeconfig("token", "    token: cert-e2e-admin\n");
    let (ok, out) = kubectl(&token, &["get", "ns", "default"]);
    assert!(ok, "token user: {out}");
}
