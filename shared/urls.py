"""Where the HTTP API lives: one prefix for every route, link and document that names it.

The prefix is part of the contract (docs/architecture.md, "HTTP API"): clients, the dashboard's
scripts and the OpenAPI document all use it, so it is spelled once.
"""
from __future__ import annotations

API_V1 = "/api/v1"
CRM_API = f"{API_V1}/crm"
