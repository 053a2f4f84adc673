"""Atlassian Statuspage, through its v1 REST API (`Authorization: OAuth KEY`).

An incident's first delivered update creates the page's incident (`POST /v1/pages/{page}/incidents`); the
id it answers is kept in the delivery's event (`external_id`) and every later update patches that incident
(`PATCH /v1/pages/{page}/incidents/{id}`). The public page gets the status, the summary and the impact —
never the internal message (ids, actions, names) that Slack and e-mail get. Impact follows the severity;
the incident's systems that the policy maps to components take a status from the severity while the
incident is open, and `operational` once it is resolved.

Errors come as JSON ({"error": "..."}): 401 a bad key, 404 an unknown page or incident, 422 a refused
field, 420 (before 2021) or 429 rate limited with Retry-After, 5xx."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from runner.incident.channels import http
from runner.incident.channels.base import Answer, Notice, Resolved, Value

DEFAULT_API = "https://api.statuspage.io"
# fireline's statuses are Statuspage's own, but for `closed` (after the post-mortem), which is resolved there.
STATUSES = {"investigating": "investigating", "identified": "identified", "monitoring": "monitoring",
            "resolved": "resolved", "closed": "resolved"}  # fmt: skip
IMPACT = {"SEV1": "critical", "SEV2": "major", "SEV3": "minor", "SEV4": "none"}
COMPONENT_WHILE_OPEN = {"SEV1": "major_outage", "SEV2": "partial_outage", "SEV3": "degraded_performance",
                        "SEV4": "degraded_performance"}  # fmt: skip
OPERATIONAL = "operational"


@dataclass(frozen=True)
class Statuspage:
    page: str
    api_key: Value
    api: str = DEFAULT_API
    components: Mapping[str, str] = field(default_factory=dict)  # incident system -> component id

    @classmethod
    def parse(cls, entry: Mapping[str, Any]) -> Statuspage:
        return cls(
            page=str(entry["page"]),
            api_key=Value.parse(entry["api_key"]),
            api=str(entry.get("api") or DEFAULT_API).rstrip("/"),
            components={str(k): str(v) for k, v in (entry.get("components") or {}).items()},
        )

    def credentials(self) -> tuple[Value, ...]:
        return (self.api_key,)

    def send(self, notice: Notice, resolved: Resolved, timeout_s: float) -> Answer:
        headers = {"Authorization": f"OAuth {resolved[self.api_key]}", "Accept": "application/json"}
        incidents = f"{self.api}/v1/pages/{quote(self.page, safe='')}/incidents"
        if notice.external_id:
            url, method = f"{incidents}/{quote(notice.external_id, safe='')}", "PATCH"
            body = {"incident": self.fields(notice)}
        else:
            url, method = incidents, "POST"
            body = {"incident": self.created(notice)}
        reply = http.request(method, url, body, headers, timeout_s)
        if isinstance(reply, Answer):
            return reply
        said = http.answer(reply, http.json_error(reply.body))
        if not said.ok:
            return said
        if method == "PATCH":
            return Answer(True, f"{said.detail}: incident {notice.external_id} updated", external_id=notice.external_id)
        created = _incident_id(reply.body)
        if created is None:  # delivered, but nothing to patch later: say so rather than create twice
            return Answer(False, f"{said.detail}, but the answer names no incident id")
        return Answer(True, f"{said.detail}: incident {created} created", external_id=created)

    def fields(self, notice: Notice) -> dict[str, Any]:
        """What every update sets: status, the public text, and the components' statuses."""
        status = STATUSES.get(notice.update.status, "investigating")
        components = self.component_statuses(notice, status)
        body: dict[str, Any] = {"status": status, "body": public_text(notice), "deliver_notifications": True}
        if components:
            body["components"] = components
            body["component_ids"] = list(components)
        return body

    def created(self, notice: Notice) -> dict[str, Any]:
        severity = str(notice.incident.severity)
        return {"name": notice.incident.title, "impact_override": IMPACT.get(severity, "major"), **self.fields(notice)}

    def component_statuses(self, notice: Notice, status: str) -> dict[str, str]:
        while_open = COMPONENT_WHILE_OPEN.get(str(notice.incident.severity), "major_outage")
        state = OPERATIONAL if status == "resolved" else while_open
        return {self.components[s]: state for s in notice.incident.systems if s in self.components}


def public_text(notice: Notice) -> str:
    impact = notice.update.impact or notice.incident.impact
    return notice.update.summary + (f"\n\nImpact: {impact}" if impact else "")


def _incident_id(body: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    found = data.get("id") if isinstance(data, Mapping) else None
    return str(found) if isinstance(found, str | int) and str(found) else None
