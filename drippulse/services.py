"""Resolve the database and broker every command uses (embedded ones when none are configured)."""
from __future__ import annotations

from shared.config import Settings, get_settings, set_settings


def resolved_settings() -> Settings:
    settings = get_settings()
    if settings.database_url is None or settings.redis_url is None:
        from drippulse.embedded import ensure_services

        settings = ensure_services(settings)
        set_settings(settings)
    return settings
