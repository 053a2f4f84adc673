"""A Slack-, Statuspage- and webhook-shaped HTTP receiver on loopback, for delivery tests.

    with ChannelReceiver(slack_token="...", statuspage_key="...") as rx:
        rx.slack_url            # http://127.0.0.1:PORT/services/T0FIRE/B0LINE/<token>
        rx.statuspage_api       # http://127.0.0.1:PORT (the channel's `api`)
        rx.webhook_url          # http://127.0.0.1:PORT/hooks/audit
        rx.script("slack", Scripted(500, "rollup_error"), times=3)   # the next 3 Slack requests fail
        rx.received("statuspage")                                    # what arrived, in order

It checks what the real services check and answers as they do:
- Slack incoming webhooks: the token in the path (404 `no_service` otherwise), a JSON body with a non-empty
  `text` and well-formed `blocks` (400 `invalid_payload` / `no_text`); 200 `ok`.
- Statuspage v1: `Authorization: OAuth KEY` (401 {"error": ...}), the page id, `{"incident": {...}}` with
  Statuspage's own values for status, impact_override and component statuses (422 {"error": [...]}); a
  POST creates (201 with the incident, `id` included), a PATCH of an unknown incident is 404.
- Webhook: any JSON object; 200.
A scripted answer (status, body, headers such as Retry-After, or a hold until released) is given instead of
the normal one, in order. Every request is recorded, including the scripted ones.
"""

from __future__ import annotations

import http.server
import itertools
import json
import re
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar

from .ports import LOOPBACK

SLACK_BLOCKS = frozenset({"header", "section", "context", "divider", "actions", "image", "rich_text"})
STATUSPAGE_STATUSES = frozenset({"investigating", "identified", "monitoring", "resolved", "scheduled",
                                 "in_progress", "verifying", "completed"})  # fmt: skip
STATUSPAGE_IMPACTS = frozenset({"none", "maintenance", "minor", "major", "critical"})
COMPONENT_STATUSES = frozenset({"operational", "under_maintenance", "degraded_performance", "partial_outage",
                                "major_outage"})  # fmt: skip
_INCIDENTS = re.compile(r"^/v1/pages/(?P<page>[^/]+)/incidents(?:/(?P<id>[^/]+))?$")


@dataclass(frozen=True)
class Scripted:
    status: int
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    hold: threading.Event | None = None  # answer only once this is set (a slow receiver)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the JSON sent (None when it was not JSON)
    raw: bytes
    answered: int = 0


