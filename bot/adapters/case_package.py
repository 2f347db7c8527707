"""The data protection officer's export of one case, as one zip file.

- `case.json`: every row the database holds about the case, table by table
  (bot/adapters/db/case_export.py), with the referral as submitted;
- `summary.csv`: the same, readable in a spreadsheet, one value per line, each line saying
  whom it is about — the child, a family member or another third party, a professional,
  or the process — so that a response to a subject access request can redact third
  parties' information;
- the documents the bot generates for the case (the rapid review record, the meeting
  invitation) as they would be downloaded now;
- `READ ME.txt`: what the file is, its protective marking and "do not forward".
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

# Whom a referral field is about, by the start of its path; the first match wins.
ABOUT_REFERRAL = (
    ("children.family_members", "family member / third party"),
    ("children.children", "child"),
    ("children.", "family member / third party"),
    ("referrer.", "professional (the referrer)"),
    ("incident.summary", "free text: may name the child, family members and third parties"),
    ("views.", "free text: may name the child, family members and third parties"),
    ("incident.incident_location", "child / family (where)"),
)
FREE_TEXT_COLUMNS = {"rationale", "text", "answer", "question", "criteria_explanation", "outcome"}
TABLE_ABOUT = {
    "votes": "professional (a panel member's vote and reasons)",
    "queries": "professional (the panel's questions and the referrer's answers; may name third parties)",
    "events": "process (the audit trail: who did what, when)",
    "deadlines": "process",
    "reminders": "process",
    "case_anchors": "process",
    "agency_requests": "process (agencies asked for information)",
    "meetings": "process (the meeting; the outcome may name third parties)",
    "outbox": "process (messages the bot sent or will send)",
    "outbox_sends": "process (each message as Teams received it, with its activity id)",
    "cases": "process",
}


def _about_referral(path: str) -> str:
    return next((about for prefix, about in ABOUT_REFERRAL if path.startswith(prefix)), "process")


def _flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _flatten(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _flatten(inner, f"{path}[{index}]")
    else:
        yield path, value


def _summary_rows(tables: Mapping[str, list[dict[str, Any]]]) -> Iterator[tuple[str, str, str, str]]:
    for case in tables.get("cases", []):
        referral = case.get("referral") or {}
        for path, value in _flatten(referral):
            yield "referral", path, "" if value is None else str(value), _about_referral(path)
    for table, rows in tables.items():
        for number, row in enumerate(rows, start=1):
            for column, value in row.items():
                if table == "cases" and column == "referral":
                    continue
                text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
                about = TABLE_ABOUT.get(table, "process")
                if column in FREE_TEXT_COLUMNS and table not in ("events", "outbox"):
                    about = f"{about} — free text"
                yield f"{table} {number}", column, "" if value is None else text, about


def summary_csv(tables: Mapping[str, list[dict[str, Any]]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["where", "field", "value", "about"])
    writer.writerows(_summary_rows(tables))
    return out.getvalue().encode("utf-8-sig")  # with a BOM, so Excel reads it as UTF-8


def read_me(reference: str, marking: str, exported_at: datetime, exported_by: str) -> bytes:
    return (
        f"{marking}\n\nExport of case {reference}, made {exported_at.isoformat(timespec='minutes')} for "
        f"{exported_by} (data protection officer).\n\n"
        "case.json holds every record the Rapid Review bot keeps about this case, table by table.\n"
        "summary.csv holds the same, one value per line; its 'about' column says whom each value is about,\n"
        "so that information about family members and other third parties can be redacted before any of it\n"
        "is disclosed (for example in answer to a subject access request).\n"
        "The documents are those the bot generates for the case, as they would be produced today.\n\n"
        "Do not forward or copy this file. It holds identifying details of a child and family.\n"
    ).encode()


def case_package(*, reference: str, tables: Mapping[str, list[dict[str, Any]]], documents: Mapping[str, bytes],
                 marking: str, exported_at: datetime, exported_by: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("READ ME.txt", read_me(reference, marking, exported_at, exported_by))
        archive.writestr("case.json", json.dumps({"reference": reference, "marking": marking,
                                                  "exported_at": exported_at.isoformat(), "tables": tables},
                                                 ensure_ascii=False, indent=2, default=str))
        archive.writestr("summary.csv", summary_csv(tables))
        for name, body in documents.items():
            archive.writestr(f"documents/{name}", body)
    return buffer.getvalue()
