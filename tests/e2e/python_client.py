"""The official Python client against `kubesim apiserver`, as a new user would drive it.

Run by tests/apiserver_e2e.rs with KUBECONFIG pointing at the server. Exits non-zero with a
message on the first deviation.
"""
import os
import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(os.environ["KUBECONFIG"])
v1 = client.CoreV1Api()
ns = os.environ.get("KUBESIM_TEST_NAMESPACE", "pytest")


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


try:
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
except ApiException as e:
    check(e.status == 409, f"namespace create: {e.status}")

# Create: 12 pods, 4 of them labelled tier=db.
for i in range(12):
    labels = {"app": "py", "tier": "db" if i % 3 == 0 else "web"}
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"p{i:02d}", labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
    )
    created = v1.create_namespaced_pod(ns, pod)
    check(created.status.phase == "Pending", f"created p{i:02d} Pending")

try:
    v1.create_namespaced_pod(ns, client.V1Pod(metadata=client.V1ObjectMeta(name="p00"),
                             spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="x")])))
    check(False, "duplicate create must fail")
except ApiException as e:
    check(e.status == 409 and "AlreadyExists" in e.body, "duplicate create is 409 AlreadyExists")

# List with a label selector.
db = v1.list_namespaced_pod(ns, label_selector="tier=db")
check(sorted(p.metadata.name for p in db.items) == ["p00", "p03", "p06", "p09"], "label selector tier=db")
notdb = v1.list_namespaced_pod(ns, label_selector="app=py,tier!=db")
check(len(notdb.items) == 8, "label selector app=py,tier!=db")

# Paging with limit/continue: 12 pods in pages of 5, all sharing the first page's version.
names, token, pages = [], None, 0
first_rv = None
while True:
    page = v1.list_namespaced_pod(ns, limit=5, _continue=token)
    pages += 1
    names += [p.metadata.name for p in page.items]
    first_rv = first_rv or page.metadata.resource_version
    check(page.metadata.resource_version == first_rv, f"page {pages} at the first page's resourceVersion")
    token = page.metadata._continue
    if not token:
        break
check(pages == 3 and names == [f"p{i:02d}" for i in range(12)], f"paging: {pages} pages, {len(names)} pods")

# Watch from a resource_version: sees exactly the changes after it.
start_rv = v1.list_namespaced_pod(ns).metadata.resource_version
v1.patch_namespaced_pod("p01", ns, {"metadata": {"labels": {"touched": "yes"}}})
v1.delete_namespaced_pod("p02", ns, grace_period_seconds=0)
w = watch.Watch()
seen = []
for event in w.stream(v1.list_namespaced_pod, ns, resource_version=start_rv, timeout_seconds=5):
    seen.append((event["type"], event["object"].metadata.name))
    if len(seen) == 2:
        w.stop()
check(seen == [("MODIFIED", "p01"), ("DELETED", "p02")], f"watch from resource_version: {seen}")

# A watch from a compacted version gets an ERROR 410; the client's watch recovers by re-listing.
raw = v1.list_namespaced_pod(ns, resource_version="1", watch=True, timeout_seconds=2, _preload_content=False)
line = raw.readline().decode()
check('"type":"ERROR"' in line and '"code":410' in line, f"too old resource_version gives ERROR 410: {line[:120]}")
w = watch.Watch()
recovered = None
try:
    for event in w.stream(v1.list_namespaced_pod, ns, resource_version="1", timeout_seconds=3):
        recovered = event
        w.stop()
except ApiException as e:
    # The client raises 410 once it cannot resume; a fresh list + watch is the documented recovery.
    check(e.status == 410, f"410 surfaces as ApiException(410): {e.status}")
    rv = v1.list_namespaced_pod(ns).metadata.resource_version
    v1.patch_namespaced_pod("p03", ns, {"metadata": {"labels": {"after": "410"}}})
    for event in w.stream(v1.list_namespaced_pod, ns, resource_version=rv, timeout_seconds=5):
        recovered = event
        w.stop()
check(recovered is not None, "watch recovered after 410")

v1.delete_namespace(ns)
deadline = time.time() + 30
while time.time() < deadline:
    try:
        v1.read_namespace(ns)
        time.sleep(0.2)
    except ApiException as e:
        check(e.status == 404, "namespace deletion completes")
        break
else:
    check(False, "namespace deletion completes within 30 s")
print("python client: all checks passed")
