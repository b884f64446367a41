"""A loopback Telegram Bot API server for end-to-end tests and the load benchmark.

It serves injected updates to getUpdates (long polling), answers the methods the bot calls with
Telegram's JSON shapes, checks HTML parse mode and the 4096-character limit as Telegram does, serves
file downloads, and records every call with its parameters.

Faults are injected per method and per call count with `fail()`: an error answer (500, 502, 429 with
retry_after, any ApiError), a dropped connection (`DROP`), or a slow answer (`hang(seconds)`: the call
is carried out, but only after the delay, as Telegram does when it is slow).
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

T = TypeVar("T")
STRUCTURED = {
    "reply_markup",
    "commands",
    "reply_parameters",
    "link_preview_options",
    "scope",
    "allowed_updates",
}
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "blockquote",
             "span", "tg-spoiler", "tg-emoji"}  # fmt: skip
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class ApiError(Exception):
    """Answered as {"ok": false, ...} with this code."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


SERVER_ERROR = ApiError(500, "Internal Server Error")
BAD_GATEWAY = ApiError(502, "Bad Gateway")


def too_many(retry_after: int = 1) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


@dataclass(frozen=True)
class Fault:
    """Instead of a normal answer: drop the connection, or answer after `delay` seconds (with `error` if set)."""

    drop: bool = False
    delay: float = 0.0
    error: ApiError | None = None


DROP = Fault(drop=True)


def hang(seconds: float) -> Fault:
    """Carry the call out, but answer only after `seconds` (longer than the client's read timeout)."""
    return Fault(delay=seconds)


class Dropped(Exception):
    """The server closes the connection without an answer."""


@dataclass
class _Failure:
    when: Callable[[dict], bool]
    fault: Fault
    skip: int  # matching calls to let through first
    times: int  # matching calls to fail after that

    def take(self, params: dict) -> bool:
        if self.times <= 0 or not self.when(params):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        self.times -= 1
        return True


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    error: str | None = None  # set when the server refused the call

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[dict]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


