"""Runbook skeletons for `fireline runbook new --type KIND NAME`: one YAML file per kind of incident, kept as
data beside this module (comments and all), each a runbook that validates and plans as it is."""
