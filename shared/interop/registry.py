"""Which converter serves which `?source=`: imported lazily, so a worker only loads the ones its
jobs use."""
from __future__ import annotations

import importlib

from shared.interop.source import Converter

CONVERTERS = {
    "salesforce": "shared.interop.salesforce:convert",
    "hubspot": "shared.interop.hubspot:convert",
    "csv": "shared.interop.csv_mapped:convert",
}


def converter_for(source: str) -> Converter:
    module, _, name = CONVERTERS[source].partition(":")
    return getattr(importlib.import_module(module), name)
