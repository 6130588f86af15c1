from __future__ import annotations

import itertools
from datetime import time

import pytest
import yaml

from control_plane.cluster.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from endpoints.manifests import (
    ENDPOINT_KINDS,
    GENERATION_BUDGET_S,
    endpoint_objects,
    revision_objects,
)
from endpoints.models import ModelVersion
from scaling.spec import ScalingSpec, ScheduleFloor
from tests.manifests import builders
from tests.manifests.builders import CONTEXT
from tests.manifests.validation import validate_all

FLOOR = ScheduleFloor(("mon", "fri"), time(8, 0), time(18, 0), "Europe/Paris")
SPECS = {
    "min0": ScalingSpec(min_replicas=0),
    "min1": ScalingSpec(min_replicas=1),
    "min0-floor-ttft": ScalingSpec(
        min_replicas=0, ttft_p95_target_ms=1500, schedule_floors=(FLOOR,)
    ),
    "min1-floor-ttft": ScalingSpec(
        min_replicas=1, ttft_p95_target_ms=1500, schedule_floors=(FLOOR,)
    ),
}
MODELS = {
    "gpu": (builders.model_version, builders.H100),
    "mig": (builders.mig_model_version, builders.A100_MIG),
}
CASES = [
    pytest.param(model, spec, role, id=f"{model}-{spec}-{role}")
    for model in MODELS
    for spec in SPECS
    for role in ("stable", "canary")
]


def render(model: str = "gpu", spec: str = "min0", role: str = "stable", **fields) -> list[dict]:
    make, pool = MODELS[model]
    endpoint = builders.endpoint(stable=make(**fields))
    return revision_objects(
        endpoint.stable_revision, spec=SPECS[spec], pool=pool, role=role, context=CONTEXT
    )


def one(objects: list[dict], kind: str) -> dict:
    (obj,) = [o for o in objects if o["kind"] == kind]
    return obj


def kinds(objects: list[dict]) -> list[str]:
    return [o["kind"] for o in objects]


def vllm(objects: list[dict]) -> dict:
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize(("model", "spec", "role"), CASES)
def test_every_revision_object_validates(model, spec, role):
    validate_all(render(model, spec, role))


@pytest.mark.parametrize(("model", "spec", "role"), CASES)
def test_every_revision_object_carries_the_managed_by_tenant_and_endpoint_labels(model, spec, role):
    for obj in render(model, spec, role):
        labels = obj["metadata"]["labels"]
        assert labels[MANAGED_BY_LABEL] == MANAGED_BY_VALUE
        assert labels["llm-control-plane/tenant"] == "acme"
        assert labels["llm-control-plane/endpoint"] == "chat"
        assert obj["metadata"]["namespace"] == "tenant-acme"


def test_deployment_leaves_replicas_to_the_scaled_object():
    assert "replicas" not in one(render(), "Deployment")["spec"]


