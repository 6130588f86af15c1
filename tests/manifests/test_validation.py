"""The validation helper itself: it must fail on what an API server would reject or prune."""

from __future__ import annotations

import copy

import pytest

from endpoints.manifests import revision_objects
from scaling.spec import ScalingSpec
from tests.manifests import builders
from tests.manifests.validation import validate_all


def rendered(kind: str) -> dict:
    endpoint = builders.endpoint()
    objects = revision_objects(
        endpoint.stable_revision,
        spec=ScalingSpec(),
        pool=builders.H100,
        role="stable",
        context=builders.CONTEXT,
    )
    (obj,) = [copy.deepcopy(o) for o in objects if o["kind"] == kind]
    return obj


def test_it_rejects_an_unknown_field_of_a_core_kind():
    deployment = rendered("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(AssertionError, match="Deployment"):
        validate_all([deployment])


def test_it_rejects_an_unknown_field_of_a_custom_kind():
    scaled = rendered("ScaledObject")
    scaled["spec"]["minReplicas"] = 0
    with pytest.raises(AssertionError, match="ScaledObject"):
        validate_all([scaled])


def test_it_rejects_a_custom_object_missing_a_required_field():
    route = rendered("InterceptorRoute")
    del route["spec"]["scalingMetric"]
    with pytest.raises(AssertionError, match="scalingMetric"):
        validate_all([route])
