"""IBM Cloud regions the embedded cloud accepts (sm-api.md §1.1)."""

from __future__ import annotations

REGIONS: tuple[str, ...] = (
    "us-south",
    "us-east",
    "eu-de",
    "eu-gb",
    "eu-es",
    "jp-tok",
    "jp-osa",
    "au-syd",
    "ca-tor",
    "ca-mon",
    "br-sao",
)
