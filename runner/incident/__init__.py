"""Incidents: declared, classified, responded to and resolved, as a view over journal events.

An incident is a journal stream whose run id is the incident id (`INC-YYYY-NNN`, runner.incident.ids); its
events (runner.incident.events) chain and redact like any run's, and `Incident` (runner.incident.view) is the
fold of them.
"""
