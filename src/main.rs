//! The real-mode binary `kubesim`: `kubesim apiserver` (kube-apiserver's flag names) and
//! `kubesim load` (issue #4).

#[cfg(madsim)]
fn main() {
    eprintln!("the kubesim binary runs in real mode only; the simulation is `cargo sim`");
    std::process::exit(2);
}

#[cfg(not(madsim))]
fn main() {
    real::main();
}

#[cfg(not(madsim))]
mod real {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use clap::{ArgAction, Parser, Subcommand};
    use kubesim::server::authn::TokenAuthenticator;
    use kubesim::server::{http_server, tls, ApiServer, ApiServerConfig};
    use kubesim::storage::{EtcdStore, EtcdStoreConfig, EtcdTls, ModelStore, Storage};

    #[derive(Parser, Debug)]
    #[command(name = "kubesim", version, about = "A Kubernetes-compatible API server core and simulator")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand, Debug)]
    enum Command {
        /// Run the API server (flags as kube-apiserver's).
        Apiserver(Box<ApiserverArgs>),
        /// Load any Kubernetes API server with fake nodes, a scheduler and pods, and report.
        Load(Box<LoadArgs>),
    }

    /// Parses `min,max` milliseconds.
    fn range_ms(s: &str) -> Result<(u64, u64), String> {
        let (a, b) = s.split_once(',').unwrap_or((s, s));
        let a: u64 = a.trim().parse().map_err(|_| format!("bad milliseconds {a:?}"))?;
        let b: u64 = b.trim().parse().map_err(|_| format!("bad milliseconds {b:?}"))?;
        if a > b {
            return Err(format!("range {s:?}: min above max"));
        }
        Ok((a, b))
    }

    #[derive(clap::Args, Debug)]
    struct LoadArgs {
        /// Kubeconfig of the API server to load (its current context).
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Fake nodes (kubelet agents).
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Pods to create.
        #[arg(long, default_value_t = 1000)]
        pods: usize,
        /// Concurrent pod-creating clients.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Pods per second in total; 0 = as fast as the clients go.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Namespace for the pods (created if missing).
        #[arg(long, default_value = "kubesim-load")]
        namespace: String,
        /// Node cpu capacity.
        #[arg(long, default_value = "32")]
        node_cpu: String,
        /// Node memory capacity.
        #[arg(long, default_value = "256Gi")]
        node_memory: String,
        /// Node pod capacity.
        #[arg(long, default_value = "110")]
        node_pods: String,
        /// Container start latency range in ms, `min,max`.
        #[arg(long, default_value = "100,500", value_parser = range_ms)]
        start_latency_ms: (u64, u64),
        /// Schedulers. leader-elected: replicas of default-scheduler, one scheduling at a time (more
        /// than one: leader election through a Lease); per-pod-name: N schedulers binding at once.
        #[arg(long, default_value_t = 1)]
        schedulers: usize,
        /// How the schedulers share the work: leader-elected, or per-pod-name (each owns the pods
        /// whose spec.schedulerName names it; the pods are spread over them).
        #[arg(long, value_enum, default_value_t = kubesim::load::SchedulerMode::LeaderElected)]
        scheduler_mode: kubesim::load::SchedulerMode,
        /// Seed for every random choice.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Give up after this long.
        #[arg(long, default_value = "30m", value_parser = go_duration)]
        timeout: Duration,
        /// Directory for report.json and report.md.
        #[arg(long, default_value = "reports/load")]
        report_dir: PathBuf,
    }

