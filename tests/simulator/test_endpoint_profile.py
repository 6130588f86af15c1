"""An endpoint's traffic is replayed on the replica profile of the model its stable revision
runs: a 70B model with tensor parallelism is not simulated as an 8B one."""

from __future__ import annotations

import pytest

from endpoints import services as endpoint_services
from scaling.comparison import replica_profile_of
from scaling.simulator.profiles import DEFAULT_PROFILE
from tests.factories import TenantFactory, system
from tests.world import gpu_model_spec, make_endpoint

pytestmark = pytest.mark.django_db


def _endpoint(name: str, **spec):
    tenant = TenantFactory(slug=f"t-{name}")
    version = endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec(name, **spec)
    )
    return make_endpoint(tenant, name, version, max_replicas=1)


def test_an_8b_endpoint_on_one_gpu_uses_the_default_profile():
    profile = replica_profile_of(_endpoint("llama-8b"))
    assert profile is not None
    assert profile.name == DEFAULT_PROFILE.name


def test_a_70b_endpoint_on_four_gpus_uses_the_tensor_parallel_profile():
    profile = replica_profile_of(
        _endpoint("llama-70b", hf_repo="meta-llama/Llama-3.1-70B-Instruct", gpus_per_replica=4)
    )
    assert profile is not None
    assert profile.name != DEFAULT_PROFILE.name
    assert profile.gpus_per_replica == 4
