"""The sample jobs' HTTP exchange (``_protocol._exchange``): a plain HTTP/1.1 request over a
socket since issue 13 (http.client's imports were most of a job run). Each test serves one
canned response from a loopback socket and checks what the job makes of it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from engines_app.sample_jobs import _protocol


@pytest.fixture
def serve() -> Iterator:
    """serve(response_bytes) -> (url, received): answers one request with the bytes, then closes."""
    threads: list[threading.Thread] = []
    listeners: list[socket.socket] = []

    def start(response: bytes) -> tuple[str, list[bytes]]:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        received: list[bytes] = []

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(65536)
                received.append(head + b"\r\n\r\n" + body)
                conn.sendall(response)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}", received

    yield start
    for thread in threads:
        thread.join(timeout=5)
    for listener in listeners:
        listener.close()


def _put(url: str, body: bytes = b'{"a": 1}', **headers: str) -> tuple[int, bytes]:
    request = _protocol._Request(
        "PUT", f"{url}/api/v2/secrets/s/tasks/t", headers=headers, body=body
    )
    return _protocol._exchange(request)


def test_the_request_is_one_http11_message_with_its_length_and_close(serve) -> None:
    url, received = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert _put(url, Authorization="Bearer abc") == (200, b"{}")
    head, _, body = received[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"PUT /api/v2/secrets/s/tasks/t HTTP/1.1"
    assert b"Connection: close" in lines and b"Content-Length: 8" in lines
    assert b"Authorization: Bearer abc" in lines and body == b'{"a": 1}'


def test_a_chunked_answer_is_decoded(serve) -> None:
    url, _ = serve(
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n5;ext=1\r\n: 12}\r\n0\r\nTrailer: x\r\n\r\n'
    )
    assert _put(url) == (400, b'{"a": 12}')


def test_a_body_beyond_its_length_is_cut_and_a_short_one_is_retryable(serve) -> None:
    url, _ = serve(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}garbage")
    assert _put(url) == (200, b"{}")
    url, _ = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}")
    with pytest.raises(_protocol._Transient, match="incomplete"):
        _put(url)


@pytest.mark.parametrize(
    "response",
    [b"", b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\n"],
)
def test_no_answer_or_a_malformed_one_is_retryable(serve, response: bytes) -> None:
    url, _ = serve(response)
    with pytest.raises(_protocol._Transient):
        _put(url)


def test_an_answer_over_the_bound_is_not_read_whole(serve, monkeypatch) -> None:
    monkeypatch.setattr(_protocol, "MAX_RESPONSE_BYTES", 1000)
    url, _ = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
    with pytest.raises(_protocol._Transient, match="larger than 1000 bytes"):
        _put(url)


@pytest.mark.parametrize("value", ["abc\r\nX-Injected: 1", "abc\ndef", "caf\u00e9"])
def test_a_header_that_would_split_the_request_is_refused_unsent(value: str) -> None:
    # No server: the refusal comes before any connection (port 9 would not answer).
    with pytest.raises(_protocol.DeliveryError, match="non-ASCII or control character"):
        _put("http://127.0.0.1:9", Authorization=value)


def test_a_refused_connection_is_a_connection_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    with pytest.raises(_protocol._Transient, match="connection error"):
        _put(f"http://127.0.0.1:{port}")


def test_records_keep_secrets_out_of_their_repr() -> None:
    ctx = _protocol.load_context(
        {
            "SM_ACTION": "create_credentials",
            "SM_TRIGGER": "secret_creation",
            "SM_INSTANCE_URL": "http://127.0.0.1:9",
            "SM_SECRET_TASK_ID": "sm-task-1",
            "SM_SECRET_ID": "s",
            "SM_SECRET_NAME": "n",
            "SM_SECRET_GROUP_ID": "g",
            "SM_ACCESS_APIKEY": "canary-apikey-0001",
        }
    )
    created = _protocol.Created(
        credentials_id="c1", payload={"token": "canary-token-0001"}, undo=lambda: None
    )
    assert "canary" not in repr(ctx) + repr(created)
    assert ctx.api_key == "canary-apikey-0001" and created.payload["token"].startswith("canary")