def parsed_html(text: str) -> str:
    """The text Telegram shows for `text` in HTML parse mode; raises ApiError like Telegram on bad markup."""
    stack: list[str] = []
    for token in re.split(r"(<[^>]*>)", text):
        if token.startswith("<"):
            m = re.fullmatch(r"<(/?)([a-zA-Z-]+)(\s[^>]*)?>", token)
            if not m or m.group(2).lower() not in HTML_TAGS:
                raise ApiError(400, f"Bad Request: can't parse entities: unsupported start tag {token!r}")
            name = m.group(2).lower()
            if m.group(1):
                if not stack or stack.pop() != name:
                    raise ApiError(400, f"Bad Request: can't parse entities: unmatched end tag {token!r}")
            else:
                stack.append(name)
        elif ">" in token or "&" in ENTITY.sub("", token):
            raise ApiError(400, "Bad Request: can't parse entities: unescaped character")
    if stack:
        raise ApiError(400, f"Bad Request: can't parse entities: unclosed tags {stack}")
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeBotApi:
    """Start with `start()`; inject updates with `send_text()` and friends; read `calls`."""

    def __init__(self, token: str, *, bot_id: int = 777000, username: str = "qa_test_bot") -> None:
        self.token = token
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "Документы", "username": username,
                    "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}  # fmt: skip
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.failures: dict[str, list[_Failure]] = {}
        self.faults_injected = 0  # calls answered with a fault
        self._updates: list[dict] = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._closing = False
        self.last_update_id = 0
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-bot-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL takes."""
        return f"{self.url}/bot"

    def start(self) -> FakeBotApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # -- injecting updates --------------------------------------------------------------------

    def user(self, user_id: int) -> dict:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"Пользователь {user_id}",
            "language_code": "ru",
        }

    def chat(self, chat_id: int) -> dict:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"Пользователь {chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": "Тестовая группа"}

    def push(self, update: dict) -> int:
        with self._cond:
            update["update_id"] = self.last_update_id = next(self._ids)
            self._updates.append(update)
            self._cond.notify_all()
        return update["update_id"]

    def send(self, user_id: int, chat_id: int | None = None, **content: Any) -> dict:
        """Inject a message from `user_id` (to its private chat unless `chat_id`); returns the message."""
        message = {"message_id": next(self._ids), "date": int(time.time()), "chat": self.chat(chat_id or user_id),
                   "from": self.user(user_id), **content}  # fmt: skip
        self.push({"message": message})
        return message

    def send_text(self, user_id: int, text: str, chat_id: int | None = None, **extra: Any) -> dict:
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])})
        mention = f"@{self.bot['username']}"
        if mention in text:
            offset = utf16_len(text[: text.index(mention)])
            entities.append({"type": "mention", "offset": offset, "length": utf16_len(mention)})
        if entities:
            extra["entities"] = entities
        return self.send(user_id, chat_id, text=text, **extra)

    def send_document(
        self, user_id: int, file_name: str | None, data: bytes, mime_type: str = "text/plain"
    ) -> dict:
        """A file in the user's private chat (`file_name` None: a file without a name, as some clients send)."""
        file_id = f"file{next(self._ids)}"
        self.files[file_id] = (f"documents/{file_id}{Path(file_name or '').suffix}", data)  # as Telegram names them
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "mime_type": mime_type,
                    "file_size": len(data)}  # fmt: skip
        if file_name is not None:
            document["file_name"] = file_name
        return self.send(user_id, document=document)

    def press(self, user_id: int, bot_message: Call, data: str) -> int:
        """A press on an inline button under the message the bot sent with `bot_message`."""
        sent = self.result_of(bot_message)
        query = {"id": str(next(self._ids)), "from": self.user(user_id), "chat_instance": "1", "data": data,
                 "message": sent}  # fmt: skip
        return self.push({"callback_query": query})

    def fail(
        self,
        method: str,
        error: ApiError | Fault,
        when: Callable[[dict], bool] = lambda p: True,
        *,
        times: int = 1,
        skip: int = 0,
    ) -> None:
        """Answer `times` calls of `method` whose parameters match `when` with `error`, after `skip` such calls."""
        fault = error if isinstance(error, Fault) else Fault(error=error)
        with self._cond:
            self.failures.setdefault(method, []).append(_Failure(when, fault, skip, times))

    def send_caption(self, user_id: int, chat_id: int, file_name: str, data: bytes, caption: str) -> dict:
        """A document with a caption (mentions in it become caption_entities), sent to a group."""
        file_id = f"file{next(self._ids)}"
        self.files[file_id] = (f"documents/{file_id}{Path(file_name).suffix}", data)
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                    "mime_type": "text/plain", "file_size": len(data)}  # fmt: skip
        extra: dict[str, Any] = {"document": document, "caption": caption}
        mention = f"@{self.bot['username']}"
        if mention in caption:
            offset = utf16_len(caption[: caption.index(mention)])
            extra["caption_entities"] = [{"type": "mention", "offset": offset, "length": utf16_len(mention)}]
        return self.send(user_id, chat_id, **extra)

    # -- reading what the bot did --------------------------------------------------------------

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and (chat_id is None or c.chat_id == chat_id)]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until `predicate()` is truthy (re-checked after every call the bot makes); return its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    recent = "\n".join(f"  {c.method} {c.params}" for c in self.calls[-15:])
                    raise AssertionError(f"timed out after {timeout} s; the last calls were:\n{recent}")
                self._cond.wait(left)

    def wait_calls(self, method: str, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[Call]:
        return self.wait_for(
            lambda: (found := self.calls_of(method, chat_id))[count - 1 :] and found, timeout
        )

    def answers(self, chat_id: int) -> list[Call]:
        """Final answers: messages sent to the chat with the feedback buttons under them."""
        finals = self.calls_of("sendMessage", chat_id) + self.calls_of("editMessageText", chat_id)
        return sorted((c for c in finals if not c.error and any("fb:" in b.get("callback_data", "") for b in c.buttons)),
                      key=lambda c: c.at)  # fmt: skip

    def wait_answers(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[Call]:
        return self.wait_for(lambda: (found := self.answers(chat_id))[count - 1 :] and found, timeout)

    def texts_to(self, chat_id: int) -> list[str]:
        return [c.text for c in self.calls_of("sendMessage", chat_id)]

    def result_of(self, call: Call) -> dict:
        """The Message the server returned for a sendMessage/editMessageText call."""
        with self._cond:
            return dict(self.messages[(call.chat_id or 0, int(call.params["_message_id"]))])

    # -- serving the API ------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        with self._cond:
            fault = next((f.fault for f in self.failures.get(method, []) if f.take(params)), None)
            if fault is not None:
                self.faults_injected += 1
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # outside the lock: other calls go on meanwhile
        if method == "getUpdates" and fault is None:
            return self._get_updates(params)
        with self._cond:
            call = Call(method, params)
            self.calls.append(call)
            try:
                if fault is not None and fault.drop:
                    call.error = "dropped"
                    raise Dropped
                if fault is not None and fault.error is not None:
                    raise fault.error
                return self._answer(method, params)
            except ApiError as exc:
                call.error = exc.description
                raise
            finally:
                self._cond.notify_all()

    def _get_updates(self, params: dict[str, Any]) -> list[dict]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._cond:
            self.calls.append(Call("getUpdates", params))
            self._cond.notify_all()
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or self._closing or time.monotonic() >= deadline:
                    return list(self._updates[: int(params.get("limit") or 100)])
                self._cond.wait(max(0.0, deadline - time.monotonic()))

    def _message(self, params: dict[str, Any], text: str) -> dict:
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._ids), "date": int(time.time()), "chat": self.chat(chat_id),
                   "from": {k: self.bot[k] for k in ("id", "is_bot", "first_name", "username")}, "text": text}  # fmt: skip
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        params["_message_id"] = message["message_id"]
        return message

    def _text(self, params: dict[str, Any]) -> str:
        text = str(params.get("text", ""))
        shown = parsed_html(text) if params.get("parse_mode") == "HTML" else text
        if not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(shown) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return shown

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.bot
        if method == "sendMessage":
            return self._message(params, self._text(params))
        if method == "editMessageText":
            key = (int(params["chat_id"]), int(params["message_id"]))
            if key not in self.messages:
                raise ApiError(400, "Bad Request: message to edit not found")
            shown = self._text(params)
            old = self.messages[key]
            if old["text"] == shown and old.get("reply_markup") == params.get("reply_markup"):
                raise ApiError(400, "Bad Request: message is not modified")
            old["text"] = shown
            old["reply_markup"] = params.get("reply_markup")
            params["_message_id"] = key[1]
            return old
        if method == "editMessageReplyMarkup":
            message = self.messages[(int(params["chat_id"]), int(params["message_id"]))]
            message["reply_markup"] = params.get("reply_markup")
            return message
        if method == "sendMessageDraft":
            if int(params["chat_id"]) <= 0 or not int(params.get("draft_id", 0)):
                raise ApiError(400, "Bad Request: drafts are for private chats with a non-zero draft_id")
            if params.get("text"):
                self._text(params)
            return True
        if method == "getFile":
            path, data = self.files[params["file_id"]]
            return {"file_id": params["file_id"], "file_unique_id": "u" + params["file_id"],
                    "file_size": len(data), "file_path": path}  # fmt: skip
        return True  # sendChatAction, setMyCommands, answerCallbackQuery, deleteMessage, deleteWebhook, ...

    def download(self, path: str) -> bytes | None:
        return next((data for p, data in self.files.values() if p == path), None)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-request (long polls cancelled at shutdown)


