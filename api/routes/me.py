"""Who am I: the organization and actor a token resolves to (clients check their token here)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from api import context
from shared.errors import NotFound
from shared.services.organizations import get_organization

bp = Blueprint("me", __name__, url_prefix="/api/v1")


@bp.get("/me")
def me():
    org = get_organization(context.org_id())
    if org is None:
        raise NotFound("Organization not found")
    return jsonify({"organization_id": str(org["id"]), "organization_name": org["name"],
                    "actor": context.actor()})
