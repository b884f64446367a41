"""An OpenAI-compatible server as a test double at the wire: a real HTTP server on 127.0.0.1.

Shapes follow the OpenAI API reference (as vLLM and llama.cpp serve it): `GET /v1/models` answers
`{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}` (vLLM adds
`max_model_len`); `POST /v1/chat/completions` with `"stream": true` answers `text/event-stream`,
events `data: {"id", "object": "chat.completion.chunk", "created", "model", "choices": [{"index": 0,
"delta": {"content"}, "finish_reason": null}]}`, a last chunk with `"finish_reason": "stop"`, then
`data: [DONE]`. Errors: 401 `{"error": {"message": "Incorrect API key provided: ...", "type":
"invalid_request_error", "code": "invalid_api_key"}}`; an unknown model gives vLLM's 404
`{"object": "error", "message": "The model `x` does not exist.", "type": "NotFoundError", "code": 404}`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from .ollama_double import ChatRequest, JsonHandler, Reply, pieces, scripted

MODEL = "qwen2.5-7b-instruct"
KEY = "sk-test-4f9c2d1e8b7a"


def chunk(model: str, delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-7d1f",
        "object": "chat.completion.chunk",
        "created": 1759399200,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse_events(model: str, deltas: list[str], *, complete: bool = True) -> list[bytes]:
    """The events of a streamed chat completion; `complete`: with the finishing chunk and [DONE]."""
    events = [chunk(model, {"role": "assistant", "content": ""})]
    events += [chunk(model, {"content": d}) for d in deltas]
    if complete:
        events.append(chunk(model, {}, "stop"))
    lines = [f"data: {json.dumps(e, ensure_ascii=False)}\n\n".encode() for e in events]
    return lines + [b"data: [DONE]\n\n"] if complete else lines


class LoopbackOpenAI:
    """OpenAI's chat API on 127.0.0.1 (chunked SSE), with the failures a real server shows."""

    def __init__(
        self,
        reply: Reply | None = None,
        *,
        models: list[str] | None = None,
        key: str | None = None,
        context: int | None = None,
        break_after: int | None = None,
        hang: float = 0.0,
        not_found: bool = False,
        truncate: bool = False,
        props_ctx: int | None = None,
        json_reply: bool = False,
        port: int = 0,
    ) -> None:
        self.reply = reply or scripted()
        self.models = [MODEL] if models is None else models
        self.key = key  # required as "Authorization: Bearer KEY" when set
        self.context = context  # max_model_len in the model list (vLLM), None: not given
        self.break_after = break_after  # drop the connection after this many events (no [DONE])
        self.hang = hang  # seconds a chat request waits before any answer
        self.not_found = not_found  # answer 404 to everything, as a web server that is not an LLM API
        self.props_ctx = props_ctx  # llama.cpp server: GET /props gives default_generation_settings.n_ctx
        self.json_reply = json_reply  # ignore "stream": answer one chat.completion JSON
        self.truncate = truncate  # end the stream cleanly after the deltas, without finish_reason or [DONE]
        self.chats: list[ChatRequest] = []
        self.paths: list[str] = []
        self.auth: list[str | None] = []  # the Authorization header of every request
        self.sent: list[list[str]] = []
        self._released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="loopback-openai", daemon=True)

    @property
    def url(self) -> str:
        """The API root, as OPENAI_BASE_URL takes it."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()  # a hanging request ends now
        self.server.shutdown()
        self.server.server_close()


def _handler(fake: LoopbackOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        content_type = "application/json"

        def _html_404(self) -> None:
            data = b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            header = self.headers.get("Authorization")
            fake.auth.append(header)
            if fake.key is None or header == f"Bearer {fake.key}":
                return True
            given = (header or "").removeprefix("Bearer ")
            shown = f"{given[:3]}***{given[-4:]}" if given else ""
            self._json(
                401,
                {
                    "error": {
                        "message": f"Incorrect API key provided: {shown}." if given else "Missing API key.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
            )
            return False

        def do_GET(self) -> None:
            fake.paths.append(f"GET {self.path}")
            if fake.not_found:
                return self._html_404()
            if not self._authorised():
                return
            if self.path == "/props" and fake.props_ctx is not None:
                settings = {"n_ctx": fake.props_ctx, "temperature": 0.8, "n_predict": -1}
                return self._json(200, {"default_generation_settings": settings, "total_slots": 1})
            if self.path != "/v1/models":
                return self._json(404, {"detail": "Not Found"})
            data = []
            for name in fake.models:
                entry: dict[str, Any] = {
                    "id": name,
                    "object": "model",
                    "created": 1759399200,
                    "owned_by": "me",
                }
                if fake.context is not None:
                    entry["max_model_len"] = fake.context
                data.append(entry)
            self._json(200, {"object": "list", "data": data})

        def do_POST(self) -> None:
            fake.paths.append(f"POST {self.path}")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if fake.not_found:
                return self._html_404()
            if not self._authorised():
                return
            if self.path != "/v1/chat/completions":
                return self._json(404, {"detail": "Not Found"})
            chat = ChatRequest(body)
            fake.chats.append(chat)
            model = body.get("model", "")
            if model not in fake.models:
                return self._json(
                    404,
                    {
                        "object": "error",
                        "message": f"The model `{model}` does not exist.",
                        "type": "NotFoundError",
                        "param": None,
                        "code": 404,
                    },
                )
            if fake.hang and fake._released.wait(fake.hang):
                return  # released by the test's end
            reply = fake.reply(chat)
            deltas = pieces(reply) if isinstance(reply, str) else reply
            fake.sent.append(deltas)
            if fake.json_reply:
                message = {"role": "assistant", "content": "".join(deltas)}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                return self._json(
                    200, {"id": "chatcmpl-7d1f", "object": "chat.completion", "choices": [choice]}
                )
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            events = sse_events(model, deltas, complete=not fake.truncate)
            for event in events[: fake.break_after]:
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()
            if fake.break_after is not None:
                time.sleep(0.05)  # let the client read what was sent before the connection drops
                self.close_connection = True  # no terminating chunk, no [DONE]: the stream breaks
                return
            self.wfile.write(b"0\r\n\r\n")

    return Handler
