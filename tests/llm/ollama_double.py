"""Ollama's documented HTTP API as a test double at the wire: an httpx transport and a loopback server.

Shapes follow Ollama's docs/api.md: `GET /api/tags` lists models; `POST /api/chat` with
`"stream": true` answers `application/x-ndjson`, one JSON object a line
(`{"model", "created_at", "message": {"role": "assistant", "content"}, "done": false}`) and a
final `{"done": true, "done_reason": "stop", ...statistics}`; an unknown model gives 404
`{"error": "model \\"x\\" not found, try pulling it first"}`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import httpx
import ollama

from qa_bot.prompts import render

MODEL = "qwen2.5:7b-instruct"
HOST = "http://ollama.test:11434"
BUS_FACT = "120 автобусов"
BUS_REWRITE = "Сколько автобусов МАЗ Беларусь поставит в Удмуртию?"

_PASSAGE = re.compile(r'<фрагмент номер="(\d+)"[^\n]*>\n(.*?)\n</фрагмент>', re.DOTALL)


@dataclass
class ChatRequest:
    """One /api/chat request body, read the way a model reads the prompt."""

    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.body["messages"]

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.messages if m["role"] == "system"), "")

    @property
    def user(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    @property
    def kind(self) -> str:
        """ "rewrite" (follow-up / translation before retrieval) or "answer"."""
        return "rewrite" if self.system == render("rewrite_system") else "answer"

    @property
    def passages(self) -> dict[int, str]:
        """Passage number → fenced text, as sent."""
        return {int(n): text for n, text in _PASSAGE.findall(self.user)}

    def passage_with(self, fact: str) -> int | None:
        """The number of the first passage whose text contains `fact`."""
        return next((n for n, text in sorted(self.passages.items()) if fact in text), None)

    @property
    def prompt(self) -> str:
        return "\n".join(m["content"] for m in self.messages)


Reply = Callable[[ChatRequest], "str | list[str]"]


def pieces(text: str) -> list[str]:
    """`text` cut into word-sized deltas that concatenate back to it."""
    return re.findall(r"\s*\S+", text) or [text]


def bus_answer(request: ChatRequest) -> str:
    """A well-behaved model: the bus fact, cited by the number of the passage that holds it."""
    n = request.passage_with(BUS_FACT)
    if n is None:
        return "В документах нет ответа на этот вопрос."
    return f"Беларусь поставит в Удмуртию 120 автобусов МАЗ [{n}]."


def scripted(answer: Reply = bus_answer, rewrite: str = BUS_REWRITE) -> Reply:
    """A model that rewrites follow-ups into `rewrite` and answers with `answer`."""

    def reply(request: ChatRequest) -> str | list[str]:
        return rewrite if request.kind == "rewrite" else answer(request)

    return reply


def tags_body(models: list[str]) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": name,
                "model": name,
                "modified_at": "2025-10-01T12:00:00.000000000+03:00",
                "size": 4683087332,
                "digest": "845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e",
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "qwen2",
                    "families": ["qwen2"],
                    "parameter_size": "7.6B",
                    "quantization_level": "Q4_K_M",
                },
            }
            for name in models
        ]
    }


def chat_lines(model: str, deltas: list[str]) -> list[bytes]:
    """The NDJSON lines of a streamed /api/chat answer."""
    lines = [
        {
            "model": model,
            "created_at": f"2025-10-02T10:00:0{i % 10}.000000Z",
            "message": {"role": "assistant", "content": delta},
            "done": False,
        }
        for i, delta in enumerate(deltas)
    ]
    lines.append(
        {
            "model": model,
            "created_at": "2025-10-02T10:00:09.000000Z",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 4883583458,
            "load_duration": 1334875,
            "prompt_eval_count": 1200,
            "prompt_eval_duration": 342546000,
            "eval_count": len(deltas),
            "eval_duration": 4535599000,
        }
    )
    return [(json.dumps(line, ensure_ascii=False) + "\n").encode() for line in lines]


def not_found(model: str) -> dict[str, str]:
    return {"error": f'model "{model}" not found, try pulling it first'}


class _Lines(httpx.SyncByteStream):
    """A response body sent line by line; optionally the connection drops after `break_after` lines."""

    def __init__(self, lines: list[bytes], request: httpx.Request, break_after: int | None) -> None:
        self.lines = lines
        self.request = request
        self.break_after = break_after

    def __iter__(self) -> Iterator[bytes]:
        for i, line in enumerate(self.lines):
            if i == self.break_after:
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body (incomplete chunked read)",
                    request=self.request,
                )
            yield line


class FakeOllama:
    """An Ollama server behind `httpx.MockTransport`, used by the real `ollama.Client`."""

    def __init__(self, reply: Reply | None = None, *, models: list[str] | None = None) -> None:
        self.reply = reply or scripted()
        self.models = [MODEL] if models is None else models
        self.chats: list[ChatRequest] = []
        self.requests: list[httpx.Request] = []
        #: raised for every request, as the transport would (httpx.ConnectError, httpx.ReadTimeout, ...)
        self.error: Callable[[httpx.Request], Exception] | None = None
        #: drop the connection after this many NDJSON lines of a chat answer
        self.break_after: int | None = None
        self.sent: list[list[str]] = []  # the deltas of every chat answer

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.error is not None:
            raise self.error(request)
        if request.method == "GET" and request.url.path == "/api/tags":
            return httpx.Response(200, json=tags_body(self.models))
        if request.method == "POST" and request.url.path == "/api/chat":
            chat = ChatRequest(json.loads(request.content))
            self.chats.append(chat)
            model = chat.body.get("model", "")
            if model not in self.models:
                return httpx.Response(404, json=not_found(model))
            reply = self.reply(chat)
            deltas = pieces(reply) if isinstance(reply, str) else reply
            self.sent.append(deltas)
            return httpx.Response(
                200,
                headers={"Content-Type": "application/x-ndjson"},
                stream=_Lines(chat_lines(model, deltas), request, self.break_after),
            )
        return httpx.Response(404, text="404 page not found")

    def client(self, host: str = HOST) -> ollama.Client:
        return ollama.Client(host=host, transport=httpx.MockTransport(self.handle))


class LoopbackOllama:
    """The same API from a real HTTP server on 127.0.0.1 (chunked NDJSON), for code that opens its own client."""

    def __init__(
        self,
        reply: Reply | None = None,
        *,
        models: list[str] | None = None,
        delay: float = 0.0,
        break_after: int | None = None,
        port: int = 0,
    ) -> None:
        self.reply = reply or scripted()
        self.models = [MODEL] if models is None else models
        self.delay = delay  # seconds after each NDJSON line of a chat answer
        self.break_after = break_after  # drop the connection after this many lines (no {"done": true})
        self.chats: list[ChatRequest] = []
        self.paths: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="loopback-ollama", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class JsonHandler(BaseHTTPRequestHandler):
    """What the loopback LLM servers share: HTTP/1.1, no request log, JSON replies."""

    protocol_version = "HTTP/1.1"
    content_type = "application/json; charset=utf-8"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _handler(fake: LoopbackOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):

        def do_GET(self) -> None:
            fake.paths.append(f"GET {self.path}")
            if self.path == "/api/tags":
                self._json(200, tags_body(fake.models))
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            fake.paths.append(f"POST {self.path}")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path != "/api/chat":
                self._json(404, {"error": "not found"})
                return
            chat = ChatRequest(body)
            fake.chats.append(chat)
            model = body.get("model", "")
            if model not in fake.models:
                self._json(404, not_found(model))
                return
            reply = fake.reply(chat)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            lines = chat_lines(model, pieces(reply) if isinstance(reply, str) else reply)
            for line in lines[: fake.break_after]:
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
                time.sleep(fake.delay)
            if fake.break_after is not None:
                self.close_connection = True  # no terminating chunk: the stream breaks
                return
            self.wfile.write(b"0\r\n\r\n")

    return Handler
