"""Flask application factory. Every module in api/routes with a `bp` blueprint is registered."""
from __future__ import annotations

import importlib
import pkgutil

from flask import Flask

from api import context, errors, routes
from shared.config import Settings, get_settings, set_settings
from shared.logging_setup import configure_logging


def create_app(settings: Settings | None = None) -> Flask:
    if settings is not None:
        set_settings(settings)
    settings = get_settings()
    settings.check()
    configure_logging(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=None,  # uploads are streamed and limited by the import route itself
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        SESSION_COOKIE_NAME="drippulse_session",
    )
    app.json.sort_keys = False
    errors.register(app)
    context.register(app)
    for module_info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{module_info.name}")
        blueprint = getattr(module, "bp", None)
        if blueprint is not None:
            app.register_blueprint(blueprint)
    return app
