"""Loopback servers that follow the providers' documented batch API shapes.

Sources: OpenAI API reference, "Batch" and "Files" (the batch object, ``/v1/files`` upload with
``purpose=batch``, ``/v1/files/{id}/content``, the batch guide's input/output line formats);
Anthropic API reference, "Message Batches" (create, retrieve, results JSONL at ``results_url``,
cancel; custom id pattern ``^[a-zA-Z0-9_-]{1,64}$``). The field names are those the official
SDKs' types declare (``openai.types.Batch``, ``anthropic.types.messages.MessageBatch``...).

Both servers answer each request with :func:`answer`: ``echo: <last user text>``; a user text
containing ``FAIL`` gets a 400 error, ``TOOL`` a tool call. A batch stays in progress for
``polls`` status reads, then ends; results are written in reverse order (the APIs promise no
order). Every request the SDKs send is recorded.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

ISO = "2026-12-07T10:00:00Z"


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def responses_user_text(body: dict[str, Any]) -> str:
    items = body.get("input")
    if isinstance(items, str):
        return items
    texts = []
    for item in items or ():
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                texts = [content]
            else:
                texts = [part.get("text", "") for part in content or () if isinstance(part, dict)]
    return "".join(texts)


@dataclass
class Recorded:
    method: str
    path: str
    body: bytes


@dataclass
class _Batch:
    id: str
    requests: list[dict[str, Any]]
    endpoint: str = ""
    polls_left: int = 2
    status: str = "in_progress"
    created: float = field(default_factory=time.time)
    output_file_id: str | None = None
    error_file_id: str | None = None
    succeeded: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


class _Server:
    def __init__(self, polls: int = 2) -> None:
        self.polls = polls
        self.recorded: list[Recorded] = []
        self.batches: dict[str, _Batch] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        multipart = request.content_type.startswith("multipart/")
        body = b"" if multipart else await request.read()  # a multipart body is read by its handler
        self.recorded.append(Recorded(request.method, request.path, body))
        response: web.StreamResponse = await handler(request)
        return response

    def paths(self, method: str = "") -> list[str]:
        return [r.path for r in self.recorded if not method or r.method == method]

    async def __aenter__(self) -> _Server:
        app = web.Application(middlewares=[self._record])
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None and site._server.sockets
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"


def _error_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


class OpenAIBatchServer(_Server):
    """``/v1/files`` and ``/v1/batches`` (see the module docstring)."""

    def __init__(self, polls: int = 2) -> None:
        super().__init__(polls)
        self.files: dict[str, bytes] = {}
        self.fail_validation = False
        self.retrieve_statuses: list[int] = []  # HTTP statuses for the next status reads
        self.content_status: int | None = None  # an HTTP status for every file download

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self.upload)
        app.router.add_get("/v1/files/{id}/content", self.content)
        app.router.add_post("/v1/batches", self.create)
        app.router.add_get("/v1/batches/{id}", self.retrieve)
        app.router.add_post("/v1/batches/{id}/cancel", self.cancel)

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField), "file must be a multipart file part"
        data = upload.file.read()
        file_id = self.next_id("file")
        self.files[file_id] = data
        return web.json_response(
            {
                "id": file_id,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": upload.filename,
                "purpose": form["purpose"],
                "status": "processed",
            }
        )

    async def content(self, request: web.Request) -> web.Response:
        if self.content_status is not None:
            return web.json_response(_error_body("file storage unavailable"), status=self.content_status)
        data = self.files.get(request.match_info["id"])
        if data is None:
            return web.json_response(_error_body("no such file"), status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def create(self, request: web.Request) -> web.Response:
        params = await request.json()
        data = self.files.get(params.get("input_file_id", ""))
        if data is None or params.get("completion_window") != "24h":
            return web.json_response(_error_body("bad input_file_id or completion_window"), status=400)
        lines = [orjson.loads(line) for line in data.splitlines() if line.strip()]
        batch = _Batch(self.next_id("batch"), lines, params["endpoint"], polls_left=self.polls)
        batch.status = "validating"
        for line in lines:
            if line.get("method") != "POST" or line.get("url") != batch.endpoint or "stream" in line["body"]:
                problem = f"bad line {line.get('custom_id')}"
                batch.errors.append({"code": "invalid_request", "message": problem})
        if self.fail_validation:
            batch.errors.append({"code": "invalid_json_line", "message": "line 1 is not valid"})
        self.batches[batch.id] = batch
        return web.json_response(self._object(batch))

    def _object(self, batch: _Batch) -> dict[str, Any]:
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": "file_x",
            "completion_window": "24h",
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": int(batch.created),
            "request_counts": {
                "total": len(batch.requests),
                "completed": batch.succeeded,
                "failed": batch.failed,
            },
            "metadata": {"created_by": "geppetto"},
        }

    async def retrieve(self, request: web.Request) -> web.Response:
        if self.retrieve_statuses:
            status = self.retrieve_statuses.pop(0)
            return web.json_response(_error_body(f"status read refused ({status})"), status=status)
        batch = self.batches[request.match_info["id"]]
        if batch.status == "validating":
            batch.status = "failed" if batch.errors else "in_progress"
        elif batch.status == "in_progress":
            batch.polls_left -= 1
            if batch.polls_left <= 0:
                self._finish(batch, "completed")
            else:
                batch.succeeded = len(batch.requests) // 2  # counts move while in progress
        elif batch.status == "cancelling":
            batch.status = "cancelled"
        return web.json_response(self._object(batch))

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self.batches[request.match_info["id"]]
        batch.status = "cancelling"
        return web.json_response(self._object(batch))

    def _finish(self, batch: _Batch, status: str) -> None:
        out: list[bytes] = []
        errors: list[bytes] = []
        batch.succeeded = batch.failed = 0
        for number, line in enumerate(reversed(batch.requests)):
            code, body = self.answer(batch.endpoint, line["body"])
            record = {
                "id": f"batch_req_{number}",
                "custom_id": line["custom_id"],
                "response": {"status_code": code, "request_id": f"req_{number}", "body": body},
                "error": None,
            }
            (out if code == 200 else errors).append(orjson.dumps(record))
            if code == 200:
                batch.succeeded += 1
            else:
                batch.failed += 1
        if out:
            batch.output_file_id = self.next_id("file")
            self.files[batch.output_file_id] = b"\n".join(out) + b"\n"
        if errors:
            batch.error_file_id = self.next_id("file")
            self.files[batch.error_file_id] = b"\n".join(errors) + b"\n"
        batch.status = status

    def answer(self, endpoint: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        responses = endpoint == "/v1/responses"
        text = responses_user_text(body) if responses else last_user_text(body["messages"])
        if "FAIL" in text:
            return 400, _error_body(f"cannot answer {text!r}")
        usage_in, usage_out = len(text), 3
        if responses:
            return 200, {
                "id": "resp_1",
                "object": "response",
                "status": "completed",
                "model": body["model"],
                "output": [
                    {
                        "type": "message",
                        "id": "msg_1",
                        "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": f"echo: {text}", "annotations": []}],
                    }
                ],
                "usage": {"input_tokens": usage_in, "output_tokens": usage_out, "total_tokens": usage_in + 3},
            }
        message: dict[str, Any] = {"role": "assistant", "content": f"echo: {text}"}
        finish = "stop"
        if "TOOL" in text:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": 1}'},
                    }
                ],
            }
            finish = "tool_calls"
        return 200, {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out},
        }


class AnthropicBatchServer(_Server):
    """``/v1/messages/batches`` (see the module docstring)."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages/batches", self.create)
        app.router.add_get("/v1/messages/batches/{id}", self.retrieve)
        app.router.add_get("/v1/messages/batches/{id}/results", self.results)
        app.router.add_post("/v1/messages/batches/{id}/cancel", self.cancel)

    async def create(self, request: web.Request) -> web.Response:
        import re

        params = await request.json()
        requests = params.get("requests") or []
        for entry in requests:
            custom_id = str(entry.get("custom_id"))
            if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", custom_id):
                return web.json_response(
                    {"type": "error", "error": {"type": "invalid_request_error", "message": "bad custom_id"}},
                    status=400,
                )
            if "stream" in entry["params"] or "max_tokens" not in entry["params"]:
                return web.json_response(
                    {"type": "error", "error": {"type": "invalid_request_error", "message": "bad params"}},
                    status=400,
                )
        batch = _Batch(self.next_id("msgbatch"), requests, polls_left=self.polls)
        self.batches[batch.id] = batch
        return web.json_response(self._object(batch))

    def _object(self, batch: _Batch) -> dict[str, Any]:
        ended = batch.status in ("ended",)
        canceled = len(batch.requests) - batch.succeeded - batch.failed if batch.status == "ended" else 0
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": {
                "processing": 0 if ended else len(batch.requests),
                "succeeded": batch.succeeded,
                "errored": batch.failed,
                "canceled": canceled,
                "expired": 0,
            },
            "ended_at": ISO if ended else None,
            "created_at": ISO,
            "expires_at": ISO,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    async def retrieve(self, request: web.Request) -> web.Response:
        batch = self.batches[request.match_info["id"]]
        if batch.status == "in_progress":
            batch.polls_left -= 1
            if batch.polls_left <= 0:
                batch.status = "ended"
                for entry in batch.requests:
                    if "FAIL" in last_user_text(entry["params"]["messages"]):
                        batch.failed += 1
                    else:
                        batch.succeeded += 1
        elif batch.status == "canceling":
            batch.status = "ended"
        return web.json_response(self._object(batch))

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self.batches[request.match_info["id"]]
        batch.status = "canceling"
        return web.json_response(self._object(batch))

    async def results(self, request: web.Request) -> web.Response:
        batch = self.batches[request.match_info["id"]]
        lines = []
        for entry in reversed(batch.requests):
            result = self.answer(entry["params"])
            lines.append(orjson.dumps({"custom_id": entry["custom_id"], "result": result}))
        return web.Response(body=b"\n".join(lines) + b"\n", content_type="application/binary")

    def answer(self, params: dict[str, Any]) -> dict[str, Any]:
        text = last_user_text(params["messages"])
        if "FAIL" in text:
            return {
                "type": "errored",
                "error": {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": f"cannot answer {text!r}"},
                },
            }
        content: list[dict[str, Any]] = []
        stop = "end_turn"
        if "THINK" in text:
            content.append({"type": "thinking", "thinking": "let me see", "signature": "sig-123"})
        if "TOOL" in text:
            content.append({"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": 1}})
            stop = "tool_use"
        else:
            content.append({"type": "text", "text": f"echo: {text}"})
        return {
            "type": "succeeded",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": params["model"],
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": len(text), "output_tokens": 3},
            },
        }
