"""Label and annotation keys the control plane puts on the objects it owns."""

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "llm-control-plane"

# Fingerprint of what we last applied; equal on the live object means the apply can be skipped.
APPLIED_HASH_ANNOTATION = "llm-control-plane/applied-hash"
