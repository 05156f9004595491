"""Import files and folders of documents, with metadata from a manifest or options."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents import cleanup, extract, refusals, services

MANIFEST_NAMES = {"manifest.json", "manifest.csv"}


@dataclass
class _Source:
    """A file to import: where it came from, its bytes (or why it cannot be read)."""

    label: str
    path: Path | None = None
    data: bytes | None = None
    error: str = ""
    row: dict[str, Any] | None = None


@dataclass
class _Results:
    imported: int = 0
    duplicates: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Rows of a manifest (JSON: a list of objects, or {"documents": [...]}; CSV with a header
    row). Each row names its `file`, relative to the manifest's folder."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"The manifest {path} cannot be read: {exc.strerror}.") from None
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CommandError(f"The manifest {path} is not UTF-8 text.") from None
    rows: Any
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(content)))
    else:
        try:
            rows = json.loads(content)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"The manifest {path} is not valid JSON (line {exc.lineno}: {exc.msg})."
            ) from None
        if isinstance(rows, dict):
            rows = rows.get("documents")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise CommandError(
            f"The manifest {path} must be a list of rows, one object per file with at least "
            '"file" (e.g. [{"file": "report.pdf", "title": "…"}]).'
        )
    for number, row in enumerate(rows, start=1):
        if not str(row.get("file") or "").strip():
            raise CommandError(f"Row {number} of the manifest {path} names no file.")
        # CSV cells are all text; empty ones mean "not given".
        for key in list(row):
            if row[key] == "":
                del row[key]
    return rows


class _ProgressBar:
    """A one-line progress bar on a terminal; nothing at all when output is redirected."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.enabled = stream.isatty() and total > 1
        self.done = 0

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = width * self.done // self.total
        name = label if len(label) <= 40 else "…" + label[-39:]
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {name:<40}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 90 + "\r")
            self.stream.flush()


