"""Spreadsheet-formula safety for every CSV we write (CSV injection, OWASP).

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, in some, tab or carriage
return) as a formula: an exported name like `=HYPERLINK("http://evil", "click")` would act when
the file is opened. Such a cell is written with a leading `'`, which spreadsheets show as text.

The escape must be undone exactly on the way back in (`"unescape_formulas": true` in a CSV
mapping), so it is defined on the text after any leading apostrophes: a value that already starts
with `'=` gets one more `'` too, and restore_cell() strips exactly one. Without that, a stored
`'=x` would come back as `=x`.

The rule exists twice, in Python (inert_cell) and as SQL (inert_sql, for CSV that Postgres writes
itself); both are built from FORMULA_TRIGGERS so they cannot drift apart.
"""
from __future__ import annotations

from psycopg import sql

FORMULA_TRIGGERS = frozenset("=+-@\t\r")
ESCAPE = "'"

# "^'*[...]" with "-" last in the bracket, where it is a literal rather than a range
_SQL_PATTERN = "^" + ESCAPE + "*[" + "".join(sorted(FORMULA_TRIGGERS, key=lambda c: c == "-")) \
    + "]"


def _starts_a_formula(text: str) -> bool:
    first = text.lstrip(ESCAPE)[:1]
    return first != "" and first in FORMULA_TRIGGERS


def inert_cell(value: str) -> str:
    """The cell as written: a leading `'` when a spreadsheet would otherwise run it."""
    return ESCAPE + value if _starts_a_formula(value) else value


def restore_cell(cell: str) -> str:
    """The inverse of inert_cell, for importers told `unescape_formulas`."""
    return cell[1:] if cell.startswith(ESCAPE) and _starts_a_formula(cell) else cell


def inert_sql(text: sql.Composable) -> sql.Composable:
    """inert_cell as a Postgres expression over a text value (NULL stays NULL).

    `text` is referenced three times, so pass a column, not an expression to compute. The first
    character test is cheap and rules out almost every cell before the regular expression runs.
    """
    firsts = sql.SQL(", ").join(sql.Literal(c) for c in sorted(FORMULA_TRIGGERS | {ESCAPE}))
    return sql.SQL("CASE WHEN left({v}, 1) IN ({firsts}) AND {v} ~ {pattern} "
                   "THEN {escape} || {v} ELSE {v} END").format(
        v=text, firsts=firsts, pattern=sql.Literal(_SQL_PATTERN), escape=sql.Literal(ESCAPE))
