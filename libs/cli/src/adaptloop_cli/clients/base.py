"""The shared HTTP plumbing: bearer auth on mutating calls, unreachable and refused answers as `CliError`s."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from adaptloop_cli.errors import ServiceRefused, ServiceUnreachable, UnexpectedAnswer

TokenSource = Callable[[], str]
T = TypeVar("T")


def reason_of(response: httpx.Response) -> str:
    """The server's own words: FastAPI `detail` (text or validation list), OpenAI `error.message`, or the body."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:500] if text else response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail", body.get("error"))
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):
            return "; ".join(_validation_item(item) for item in detail) or str(body)
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            return str(detail["message"])
        if detail is not None:
            return str(detail)
    return str(body)[:500]


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = [str(part) for part in item.get("loc", []) if part != "body"]
    where = ".".join(loc)
    message = str(item.get("msg", item.get("reason", item)))
    return f"{where}: {message}" if where else message


class ServiceClient:
    """One service's HTTP API; reads are open, `auth=True` calls carry the bearer token."""

    service: ClassVar[str] = "service"

    def __init__(self, base_url: str, *, token: TokenSource, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                auth: bool = False, content: bytes | Iterator[bytes] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token()}"} if auth else {}
        if content is not None:
            headers["Content-Type"] = "application/octet-stream"
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers, content=content)
        except httpx.TimeoutException as exc:
            cause = f"no answer within the timeout: {exc.__class__.__name__}"
            raise ServiceUnreachable(self.service, self.base_url, cause) from exc
        except httpx.TransportError as exc:
            raise ServiceUnreachable(self.service, self.base_url, str(exc) or exc.__class__.__name__) from exc
        if response.status_code >= 400:
            raise ServiceRefused(self.service, f"{method} {path}", response.status_code, reason_of(response))
        return response

    def get_json(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def call(self, shape: type[T], method: str, path: str, **kwargs: Any) -> T:
        """The answer parsed with its contract model (adaptloop_contracts): `shape` is a model or `list[Model]`."""
        response = self.request(method, path, **kwargs)
        try:
            return TypeAdapter(shape).validate_json(response.content)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "answer"
            raise UnexpectedAnswer(self.service, f"{method} {path}", f"{where}: {first['msg']}") from None

    def get(self, shape: type[T], path: str, *, params: dict[str, Any] | None = None) -> T:
        return self.call(shape, "GET", path, params=params)

    def ready(self) -> tuple[bool, str]:
        """Whether `/readyz` answers 200, and what it said otherwise; never raises."""
        try:
            response = self._http.get("/readyz")
        except httpx.HTTPError as exc:
            return False, f"unreachable ({exc.__class__.__name__})"
        if response.status_code == 200:
            return True, "ready"
        return False, f"{response.status_code}: {reason_of(response)}"
