"""Canary analysis: what Prometheus saw of two revisions over one window (`observe`), and the
sequential test that turns a run of such windows into verdicts (`gate`, `sequential`)."""