def _decode(raw: dict[str, list[str]]) -> dict[str, Any]:
    """PTB posts form fields; objects and lists arrive JSON-encoded."""
    out: dict[str, Any] = {}
    for key, values in raw.items():
        value = values[-1]
        out[key] = json.loads(value) if key in STRUCTURED else value
    return out


def _handler(api: FakeBotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the bot gave up on a long poll at shutdown
                self.close_connection = True

        def _json(self, status: int, payload: dict) -> None:
            self._reply(status, json.dumps(payload, ensure_ascii=False).encode())

        def do_GET(self) -> None:
            path, prefix = unquote(urlparse(self.path).path), f"/file/bot{api.token}/"
            data = api.download(path[len(prefix) :]) if path.startswith(prefix) else None
            if data is None:
                self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            else:
                self._reply(200, data, "application/octet-stream")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            m = re.fullmatch(r"/bot([^/]+)/(\w+)", urlparse(self.path).path)
            if not m or m.group(1) != api.token:
                self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            kind = self.headers.get("Content-Type", "")
            params = (
                json.loads(body or "{}")
                if "json" in kind
                else _decode(parse_qs(body, keep_blank_values=True))
            )
            try:
                result = api.handle(m.group(2), params)
            except Dropped:
                self.close_connection = True  # no answer at all: the client sees the connection closed
                return
            except ApiError as exc:
                payload: dict[str, Any] = {
                    "ok": False,
                    "error_code": exc.code,
                    "description": exc.description,
                }
                if exc.retry_after is not None:
                    payload["parameters"] = {"retry_after": exc.retry_after}
                self._json(exc.code, payload)
                return
            self._json(200, {"ok": True, "result": result})

    return Handler