@dataclass
class _State:
    slack_token: str
    statuspage_key: str
    page: str
    scripts: dict[str, deque[Scripted]] = field(default_factory=lambda: defaultdict(deque))
    received: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(http.server.BaseHTTPRequestHandler):
    state: ClassVar[_State]
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        route = _route(self.path)
        got = Received(self.command, self.path, dict(self.headers), body, raw)
        with self.state.lock:
            self.state.received[route].append(got)
            queue = self.state.scripts[route]
            scripted = queue.popleft() if queue else None
        if scripted is not None:
            if scripted.hold is not None:
                scripted.hold.wait(30)
            status, text, headers = scripted.status, scripted.body, dict(scripted.headers)
        else:
            status, text, headers = {"slack": self._slack, "statuspage": self._statuspage,
                                     "webhook": self._webhook}[route](body)  # fmt: skip
        got.answered = status
        self._answer(status, text, headers)

    def _answer(self, status: int, text: str, headers: dict[str, str]) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if text[:1] in "{[" else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    # -- Slack ------------------------------------------------------------------------------------------------
    def _slack(self, body: Any) -> tuple[int, str, dict[str, str]]:
        if self.path != f"/services/T0FIRE/B0LINE/{self.state.slack_token}":
            # The real service says only "no_service"; this one echoes the path, as a proxy's error page
            # might, so that tests prove a webhook URL's token never reaches what fireline prints or records.
            return 404, f"no_service: no webhook at {self.path}", {}
        if not isinstance(body, dict) or not _slack_blocks_ok(body.get("blocks")):
            return 400, "invalid_payload", {}
        if not isinstance(body.get("text"), str) or not body["text"].strip():
            return 400, "no_text", {}
        return 200, "ok", {}

    # -- Statuspage -------------------------------------------------------------------------------------------
    def _statuspage(self, body: Any) -> tuple[int, str, dict[str, str]]:
        if self.headers.get("Authorization") != f"OAuth {self.state.statuspage_key}":
            return 401, json.dumps({"error": "Could not authenticate"}), {}
        match = _INCIDENTS.match(self.path)
        if match is None or match["page"] != self.state.page:
            return 404, json.dumps({"error": "Not found"}), {}
        incident = body.get("incident") if isinstance(body, dict) else None
        problems = _statuspage_problems(incident, creating=self.command == "POST")
        if problems:
            return 422, json.dumps({"error": problems}), {}
        assert isinstance(incident, dict)
        with self.state.lock:
            if self.command == "POST" and match["id"] is None:
                incident_id = f"sp{next(self.state.ids):04d}"
                stored = {"id": incident_id, "page_id": match["page"], **incident}
                self.state.incidents[incident_id] = stored
                return 201, json.dumps(stored), {}
            if self.command == "PATCH" and match["id"] in self.state.incidents:
                self.state.incidents[match["id"]].update(incident)
                return 200, json.dumps(self.state.incidents[match["id"]]), {}
        return 404, json.dumps({"error": "Not found"}), {}

    def _webhook(self, body: Any) -> tuple[int, str, dict[str, str]]:
        return (200, "{}", {}) if isinstance(body, dict) else (400, json.dumps({"error": "not JSON"}), {})


def _route(path: str) -> str:
    if path.startswith("/services/"):
        return "slack"
    return "statuspage" if path.startswith("/v1/") else "webhook"


def _slack_blocks_ok(blocks: Any) -> bool:
    if blocks is None:
        return True
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in SLACK_BLOCKS:
            return False
        text = block.get("text")
        if block["type"] == "header" and not (isinstance(text, dict) and text.get("type") == "plain_text"
                                              and 0 < len(text.get("text", "")) <= 150):  # fmt: skip
            return False
        if block["type"] == "section" and not (isinstance(text, dict) and 0 < len(text.get("text", "")) <= 3000):
            return False
    return True


def _statuspage_problems(incident: Any, creating: bool) -> list[str]:
    if not isinstance(incident, dict):
        return ["incident is missing"]
    problems = []
    if creating and not incident.get("name"):
        problems.append("Name can't be blank")
    if "status" in incident and incident["status"] not in STATUSPAGE_STATUSES:
        problems.append(f"Status is not included in the list: {incident['status']}")
    if "impact_override" in incident and incident["impact_override"] not in STATUSPAGE_IMPACTS:
        problems.append("Impact override is not included in the list")
    components = incident.get("components", {})
    if not isinstance(components, dict) or any(v not in COMPONENT_STATUSES for v in components.values()):
        problems.append("Components status is not included in the list")
    return problems


class ChannelReceiver:
    def __init__(self, slack_token: str, statuspage_key: str, page: str = "pg0fireline") -> None:
        self.state = _State(slack_token, statuspage_key, page)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def slack_url(self) -> str:
        return f"{self.base}/services/T0FIRE/B0LINE/{self.state.slack_token}"

    @property
    def statuspage_api(self) -> str:
        return self.base

    @property
    def webhook_url(self) -> str:
        return f"{self.base}/hooks/audit"

    @property
    def page(self) -> str:
        return self.state.page

    def script(self, route: str, answer: Scripted, times: int = 1) -> None:
        with self.state.lock:
            self.state.scripts[route].extend([answer] * times)

    def clear_scripts(self) -> None:
        with self.state.lock:
            self.state.scripts.clear()

    def received(self, route: str) -> list[Received]:
        with self.state.lock:
            return list(self.state.received[route])

    def incidents(self) -> dict[str, dict[str, Any]]:
        with self.state.lock:
            return {k: dict(v) for k, v in self.state.incidents.items()}

    def __enter__(self) -> ChannelReceiver:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