    /// Parses a Go duration such as `1h0m0s`, `90s`, `500ms`.
    fn go_duration(s: &str) -> Result<Duration, String> {
        let mut total = 0f64;
        let mut rest = s.trim();
        if rest == "0" {
            return Ok(Duration::ZERO);
        }
        while !rest.is_empty() {
            let split = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or(format!("missing unit in {s:?}"))?;
            let (num, after) = rest.split_at(split);
            let value: f64 = num.parse().map_err(|_| format!("bad number in duration {s:?}"))?;
            let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_len);
            let scale = match unit {
                "h" => 3600.0,
                "m" => 60.0,
                "s" => 1.0,
                "ms" => 1e-3,
                "us" | "µs" => 1e-6,
                "ns" => 1e-9,
                other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
            };
            total += value * scale;
            rest = next;
        }
        Ok(Duration::from_secs_f64(total))
    }

    #[derive(clap::Args, Debug)]
    struct ApiserverArgs {
        /// The port on which to serve HTTPS.
        #[arg(long, default_value_t = 6443)]
        secure_port: u16,
        /// The IP address on which to listen for the --secure-port port.
        #[arg(long, default_value = "0.0.0.0")]
        bind_address: std::net::IpAddr,
        /// List of etcd servers to connect with (scheme://ip:port), comma separated. Absent: the
        /// embedded in-memory model store.
        #[arg(long, value_delimiter = ',')]
        etcd_servers: Vec<String>,
        /// The prefix to prepend to all resource paths in etcd.
        #[arg(long, default_value = "/registry")]
        etcd_prefix: String,
        /// SSL Certificate Authority file used to secure etcd communication.
        #[arg(long)]
        etcd_cafile: Option<PathBuf>,
        /// SSL certification file used to secure etcd communication.
        #[arg(long)]
        etcd_certfile: Option<PathBuf>,
        /// SSL key file used to secure etcd communication.
        #[arg(long)]
        etcd_keyfile: Option<PathBuf>,
        /// The directory where the TLS certs are located (and written when generated).
        #[arg(long, default_value = "/var/run/kubernetes")]
        cert_dir: PathBuf,
        /// File containing the default x509 Certificate for HTTPS.
        #[arg(long)]
        tls_cert_file: Option<PathBuf>,
        /// File containing the default x509 private key matching --tls-cert-file.
        #[arg(long)]
        tls_private_key_file: Option<PathBuf>,
        /// If set, the file that will be used to secure the secure port of the API server via
        /// token authentication.
        #[arg(long)]
        token_auth_file: Option<PathBuf>,
        /// If set, any request presenting a client certificate signed by one of the authorities in
        /// the client-ca-file is authenticated with an identity corresponding to the CommonName of
        /// the client certificate (its Organizations are the groups).
        #[arg(long)]
        client_ca_file: Option<PathBuf>,
        /// Enables anonymous requests to the secure port of the API server. Requests that are not
        /// rejected by another authentication method are treated as anonymous requests (user
        /// system:anonymous, group system:unauthenticated).
        #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        anonymous_auth: bool,
        /// Ordered list of plug-ins to do authorization on secure port: AlwaysAllow, AlwaysDeny,
        /// Node, RBAC. Default AlwaysAllow (as kube-apiserver's flag); clusters run Node,RBAC.
        #[arg(long, value_delimiter = ',', default_value = "AlwaysAllow")]
        authorization_mode: Vec<String>,
        /// Enable watch caching in the apiserver.
        #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        watch_cache: bool,
        /// Watch cache size settings for some resources, each `resource[.group]#size`: how many
        /// events each resource's cache keeps for watches that resume from a past version.
        #[arg(long, value_delimiter = ',')]
        watch_cache_sizes: Vec<String>,
        /// The maximum number of non-mutating requests in flight at a given time.
        #[arg(long, default_value_t = 400)]
        max_requests_inflight: usize,
        /// The maximum number of mutating requests in flight at a given time.
        #[arg(long, default_value_t = 200)]
        max_mutating_requests_inflight: usize,
        /// Amount of time to retain events.
        #[arg(long, default_value = "1h0m0s", value_parser = go_duration)]
        event_ttl: Duration,
        /// Minimum watch timeout; a watch lasts a random time between this and twice this.
        #[arg(long, default_value_t = 1800)]
        min_request_timeout: u64,
        /// Admission plugins to enable in addition to the default-on ones (NamespaceLifecycle,
        /// LimitRanger, NodeRestriction, ResourceQuota), comma separated; order does not matter.
        #[arg(long, value_delimiter = ',')]
        enable_admission_plugins: Vec<String>,
        /// Admission plugins to disable although on by default, comma separated.
        #[arg(long, value_delimiter = ',')]
        disable_admission_plugins: Vec<String>,
        /// If true, allow privileged containers.
        #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        allow_privileged: bool,
        /// The file with the configuration for encryption providers (an EncryptionConfiguration,
        /// apiserver.config.k8s.io/v1) used to store secrets (and other resources) in etcd.
        #[arg(long)]
        encryption_provider_config: Option<PathBuf>,
        /// If set, all requests coming to the apiserver will be logged to this file. '-' means
        /// standard out.
        #[arg(long)]
        audit_log_path: Option<String>,
        /// The maximum size in megabytes of the audit log file before it gets rotated (0: 100).
        #[arg(long, default_value_t = 0)]
        audit_log_maxsize: u64,
        /// The maximum number of old audit log files to retain (0: all).
        #[arg(long, default_value_t = 0)]
        audit_log_maxbackup: usize,
        /// The maximum number of days to retain old audit log files (0: no limit).
        #[arg(long, default_value_t = 0)]
        audit_log_maxage: u64,
        /// Path to the file that defines the audit policy configuration.
        #[arg(long)]
        audit_policy_file: Option<PathBuf>,
    }

    pub fn main() {
        let cli = Cli::parse();
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
        let result = match cli.command {
            Command::Apiserver(args) => runtime.block_on(apiserver(*args)),
            Command::Load(args) => runtime.block_on(load(*args)),
        };
        if let Err(e) = result {
            eprintln!("kubesim: {e}");
            std::process::exit(1);
        }
    }

    async fn load(args: LoadArgs) -> Result<(), String> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let kubeconfig = kubesim::client::Kubeconfig::load(&args.kubeconfig)?;
        let mut config = kubeconfig.client_config()?;
        config.pool_max = 256;
        config.metrics = Some(Arc::default());
        let client = kubesim::client::ApiClient::new(config);
        let options = kubesim::load::LoadOptions {
            nodes: args.nodes,
            pods: args.pods,
            concurrency: args.concurrency,
            rate: args.rate,
            namespace: args.namespace,
            node_cpu: args.node_cpu,
            node_memory: args.node_memory,
            node_pods: args.node_pods,
            start_latency_ms: args.start_latency_ms,
            schedulers: args.schedulers,
            scheduler_mode: args.scheduler_mode,
            seed: args.seed,
            timeout: args.timeout,
            report_dir: args.report_dir.clone(),
            ..Default::default()
        };
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("kubesim load: interrupted; cleaning up and writing the report");
                flag.store(true, Ordering::Relaxed);
            }
        });
        let report = kubesim::load::run(client, options, interrupted).await?;
        let (json, md) = kubesim::load::write(&report, &args.report_dir)?;
        println!("{}", kubesim::load::markdown(&report));
        println!("report: {} and {}", json.display(), md.display());
        if report.checks.iter().any(|c| !c.ok) || report.interrupted {
            return Err("the run did not complete cleanly (see the checks above)".into());
        }
        Ok(())
    }

    async fn storage(args: &ApiserverArgs) -> Result<Arc<dyn Storage>, String> {
        if args.etcd_servers.is_empty() {
            eprintln!("kubesim apiserver: no --etcd-servers: using the embedded in-memory model store");
            return Ok(Arc::new(ModelStore::default()));
        }
        let mut config = EtcdStoreConfig::new(args.etcd_servers.clone());
        config.prefix = args.etcd_prefix.clone();
        if args.etcd_cafile.is_some() || args.etcd_certfile.is_some() || args.etcd_keyfile.is_some() {
            config.tls = Some(EtcdTls {
                ca_file: args.etcd_cafile.clone(),
                cert_file: args.etcd_certfile.clone(),
                key_file: args.etcd_keyfile.clone(),
            });
        }
        let store = EtcdStore::connect(config).await.map_err(|e| format!("etcd: {e}"))?;
        Ok(Arc::new(store))
    }

    async fn apiserver(args: ApiserverArgs) -> Result<(), String> {
        kubesim::auth::parse_modes(&args.authorization_mode)
            .map_err(|e| format!("--authorization-mode: {e}"))?;
        let tokens = match &args.token_auth_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                TokenAuthenticator::parse(&text)?
            }
            None => TokenAuthenticator::default(),
        };
        let cert = match (&args.tls_cert_file, &args.tls_private_key_file) {
            (Some(c), Some(k)) => {
                tls::ServingCert { cert_file: c.clone(), key_file: k.clone(), ca_file: None }
            }
            (None, None) => tls::self_signed(&args.cert_dir)?,
            _ => return Err("--tls-cert-file and --tls-private-key-file must be given together".into()),
        };
        let tls_config = tls::server_config_with_client_ca(&cert, args.client_ca_file.as_deref())?;
        let storage = storage(&args).await?;
        let mut config = ApiServerConfig {
            max_requests_inflight: args.max_requests_inflight,
            max_mutating_requests_inflight: args.max_mutating_requests_inflight,
            event_ttl: args.event_ttl,
            authorization_modes: args.authorization_mode.clone(),
            anonymous_auth: args.anonymous_auth,
            min_request_timeout: Duration::from_secs(args.min_request_timeout),
            ..ApiServerConfig::default()
        };
        config.registry.watch_cache = args.watch_cache;
        config.registry.admission = kubesim::admission::AdmissionConfig {
            plugins: kubesim::admission::AdmissionConfig::from_flags(
                &args.enable_admission_plugins,
                &args.disable_admission_plugins,
            )
            .map_err(|e| format!("admission plugins: {e}"))?,
            allow_privileged: args.allow_privileged,
        };
        // As kube-apiserver: auditing needs both a policy and a log path.
        if let (Some(policy), Some(path)) = (&args.audit_policy_file, &args.audit_log_path) {
            let rotation = kubesim::audit::Rotation {
                max_size_bytes: args.audit_log_maxsize * kubesim::audit::MEGABYTE,
                max_backups: args.audit_log_maxbackup,
                max_age: Duration::from_secs(args.audit_log_maxage * 24 * 3600),
            };
            let auditor = kubesim::audit::Auditor::from_flags(policy, path, rotation)
                .map_err(|e| format!("audit: {e}"))?;
            config.audit = Some(Arc::new(auditor));
        }
        if let Some(path) = &args.encryption_provider_config {
            let encryption = kubesim::encryption::Encryption::from_file(path)
                .map_err(|e| format!("--encryption-provider-config: {e}"))?;
            config.registry.encryption = Some(Arc::new(encryption.with_key_prefix(&args.etcd_prefix)));
        }
        for entry in &args.watch_cache_sizes {
            let (resource, size) = entry
                .split_once('#')
                .ok_or(format!("--watch-cache-sizes entry {entry:?} is not resource#size"))?;
            let size: usize =
                size.parse().map_err(|_| format!("--watch-cache-sizes entry {entry:?}: bad size"))?;
            let plural = resource.split('.').next().unwrap_or(resource);
            config.registry.cache_sizes.insert(plural.to_owned(), size);
        }
        let server = ApiServer::new(storage, config, tokens).await;
        let addr = SocketAddr::new(args.bind_address, args.secure_port);
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("binding {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        server.wait_ready().await.map_err(|e| format!("caches did not load: {e}"))?;
        println!("kubesim apiserver serving on https://{local}");
        if let Some(ca) = &cert.ca_file {
            println!("serving certificate authority: {}", ca.display());
        }
        http_server::serve_tls(server, listener, tls_config).await.map_err(|e| e.to_string())
    }
}
