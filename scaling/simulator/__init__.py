"""Autoscaling simulator: replay a request trace against a ScalingSpec (no Django here)."""
