"""What the columns of a HubSpot CRM UI export mean, and which object a file holds.

HubSpot writes headers in the exporting user's language ("Record ID" / "ID de registro"), so the
columns the converter maps are known by a key with their labels in English and a few other
languages, compared ignoring case. Every column not listed here is kept in custom_fields under
its own header.
"""
from __future__ import annotations

import re

COMPANIES, CONTACTS, DEALS = "companies", "contacts", "deals"
ENTITY_OF = {COMPANIES: "accounts", CONTACTS: "contacts", DEALS: "opportunities"}

LABELS: dict[str, tuple[str, ...]] = {
    "record_id": ("Record ID", "ID de registro", "ID de l'enregistrement", "Datensatz-ID",
                  "ID do registro"),
    "company_name": ("Company name", "Nombre de la empresa", "Nom de l'entreprise",
                     "Firmenname", "Nome da empresa"),
    "domain": ("Company Domain Name", "Nombre de dominio de la empresa",
               "Nom de domaine de l'entreprise", "Domainname des Unternehmens"),
    "industry": ("Industry", "Sector", "Secteur d'activité", "Branche"),
    "phone": ("Phone Number", "Número de teléfono", "Numéro de téléphone", "Telefonnummer"),
    "employees": ("Number of Employees", "Número de empleados", "Nombre d'employés",
                  "Anzahl der Mitarbeiter"),
    "revenue": ("Annual Revenue", "Ingresos anuales", "Chiffre d'affaires annuel",
                "Jahresumsatz"),
    "website": ("Website URL", "URL del sitio web", "URL du site web", "Website-URL"),
    "description": ("Description", "Descripción", "Beschreibung"),
    "first_name": ("First Name", "Nombre", "Prénom", "Vorname"),
    "last_name": ("Last Name", "Apellidos", "Nom", "Nachname"),
    "email": ("Email", "Correo", "Correo electrónico", "E-mail", "E-Mail"),
    "job_title": ("Job Title", "Cargo", "Intitulé du poste", "Berufsbezeichnung"),
    "deal_name": ("Deal Name", "Nombre del negocio", "Nom de la transaction", "Deal-Name"),
    "deal_stage": ("Deal Stage", "Etapa del negocio", "Phase de la transaction", "Deal-Phase"),
    "amount": ("Amount", "Importe", "Montant", "Betrag"),
    "currency": ("Currency", "Moneda", "Devise", "Währung"),
    "close_date": ("Close Date", "Fecha de cierre", "Date de fermeture", "Abschlussdatum"),
    "create_date": ("Create Date", "Fecha de creación", "Date de création", "Erstelldatum"),
    "modified_date": ("Last Modified Date", "Fecha de última modificación",
                      "Date de dernière modification", "Zuletzt geändert am"),
    "primary_company": ("Associated Company IDs (Primary)",
                        "ID de empresas asociadas (principal)"),
    "company_ids": ("Associated Company IDs", "ID de empresas asociadas"),
    "contact_ids": ("Associated Contact IDs", "ID de contactos asociados"),
}
_KEY_OF_LABEL = {label.casefold(): key for key, labels in LABELS.items() for label in labels}

_COMMON = {"create_date": "created_at", "modified_date": "updated_at"}
# key → bundle field, per object
FIELDS: dict[str, dict[str, str]] = {
    COMPANIES: {"company_name": "name", "domain": "domain", "industry": "industry",
                "phone": "phone", "employees": "employee_count", "revenue": "annual_revenue",
                "website": "website", "description": "description", **_COMMON},
    CONTACTS: {"first_name": "first_name", "last_name": "last_name", "email": "email",
               "phone": "phone", "job_title": "title", **_COMMON},
    DEALS: {"deal_name": "name", "amount": "amount", "currency": "currency",
            "close_date": "close_date", "deal_stage": "pipeline_stage_name", **_COMMON},
}

_NAME_HINTS = ((COMPANIES, "compan"), (CONTACTS, "contact"), (DEALS, "deal"))
_WON = {"closedwon", "cerradoganado", "gagné", "gewonnen"}
_LOST = {"closedlost", "cerradoperdido", "perdu", "verloren"}
_SEPARATORS = re.compile(r"[\s_\-]+")


def column_key(header: str) -> str | None:
    return _KEY_OF_LABEL.get(header.strip().casefold())


def object_from_name(name: str) -> str | None:
    """The object a file's name names ("...-all-companies-2024-05-02.csv"), when it names
    exactly one."""
    base = name.rsplit("/", 1)[-1].casefold()
    named = [obj for obj, hint in _NAME_HINTS if hint in base]
    return named[0] if len(named) == 1 else None


def object_from_header(header: list[str]) -> str | None:
    keys = {column_key(h) for h in header}
    if keys & {"deal_name", "deal_stage"}:
        return DEALS
    # a contact export may carry a "Company name" property; a company export has no person's
    # name nor email
    if keys & {"first_name", "last_name", "email"}:
        return CONTACTS
    if "company_name" in keys:
        return COMPANIES
    return None


def stage_kind(label: str) -> str:
    """won / lost for HubSpot's closed stages (UI labels or internal ids), else open."""
    key = _SEPARATORS.sub("", label.casefold())
    if key in _WON:
        return "won"
    if key in _LOST:
        return "lost"
    return "open"
