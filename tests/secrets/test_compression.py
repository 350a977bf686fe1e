"""Compressed HTML (console/compression.py): the Secrets table comes Brotli-compressed to a client
that accepts it, gzipped to one that accepts only gzip; a Reveal, any no-store answer, any POST
and the API's JSON never do."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory
from django.urls import reverse

from console.compression import accepts, may_compress
from tests.factories import create_secret
from tests.secrets.conftest import CANARY

pytestmark = pytest.mark.django_db
BROWSER = {"Accept-Encoding": "gzip, deflate, br"}
GZIP = {"Accept-Encoding": "gzip, deflate"}


def test_the_secrets_table_is_compressed_when_the_client_accepts_it(owner_client, hx):
    for i in range(30):
        create_secret(name=f"compressed-{i:02d}", labels=["team-a", "prod"])
    url = reverse("secrets:list")
    plain = owner_client.get(url)
    assert not plain.has_header("Content-Encoding")
    packed = owner_client.get(url, headers=GZIP)
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"] and "HX-Request" in packed["Vary"]
    body = gzip.decompress(packed.content).decode()
    assert 'id="secret-table"' in body and "compressed-29" in body
    assert len(packed.content) < len(plain.content) / 3
    partial = owner_client.get(url, {"q": "compressed"}, headers={**hx, **GZIP})
    assert partial["Content-Encoding"] == "gzip"
    assert (
        gzip.decompress(partial.content).decode().lstrip().startswith('<section id="secret-table"')
    )


def test_a_browser_that_accepts_brotli_gets_brotli_padded_by_a_random_comment(owner_client, hx):
    for i in range(30):
        create_secret(name=f"brotli-{i:02d}", labels=["team-a"])
    url = reverse("secrets:list")
    plain = owner_client.get(url).content
    paddings = set()
    for _ in range(8):
        packed = owner_client.get(url, headers=BROWSER)
        assert packed["Content-Encoding"] == "br" and "Accept-Encoding" in packed["Vary"]
        assert packed["Content-Length"] == str(len(packed.content))
        body = brotli.decompress(packed.content)
        padded = re.fullmatch(rb"(.*</html>\s*)<!--([A-Za-z0-9_-]{0,100})-->", body, re.S)
        assert padded, body[-200:]
        page, padding = padded.groups()
        assert b"brotli-29" in page and len(page) == len(plain)
        paddings.add(padding)
    assert len(paddings) > 1  # a fresh random length and text each time
    gzipped = owner_client.get(url, headers=GZIP)
    assert len(packed.content) < len(gzipped.content)
    partial = owner_client.get(url, {"q": "brotli"}, headers={**hx, **BROWSER})
    assert partial["Content-Encoding"] == "br"
    assert brotli.decompress(partial.content).lstrip().startswith(b'<section id="secret-table"')
    refused = owner_client.get(url, headers={"Accept-Encoding": "br;q=0, gzip"})
    assert refused["Content-Encoding"] == "gzip"


@pytest.mark.parametrize(
    ("header", "br"),
    [
        ("gzip, deflate, br", True),
        ("br;q=0.5", True),
        ("BR", True),
        ("br;q=0", False),
        ("br;q=0.0, gzip", False),
        ("br;q=x", False),
        ("gzip, deflate", False),
        ("brotli", False),
        ("", False),
    ],
)
def test_which_accept_encoding_headers_accept_brotli(header, br):
    request = RequestFactory().get("/", headers={"Accept-Encoding": header})
    assert accepts(request, "br") is br


def test_a_reveal_is_never_compressed(clients, arbitrary):
    response = clients["SecretsReader"].post(
        reverse("secrets:reveal", args=[arbitrary.pk]),
        {"version": "current", "reason": ""},
        headers=BROWSER,
    )
    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")
    assert CANARY in response.content.decode()


def test_a_page_that_is_never_cached_is_not_compressed(clients, arbitrary):
    response = clients["SecretsReader"].get(
        reverse("secrets:detail", args=[arbitrary.pk]), headers=BROWSER
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert not response.has_header("Content-Encoding")


@pytest.mark.parametrize(
    ("method", "response", "compress"),
    [
        ("GET", HttpResponse("<p>page</p>"), True),
        ("HEAD", HttpResponse("<p>page</p>"), True),
        ("POST", HttpResponse("<p>revealed</p>"), False),
        ("GET", JsonResponse({"payload": "value"}), False),
        ("GET", HttpResponse("<p>x</p>", headers={"Cache-Control": "private, no-store"}), False),
        ("GET", HttpResponse("<p>x</p>", headers={"Cache-Control": "NO-STORE"}), False),
        ("GET", HttpResponse("<p>x</p>", headers={"Cache-Control": "max-age=0"}), True),
    ],
)
def test_which_responses_may_be_compressed(method, response, compress):
    request = RequestFactory().generic(method, "/")
    assert may_compress(request, response) is compress
