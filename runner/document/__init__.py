"""Runbook and scenario documents: YAML with source positions, schema validation, semantic checks, model."""
