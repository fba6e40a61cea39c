//! What several benches share: a realistic pod body.

use serde_json::{json, Value};

/// A pod as a Deployment's ReplicaSet creates it (~2 KB of JSON): labels, annotations, an
/// owner, one container with args, ports, env, resources, mounts and probes, volumes,
/// tolerations.
pub fn pod(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {
                "app.kubernetes.io/name": "bench-frontend",
                "app.kubernetes.io/instance": "bench-frontend-prod",
                "app.kubernetes.io/version": "1.27.3",
                "app.kubernetes.io/component": "web",
                "pod-template-hash": "6d4cf56db6",
                "tier": "frontend"
            },
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": "2025-01-15T10:22:31Z",
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9102",
                "checksum/config": "8a1f0c2e9b7d4f3a6c5e2d1b0a9f8e7d6c5b4a3928171605f4e3d2c1b0a9f8e7"
            },
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "bench-frontend-6d4cf56db6",
                "uid": "5f0c8a3e-9d7b-4c21-8e6f-2b1a0d9c8e7f",
                "controller": true,
                "blockOwnerDeletion": true
            }]
        },
        "spec": {
            "containers": [{
                "name": "frontend",
                "image": "registry.example.com/team/bench-frontend:1.27.3",
                "imagePullPolicy": "IfNotPresent",
                "args": ["--port=8080", "--metrics-port=9102", "--log-level=info", "--config=/etc/frontend/config.yaml"],
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9102, "protocol": "TCP"}
                ],
                "env": [
                    {"name": "GOMAXPROCS", "value": "2"},
                    {"name": "BACKEND_URL", "value": "http://bench-backend.bench.svc.cluster.local:8080"},
                    {"name": "CACHE_TTL_SECONDS", "value": "300"},
                    {"name": "FEATURE_FLAGS", "value": "new-checkout,fast-search,dark-mode"}
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"}
                },
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/frontend", "readOnly": true},
                    {"name": "cache", "mountPath": "/var/cache/frontend"}
                ],
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                    "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 1,
                    "successThreshold": 1, "failureThreshold": 3
                },
                "readinessProbe": {
                    "httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"},
                    "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"
            }],
            "volumes": [
                {"name": "config", "configMap": {"name": "bench-frontend-config", "defaultMode": 420}},
                {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ]
        }
    })
}
