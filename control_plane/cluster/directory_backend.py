"""The `directory` backend: the same objects as YAML files, for a GitOps tool to sync.

Layout: `<root>/<namespace>/<file>` for namespaced objects, `<root>/_cluster/<file>` for
cluster-scoped ones ("_" cannot start a namespace name, so the folder never collides). Output
is deterministic, so two runs over the same state give identical bytes and a clean `git diff`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from control_plane.cluster.errors import Invalid
from control_plane.cluster.objects import apply_order, selector_matches
from control_plane.cluster.types import ApplyResult, ObjectRef

CLUSTER_SCOPED_FOLDER = "_cluster"
KUSTOMIZATION = "kustomization.yaml"

# The order a folder's files are applied in by `kubectl apply -k` or a GitOps sync: what others
# depend on first (a Deployment's ServiceAccount, quota and LimitRange exist before its pods are
# admitted), custom resources that point at workloads last. Unknown kinds go after these.
_KIND_ORDER = (
    "namespace",
    "serviceaccount",
    "resourcequota",
    "limitrange",
    "networkpolicy",
    "secret",
    "configmap",
    "role.rbac.authorization.k8s.io",
    "rolebinding.rbac.authorization.k8s.io",
    "service",
    "poddisruptionbudget.policy",
    "deployment.apps",
    "scaledobject.keda.sh",
    "httpscaledobject.http.keda.sh",
    "interceptorroute.http.keda.sh",
    "httproute.gateway.networking.k8s.io",
    "referencegrant.gateway.networking.k8s.io",
)

# Names and namespaces become path parts; the API server's own rule (RFC 1123 subdomain) also
# keeps them from escaping the root ("..", "/").
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def render_yaml(obj: Mapping) -> bytes:
    return yaml.safe_dump(
        obj, sort_keys=True, default_flow_style=False, allow_unicode=True, width=100
    ).encode("utf-8")


class DirectoryBackend:
    observes_status = False

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def apply(
        self,
        objects: Sequence[dict],
        *,
        create_only: Mapping[ObjectRef, Mapping] | None = None,
        live: Mapping[tuple[str, str, str | None], Sequence[dict]] | None = None,
    ) -> list[ApplyResult]:
        # `create_only` is not written: a GitOps tool re-applies every field of the file on
        # each sync, so a `replicas: 0` here would fight the autoscaler forever. Teams that
        # sync this folder leave `replicas` to KEDA (Argo CD: ignoreDifferences on it).
        # Files are compared one by one, whatever the caller listed.
        del create_only, live
        results = []
        touched: set[Path] = set()
        for obj in apply_order(objects):
            ref = ObjectRef.of(obj)
            path = self.path_of(ref)
            content = render_yaml(obj)
            if path.exists():
                if path.read_bytes() == content:
                    # Left alone: an unchanged file keeps its mtime and makes no commit.
                    results.append(ApplyResult(ref, "unchanged"))
                    continue
                action = "updated"
            else:
                action = "created"
            _write_atomically(path, content)
            touched.add(path.parent)
            results.append(ApplyResult(ref, action))
        self._write_kustomizations(touched)
        return results

    def get(self, ref: ObjectRef) -> dict | None:
        return _read(self.path_of(ref))

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        selector: Mapping[str, str],
    ) -> list[dict]:
        group = api_version.rpartition("/")[0]
        if namespace is None:
            # Like a LIST without a namespace: cluster-scoped kinds, or a kind in every namespace.
            folders = sorted(path for path in self.root.glob("*") if path.is_dir())
        else:
            folders = [self._folder(namespace)]
        found = []
        for folder in folders:
            for path in sorted(folder.glob(f"{_file_stem_prefix(kind, group)}*.yaml")):
                obj = _read(path)
                if obj is None:
                    continue
                ref = ObjectRef.of(obj)
                if ref.kind != kind or ref.group != group:
                    continue
                if selector_matches(obj["metadata"].get("labels"), selector):
                    found.append(obj)
        return found

    def delete(self, ref: ObjectRef) -> bool:
        path = self.path_of(ref)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        touched = {path.parent}
        if ref.api_version == "v1" and ref.kind == "Namespace":
            # Deleting a Namespace deletes everything in it, as on a cluster.
            shutil.rmtree(self._folder(ref.name), ignore_errors=True)
            touched.add(self._folder(ref.name))
        self._write_kustomizations(touched)
        return True

    def _write_kustomizations(self, folders: set[Path]) -> None:
        """A kustomization.yaml per folder, listing its files in dependency order, and one at
        the root listing the folders (cluster-scoped objects first), so `kubectl apply -k` of
        the root, Argo CD or Flux apply everything in an order the API server accepts. A
        folder left without objects goes."""
        if not folders:
            return
        for folder in folders:
            files = sorted(
                (p.name for p in folder.glob("*.yaml") if p.name != KUSTOMIZATION),
                key=_apply_rank,
            )
            if files:
                _write_if_changed(folder / KUSTOMIZATION, _kustomization(files))
            else:
                (folder / KUSTOMIZATION).unlink(missing_ok=True)
                _remove_if_empty(folder)
        subfolders = sorted(
            (p.name for p in self.root.glob("*") if (p / KUSTOMIZATION).exists()),
            key=lambda name: (name != CLUSTER_SCOPED_FOLDER, name),
        )
        if subfolders:
            _write_if_changed(self.root / KUSTOMIZATION, _kustomization(subfolders))
        else:
            (self.root / KUSTOMIZATION).unlink(missing_ok=True)

    def path_of(self, ref: ObjectRef) -> Path:
        _check_name(ref.name, what="name", ref=ref)
        folder = self._folder(ref.namespace) if ref.namespace else self.root / CLUSTER_SCOPED_FOLDER
        return folder / f"{_file_stem_prefix(ref.kind, ref.group)}{ref.name}.yaml"

    def _folder(self, namespace: str) -> Path:
        _check_name(namespace, what="namespace", ref=None)
        return self.root / namespace


def _file_stem_prefix(kind: str, group: str) -> str:
    """`deployment-`, or `httproute.gateway.networking.k8s.io-` for kinds outside the core group.

    The group keeps kinds of the same name from different groups apart, as kubectl's
    `<resource>.<group>` names do.
    """
    return f"{kind.lower()}.{group}-" if group else f"{kind.lower()}-"


def _check_name(name: str, *, what: str, ref: ObjectRef | None) -> None:
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        subject = f"{ref}: " if ref else ""
        raise Invalid(
            f"invalid: {subject}{what} {name!r} must be a lowercase RFC 1123 subdomain",
            field=f"metadata.{what}",
        )


def _write_atomically(path: Path, content: bytes) -> None:
    # Readers (a GitOps agent mid-sync) see the old file or the new one, never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(content)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty
        folder.rmdir()


def _read(path: Path) -> dict | None:
    """The object in `path`, or None when it is absent: another reconcile (of the tenant, while
    this one handles an endpoint in its namespace) may delete a file between listing and reading
    it, as an object can vanish between a LIST and a GET on a cluster."""
    try:
        return yaml.safe_load(path.read_bytes())
    except FileNotFoundError:
        return None


def _apply_rank(file_name: str) -> tuple[int, str]:
    for rank, prefix in enumerate(_KIND_ORDER):
        if file_name.startswith(f"{prefix}-"):
            return rank, file_name
    return len(_KIND_ORDER), file_name


def _kustomization(resources: list[str]) -> bytes:
    return render_yaml(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        }
    )


def _write_if_changed(path: Path, content: bytes) -> None:
    try:
        if path.read_bytes() == content:
            return
    except FileNotFoundError:
        pass
    _write_atomically(path, content)
