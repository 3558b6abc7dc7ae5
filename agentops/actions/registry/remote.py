"""Registries agentops reaches through a team's own tooling: a command or a webhook.

Both speak one JSON exchange. The request (on the command's stdin, or as the POST body):

    {"op": "serving_version", "model": "fraud_scorer_v3"}
    {"op": "history",         "model": "fraud_scorer_v3"}
    {"op": "set_serving",     "model": "fraud_scorer_v3", "version": "2",
     "reason": "...", "actor": "alice", "mark_replaced_bad": true}

The answer (the command's stdout, or the response body) is one JSON object:

    {"serving_version": "2", "previous_version": "3"}      serving_version / set_serving
    {"versions": [{"version": "3", "promoted_at": "2026-11-06T09:42:00Z", "status": "bad"}]}

`serving_version` is required (null when nothing serves); `versions` is optional, and a
registry that keeps no history leaves it out. A command exiting non-zero, a non-2xx answer,
a timeout or an answer that is not this JSON is a `RegistryError`.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from agentops.actions.registry.port import (
    RegistryChange,
    RegistryError,
    RegistryVersion,
    shown_uri,
)

DEFAULT_TIMEOUT_S = 60.0


class _AnsweredVersion(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True, extra="ignore")
    version: str
    promoted_at: datetime | None = None
    status: Literal["good", "bad"] = "good"


class _Answer(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True, extra="ignore")
    serving_version: str | None = None
    previous_version: str | None = None
    versions: list[_AnsweredVersion] = []


class _JsonRegistry:
    """The exchange above; subclasses say how one request travels (`_call`)."""

    name = "a registry"

    def _call(self, request: dict[str, Any]) -> str:
        raise NotImplementedError

    def _ask(self, request: dict[str, Any], *, needs: str | None) -> _Answer:
        text = self._call(request)
        try:
            raw = json.loads(text)
            answer = _Answer.model_validate(raw)
        except (json.JSONDecodeError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise RegistryError(
                f"{self.name} answered {request['op']} with no valid JSON ({first}): "
                f"{text.strip()[:200]!r}"
            ) from None
        if needs is not None and needs not in raw:
            raise RegistryError(f"{self.name} answered {request['op']} without {needs!r}")
        return answer

    def serving_version(self, model: str) -> str | None:
        request = {"op": "serving_version", "model": model}
        return self._ask(request, needs="serving_version").serving_version

    def history(self, model: str) -> list[RegistryVersion]:
        answer = self._ask({"op": "history", "model": model}, needs=None)
        ordered = sorted(
            answer.versions,
            key=lambda v: (v.promoted_at is not None, v.promoted_at),
            reverse=True,
        )
        return [
            RegistryVersion(
                version=v.version, promoted_at=v.promoted_at, status=v.status, source=self.name
            )
            for v in ordered
        ]

    def set_serving(
        self,
        model: str,
        version: str,
        *,
        reason: str,
        actor: str,
        mark_replaced_bad: bool = False,
    ) -> RegistryChange:
        request = {
            "op": "set_serving",
            "model": model,
            "version": version,
            "reason": reason,
            "actor": actor,
            "mark_replaced_bad": mark_replaced_bad,
        }
        answer = self._ask(request, needs="serving_version")
        if answer.serving_version is None:
            raise RegistryError(f"{self.name} answered set_serving with no serving version")
        return RegistryChange(
            model=model,
            previous_version=answer.previous_version,
            serving_version=answer.serving_version,
            detail=f"{self.name} answered: {answer.serving_version} serves {model}",
        )


class CommandRegistry(_JsonRegistry):
    """A command run without a shell, once per request."""

    def __init__(self, argv: Sequence[str], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not argv:
            raise ValueError("CommandRegistry needs a command")
        self._argv = list(argv)
        self._timeout_s = timeout_s
        self.name = f"command {shlex.join(self._argv)!r}"

    def describe(self) -> dict[str, str]:
        return {
            "kind": "command",
            "command": shlex.join(self._argv),
            "timeout_s": f"{self._timeout_s:g}",
        }

    def _call(self, request: dict[str, Any]) -> str:
        try:
            done = subprocess.run(
                self._argv,
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=self._timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RegistryError(
                f"{self.name} did not answer {request['op']} within {self._timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise RegistryError(f"{self.name} could not run: {exc.strerror or exc}") from None
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise RegistryError(
                f"{self.name} exited {done.returncode} on {request['op']}: "
                f"{lines[-1] if lines else 'no output'}"
            )
        return done.stdout


class WebhookRegistry(_JsonRegistry):
    """A URL that takes each request as a JSON POST and answers JSON."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._headers = dict(headers or {})
        self.name = f"webhook {shown_uri(url)}"

    def describe(self) -> dict[str, str]:
        return {"kind": "webhook", "url": shown_uri(self._url), "timeout_s": f"{self._timeout_s:g}"}

    def _call(self, request: dict[str, Any]) -> str:
        http_request = urllib.request.Request(
            self._url,
            data=json.dumps(request).encode(),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                **self._headers,
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self._timeout_s) as response:
                return str(response.read().decode("utf-8", errors="replace"))
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", errors="replace").strip().splitlines()
            exc.close()
            said = f": {body[0][:200]}" if body else ""
            raise RegistryError(
                f"{self.name} answered HTTP {exc.code} to {request['op']}{said}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            why = getattr(exc, "reason", None) or exc
            if isinstance(why, TimeoutError):
                raise RegistryError(
                    f"{self.name} did not answer {request['op']} within {self._timeout_s:g} s"
                ) from None
            raise RegistryError(f"{self.name} unreachable: {why}") from None
