"""Kubernetes objects of one endpoint: per revision the vLLM Deployment and what serves, scrapes
and scales it, and per endpoint the HTTPRoute that splits traffic. Pure: no I/O, no settings
(the platform's names and the GPU pools come in a RenderContext).

Timings, and why:
- The startup probe allows `expected_load_seconds × 1.5 + 60 s` (rounded up to whole probe
  periods): weights load at the speed of a shared disk or network, and CUDA graph capture adds a
  varying tail; a probe that gives up too early restarts a healthy pod into the same load.
- The KEDA interceptor holds a cold request for that budget plus 120 s for scheduling and a
  cached image pull.
- On shutdown a preStop sleep of 15 s lets the EndpointSlice change reach kube-proxy, the gateway
  and the interceptor before vLLM gets SIGTERM; vLLM's HTTP server then stops accepting and
  finishes in-flight requests. `terminationGracePeriodSeconds` = 15 + 300: a generation of a few
  thousand tokens at a few tens of tokens per second takes minutes, and 300 s is also what the
  interceptor and the HTTPRoute allow for one response.
"""

from __future__ import annotations

import math

from control_plane.quantities import format_cpu, format_memory
from control_plane.render_context import RenderContext
from endpoints.gpu_pools import GpuPool, pool_for
from endpoints.models import ENGINE_ARGUMENTS, Endpoint, ModelVersion, Revision
from scaling import manifests as keda
from scaling import promql
from scaling.spec import ScalingSpec
from tenants.manifests import (
    INFERENCE_SERVICE_ACCOUNT,
    TENANT_LABEL,
    object_meta,
    tenant_labels,
)

ENDPOINT_LABEL = "llm-control-plane/endpoint"
REVISION_LABEL = "llm-control-plane/revision"
APP_NAME_LABEL = "app.kubernetes.io/name"

ROLES = ("stable", "canary", "retiring")