def test_deployment_rolls_without_surge():
    strategy = one(render(), "Deployment")["spec"]["strategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }


@pytest.mark.parametrize(
    ("model", "resource", "amount"),
    [("gpu", "nvidia.com/gpu", "2"), ("mig", "nvidia.com/mig-3g.40gb", "1")],
)
def test_containers_request_what_they_limit(model, resource, amount):
    objects = render(model)
    resources = vllm(objects)["resources"]
    assert resources["requests"] == resources["limits"]
    assert resources["requests"][resource] == amount
    assert resources["requests"]["cpu"] == "8"
    assert resources["requests"]["memory"] == "64Gi"
    other = "nvidia.com/mig-3g.40gb" if model == "gpu" else "nvidia.com/gpu"
    assert other not in resources["requests"]


def test_pod_runs_on_the_gpu_pool():
    pod = one(render("mig"), "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == builders.A100_MIG.node_selector
    assert pod["tolerations"] == builders.A100_MIG.tolerations


@pytest.mark.parametrize("load", [1, 60, 240, 3600])
def test_startup_probe_tolerates_one_and_a_half_times_the_expected_load_and_a_margin(load):
    probe = vllm(render(expected_load_seconds=load))["startupProbe"]
    assert probe["httpGet"]["path"] == "/health"
    assert probe["failureThreshold"] * probe["periodSeconds"] >= load * 1.5 + 60


def test_readiness_on_health_and_a_drain_before_sigterm_within_the_grace_period():
    objects = render()
    container = vllm(objects)
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    drain = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = one(objects, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert drain > 0
    assert grace >= drain + GENERATION_BUDGET_S


def test_vllm_arguments_map_the_model_and_engine_arguments():
    args = vllm(
        render(
            engine_args={
                "max_model_len": 8192,
                "enable_prefix_caching": True,
                "gpu_memory_utilization": 0.92,
            }
        )
    )["args"]
    pairs = dict(itertools.pairwise(args))
    assert pairs["--model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert pairs["--served-model-name"] == "llama-3.1-8b"
    assert pairs["--port"] == "8000"
    assert pairs["--revision"] == "0e9e39f"
    assert pairs["--max-model-len"] == "8192"
    assert pairs["--gpu-memory-utilization"] == "0.92"
    assert pairs["--tensor-parallel-size"] == "2"
    assert "--enable-prefix-caching" in args


def test_a_false_boolean_engine_argument_turns_the_vllm_default_off():
    args = vllm(render(engine_args={"enable_prefix_caching": False}))["args"]
    assert "--no-enable-prefix-caching" in args
    assert "--enable-prefix-caching" not in args


def test_a_mig_slice_is_one_tensor_parallel_device():
    args = vllm(render("mig"))["args"]
    assert args[args.index("--tensor-parallel-size") + 1] == "1"


def test_hugging_face_token_only_through_an_optional_secret_reference():
    objects = render()
    (env,) = [e for e in vllm(objects)["env"] if e["name"] == "HF_TOKEN"]
    assert "value" not in env
    assert env["valueFrom"]["secretKeyRef"] == {
        "name": CONTEXT.hf_token_secret_name,
        "key": "HF_TOKEN",
        "optional": True,
    }
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    for container in pod["containers"] + pod.get("initContainers", []):
        assert all("value" not in e for e in container.get("env", []))


def test_pvc_weights_mount_read_only_where_vllm_loads_them():
    objects = render(
        source=ModelVersion.Source.PVC, hf_repo="", hf_revision="", uri="pvc://models/llama/8b"
    )
    validate_all(objects)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "weights"]
    assert volume["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    (mount,) = [m for m in vllm(objects)["volumeMounts"] if m["name"] == "weights"]
    assert mount == {
        "name": "weights",
        "mountPath": "/models/weights",
        "readOnly": True,
        "subPath": "llama/8b",
    }
    args = vllm(objects)["args"]
    assert args[args.index("--model") + 1] == "/models/weights"
    assert "--revision" not in args
    assert "env" not in vllm(objects) or vllm(objects)["env"] == []


def test_s3_weights_are_fetched_by_an_init_container_with_explicit_resources():
    objects = render(
        source=ModelVersion.Source.S3, hf_repo="", hf_revision="", uri="s3://bucket/llama/8b"
    )
    validate_all(objects)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (loader,) = pod["initContainers"]
    assert "s3://bucket/llama/8b" in loader["args"]
    assert loader["resources"]["requests"] == loader["resources"]["limits"]
    assert {"name": "weights", "emptyDir": {}} in pod["volumes"]


def test_pod_identity_security_and_shared_memory():
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "inference"
    assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"name": "dshm", "emptyDir": {"medium": "Memory"}} in pod["volumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in pod["containers"][0]["volumeMounts"]


def test_pods_are_labelled_with_their_revision_and_selected_by_it():
    objects = render()
    deployment = one(objects, "Deployment")["spec"]
    labels = deployment["template"]["metadata"]["labels"]
    assert labels["llm-control-plane/revision"] == "chat-r1"
    assert labels["llm-control-plane/endpoint"] == "chat"
    assert labels["llm-control-plane/tenant"] == "acme"
    assert labels["app.kubernetes.io/name"] == "vllm"
    selector = deployment["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert one(objects, "Service")["spec"]["selector"] == selector
    assert one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    assert one(objects, "PodMonitor")["spec"]["selector"]["matchLabels"] == selector


def test_service_pdb_and_pod_monitor():
    objects = render()
    assert one(objects, "Service")["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    (scrape,) = one(objects, "PodMonitor")["spec"]["podMetricsEndpoints"]
    assert (scrape["port"], scrape["path"]) == ("http", "/metrics")
    assert {r["targetLabel"] for r in scrape["relabelings"]} == {"revision", "endpoint", "tenant"}
    assert all(
        r["sourceLabels"][0].startswith("__meta_kubernetes_pod_label_llm_control_plane_")
        for r in scrape["relabelings"]
    )


def test_scaled_object_scales_the_revision_with_queries_selecting_it():
    scaled = one(render(), "ScaledObject")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "chat-r1"
    query = scaled["triggers"][0]["metadata"]["query"]
    assert 'namespace="tenant-acme",revision="chat-r1"' in query


@pytest.mark.parametrize("spec", SPECS)
def test_a_canary_never_scales_to_zero_and_gets_no_interceptor(spec):
    objects = render(spec=spec, role="canary")
    scaled = one(objects, "ScaledObject")["spec"]
    assert scaled["minReplicaCount"] >= 1
    assert all(t["type"] != "external-push" for t in scaled["triggers"])
    assert "InterceptorRoute" not in kinds(objects)


def test_a_scale_to_zero_stable_revision_gets_the_interceptor_route_before_its_scaled_object():
    objects = render(spec="min0", role="stable")
    assert kinds(objects).index("InterceptorRoute") < kinds(objects).index("ScaledObject")
    route = one(objects, "InterceptorRoute")
    assert route["metadata"]["name"] == "chat"
    assert route["spec"]["target"] == {"service": "chat-r1", "port": 80}
    assert route["spec"]["rules"] == [{"hosts": [f"chat.acme.{CONTEXT.endpoint_base_domain}"]}]
    readiness = int(route["spec"]["timeouts"]["readiness"].removesuffix("s"))
    assert readiness >= 240 * 1.5 + 60
    (push,) = [
        t for t in one(objects, "ScaledObject")["spec"]["triggers"] if t["type"] == "external-push"
    ]
    assert push["metadata"]["interceptorRoute"] == "chat"


def test_no_interceptor_when_the_stable_revision_keeps_a_replica():
    objects = render(spec="min1", role="stable")
    assert "InterceptorRoute" not in kinds(objects)
    triggers = one(objects, "ScaledObject")["spec"]["triggers"]
    assert all(t["type"] != "external-push" for t in triggers)


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="role"):
        render(role="shadow")


# --- endpoint_objects -------------------------------------------------------------------------


def canary_endpoint(weight: int = 25):
    return builders.endpoint(
        stable=builders.model_version(), canary=builders.mig_model_version(), canary_weight=weight
    )


def route_backends(objects: list[dict]) -> list[dict]:
    (rule,) = one(objects, "HTTPRoute")["spec"]["rules"]
    return rule["backendRefs"]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("weight", [0, 25, 100])
def test_every_endpoint_object_validates(spec, weight):
    objects = endpoint_objects(canary_endpoint(weight), spec=SPECS[spec], context=CONTEXT)
    validate_all(objects)
    assert {(o["apiVersion"], o["kind"]) for o in objects} <= set(ENDPOINT_KINDS)
    assert all(o["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY_VALUE for o in objects)


@pytest.mark.parametrize("weight", [0, 10, 50, 100])
def test_route_weights_split_stable_and_canary_and_sum_to_100(weight):
    stable, canary = route_backends(
        endpoint_objects(canary_endpoint(weight), spec=SPECS["min1"], context=CONTEXT)
    )
    assert (stable["name"], canary["name"]) == ("chat-r1", "chat-r2")
    assert (stable["weight"], canary["weight"]) == (100 - weight, weight)


def test_without_a_canary_the_stable_revision_takes_all_traffic():
    endpoint = builders.endpoint(canary_weight=30)
    objects = endpoint_objects(endpoint, spec=SPECS["min1"], context=CONTEXT)
    (stable,) = route_backends(objects)
    assert stable["weight"] == 100
    assert not any(o["metadata"]["name"] == "chat-r2" for o in objects)


def test_stable_traffic_goes_through_the_interceptor_while_it_may_be_at_zero():
    stable, canary = route_backends(
        endpoint_objects(canary_endpoint(25), spec=SPECS["min0"], context=CONTEXT)
    )
    assert stable == {
        "group": "",
        "kind": "Service",
        "name": CONTEXT.keda_http_interceptor_service,
        "namespace": CONTEXT.keda_http_namespace,
        "port": CONTEXT.keda_http_interceptor_port,
        "weight": 75,
    }
    assert canary["name"] == "chat-r2"
    assert "namespace" not in canary


def test_route_attaches_to_the_platform_gateway_for_the_public_host():
    objects = endpoint_objects(canary_endpoint(), spec=SPECS["min0"], context=CONTEXT)
    route = one(objects, "HTTPRoute")["spec"]
    assert route["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": CONTEXT.gateway_name,
            "namespace": CONTEXT.gateway_namespace,
        }
    ]
    assert route["hostnames"] == [f"chat.acme.{CONTEXT.endpoint_base_domain}"]


def test_endpoint_objects_render_both_revisions_with_their_roles():
    objects = endpoint_objects(canary_endpoint(), spec=SPECS["min0"], context=CONTEXT)
    scaled = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "ScaledObject"}
    assert scaled["chat-r1"]["minReplicaCount"] == 0
    assert scaled["chat-r2"]["minReplicaCount"] == 1
    (route,) = [o for o in objects if o["kind"] == "InterceptorRoute"]
    assert route["spec"]["target"]["service"] == "chat-r1"
    resources = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["resources"]
        for o in objects
        if o["kind"] == "Deployment"
    }
    assert "nvidia.com/mig-3g.40gb" in resources["chat-r2"]["limits"]


def test_rendering_is_deterministic():
    first = endpoint_objects(canary_endpoint(), spec=SPECS["min0-floor-ttft"], context=CONTEXT)
    assert first == endpoint_objects(
        canary_endpoint(), spec=SPECS["min0-floor-ttft"], context=CONTEXT
    )


def test_longest_endpoint_name_still_makes_valid_object_names():
    endpoint = builders.endpoint(name="e" * 55)
    endpoint.stable_revision.number = 999_999
    validate_all(endpoint_objects(endpoint, spec=SPECS["min0"], context=CONTEXT))


@pytest.mark.parametrize("source", ["huggingface", "s3"])
def test_objects_share_no_nested_values(source):
    """Aliased dicts would leak a change of one object into another, and show up as YAML
    anchors in what the directory backend writes."""
    uri = {"huggingface": "", "s3": "s3://bucket/llama"}[source]
    hf = {"hf_repo": "", "hf_revision": ""} if source == "s3" else {}
    stable = builders.model_version(source=source, uri=uri, **hf)
    endpoint = builders.endpoint(stable=stable, canary=builders.mig_model_version())
    dumped = yaml.safe_dump_all(
        endpoint_objects(endpoint, spec=SPECS["min0-floor-ttft"], context=CONTEXT)
    )
    assert "&id" not in dumped
