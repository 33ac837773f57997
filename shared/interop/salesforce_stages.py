"""What an opportunity stage means (open, won, lost) and the order the source lists its stages.

A stage's meaning is Salesforce configuration (OpportunityStage: IsClosed, IsWon, SortOrder), not
its label: an org may call its won stage "Signed". So the meaning comes, in this order, from
1. the OpportunityStage picklist when the upload holds it (read before any opportunity),
2. the opportunity's own IsWon / IsClosed (Bulk exports carry them),
3. the standard picklist, where only "Closed Won" and "Closed Lost" are closed (tree exports
   carry neither, so a renamed won stage is taken as open and a warning says so).
Stages are reported in SortOrder when the picklist is there, else in order of first appearance.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.interop.salesforce_values import is_empty, to_bool
from shared.interop.source import MAX_STAGES, Report

STANDARD_CLOSED = {"closed won": "won", "closed lost": "lost"}
STANDARD_OPEN = {"prospecting", "qualification", "needs analysis", "value proposition",
                 "id. decision makers", "perception analysis", "proposal/price quote",
                 "negotiation/review"}


def kind_of(is_won: bool | None, is_closed: bool | None) -> str:
    if is_won:
        return "won"
    return "lost" if is_closed else "open"


class StageMeanings:
    """The stage meanings of one upload; holds one entry per distinct stage, never per row."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self._picklist: dict[str, str] | None = None
        self._warned: set[str] = set()
        # Stages already reported: Report.stage scans its list, and this runs once per row.
        self._reported: set[str] = set()

    @property
    def has_picklist(self) -> bool:
        return self._picklist is not None

    def load_picklist(self, rows: Iterable[dict[str, Any]], file: str) -> None:
        """Read OpportunityStage rows (field names in any case) and report them in SortOrder."""
        entries: list[tuple[float, int, str, list[str], str]] = []
        for index, fields in enumerate(rows):
            if index >= MAX_STAGES:
                self.report.warn("too_many_stages", f"OpportunityStage has more than {MAX_STAGES} "
                                 "stages; the rest are ignored", file=file,
                                 object="OpportunityStage")
                break
            lowered = {k.lower(): v for k, v in fields.items() if not is_empty(v)}
            names = [str(lowered[key]).strip() for key in ("masterlabel", "apiname")
                     if key in lowered and str(lowered[key]).strip()]
            if not names:
                continue
            kind = kind_of(to_bool(lowered.get("iswon")), to_bool(lowered.get("isclosed")))
            entries.append((_sort_key(lowered.get("sortorder")), index, names[0], names, kind))
        picklist = self._picklist if self._picklist is not None else {}
        for _order, _index, label, names, kind in sorted(entries):
            for name in names:
                picklist.setdefault(name.lower(), kind)
            self.report.stage(label, kind)
        self._picklist = picklist

    def status_for(self, stage: Any, is_won: Any, is_closed: Any, file: str) -> str:
        """An opportunity's status; reports its stage (first meaning wins, first seen first)."""
        won, closed = to_bool(is_won), to_bool(is_closed)
        name = stage.strip() if isinstance(stage, str) else ""
        key = name.lower()
        has_flags = won is not None or closed is not None
        if name and self._picklist is not None and key in self._picklist:
            kind = self._picklist[key]
        elif has_flags:
            kind = kind_of(won, closed)
            if name and self._picklist is not None:
                self._warn_once(key, "stage_not_in_picklist",
                                f"stage {name!r} is not in OpportunityStage; its meaning ({kind}) "
                                "comes from the opportunities' IsWon/IsClosed", file)
        elif name:
            kind = STANDARD_CLOSED.get(key, "open")
            if key not in STANDARD_CLOSED and key not in STANDARD_OPEN:
                where = "in OpportunityStage" if self._picklist is not None else \
                    "a standard Salesforce stage (no OpportunityStage in the upload)"
                self._warn_once(key, "stage_meaning_assumed",
                                f"stage {name!r} is not {where} and the opportunity has no "
                                "IsWon/IsClosed: it is taken as open", file)
        else:
            kind = "open"
        if name and key not in self._reported and len(self._reported) < MAX_STAGES:
            self._reported.add(key)
            self.report.stage(name, kind)
        return kind

    def _warn_once(self, key: str, code: str, message: str, file: str) -> None:
        if key in self._warned or len(self._warned) >= MAX_STAGES:
            return
        self._warned.add(key)
        self.report.warn(code, message, file=file, object="Opportunity")


def _sort_key(value: Any) -> float:
    """SortOrder as a number; a stage without one goes after those that have one."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")
