"""The Helm chart, rendered offline by Helm's own library: lint, schema, and every object valid
for a Kubernetes API server and the CRDs it uses."""

from __future__ import annotations

import copy
import json
import re
import urllib.parse
import urllib.request

import helm_python
import pytest
import yaml

from tests.helm.chart import (
    CHART_DIR,
    CREDENTIALS,
    EXAMPLES,
    NAMESPACE,
    RELEASE,
    by_kind,
    example,
    named,
    pod_specs,
    render,
    render_files,
)
from tests.manifests.validation import validate_all

FULLNAME = f"{RELEASE}-llm-control-plane"
EVERYTHING_ON = {
    **CREDENTIALS,
    "auditSigningKey": {"value": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n"},
    "ingress": {"enabled": True, "hosts": ["console.example.com"]},
    "httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}], "hostnames": ["c.example"]},
    "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
}
VALUE_SETS = {"defaults": CREDENTIALS, "everything-on": EVERYTHING_ON} | {
    f"example-{name}": example(name) for name in EXAMPLES
}


def test_examples_are_minimal_production_and_airgapped():
    assert set(EXAMPLES) == {"minimal", "production", "airgapped"}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_chart_lints_strictly(name):
    report = helm_python.lint(
        CHART_DIR, VALUE_SETS[name], strict=True, namespace=NAMESPACE, kube_version="v1.33.0"
    )
    assert report["errors"] == []
    # Severity 2 is a warning, 3 an error; 1 (info: "icon is recommended") is allowed.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_rendered_object_is_valid_kubernetes(name):
    objects = render(VALUE_SETS[name])
    assert len(objects) >= 12
    validate_all(objects)


def test_defaults_need_the_four_credentials_and_say_which():
    for missing, message in (
        ("database", "database: set database.url or database.existingSecret.name"),
        ("redis", "redis: set redis.url or redis.existingSecret.name"),
        ("secretKey", "secretKey: set secretKey.value or secretKey.existingSecret.name"),
        ("auditSigningKey", "auditSigningKey: set auditSigningKey.existingSecret.name or"),
    ):
        values = {key: value for key, value in CREDENTIALS.items() if key != missing}
        with pytest.raises(helm_python.HelmError, match=re.escape(message)):
            render(values)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"web": {"replicas": 0}}, "at '/web/replicas': minimum: got 0, want 1"),
        ({"replicaCount": 3}, "additional properties 'replicaCount' not allowed"),
        ({"image": {"digest": "latest"}}, "at '/image/digest'"),
        ({"database": {"url": "mysql://db/cp"}}, "at '/database/url'"),
        ({"secretKey": {"value": "short"}}, "at '/secretKey/value'"),
        ({"workers": [{"name": "w", "queues": ["gpu"], "replicas": 1, "concurrency": 1}]},
         "at '/workers/0"),
        ({"config": {"extraEnv": {"lower_case": "x"}}},
         "at '/config/extraEnv': additional properties 'lower_case' not allowed"),
        ({"metrics": {"prometheusRule": {"rolloutPausedFor": "soon"}}},
         "at '/metrics/prometheusRule/rolloutPausedFor'"),
    ],
)  # fmt: skip
def test_values_violating_the_schema_are_rejected_naming_the_value(change, message):
    values = copy.deepcopy(CREDENTIALS) | change
    with pytest.raises(helm_python.HelmValuesError) as rejected:
        render(values)
    assert "values don't meet the specifications of the schema" in str(rejected.value)
    assert message in str(rejected.value)


def test_a_queue_no_worker_consumes_is_refused():
    values = CREDENTIALS | {
        "workers": [
            {
                "name": "only",
                "queues": ["celery", "provisioning"],
                "replicas": 1,
                "concurrency": 1,
                "resources": yaml.safe_load(
                    "{requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}"
                ),
            }
        ]
    }
    with pytest.raises(helm_python.HelmError, match="no worker consumes the analysis queue"):
        render(values)


