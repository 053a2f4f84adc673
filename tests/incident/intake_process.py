"""`fireline incident intake` as a separate process for tests: started on a free port (it prints where it
listens), posted to, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.command import FIRELINE


class Intake:
    def __init__(self, cwd: Path, *args: str, env: Mapping[str, str] | None = None, name: str = "intake") -> None:
        self.log_path = cwd / f"{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*FIRELINE, "incident", "intake", "--listen", "127.0.0.1:0", *args],
            cwd=cwd, stdout=subprocess.PIPE, stderr=self._log, text=True, env={**os.environ, **(env or {})},
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "listening on http://127.0.0.1:PORT/alerts"
        if not line.startswith("listening on "):
            self.process.kill()
            raise RuntimeError(f"intake did not start: {line!r}\n{self.log()}")
        self.url = line.split()[-1]

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def post(self, body: bytes | Mapping[str, Any], headers: Mapping[str, str] | None = None,
             url: str | None = None) -> tuple[int, dict[str, Any]]:  # fmt: skip
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(url or self.url, data=data, method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            text = refused.read()
            return refused.code, json.loads(text) if text.startswith(b"{") else {"raw": text.decode()}

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self._log.close()

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
