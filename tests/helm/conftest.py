from tests.fakes.conftest_plugin import kube_apiserver  # noqa: F401  (fixture)
from tests.reconcile.conftest import kube_backend, world  # noqa: F401  (fixtures)
