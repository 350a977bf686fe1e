"""Compressed HTML pages, never a response that may carry a secret value.

A browser that accepts Brotli gets Brotli (quality 5: about 12% smaller than gzip for a list
page, in about 0.2 ms); any other client that accepts gzip gets Django's GZipMiddleware. Both
pad each response with up to 100 random bytes against BREACH-style length guessing: gzip in its
header's file name (Django's own mitigation), Brotli, which has no such field, in an HTML
comment at the end of the page. Compression makes a response's length depend on how much
of its text repeats, so an attacker who can both put text into a page (a reflected query
parameter) and watch its compressed length can guess a secret in the same page, a byte at a
time (BREACH). That needs a secret in the body. This middleware therefore compresses only
answers that carry none:

- HTML only (text/html): static files come compressed from WhiteNoise already; the API's
  JSON may hold payloads and stays as it is;
- answers to GET and HEAD only: a POST's answer (a Reveal, a new API key shown once) echoes
  what was just done, values included;
- never a response marked `Cache-Control: no-store` (never_cache and the views that set it:
  Reveal, tokens, wizard steps), the marker of everything that may hold a value;
- never a response that declares `Content-Encoding` already.

The CSRF token in console pages is masked with fresh random bytes on every response, so it
gives a length attack nothing to converge on; the session cookie is a header, never compressed.
"""

from __future__ import annotations

import re
import secrets

import brotli
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.gzip import GZipMiddleware
from django.utils.cache import patch_vary_headers

COMPRESSIBLE_METHODS = frozenset({"GET", "HEAD"})
_DIRECTIVES = re.compile(r"\s*,\s*")
BROTLI_QUALITY = 5  # 4: 8% larger; 7: no smaller and 50% slower; 9 and up: 30x slower
MAX_RANDOM_BYTES = GZipMiddleware.max_random_bytes


def may_compress(request: HttpRequest, response: HttpResponseBase) -> bool:
    if request.method not in COMPRESSIBLE_METHODS:
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    directives = {d.strip().lower() for d in _DIRECTIVES.split(response.get("Cache-Control", ""))}
    return "no-store" not in directives


def accepts(request: HttpRequest, coding: str) -> bool:
    """Whether Accept-Encoding names `coding` with a q-value above 0 (RFC 9110, 12.5.3)."""
    for item in request.META.get("HTTP_ACCEPT_ENCODING", "").split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() != coding:
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def brotli_body(content: bytes) -> bytes:
    """The page with a comment of 0 to 100 random characters after it, Brotli-compressed."""
    padding = secrets.token_urlsafe(MAX_RANDOM_BYTES)[: secrets.randbelow(MAX_RANDOM_BYTES + 1)]
    padded = content + b"<!--" + padding.encode("ascii") + b"-->"
    return bytes(brotli.compress(padded, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY))


class SafeGZipMiddleware(GZipMiddleware):
    """Brotli or gzip for the responses `may_compress` allows (see the module docstring)."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not may_compress(request, response):
            return response
        if (
            isinstance(response, HttpResponse)
            and len(response.content) >= 200
            and not response.has_header("Content-Encoding")
            and accepts(request, "br")
        ):
            patch_vary_headers(response, ("Accept-Encoding",))
            compressed = brotli_body(response.content)
            if len(compressed) >= len(response.content):
                return response
            response.content = compressed
            response.headers["Content-Length"] = str(len(compressed))
            etag = response.get("ETag")
            if etag and etag.startswith('"'):
                response.headers["ETag"] = "W/" + etag  # as GZipMiddleware does (RFC 9110 8.8.1)
            response.headers["Content-Encoding"] = "br"
            return response
        return super().process_response(request, response)