class Command(BaseCommand):
    help = (
        "Import documents from files and folders (searched recursively): plain text, "
        "Markdown, HTML, PDF, Word (.docx) and zip archives of them. Metadata comes from "
        "--manifest, then from the defaults given as options, else from the file. A text "
        "already stored is reported as a duplicate, so importing a folder again changes "
        "nothing. Exit status 1 when any file failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", metavar="PATH", help="Files or folders.")
        parser.add_argument(
            "--manifest",
            type=Path,
            help="CSV or JSON file with one row per file: file, title, organisation, author, "
            "source_url, published (YYYY[-MM[-DD]]), date_precision, language, document_type, "
            "notes. Files it names are imported even when no PATH is given.",
        )
        parser.add_argument("--organisation", default="", help="Default organisation.")
        parser.add_argument("--author", default="", help="Default author.")
        parser.add_argument("--language", default="", help="Default language (BCP 47 tag).")
        parser.add_argument(
            "--document-type", default="", help="Default document type, e.g. report."
        )
        parser.add_argument("--source-url", default="", help="Default source URL.")
        parser.add_argument(
            "--clean",
            nargs="?",
            const="all",
            default="",
            metavar="KINDS",
            help="Strip the noise the clean-up finds: all of it, or only the kinds listed, "
            f"separated by commas ({', '.join(cleanup.KINDS)}). Without it nothing is "
            "stripped and the suggestions are only recorded.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Store nothing: show, file by file and paragraph by paragraph, what would be "
            "imported and what the clean-up would remove.",
        )
        parser.add_argument(
            "--user", default="", help="Username recorded as the importer (default: none)."
        )
        parser.add_argument(
            "--project",
            type=int,
            default=None,
            metavar="ID",
            help="The project to import into (needed when there is more than one).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        defaults = {
            name: options[name]
            for name in ("organisation", "author", "language", "document_type", "source_url")
            if options[name]
        }
        try:
            services.DocumentMetadata.from_mapping(defaults)
        except ValidationError as exc:
            raise CommandError(refusals.one_line(exc)) from None
        options["clean"] = self._clean_choice(options["clean"])
        user = self._user(options["user"])
        try:
            options["project"] = services.importing_into(user, options["project"])
        except (ValidationError, PermissionDenied) as exc:
            message = str(exc) if isinstance(exc, PermissionDenied) else refusals.one_line(exc)
            raise CommandError(f"--project: {message}") from None
        if not options["paths"] and not options["manifest"]:
            raise CommandError("Give files or folders to import, or a --manifest.")
        manifest = read_manifest(options["manifest"]) if options["manifest"] else []
        sources = list(self._sources(options["paths"], options["manifest"], manifest))
        progress = _ProgressBar(sys.stderr, len(sources))
        results = _Results()
        for source in sources:
            for item in self._expand(source):
                self._import_one(item, defaults, user, options, results)
            progress.step(source.label)
        progress.close()
        for line in results.lines:
            self.stdout.write(line)
        verb = "would be imported" if options["dry_run"] else "imported"
        self.stdout.write(
            f"{results.imported} {verb}, {results.duplicates} duplicate"
            f"{'' if results.duplicates == 1 else 's'}, {results.failed} failed."
        )
        if results.failed:
            raise CommandError(
                f"{results.failed} file{'' if results.failed == 1 else 's'} failed.", returncode=1
            )

    def _clean_choice(self, value: str) -> bool | set[str]:
        """--clean's value as document_import's `clean`: False, True or a set of kinds."""
        if not value:
            return False
        if value == "all":
            return True
        kinds = {kind.strip() for kind in value.split(",") if kind.strip()}
        unknown = kinds - set(cleanup.KINDS)
        if unknown or not kinds:
            raise CommandError(
                f"--clean: unknown kind {', '.join(sorted(unknown)) or value!r}; use all, or "
                f"some of: {', '.join(cleanup.KINDS)}."
            )
        return kinds

    def _user(self, username: str) -> User | None:
        if not username:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        return user

    def _sources(
        self, paths: list[str], manifest_path: Path | None, manifest: list[dict[str, Any]]
    ) -> Iterator[_Source]:
        """Every file to import, once, with its manifest row when it has one."""
        base = manifest_path.parent if manifest_path else Path()
        rows: dict[Path, dict[str, Any]] = {}
        for row in manifest:
            rows[(base / str(row["file"]).strip()).resolve()] = row
        seen: set[Path] = set()
        for name in paths:
            path = Path(name)
            if not path.exists():
                yield _Source(name, error=f"{name}: no such file or folder.")
                continue
            files = sorted(path.rglob("*")) if path.is_dir() else [path]
            for file in files:
                relative = file.relative_to(path) if path.is_dir() else Path(file.name)
                if not file.is_file() or any(part.startswith(".") for part in relative.parts):
                    continue
                resolved = file.resolve()
                if resolved in seen or (
                    path.is_dir()
                    and file.name.lower() in MANIFEST_NAMES
                    or (manifest_path is not None and resolved == manifest_path.resolve())
                ):
                    continue
                seen.add(resolved)
                yield _Source(str(file), path=file, row=rows.get(resolved))
        folder = base.resolve()
        for resolved, row in rows.items():
            if resolved in seen:
                continue
            if not resolved.is_relative_to(folder):
                # A manifest from someone else must not pull an arbitrary file of this
                # machine (a key, a password file) into the shared corpus.
                yield _Source(
                    str(row["file"]),
                    error=f"{row['file']}: a manifest names files inside its own folder "
                    f"({folder}); this one is outside it, and was not read.",
                )
            elif resolved.is_file():
                seen.add(resolved)
                yield _Source(str(resolved), path=resolved, row=row)
            else:
                yield _Source(
                    str(row["file"]),
                    error=f"{row['file']}: named in the manifest, but there is no such file "
                    f"in {base.resolve()}.",
                )

    def _expand(self, source: _Source) -> Iterator[_Source]:
        """Read the file; a zip archive becomes one source per file in it."""
        if source.error or source.path is None:
            yield source
            return
        try:
            extract.check_size(source.label, source.path.stat().st_size)
            data = source.path.read_bytes()
        except ValidationError as exc:
            yield _Source(source.label, error=refusals.one_line(exc))
            return
        except OSError as exc:
            yield _Source(source.label, error=f"{source.label}: cannot be read ({exc.strerror}).")
            return
        if extract.file_kind(source.label) != "zip":
            yield _Source(source.label, path=source.path, data=data, row=source.row)
            return
        # A manifest row naming an archive gives its files' common metadata, not one title.
        row = {key: value for key, value in (source.row or {}).items() if key != "title"}
        members = 0
        try:
            for member in extract.expand_archive(source.label, data):
                members += 1
                error = refusals.one_line(member.error) if member.error else ""
                # The member's path inside the archive, after the archive's own path.
                inner = member.filename[len(extract.base_name(source.label)) :]
                label = source.label + inner
                yield _Source(label, data=member.data, error=error, row=row)
        except ValidationError as exc:
            yield _Source(source.label, error=refusals.one_line(exc))
        else:
            if not members:
                yield _Source(source.label, error=f"{source.label}: the archive holds no files.")

    def _import_one(
        self,
        source: _Source,
        defaults: dict[str, str],
        user: User | None,
        options: dict[str, Any],
        results: _Results,
    ) -> None:
        if source.error or source.data is None:
            results.failed += 1
            results.lines.append(f"failed     {source.label}: {source.error}")
            return
        upload = services.Upload(filename=source.label, data=source.data)
        try:
            metadata = services.DocumentMetadata.from_mapping({**defaults, **(source.row or {})})
            if options["dry_run"]:
                self._dry_run(upload, metadata, options, results)
                return
            document = services.document_import(
                user=user,
                project=options["project"],
                upload=upload,
                metadata=metadata,
                clean=options["clean"] or None,
            )
        except services.DuplicateDocument as exc:
            results.duplicates += 1
            results.lines.append(
                f"duplicate  {source.label}: duplicate of #{exc.document.pk} ({exc.document.title})"
            )
        except ValidationError as exc:
            results.failed += 1
            results.lines.append(f"failed     {source.label}: {refusals.one_line(exc)}")
        else:
            results.imported += 1
            applied = len(document.import_report.get("cleanup", {}).get("applied", []))
            cleaned = f", {applied} clean-up(s) applied" if applied else ""
            results.lines.append(
                f"imported   {source.label}: #{document.pk} {document.title}{cleaned}"
            )

    def _dry_run(
        self,
        upload: services.Upload,
        metadata: services.DocumentMetadata,
        options: dict[str, Any],
        results: _Results,
    ) -> None:
        clean = options["clean"]
        preview = services.import_preview(
            upload=upload, project=options["project"], metadata=metadata
        )
        if preview.duplicate_of is not None:
            raise services.DuplicateDocument(preview.duplicate_of)
        results.imported += 1
        language = preview.metadata.language or "unknown"
        if preview.metadata.language_detected:
            language += " (detected)"
        results.lines.append(
            f"would import {upload.filename}: {preview.metadata.title!r}, "
            f"{preview.extracted.format}, {len(preview.text)} characters, language {language}"
        )
        for suggestion in preview.suggestions:
            chosen = clean is True or (isinstance(clean, set) and suggestion.kind in clean)
            action = "would remove" if chosen else "could remove (with --clean)"
            results.lines.append(
                f"  {action} [{suggestion.id}] {cleanup.KINDS[suggestion.kind]}: "
                f"{suggestion.reason}"
            )
            if suggestion.kind == cleanup.MARKDOWN:
                removed = suggestion.removed_text(preview.text).strip() or "spaces"
                results.lines.append(
                    f"    ¶{suggestion.paragraph + 1}: the markers {removed!r} in "
                    f"{_shorten(suggestion.paragraphs(preview.text)[0])!r}"
                )
                continue
            for offset, paragraph in enumerate(suggestion.paragraphs(preview.text)):
                results.lines.append(
                    f"    ¶{suggestion.paragraph + offset + 1}: {_shorten(paragraph)!r}"
                )


def _shorten(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
