"""`drippulse convert --source S PATH… -o bundle.json`: another system's export turned into a
bundle on this machine, with the converter the server runs, and no server.

Useful to look at what an import would write before running it, or to edit the bundle first.
Rows stream to one temporary NDJSON file per entity and are then assembled into the bundle, so
memory stays flat whatever the export's size. Rows the converter refuses are left out and
reported with their file and row; the exit code is 0, 2 when rows were left out, 1 when the
export cannot be converted at all.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from drippulse import interop_inputs, interop_render
from drippulse.client import IMPORT_SOURCES
from drippulse.cliutil import EXIT_FAILED, EXIT_OK, EXIT_WITH_ERRORS
from drippulse.progress import ENTITY_ORDER
from shared.interop import registry
from shared.interop.source import ROW_ERROR, ConversionError, ConvertedRow, Report

FIRST_ERRORS = 20


class BundleWriter:
    """Rows in, one entity per temporary NDJSON file; `finish` writes the bundle through a
    .part file renamed when complete (a failed run leaves no half bundle behind)."""

    def __init__(self) -> None:
        self._spools: dict[str, IO[str]] = {}
        self.counts = dict.fromkeys(ENTITY_ORDER, 0)

    def add(self, entity: str, row: dict[str, Any]) -> None:
        spool = self._spools.get(entity)
        if spool is None:
            spool = self._spools[entity] = tempfile.TemporaryFile(
                "w+", encoding="utf-8", prefix=f"drippulse-{entity}-")
        # internal keys (ROW_ERROR, ORIGIN) start with a NUL: they never reach the bundle
        clean = {k: v for k, v in row.items() if not k.startswith("\x00")}
        spool.write(json.dumps(clean, ensure_ascii=False, default=str) + "\n")
        self.counts[entity] += 1

    def finish(self, dest: Path) -> None:
        part = dest.with_name(dest.name + ".part")
        try:
            with part.open("w", encoding="utf-8") as out:
                out.write('{"version": 1')
                for entity in ENTITY_ORDER:
                    out.write(f',\n"{entity}": [')
                    self._copy_rows(self._spools.get(entity), out)
                    out.write("]")
                out.write("}\n")
            os.replace(part, dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    @staticmethod
    def _copy_rows(spool: IO[str] | None, out: IO[str]) -> None:
        if spool is None:
            return
        spool.seek(0)
        separator = "\n"
        for line in spool:
            out.write(separator + line.rstrip("\n"))
            separator = ",\n"
        out.write("\n")

    def close(self) -> None:
        for spool in self._spools.values():
            spool.close()
        self._spools.clear()


class ErrorLog:
    """Refused rows: the first ones on stderr, all of them in --errors-out when asked."""

    def __init__(self, errors_out: str | None) -> None:
        self.count = 0
        self._out = open(errors_out, "w", encoding="utf-8") if errors_out else None  # noqa: SIM115

    def add(self, item: ConvertedRow) -> None:
        self.count += 1
        error = item.row.get(ROW_ERROR) or {}
        where = interop_render.origin_text(item.origin) or item.entity
        field = f" {error['field']}" if error.get("field") else ""
        if self.count <= FIRST_ERRORS:
            print(f"error: {where}: {item.entity}{field}: {error.get('message')}",
                  file=sys.stderr)
        if self._out is not None:
            record = {"entity": item.entity, **item.origin,
                      "external_id": item.row.get("external_id"), **error}
            self._out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        if self.count > FIRST_ERRORS:
            print(f"error: … {self.count - FIRST_ERRORS} more rows refused"
                  + ("" if self._out else " (all of them: --errors-out FILE)"), file=sys.stderr)
        if self._out is not None:
            self._out.close()


def _options(args: argparse.Namespace, files: list[interop_inputs.LocalFile]
             ) -> tuple[dict[str, Any], list[interop_inputs.LocalFile]]:
    """The converter's options, and the files it reads. With --mapping the mapping is an
    option and every mapping.json among the inputs is left out, as in an upload; without it
    the CSV converter finds a mapping.json among the files itself."""
    if args.source != "csv" or not args.mapping:
        return {}, files
    mapping = interop_inputs.read_mapping(args.mapping)
    return {"mapping": mapping}, interop_inputs.without_mapping(files, args.mapping)


def _convert(rows: Iterable[ConvertedRow], writer: BundleWriter, errors: ErrorLog) -> None:
    for item in rows:
        if ROW_ERROR in item.row:
            errors.add(item)
        elif item.entity not in writer.counts:
            raise ConversionError("unknown_entity", f"the converter produced a row of "
                                  f"{item.entity!r}, which a bundle cannot hold")
        else:
            writer.add(item.entity, item.row)


def _print_report(report: Report) -> None:
    if report.warnings:
        for warning in report.warnings:
            print("warning: " + interop_render.format_warning(warning), file=sys.stderr)
    if report.dropped_warnings:
        print(f"warning: … {report.dropped_warnings} more warnings not kept", file=sys.stderr)
    if report.stages:
        print("source stages: " + ", ".join(f"{s.name} ({s.kind})" for s in report.stages),
              file=sys.stderr)


def cmd_convert(args: argparse.Namespace) -> int:
    if args.mapping and args.source != "csv":
        args.usage_error("--mapping applies to --source csv only")
    writer, errors, report = BundleWriter(), ErrorLog(None), Report()
    try:
        errors = ErrorLog(args.errors_out)
        files = interop_inputs.collect(args.paths)
        options, files = _options(args, files)
        converter = registry.converter_for(args.source)
        _convert(converter(interop_inputs.LocalSourceFiles(files), report, options),
                 writer, errors)
        _print_report(report)
        writer.finish(Path(args.output))
    except ConversionError as exc:
        _print_report(report)
        print(f"drippulse: cannot convert: {exc.message} ({exc.code})", file=sys.stderr)
        return EXIT_FAILED
    except (interop_inputs.InputError, OSError) as exc:
        print(f"drippulse: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        errors.close()
        writer.close()
    counts = ", ".join(f"{name} {count:,}" for name, count in writer.counts.items())
    left_out = (f"; {errors.count:,} row{'s' if errors.count != 1 else ''} with errors "
                "left out" if errors.count else "")
    print(f"wrote {args.output}: {counts}{left_out}")
    return EXIT_WITH_ERRORS if errors.count else EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="turn another system's export into a bundle, locally",
                       description="Run the converter an import --source runs, on this "
                       "machine, and write the bundle it makes. Rows it refuses are left out "
                       "and listed on stderr with their file and row. Exit code: 0, 2 when "
                       "rows were left out, 1 when the export cannot be converted.")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="directories, files or .zip files of the export")
    p.add_argument("--source", required=True, choices=IMPORT_SOURCES,
                   help="the system the files come from")
    p.add_argument("--mapping", metavar="FILE",
                   help="with --source csv: the JSON mapping of columns to fields")
    p.add_argument("-o", "--output", required=True, help="the bundle file to write (.json)")
    p.add_argument("--errors-out", metavar="FILE",
                   help="write each refused row's error as a JSON line to FILE")
    p.set_defaults(handler=cmd_convert, usage_error=p.error)