def _schema_paths(schema: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, sub in schema.get("properties", {}).items():
        paths.add(prefix + key)
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{prefix + key} allows any key"
            paths |= _schema_paths(sub, prefix + key + ".")
        if sub.get("type") == "array" and "properties" in sub.get("items", {}):
            paths |= _schema_paths(sub["items"], prefix + key + "[].")
    return paths


def _value_paths(values: object, prefix: str = "") -> set[str]:
    paths = set()
    if isinstance(values, dict):
        for key, value in values.items():
            paths.add(prefix + key)
            if key not in ("requests", "limits"):
                paths |= _value_paths(value, prefix + key + ".")
    elif isinstance(values, list):
        for item in values:
            paths |= _value_paths(item, prefix[:-1] + "[].")
    return paths


def test_the_schema_describes_every_default_value_and_allows_no_other():
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    described = _schema_paths(schema)
    undescribed = {
        path
        for path in _value_paths(defaults)
        if path not in described and not re.search(r"resources\.(requests|limits)$", path)
    }
    assert undescribed == set()


def test_every_pod_runs_restricted():
    for name, spec in pod_specs(render(EVERYTHING_ON)).items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == 10001, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        tmp = [v for v in spec["volumes"] if v["name"] == "tmp"]
        assert tmp[0]["emptyDir"], name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert {"/tmp", "/run/prometheus"} <= mounts, name
            assert container["resources"]["requests"], name
            assert container["resources"]["limits"], name


def test_web_probes_liveness_on_healthz_and_readiness_on_readyz():
    web = named(render(CREDENTIALS), "Deployment", f"{FULLNAME}-web")
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["web"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    spread = web["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }


def test_one_worker_deployment_per_values_entry_with_its_queues():
    objects = render(example("production"))
    workers = {
        obj["metadata"]["name"]: obj["spec"]["template"]["spec"]["containers"][0]
        for obj in by_kind(objects, "Deployment")
        if "-worker-" in obj["metadata"]["name"]
    }
    assert set(workers) == {f"{FULLNAME}-worker-provisioning", f"{FULLNAME}-worker-analysis"}
    queues = {
        name: {e["name"]: e.get("value") for e in container["env"]}["CELERY_QUEUES"]
        for name, container in workers.items()
    }
    assert queues == {
        f"{FULLNAME}-worker-provisioning": "celery,provisioning",
        f"{FULLNAME}-worker-analysis": "analysis",
    }
    assert workers[f"{FULLNAME}-worker-analysis"]["args"] == ["worker", "--concurrency", "4"]
    pdbs = {obj["metadata"]["name"] for obj in by_kind(objects, "PodDisruptionBudget")}
    assert pdbs == {f"{FULLNAME}-web", *workers}


def test_beat_runs_one_replica_replaced_not_rolled():
    beat = named(render(CREDENTIALS), "Deployment", f"{FULLNAME}-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert beat["spec"]["template"]["spec"]["containers"][0]["args"] == ["beat"]


def test_migrations_run_as_a_hook_with_their_own_copies_of_config_and_secret():
    objects = render(CREDENTIALS)
    job = named(objects, "Job", f"{FULLNAME}-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "manage",
        "migrate",
        "--no-input",
    ]
    # Hooks run before the release's own ConfigMap and Secret exist: the Job reads copies that
    # are hooks too, created first (lower weight).
    for kind in ("ConfigMap", "Secret"):
        copy_ = named(objects, kind, f"{FULLNAME}-migrate")
        assert copy_["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(copy_["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
            annotations["helm.sh/hook-weight"]
        )
    spec = job["spec"]["template"]["spec"]
    assert spec["containers"][0]["envFrom"] == [{"configMapRef": {"name": f"{FULLNAME}-migrate"}}]
    sources = next(v for v in spec["volumes"] if v["name"] == "secrets")["projected"]["sources"]
    # Values given to the chart come from the copy; existing Secrets are used as they are.
    assert {source["secret"]["name"] for source in sources} == {f"{FULLNAME}-migrate", "audit-key"}


def test_credentials_come_from_an_existing_secret_as_files():
    objects = render(example("production"))
    assert [s["metadata"]["name"] for s in by_kind(objects, "Secret")] == []
    web = named(objects, "Deployment", f"{FULLNAME}-web")["spec"]["template"]["spec"]
    sources = next(v for v in web["volumes"] if v["name"] == "secrets")["projected"]["sources"]
    assert {(s["secret"]["name"], s["secret"]["items"][0]["path"]) for s in sources} == {
        ("control-plane-credentials", "database-url"),
        ("control-plane-credentials", "redis-url"),
        ("control-plane-credentials", "secret-key"),
        ("control-plane-credentials", "audit-signing-key"),
    }
    env = {e["name"]: e.get("value") for e in web["containers"][0]["env"]}
    assert env["DATABASE_URL_FILE"] == "/var/run/secrets/llm-control-plane/database-url"
    assert env["SECRET_KEY_FILE"] == "/var/run/secrets/llm-control-plane/secret-key"
    assert env["AUDIT_SIGNING_KEY_FILE"] == "/var/run/secrets/llm-control-plane/audit-signing-key"
    assert web["containers"][0]["image"].endswith("@sha256:" + "0" * 64)


def test_airgapped_pulls_from_the_private_registry_with_its_credential():
    for name, spec in pod_specs(render(example("airgapped"))).items():
        assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}], name
        for container in spec["containers"]:
            assert container["image"] == (
                "registry.internal.example:5000/platform/llm-control-plane:0.1.0"
            ), name


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_the_configmap_and_secret_env_hold_only_settings_the_service_reads(name):
    settings_source = (CHART_DIR.parents[1] / "control_plane" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', settings_source))
    objects = render(VALUE_SETS[name])
    config = named(objects, "ConfigMap", FULLNAME)["data"]
    assert set(config) - read == set()
    web = named(objects, "Deployment", f"{FULLNAME}-web")["spec"]["template"]["spec"]
    env = {e["name"] for e in web["containers"][0]["env"]}
    # *_FILE twins of settings (control_plane/env.py), then secrets by name.
    assert {n.removesuffix("_FILE") for n in env} - read - {"AUDIT_SIGNING_KEY"} == set()
    assert config["CLUSTER_BACKEND"] == "kubernetes"
    assert config["KUBE_IN_CLUSTER"] == "true"
    assert config["DEBUG"] == "false"


def test_allowed_hosts_default_to_the_published_host_names_and_the_service():
    config = named(render(EVERYTHING_ON), "ConfigMap", FULLNAME)["data"]
    assert set(config["ALLOWED_HOSTS"].split(",")) == {
        "console.example.com",
        "c.example",
        FULLNAME,
        f"{FULLNAME}.{NAMESPACE}.svc",
        f"{FULLNAME}.{NAMESPACE}.svc.cluster.local",
    }


def test_secret_settings_come_from_existing_secrets_not_the_configmap():
    objects = render(example("production"))
    assert "OIDC_RP_CLIENT_SECRET" not in named(objects, "ConfigMap", FULLNAME)["data"]
    web = named(objects, "Deployment", f"{FULLNAME}-web")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in web["containers"][0]["env"]}
    assert env["OIDC_RP_CLIENT_SECRET"]["valueFrom"] == {
        "secretKeyRef": {"name": "control-plane-credentials", "key": "oidc-client-secret"}
    }


def test_the_http_route_keeps_metrics_inside_the_cluster():
    route = named(render(EVERYTHING_ON), "HTTPRoute", FULLNAME)
    first, second = route["spec"]["rules"]
    assert first["matches"] == [{"path": {"type": "PathPrefix", "value": "/metrics"}}]
    assert first["filters"][0]["type"] == "RequestRedirect"
    assert "backendRefs" not in first
    assert second["backendRefs"] == [{"name": FULLNAME, "port": 80}]


def test_service_monitor_scrapes_web_and_worker_metrics_ports():
    objects = render(EVERYTHING_ON)
    monitor = named(objects, "ServiceMonitor", FULLNAME)
    ports = {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]}
    services = {
        port["name"]
        for service in by_kind(objects, "Service")
        for port in service["spec"]["ports"]
        if all(
            service["metadata"]["labels"].get(k) == v
            for k, v in monitor["spec"]["selector"]["matchLabels"].items()
        )
    }
    assert ports == services == {"http", "metrics"}


def test_prometheus_rule_alerts_on_what_the_issue_names():
    rule = named(render(EVERYTHING_ON), "PrometheusRule", FULLNAME)
    alerts = {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}
    assert {
        "ControlPlaneReconcileFailures",
        "ControlPlaneRolloutPaused",
        "ControlPlaneRolloutStuck",
        "ControlPlaneCeleryBacklog",
        "ControlPlaneAuditVerificationFailed",
    } <= set(alerts)
    assert (
        f'job_name=~"{FULLNAME}-audit-verify-.*"' in alerts["ControlPlaneAuditVerificationFailed"]
    )
    assert all(f'namespace="{NAMESPACE}"' in expr for expr in alerts.values())


def test_notes_say_how_to_reach_the_console_and_create_the_first_admin():
    notes = render_files(example("production"))["llm-control-plane/templates/NOTES.txt"]
    assert "https://console.example.com/" in notes
    assert f"exec -it deployment/{FULLNAME}-web" in notes
    assert "manage createsuperuser" in notes
    minimal = render_files(example("minimal"))["llm-control-plane/templates/NOTES.txt"]
    assert f"port-forward service/{FULLNAME} 8000:80" in minimal


@pytest.mark.integration
def test_every_alert_expression_is_valid_promql(prometheus_session):
    """A real Prometheus parses each expression (a syntax error answers 400 bad_data)."""
    rule = named(render(EVERYTHING_ON), "PrometheusRule", FULLNAME)
    for alert in rule["spec"]["groups"][0]["rules"]:
        query = urllib.parse.urlencode({"query": alert["expr"]})
        with urllib.request.urlopen(f"{prometheus_session.url}/api/v1/query?{query}") as reply:
            assert json.load(reply)["status"] == "success", alert["alert"]


def test_audit_checkpoints_share_one_claim_between_writers_and_the_verifier():
    objects = render(example("production"))
    config = named(objects, "ConfigMap", FULLNAME)["data"]
    path = config["AUDIT_CHECKPOINT_DIRECTORY"]
    for name in (f"Deployment/{FULLNAME}-worker-provisioning", f"CronJob/{FULLNAME}-audit-verify"):
        spec = pod_specs(objects)[name]
        volume = next(v for v in spec["volumes"] if v["name"] == "audit-checkpoints")
        assert volume == {
            "name": "audit-checkpoints",
            "persistentVolumeClaim": {"claimName": "audit-checkpoints"},
        }
        mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert mounts["audit-checkpoints"] == path