# What the reconciler lists (by the managed-by label) in a tenant namespace to prune objects of
# revisions and endpoints no longer in service.
ENDPOINT_KINDS: tuple[tuple[str, str], ...] = (
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("policy/v1", "PodDisruptionBudget"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("http.keda.sh/v1beta1", "InterceptorRoute"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
)

VLLM_PORT = 8000
SERVICE_PORT = 80
WEIGHTS_PATH = "/models/weights"  # `ModelVersion.model_reference` for s3 and pvc sources

STARTUP_PROBE_PERIOD_S = 10
STARTUP_MARGIN_S = 60
SCHEDULING_ALLOWANCE_S = 120
DRAIN_S = 15
GENERATION_BUDGET_S = 300
# vLLM's default `--max-num-seqs` for the OpenAI server: how many requests one replica runs at once.
VLLM_DEFAULT_MAX_NUM_SEQS = 256

# Copies s3:// weights into an emptyDir before vLLM starts. Credentials come from the cluster's
# workload identity bound to the `inference` ServiceAccount (IRSA, GKE/Azure workload identity),
# so no key is ever rendered into a manifest.
S3_LOADER_IMAGE = "amazon/aws-cli:2.22.0"
S3_LOADER_RESOURCES = {"cpu": "1", "memory": "2Gi"}


def _container_security() -> dict:
    # vLLM images run as root and write their caches under /root; `baseline` allows that.
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def public_host(endpoint: Endpoint, context: RenderContext) -> str:
    """Where the endpoint answers (as `Endpoint.public_host` shows it, from the settings)."""
    return f"{endpoint.name}.{endpoint.tenant.slug}.{context.endpoint_base_domain}"


def endpoint_labels(endpoint: Endpoint) -> dict[str, str]:
    return {**tenant_labels(endpoint.tenant), ENDPOINT_LABEL: endpoint.name}


def _revision_labels(revision: Revision) -> dict[str, str]:
    return {
        **endpoint_labels(revision.endpoint),
        REVISION_LABEL: revision.kubernetes_name,
        APP_NAME_LABEL: "vllm",
    }


def _selector(revision: Revision) -> dict[str, str]:
    # Immutable on a Deployment: only what never changes for a revision.
    return {REVISION_LABEL: revision.kubernetes_name, APP_NAME_LABEL: "vllm"}


def startup_budget_s(model_version: ModelVersion) -> int:
    """Seconds the startup probe tolerates, a whole number of probe periods."""
    wanted = math.ceil(model_version.expected_load_seconds * 1.5) + STARTUP_MARGIN_S
    return math.ceil(wanted / STARTUP_PROBE_PERIOD_S) * STARTUP_PROBE_PERIOD_S


def cold_start_s(model_version: ModelVersion) -> int:
    """Seconds from a scale-from-zero to a ready pod that the interceptor waits for."""
    return startup_budget_s(model_version) + SCHEDULING_ALLOWANCE_S


def _gpu_resources(model_version: ModelVersion) -> dict[str, str]:
    if model_version.mig_profile:
        return {f"nvidia.com/mig-{model_version.mig_profile}": "1"}
    return {"nvidia.com/gpu": str(model_version.gpus_per_replica)}


def _vllm_args(revision: Revision) -> list[str]:
    endpoint, model_version = revision.endpoint, revision.model_version
    args = [
        "--model",
        model_version.model_reference,
        "--served-model-name",
        endpoint.served_model_name,
        "--port",
        str(VLLM_PORT),
    ]
    if model_version.source == ModelVersion.Source.HUGGING_FACE and model_version.hf_revision:
        args += ["--revision", model_version.hf_revision]
    engine_args = revision.effective_engine_args
    # One device per MIG slice; otherwise shard over every GPU of the replica.
    engine_args.setdefault(
        "tensor_parallel_size", 1 if model_version.mig_profile else model_version.gpus_per_replica
    )
    for name, (flag, kind) in ENGINE_ARGUMENTS.items():
        if name not in engine_args:
            continue
        value = engine_args[name]
        if kind is bool:
            # vLLM's boolean flags are argparse BooleanOptionalAction: `--no-<flag>` turns off
            # what a release enables by default (prefix caching is on by default in V1).
            args.append(flag if value else f"--no-{flag[2:]}")
        else:
            args += [flag, str(value)]
    return args


def _weights(model_version: ModelVersion) -> tuple[list[dict], list[dict], list[dict]]:
    """(volumes, vLLM volume mounts, init containers) that put the weights at WEIGHTS_PATH."""
    if model_version.source == ModelVersion.Source.PVC:
        claim, _, sub_path = model_version.uri.removeprefix("pvc://").partition("/")
        mount = {"name": "weights", "mountPath": WEIGHTS_PATH, "readOnly": True}
        if sub_path.strip("/"):
            mount["subPath"] = sub_path.strip("/")
        volume = {
            "name": "weights",
            "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
        }
        return [volume], [mount], []
    if model_version.source == ModelVersion.Source.S3:
        loader = {
            "name": "fetch-weights",
            "image": S3_LOADER_IMAGE,
            "command": ["aws"],
            "args": ["s3", "sync", model_version.uri, WEIGHTS_PATH, "--no-progress"],
            "resources": {
                "requests": dict(S3_LOADER_RESOURCES),
                "limits": dict(S3_LOADER_RESOURCES),
            },
            "securityContext": _container_security(),
            "volumeMounts": [{"name": "weights", "mountPath": WEIGHTS_PATH}],
        }
        mount = {"name": "weights", "mountPath": WEIGHTS_PATH, "readOnly": True}
        return [{"name": "weights", "emptyDir": {}}], [mount], [loader]
    return [], [], []


def _hf_token_env(model_version: ModelVersion, context: RenderContext) -> list[dict]:
    if model_version.source != ModelVersion.Source.HUGGING_FACE:
        return []
    # Optional: public models load without a token, and a missing Secret must not block the pod.
    return [
        {
            "name": "HF_TOKEN",
            "valueFrom": {
                "secretKeyRef": {
                    "name": context.hf_token_secret_name,
                    "key": "HF_TOKEN",
                    "optional": True,
                }
            },
        }
    ]


def _health() -> dict:
    return {"path": "/health", "port": "http"}


def _deployment(revision: Revision, pool: GpuPool, context: RenderContext) -> dict:
    endpoint, model_version = revision.endpoint, revision.model_version
    labels = _revision_labels(revision)
    resources = {
        # Quantities as people read them and as the API server stores them ("4", "32Gi"), so
        # what we send and what the server returns compare equal.
        "cpu": format_cpu(model_version.cpu_millicores),
        "memory": format_memory(model_version.memory_bytes),
        **_gpu_resources(model_version),
    }
    volumes, mounts, init_containers = _weights(model_version)
    # Tensor parallel workers exchange tensors through /dev/shm; the container runtime's 64 MiB
    # default is far too small. Memory-backed, it counts against the container's memory limit.
    volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory"}})
    mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    container = {
        "name": "vllm",
        "image": model_version.image,
        # The image's entrypoint is vLLM's OpenAI-compatible server; we only pass arguments.
        "args": _vllm_args(revision),
        "ports": [{"name": "http", "containerPort": VLLM_PORT, "protocol": "TCP"}],
        "env": _hf_token_env(model_version, context),
        "resources": {"requests": resources, "limits": dict(resources)},
        "readinessProbe": {"httpGet": _health(), "periodSeconds": 5, "failureThreshold": 3},
        "startupProbe": {
            "httpGet": _health(),
            "periodSeconds": STARTUP_PROBE_PERIOD_S,
            "failureThreshold": startup_budget_s(model_version) // STARTUP_PROBE_PERIOD_S,
        },
        # The sleep action needs no shell in the image (beta and on by default since 1.30,
        # https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/).
        "lifecycle": {"preStop": {"sleep": {"seconds": DRAIN_S}}},
        "securityContext": _container_security(),
        "volumeMounts": mounts,
    }
    pod_spec = {
        "serviceAccountName": INFERENCE_SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        # Service links inject `<SERVICE>_PORT`-style variables, and vLLM reads VLLM_* ones.
        "enableServiceLinks": False,
        # The grace period counts from the start of preStop, so the drain is part of it.
        "terminationGracePeriodSeconds": DRAIN_S + GENERATION_BUDGET_S,
        "nodeSelector": dict(pool.node_selector),
        "tolerations": [dict(t) for t in pool.tolerations],
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": volumes,
    }
    if init_containers:
        pod_spec["initContainers"] = init_containers
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(revision.kubernetes_name, endpoint.tenant.namespace, labels),
        # No `replicas`: the ScaledObject's HPA owns it through the scale subresource, and
        # applying it would fight the autoscaler.
        "spec": {
            "selector": {"matchLabels": _selector(revision)},
            # Quota admission does not count a surge pod, so a surge could wedge the rollout on
            # GPU quota; replace one pod at a time instead.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            },
            # A replaced pod first drains, then its successor cold-starts.
            "progressDeadlineSeconds": DRAIN_S + GENERATION_BUDGET_S + cold_start_s(model_version),
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def _service(revision: Revision) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(
            revision.kubernetes_name,
            revision.endpoint.tenant.namespace,
            _revision_labels(revision),
        ),
        "spec": {
            "selector": _selector(revision),
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def _pod_disruption_budget(revision: Revision) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": object_meta(
            revision.kubernetes_name,
            revision.endpoint.tenant.namespace,
            _revision_labels(revision),
        ),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": _selector(revision)},
            # A pod still loading its model serves nothing; let node drains evict it.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def _pod_monitor(revision: Revision) -> dict:
    """Scrapes vLLM's /metrics and copies our pod labels into the `revision`, `endpoint` and
    `tenant` series labels that scaling/promql.py selects on; the Prometheus operator adds
    `namespace` itself. Our relabelings run after the operator's own, so `endpoint` (which it
    sets to the port name) ends up as the endpoint's name."""

    def copy(pod_label: str, target: str) -> dict:
        meta = "__meta_kubernetes_pod_label_" + "".join(
            c if c.isalnum() else "_" for c in pod_label
        )
        return {"action": "replace", "sourceLabels": [meta], "targetLabel": target}

    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": object_meta(
            revision.kubernetes_name,
            revision.endpoint.tenant.namespace,
            _revision_labels(revision),
        ),
        "spec": {
            "selector": {"matchLabels": _selector(revision)},
            "podMetricsEndpoints": [
                {
                    "port": "http",
                    "path": "/metrics",
                    # Four samples in the one-minute TTFT window (scaling/promql.py).
                    "interval": "15s",
                    "relabelings": [
                        copy(REVISION_LABEL, "revision"),
                        copy(ENDPOINT_LABEL, "endpoint"),
                        copy(TENANT_LABEL, "tenant"),
                    ],
                }
            ],
        },
    }


def revision_objects(
    revision: Revision, *, spec: ScalingSpec, pool: GpuPool, role: str, context: RenderContext
) -> list[dict]:
    """Deployment, Service, PodDisruptionBudget, PodMonitor, (InterceptorRoute,) ScaledObject.

    A canary never scales to zero while it is analysed: its minimum is at least one and it gets
    no interceptor. The stable revision of a scale-to-zero endpoint gets the endpoint's
    InterceptorRoute, named after the endpoint so that promotion re-points the same route. It
    comes before the ScaledObject because the add-on's scaler must know the route when KEDA
    first asks it for a metric spec (https://keda.sh/http-add-on/latest/user-guide/autoscale-an-app/).
    A retiring revision keeps the endpoint's scaling (it may reach zero as its last requests
    finish) and no interceptor: nothing routes to it any more.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    endpoint, model_version = revision.endpoint, revision.model_version
    namespace, name = endpoint.tenant.namespace, revision.kubernetes_name
    if role == "canary":
        spec = spec.with_changes(min_replicas=max(1, spec.min_replicas))
    objects = [
        _deployment(revision, pool, context),
        _service(revision),
        _pod_disruption_budget(revision),
        _pod_monitor(revision),
    ]
    route = None
    if spec.scales_to_zero and role == "stable":
        route = endpoint.name
        max_num_seqs = revision.effective_engine_args.get("max_num_seqs", VLLM_DEFAULT_MAX_NUM_SEQS)
        objects.append(
            keda.interceptor_route(
                name=route,
                namespace=namespace,
                labels=endpoint_labels(endpoint),
                host=public_host(endpoint, context),
                service=name,
                port=SERVICE_PORT,
                readiness_timeout_s=cold_start_s(model_version),
                response_header_timeout_s=GENERATION_BUDGET_S,
                concurrency_target=max_num_seqs + math.ceil(spec.target_queue_per_replica),
            )
        )
    target = promql.Target(namespace=namespace, revision=name)
    objects.append(
        keda.scaled_object(
            spec,
            name=name,
            namespace=namespace,
            deployment=name,
            labels=_revision_labels(revision),
            queue_query=promql.queue_total(target),
            ttft_query=promql.ttft_p95(target),
            in_flight_query=promql.in_flight_total(target),
            kv_cache_query=promql.kv_cache_usage_total(target),
            prompt_tokens_query=promql.prompt_tokens_rate_total(target),
            interceptor_route=route,
            context=context,
        )
    )
    return objects


def _backend(name: str, port: int, weight: int, namespace: str | None = None) -> dict:
    ref = {"group": "", "kind": "Service", "name": name, "port": port, "weight": weight}
    if namespace is not None:
        ref["namespace"] = namespace
    return ref


def _http_route(endpoint: Endpoint, spec: ScalingSpec, context: RenderContext) -> dict:
    stable, canary = endpoint.stable_revision, endpoint.canary_revision
    canary_weight = endpoint.canary_weight if canary is not None else 0
    if spec.scales_to_zero:
        # A Service without ready pods takes no traffic, so while the stable revision may be at
        # zero the gateway sends to the interceptor, which holds requests during the cold start
        # and forwards by host (allowed by the tenant's ReferenceGrant, tenants/manifests.py).
        stable_ref = _backend(
            context.keda_http_interceptor_service,
            context.keda_http_interceptor_port,
            100 - canary_weight,
            namespace=context.keda_http_namespace,
        )
        request_timeout = cold_start_s(stable.model_version) + GENERATION_BUDGET_S
    else:
        stable_ref = _backend(stable.kubernetes_name, SERVICE_PORT, 100 - canary_weight)
        request_timeout = GENERATION_BUDGET_S
    backends = [stable_ref]
    if canary is not None:
        # Kept at weight 0 too, so a weight change never restructures the route.
        backends.append(_backend(canary.kubernetes_name, SERVICE_PORT, canary_weight))
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": object_meta(
            endpoint.name, endpoint.tenant.namespace, endpoint_labels(endpoint)
        ),
        "spec": {
            "parentRefs": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "name": context.gateway_name,
                    "namespace": context.gateway_namespace,
                }
            ],
            "hostnames": [public_host(endpoint, context)],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": backends,
                    # Unset, the timeout is implementation-specific (Envoy's is 15 s), far too
                    # short for a cold start or a long generation
                    # (https://gateway-api.sigs.k8s.io/reference/spec/#httproutetimeouts).
                    "timeouts": {"request": f"{request_timeout}s"},
                }
            ],
        },
    }


def endpoint_objects(
    endpoint: Endpoint, *, spec: ScalingSpec, context: RenderContext
) -> list[dict]:
    """The objects of the stable, the canary and a retiring revision, then the endpoint's
    HTTPRoute.

    Each revision runs on the first of the context's GPU pools that offers what it needs; the
    relations `stable_revision`,
    `canary_revision`, their `model_version` and `endpoint.tenant` should be loaded up front
    (`select_related`), as nothing here queries on purpose.
    """
    if endpoint.stable_revision is None:
        raise ValueError(f"endpoint {endpoint.name!r} has no stable revision to render")
    objects: list[dict] = []
    for role, revision in (
        ("stable", endpoint.stable_revision),
        ("canary", endpoint.canary_revision),
        ("retiring", endpoint.retiring_revision),
    ):
        if revision is None:
            continue
        model_version = revision.model_version
        pool = pool_for(
            gpus=model_version.gpus_per_replica,
            mig_profile=model_version.mig_profile,
            pools=context.gpu_pools,
        )
        objects += revision_objects(revision, spec=spec, pool=pool, role=role, context=context)
    objects.append(_http_route(endpoint, spec, context))
    return objects
