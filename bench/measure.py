"""Measuring over HTTP: one request at a time, as a browser (or the SDK) would send it.

Each request opens its own connection (gunicorn's sync workers close it after every response)
and is timed from the connect to the last byte of the body. A response with another status than
the expected one stops the benchmark: a figure of an error page would be meaningless.
"""

from __future__ import annotations

import http.client
import random
import re
import secrets
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from servers import BenchError
from workload import PAGES, WIZARD_KIND, WIZARD_STEP

BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) sm-bench",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Encoding": "gzip, deflate, br",
    "Accept-Language": "en",
}
STATIC_REF = re.compile(r"""(?:src|href)=["'](/static/[^"'?#]+)""")


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    ms: float

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    @property
    def wire_bytes(self) -> int:
        """Status line, headers and body as they crossed the connection (body as sent)."""
        head = len(f"HTTP/1.1 {self.status} {self.reason}\r\n".encode())
        head += sum(len(f"{k}: {v}\r\n".encode()) for k, v in self.headers) + 2
        return head + len(self.body)


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
    timeout: float = 300.0,
) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        ms = (time.perf_counter() - start) * 1000
        return Response(resp.status, resp.reason, resp.getheaders(), data, ms)
    finally:
        conn.close()


@dataclass
class Client:
    """The signed-in user of one server: a session cookie, a CSRF cookie, a bearer token."""

    label: str
    port: int
    session: str
    token: str
    csrf: str = field(default_factory=lambda: secrets.token_hex(16))  # 32 characters
    draft_path: str = ""

    def _cookies(self) -> str:
        return f"sessionid={self.session}; csrftoken={self.csrf}"

    def get(self, path: str, *, expect: int = 200, encoding: str = "") -> Response:
        if path.startswith("/api/"):
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            headers["Accept-Encoding"] = BROWSER["Accept-Encoding"]
        else:
            headers = {**BROWSER, "Cookie": self._cookies()}
        if encoding:
            headers["Accept-Encoding"] = encoding
        return self._check(request(self.port, "GET", path, headers), path, expect)

    def post(self, path: str, data: dict[str, str], *, expect: int) -> Response:
        headers = {
            **BROWSER,
            "Cookie": self._cookies(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"http://127.0.0.1:{self.port}",
        }
        body = urlencode({"csrfmiddlewaretoken": self.csrf, **data}).encode()
        return self._check(request(self.port, "POST", path, headers, body), path, expect)

    def _check(self, response: Response, path: str, expect: int) -> Response:
        if response.status != expect:
            raise BenchError(
                f"{self.label}: {path} answered {response.status}, expected {expect} "
                f"(see the server log)"
            )
        return response

    def floor_status(self) -> int:
        try:
            return request(
                self.port, "GET", PAGES["floor"], {**BROWSER, "Cookie": self._cookies()}
            ).status
        except OSError:
            return 0

    def start_wizard(self) -> None:
        """A draft of the arbitrary secret wizard, whose Details step is then POSTed."""
        started = self.post(f"/wizards/{WIZARD_KIND}/start/", {}, expect=302)
        location = started.header("Location")
        if f"/{WIZARD_STEP}/" not in location:
            raise BenchError(f"{self.label}: the wizard started at {location!r}")
        self.draft_path = location

    def wizard_post(self) -> Response:
        """The Details step with valid input: the draft is saved and the answer is 302."""
        return self.post(
            self.draft_path,
            {
                "name": "bench-wizard-secret",
                "description": "Entered by the benchmark",
                "secret_group": "default",
                "labels": "bench, wizard",
                "custom_metadata": "",
                "version_custom_metadata": "",
            },
            expect=302,
        )

    def measure(self, figure: str) -> float:
        if figure == "wizard_post":
            return self.wizard_post().ms
        return self.get(PAGES[figure]).ms


def first_load(client: Client) -> dict[str, object]:
    """The list page as a browser first loads it: the HTML and every static file it names,
    with the encodings a browser accepts."""
    page = client.get(PAGES["list"])
    # The references are read from an uncompressed copy, whatever encoding the server chose.
    html = client.get(PAGES["list"], encoding="identity").body
    resources = [
        {
            "path": PAGES["list"],
            "wire_bytes": page.wire_bytes,
            "body_bytes": len(page.body),
            "encoding": page.header("Content-Encoding") or "identity",
        }
    ]
    for path in dict.fromkeys(STATIC_REF.findall(html.decode("utf-8", "replace"))):
        asset = client.get(path)
        resources.append(
            {
                "path": path,
                "wire_bytes": asset.wire_bytes,
                "body_bytes": len(asset.body),
                "encoding": asset.header("Content-Encoding") or "identity",
            }
        )
    return {
        "html_bytes": len(html),
        "total_wire_bytes": sum(int(str(r["wire_bytes"])) for r in resources),
        "resources": resources,
    }


FIGURES = ("floor", "list", "search", "filter", "api_list", "wizard_post")


def run_rounds(
    clients: list[Client], *, rounds: int, warmup: int, seed: int = 13
) -> dict[str, dict[str, list[float]]]:
    """`rounds` rounds; in each, every figure of every size once, in a shuffled order, so that
    the machine's load drifts alike over all of them. Returns samples[size label][figure], the
    i-th sample of every list taken in round i."""
    rng = random.Random(seed)
    samples: dict[str, dict[str, list[float]]] = {
        c.label: {f: [] for f in FIGURES} for c in clients
    }
    for number in range(warmup + rounds):
        work = [(c, f) for c in clients for f in FIGURES]
        rng.shuffle(work)
        for client, figure in work:
            ms = client.measure(figure)
            if number >= warmup:
                samples[client.label][figure].append(ms)
    return samples


def spread(values: list[float]) -> dict[str, float]:
    """Median, 90th percentile (nearest rank), min and max."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, -(-9 * len(ordered) // 10) - 1))
    return {
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[rank], 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }
