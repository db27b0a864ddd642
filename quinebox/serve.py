"""`quinebox serve`: verification over HTTP, for trainers and graders on other processes or machines.

Endpoints (JSON in, JSON out):

- ``POST /verify``: ``{"program": "..."}`` or ``{"response": "..."}`` plus options of
  `quinebox.verify` by name (``generations``, ``sequence``, ``next_flag``, ``keep_going``,
  ``limits``: an object of `Limits` fields). 200 with the report, or 503 with an error
  report when the sandbox failed.
- ``POST /grade``: ``{"items": [{"id": ..., "program" | "response": ..., options...}, ...]}``;
  200 with ``{"results": [{"id": ..., "report": {...}}, ...]}`` in the same order. An
  item whose sandbox failed gets a report with verdict ``error``.
- ``POST /get_reward``: OpenRLHF's remote reward model, ``{"query": [...], "prompts": [...],
  "labels": [...]}`` to ``{"rewards", "scores", "extra_logs"}``; 503 when the sandbox failed,
  which OpenRLHF retries and then leaves the sample unscored.
- ``GET /healthz``: ``{"ok": true, "in_flight": n, ...}``.

Why it holds up under a trainer's load:

- **Bounded.** At most ``max_in_flight`` requests are being verified; one more gets 503
  with ``Retry-After`` at once instead of queueing without end. Verifications share warm
  lanes (`quinebox.integrations._grader`), at most one pair per CPU unless told otherwise.
- **Limited.** A body over ``max_body_bytes`` is refused with 413 before it is read whole;
  ``generations`` is capped at ``max_generations``, a batch at ``max_batch`` items, and a
  request's ``limits`` may lower the service's limits, never raise them. Each request has a
  deadline (504 past it); the work it started still holds its slot until it ends, so the
  bound stays true.
- **No host paths.** A request carries program text only: nothing in it names a file, and
  the program is always verified as text, so no request makes the service read the host.
- **Graceful.** On SIGTERM (or SIGINT) the listener closes, requests in flight finish and
  are answered, then every lane is closed: no sandbox process or temp dir outlives it.

Built on Starlette and uvicorn (the ``serve`` extra): uvicorn's h11 parser answers malformed
HTTP, and its shutdown waits for in-flight requests, both things a stdlib server would
need written by hand.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from quinebox import __version__
from quinebox.errors import InfraError, UsageError
from quinebox.integrations import rewards
from quinebox.integrations._grader import Grader, GraderOptions
from quinebox.limits import Limits
from quinebox.report.build import error_report
from quinebox.report.model import Report
from quinebox.sequences import parse_sequence

_VERIFY_OPTIONS = {"generations", "sequence", "next_flag", "keep_going", "limits"}
_NOT_SETTABLE = {"sandbox", "backend", "on_generation"}


@dataclass(frozen=True)
class ServeOptions:
    """How the service listens, and what it lets one request ask for."""

    host: str = "127.0.0.1"
    port: int = 8321
    sandbox: str = "auto"
    generations: int = 20
    """Generations when a request does not say."""
    max_generations: int = 200
    max_in_flight: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    max_lanes: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_body_bytes: int = 8 << 20
    max_batch: int = 256
    deadline_s: float = 300.0
    limits: Limits = field(default_factory=Limits.from_env)

    def validated(self) -> ServeOptions:
        for name in ("max_in_flight", "max_lanes", "max_body_bytes", "max_batch", "max_generations"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be 1 or more, got {getattr(self, name)}")
        if not 1 <= self.generations <= self.max_generations:
            raise UsageError(f"generations must be within 1..{self.max_generations}, got {self.generations}")
        if self.deadline_s <= 0:
            raise UsageError(f"the deadline must be positive, got {self.deadline_s}")
        return self


class _BadRequest(Exception):
    """A request the service will not take, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Service:
    """The state of one running service: its grader, its worker threads, its in-flight count."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options.validated()
        self.grader = Grader(
            GraderOptions(
                generations=options.generations,
                sandbox=options.sandbox,
                limits=options.limits,
                max_lanes=options.max_lanes,
            )
        )
        self.pool = ThreadPoolExecutor(max_workers=options.max_in_flight, thread_name_prefix="quinebox-serve")
        self.in_flight = 0
        self.served = 0

    async def run(self, work: Callable[[], Any]) -> Any:
        """Run blocking work in a slot, or refuse at once when every slot is taken.

        Raises:
            _BadRequest: 503 when busy, 504 past the deadline.
        """
        if self.in_flight >= self.options.max_in_flight:
            raise _BadRequest(503, f"busy: {self.in_flight} requests in flight; retry shortly")
        self.in_flight += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.pool, work)
        future.add_done_callback(self._release)  # the slot is freed when the work ends, not at the deadline
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.options.deadline_s)
        except TimeoutError:
            raise _BadRequest(504, f"not finished within the deadline of {self.options.deadline_s:g} s") from None

    def _release(self, _: object) -> None:
        self.in_flight -= 1
        self.served += 1

    def close(self) -> None:
        self.pool.shutdown(wait=True)  # work past its deadline finishes, then its lanes close
        self.grader.close()

    def verify_options(self, body: dict[str, Any]) -> dict[str, Any]:
        """A request's options for `Grader.verify`, checked against the service's bounds."""
        given = set(body) - {"program", "response", "id"}
        if given & _NOT_SETTABLE:
            raise _BadRequest(400, f"not settable by a request: {', '.join(sorted(given & _NOT_SETTABLE))}")
        if given - _VERIFY_OPTIONS:
            raise _BadRequest(400, f"unknown options: {', '.join(sorted(given - _VERIFY_OPTIONS))}")
        options: dict[str, Any] = {}
        if "generations" in body:
            value = body["generations"]
            if type(value) is not int or not 1 <= value <= self.options.max_generations:
                raise _BadRequest(422, f"generations must be an integer within 1..{self.options.max_generations}")
            options["generations"] = value
        for name in ("sequence", "next_flag"):
            if name in body:
                if not isinstance(body[name], str) or not body[name] or len(body[name]) > 200:
                    raise _BadRequest(422, f"{name} must be a non-empty string")
                options[name] = body[name]
        if "sequence" in options:
            try:
                parse_sequence(options["sequence"])
            except UsageError as exc:
                raise _BadRequest(422, str(exc)) from None
        if "next_flag" in options and not options["next_flag"].startswith("-"):
            raise _BadRequest(422, "next_flag must start with '-'")
        if "keep_going" in body:
            if not isinstance(body["keep_going"], bool):
                raise _BadRequest(422, "keep_going must be true or false")
            options["keep_going"] = body["keep_going"]
        if "limits" in body:
            options["limits"] = self._limits(body["limits"])
        return options

    def _limits(self, given: Any) -> Limits:
        ceiling = self.options.limits
        names = {f.name for f in fields(Limits)}
        if not isinstance(given, dict) or set(given) - names:
            raise _BadRequest(422, f"limits must be an object with some of: {', '.join(sorted(names))}")
        for name, value in given.items():
            if type(value) not in (int, float) or not 0 < value <= getattr(ceiling, name):
                raise _BadRequest(422, f"limits.{name} must be a number in (0, {getattr(ceiling, name)}]")
        changes: dict[str, Any] = {k: (float(v) if k == "wall_s" else int(v)) for k, v in given.items()}
        return replace(ceiling, **changes)

    def candidate(self, body: dict[str, Any]) -> tuple[str, bool]:
        """The text to verify and whether it is the program itself (True) or a response."""
        if ("program" in body) == ("response" in body):
            raise _BadRequest(422, "give exactly one of 'program' or 'response'")
        key = "program" if "program" in body else "response"
        if not isinstance(body[key], str):
            raise _BadRequest(422, f"{key} must be a string (the text itself, never a path)")
        return body[key], key == "program"

    def verify(self, text: str, raw: bool, options: dict[str, Any]) -> Report:
        """One verification; an infrastructure error becomes an error report (verdict ``error``)."""
        try:
            return self.grader.verify(text, raw=raw, **options)
        except InfraError as exc:
            config = {"generations": options.get("generations", self.options.generations), "sandbox": "serve"}
            return error_report(str(exc), config, 0.0)


async def _body(request: Request, limit: int) -> dict[str, Any]:
    """The JSON object in the body, read no further than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _BadRequest(413, f"the body is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BadRequest(413, f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks))
    except (ValueError, RecursionError):
        raise _BadRequest(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise _BadRequest(400, "the body must be a JSON object")
    return data


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _error(exc: _BadRequest) -> JSONResponse:
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)


def create_app(options: ServeOptions) -> Starlette:
    """The ASGI application; its lanes open on first use and close when the app shuts down."""
    service = _Service(options)

    async def verify(request: Request) -> Response:
        try:
            body = await _body(request, service.options.max_body_bytes)
            text, raw = service.candidate(body)
            verify_options = service.verify_options(body)
            report: Report = await service.run(lambda: service.verify(text, raw, verify_options))
        except _BadRequest as exc:
            return _error(exc)
        if report.error is not None:
            return JSONResponse(report.to_dict(), status_code=503, headers={"Retry-After": "1"})
        return JSONResponse(report.to_dict())

    async def grade(request: Request) -> Response:
        try:
            body = await _body(request, service.options.max_body_bytes)
            items = body.get("items")
            if set(body) != {"items"} or not isinstance(items, list) or not items:
                raise _BadRequest(422, 'the body must be {"items": [...]} with at least one item')
            if len(items) > service.options.max_batch:
                raise _BadRequest(413, f"at most {service.options.max_batch} items per batch")
            jobs = []
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise _BadRequest(422, f"item {index} is not an object")
                try:
                    jobs.append((item.get("id", index), *service.candidate(item), service.verify_options(item)))
                except _BadRequest as exc:
                    raise _BadRequest(exc.status, f"item {index}: {exc}") from None

            def work() -> list[dict[str, Any]]:
                with ThreadPoolExecutor(max_workers=min(len(jobs), service.options.max_lanes)) as pool:
                    reports = list(pool.map(lambda job: service.verify(job[1], job[2], job[3]), jobs))
                return [{"id": job[0], "report": r.to_dict()} for job, r in zip(jobs, reports, strict=True)]

            results = await service.run(work)
        except _BadRequest as exc:
            return _error(exc)
        return JSONResponse({"results": results})

    async def get_reward(request: Request) -> Response:
        try:
            body = await _body(request, service.options.max_body_bytes)
            queries, prompts = body.get("query"), body.get("prompts")
            if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries) or not queries:
                raise _BadRequest(422, "query must be a non-empty list of strings")
            if prompts is None:
                prompts = [""] * len(queries)
            if (
                not isinstance(prompts, list)
                or len(prompts) != len(queries)
                or not all(isinstance(p, str) for p in prompts)
            ):
                raise _BadRequest(422, "prompts must be a list of strings, one per query")
            if len(queries) > service.options.max_batch:
                raise _BadRequest(413, f"at most {service.options.max_batch} queries per request")
            result = await service.run(lambda: rewards.openrlhf_rewards(service.grader, queries, prompts, "binary"))
        except _BadRequest as exc:
            return _error(exc)
        except InfraError as exc:
            return JSONResponse({"error": f"the sandbox failed: {exc}"}, status_code=503, headers={"Retry-After": "1"})
        except rewards.NotJudged as exc:
            return JSONResponse({"error": f"not judged: {exc}"}, status_code=422)
        return JSONResponse(result)

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "ok": True,
                "version": __version__,
                "in_flight": service.in_flight,
                "max_in_flight": service.options.max_in_flight,
                "served": service.served,
            }
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": f"no such endpoint: {request.method} {request.url.path}"}, status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": f"{request.method} is not allowed on {request.url.path}"}, status_code=405)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)

    return Starlette(
        routes=[
            Route("/verify", verify, methods=["POST"]),
            Route("/grade", grade, methods=["POST"]),
            Route("/get_reward", get_reward, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_allowed},
        lifespan=lifespan,
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound before the server starts so that port 0 gives a known port.

    Raises:
        UsageError: the address cannot be bound.
    """
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
        sock.listen(2048)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def run(options: ServeOptions, sock: socket.socket) -> None:
    """Serve on `sock` until SIGTERM or SIGINT, then finish what is in flight and close every lane."""
    import uvicorn

    config = uvicorn.Config(
        create_app(options),
        log_level="warning",
        access_log=False,
        limit_concurrency=max(1024, 4 * options.max_in_flight),
        timeout_keep_alive=5,
        timeout_graceful_shutdown=int(options.deadline_s) + 5,
        lifespan="on",
    )
    uvicorn.Server(config).run(sockets=[sock])
