"""Verdict records: the gate's verdict on a merge commit, kept as a git note on it.

A note lives under ``refs/notes/diva``, outside every branch: writing it changes no
commit, so the protected default branch stays the team's, and the notes ref travels
with ``git push origin refs/notes/diva`` / ``git fetch origin refs/notes/diva:refs/notes/diva``.
Each note is one JSON object (:func:`diva.lifecycle.history.record_of`). Reading all of
them costs two git processes however many there are: ``git notes list`` and one
``git cat-file --batch``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diva import tools
from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.git import blobs, git

NOTES_REF = "refs/notes/diva"


def write(root: Path, commit: str, record: dict[str, Any]) -> None:
    """Keep ``record`` as the note on ``commit`` (replacing an earlier one: the gate
    judged the same commit again)."""
    text = json.dumps(record, sort_keys=True, indent=2) + "\n"
    tools.run(
        ["git", "notes", f"--ref={NOTES_REF}", "add", "--force", "--file=-", commit],
        cwd=root,
        error=UnreachableError,
        input=text,
    )


def read_all(root: Path) -> dict[str, dict[str, Any]]:
    """Every record, by the commit it is on; a note that is not a record is skipped
    (a person may annotate a commit by hand)."""
    listing = git(root, "notes", f"--ref={NOTES_REF}", "list", check=False)
    pairs = [line.split() for line in listing.splitlines() if len(line.split()) == 2]
    texts = blobs(root, [note for note, _ in pairs])
    records: dict[str, dict[str, Any]] = {}
    for (_, commit), raw in zip(pairs, texts, strict=True):
        record = _parse(raw)
        if record is not None:
            records[commit] = record
    return records


def _parse(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("diva") == 1 else None
