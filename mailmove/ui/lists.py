"""The addresses page's widgets: upload or paste, column mapping, results, review table.

Everything here is per session: files, validation results and edits live in
``st.session_state`` keyed by the file's content hash (never ``st.cache_data``,
which would share one customer's list with another session). A list is validated
once per change, not on every rerun, so 5,000 rows stay responsive. Passwords
reach the browser only for a row the customer reveals on purpose, never in
screen-share mode.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from mailmove.i18n import Lang, Translator, t
from mailmove.lists import (
    EDITABLE,
    MAX_BYTES,
    PASTED,
    Field,
    Kind,
    Layout,
    ListInput,
    ListReadError,
    ListResult,
    Options,
    Table,
    allowed_fields,
    apply_edits,
    column_letter,
    detect_layout,
    display_domain,
    error_report_csv,
    file_label,
    header_cells,
    prepare,
    read_bytes,
    read_text,
    size_text,
    validate,
)

RESULT_KEY = "mm_lists_result"  # the validated model the next steps read
# The grids' own "Download as CSV" would write cells without neutralising formulas (and a
# revealed password): the page offers its own report instead.
_NO_GRID_DOWNLOAD = (
    "<style>[data-testid='stElementToolbarButtonContainer']"
    ":has(button[aria-label='Download as CSV']){display:none}</style>"
)
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx"]
MASK = "••••••••"
_TABLES = "mm_lists_tables"
_VALIDATION = "mm_lists_validation"
_EDITS = "mm_lists_edits"
_VERSION = "mm_lists_version"
_RESULT_FOR = "mm_lists_result_for"
_PREVIEW_ROWS = 5
_COLUMNS_PER_LINE = 6
# Fixed widths (px) of the review table's first columns, so the cells to fix come first.
REVIEW_WIDTHS = {"row": 60, "status": 70, "address": 240, "password": 130}


@dataclass(frozen=True)
class Loaded:
    """A list the customer gave us, read once and remembered by its content hash."""

    kind: Kind
    digest: str
    table: Table


@dataclass(frozen=True)
class Checked:
    """The latest validation and the inputs it ran on (with the customer's edits applied)."""

    result: ListResult
    addresses: ListInput
    forwards: ListInput | None
    key: tuple[Any, ...]


def upload_help(tr: Translator) -> str:
    return tr("lists.upload.addresses_help", max=size_text(MAX_BYTES))


def migration_domains(
    who_domains: tuple[str, ...], is_staff: bool, project_domains: tuple[str, ...] | None
) -> frozenset[str] | None:
    """The project's domains when there is a project; else the customer's own (staff: any)."""
    if project_domains:
        return frozenset(project_domains)
    return None if is_staff else frozenset(who_domains)


def scope_text(tr: Translator, domains: frozenset[str] | None) -> str:
    shown = ", ".join(sorted(display_domain(d) for d in domains)) if domains else ""
    return tr("lists.scope", domains=shown or tr("lists.scope_all"))


def _tables() -> dict[str, Table]:
    tables: dict[str, Table] = st.session_state.setdefault(_TABLES, {})
    return tables


def _load(kind: Kind, digest: str, read: Any, lang: Lang) -> Loaded | None:
    tables = _tables()
    table = tables.get(digest)
    if table is None:
        try:
            table = read()
        except ListReadError as exc:
            st.error(exc.message(lang))
            return None
        tables[digest] = table
    return Loaded(kind, digest, table)


def load_upload(upload: Any, kind: Kind, lang: Lang) -> Loaded | None:
    """An ``st.file_uploader`` value as a table; a bad file shows its message and gives None."""
    if upload is None:
        return None
    data: bytes = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    return _load(kind, digest, lambda: read_bytes(data, upload.name), lang)


def load_pasted(text: str | None, lang: Lang) -> Loaded | None:
    if not text or not text.strip():
        return None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _load("addresses", digest, lambda: read_text(text, PASTED), lang)


def forget_other_files(*keep: Loaded | None) -> None:
    """Drop tables and edits of files the customer has replaced."""
    digests = {k.digest for k in keep if k is not None}
    tables = _tables()
    for digest in [d for d in tables if d not in digests]:
        del tables[digest]
    edits: dict[str, Any] = st.session_state.setdefault(_EDITS, {})
    for digest in [d for d in edits if d not in digests]:
        del edits[digest]


def field_label(tr: Translator, field: Field, kind: Kind) -> str:
    if field == "address" and kind == "forwards":
        return tr("lists.field.source")
    return tr(f"lists.field.{field}")


def mapping_screen(loaded: Loaded, tr: Translator, *, screen_share: bool = False) -> Layout | None:
    """cPanel-style mapping: a header switch and one dropdown per column, pre-filled.

    The preview of the first rows masks every column that is, or looks like, a
    password column, and is left out entirely in screen-share mode.
    """
    table, kind = loaded.table, loaded.kind
    detected = detect_layout(table, kind)
    prefix = f"mm_map_{kind}_{loaded.digest[:16]}"
    label = file_label(table.file, tr.lang)
    unsure = detected.header_row is None or "address" not in detected.fields
    with st.expander(tr("lists.mapping.title", file=label), expanded=unsure):
        st.caption(tr("lists.mapping.intro"))
        header_on = st.toggle(
            tr("lists.mapping.header_toggle"),
            value=detected.header_row is not None,
            key=f"{prefix}_header",
        )
        header_row = (detected.header_row or table.rows[0][0]) if header_on else None
        headings = header_cells(table, Layout(header_row, detected.fields))
        options = list(allowed_fields(kind))
        fields: list[Field] = []
        for start in range(0, table.width, _COLUMNS_PER_LINE):
            line = st.columns(_COLUMNS_PER_LINE)
            for offset, col in enumerate(line):
                index = start + offset
                if index >= table.width:
                    break
                letter = column_letter(index)
                heading = headings[index].strip()
                text = (
                    tr("lists.mapping.column", letter=letter, header=heading[:40])
                    if heading
                    else tr("lists.mapping.column_plain", letter=letter)
                )
                guess = detected.fields[index] if index < len(detected.fields) else "ignore"
                fields.append(
                    col.selectbox(
                        text,
                        options,
                        index=options.index(guess),
                        format_func=lambda f: field_label(tr, f, kind),
                        key=f"{prefix}_{index}",
                    )
                )
        if not screen_share:
            secret = {
                i
                for i, f in enumerate(fields)
                if f == "password"
                or (i < len(detected.fields) and detected.fields[i] == "password")
            }
            st.caption(tr("lists.mapping.preview"))
            st.dataframe(_preview(table, header_row, secret), hide_index=True)
    doubled = [f for f in set(fields) if f not in ("ignore", "targets") and fields.count(f) > 1]
    if doubled:
        st.error(tr("lists.mapping.duplicate", field=field_label(tr, doubled[0], kind)))
        return None
    if "address" not in fields:
        st.error(tr("lists.read.no_address_column"))
        return None
    return Layout(header_row, tuple(fields))


def _preview(table: Table, header_row: int | None, secret: set[int]) -> pd.DataFrame:
    rows = [cells for n, cells in table.rows if header_row is None or n > header_row]
    width = table.width
    shown = [
        [
            (MASK if cell else "") if i in secret else cell
            for i, cell in enumerate(list(r) + [""] * (width - len(r)))
        ]
        for r in rows[:_PREVIEW_ROWS]
    ]
    letters = [column_letter(i) for i in range(width)]
    return pd.DataFrame(shown, columns=letters, dtype="string")


def _edits(loaded: Loaded) -> dict[int, dict[str, str]]:
    store: dict[str, dict[int, dict[str, str]]] = st.session_state.setdefault(_EDITS, {})
    return store.setdefault(loaded.digest, {})


def validated(
    addresses: Loaded,
    address_layout: Layout,
    forwards: Loaded | None,
    forward_layout: Layout | None,
    options: Options,
    lang: Lang,
) -> Checked | None:
    """Validate once per change of file, mapping, options or edits; reruns reuse the result."""
    version = st.session_state.get(_VERSION, 0)
    key = (
        addresses.digest,
        address_layout,
        forwards.digest if forwards else None,
        forward_layout,
        options,
        version,
    )
    cached: Checked | None = st.session_state.get(_VALIDATION)
    if cached is not None and cached.key == key:
        return cached
    try:
        address_input = apply_edits(
            prepare(addresses.table, "addresses", address_layout), _edits(addresses)
        )
        forward_input = None
        if forwards is not None and forward_layout is not None:
            forward_input = apply_edits(
                prepare(forwards.table, "forwards", forward_layout), _edits(forwards)
            )
    except ListReadError as exc:
        st.error(exc.message(lang))
        return None
    result = validate(address_input, forward_input, options)
    checked = Checked(result, address_input, forward_input, key)
    st.session_state[_VALIDATION] = checked
    return checked


def summary(checked: Checked, tr: Translator) -> None:
    st.html(_NO_GRID_DOWNLOAD)
    result = checked.result
    rows = len(checked.addresses.records) + (
        len(checked.forwards.records) if checked.forwards else 0
    )
    bad_rows = len({(i.file, i.row) for i in result.errors})
    metrics = (
        ("lists.summary.rows", rows),
        ("lists.summary.mailboxes", len(result.mailboxes)),
        ("lists.summary.forwards", len(result.forwards)),
        ("lists.summary.error_rows", bad_rows),
        ("lists.summary.warnings", len(result.warnings)),
    )
    for col, (key, value) in zip(st.columns(len(metrics)), metrics, strict=True):
        col.metric(tr(key), value)
    if result.ok:
        st.success(tr("lists.all_ok"))


def issue_table(issues: tuple[Any, ...], lang: Lang) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("lists.col.file", lang): [file_label(i.file, lang) for i in issues],
            t("lists.col.row", lang): [str(i.row or "") for i in issues],
            t("lists.col.column", lang): [i.column for i in issues],
            t("lists.col.message", lang): [i.message(lang) for i in issues],
        },
        dtype="string",
    )


def findings(checked: Checked, tr: Translator) -> None:
    """Errors first (these rows will not be created), then what we changed on the way."""
    result = checked.result
    if result.errors:
        st.subheader(tr("lists.errors.title"))
        st.caption(tr("lists.errors.intro"))
        with st.container(key="mm_lists_errors"):
            st.dataframe(issue_table(result.errors, tr.lang), hide_index=True)
    if result.warnings:
        with st.expander(f"{tr('lists.warnings.title')} ({len(result.warnings)})"):
            st.dataframe(issue_table(result.warnings, tr.lang), hide_index=True)


def _messages_by_row(issues: tuple[Any, ...], file: str, lang: Lang) -> dict[int, list[str]]:
    by_row: dict[int, list[str]] = {}
    for issue in issues:
        if issue.file == file and issue.row:
            by_row.setdefault(issue.row, []).append(issue.message(lang))
    return by_row


def review(
    loaded: Loaded,
    checked: Checked,
    tr: Translator,
    *,
    screen_share: bool = False,
) -> None:
    """The editable review table; edits are kept per row and applied on 'Check again'."""
    lang = tr.lang
    source = checked.addresses if loaded.kind == "addresses" else checked.forwards
    if source is None:
        return
    edits = _edits(loaded)
    shown_input = apply_edits(source, edits)  # includes edits made since the last check
    errors = _messages_by_row(checked.result.errors, source.file, lang)
    warnings = _messages_by_row(checked.result.warnings, source.file, lang)
    st.subheader(tr("lists.review.title", file=file_label(source.file, lang)))
    st.caption(tr("lists.review.intro"))
    st.caption(tr("lists.review.screen_share" if screen_share else "lists.review.reveal_note"))
    only_problems = st.toggle(
        tr("lists.review.only_errors"),
        value=bool(errors),
        key=f"mm_review_filter_{loaded.kind}_{loaded.digest[:16]}",
    )
    records = [
        r for r in shown_input.records if not only_problems or r.row in errors or r.row in warnings
    ]
    version = st.session_state.get(_VERSION, 0)
    mask_key = f"mm_mask_{loaded.digest[:16]}"
    mask_version = st.session_state.get(mask_key, 0)
    editor_key = (
        f"mm_review_{loaded.kind}_{loaded.digest[:16]}_{version}_{mask_version}_{only_problems}"
    )
    reveal = _reveal_picker(loaded, shown_input, tr, screen_share=screen_share)
    fields = [f for f in EDITABLE if f in allowed_fields(loaded.kind)]
    status_col, message_col, row_col = (
        tr("lists.col.status"),
        tr("lists.col.message"),
        tr("lists.col.row"),
    )
    data: dict[str, list[Any]] = {
        row_col: [str(r.row) for r in records],
        status_col: [
            tr("lists.status.error")
            if r.row in errors
            else tr("lists.status.warning")
            if r.row in warnings
            else tr("lists.status.ok")
            for r in records
        ],
    }
    for field in fields:
        if field == "password":
            data[field] = [
                r.password if r.row in reveal else (MASK if r.password else "") for r in records
            ]
        else:
            data[field] = [getattr(r, field) for r in records]
    data[message_col] = [
        " / ".join(errors.get(r.row) or warnings.get(r.row) or []) for r in records
    ]
    frame = pd.DataFrame(data)
    widths = REVIEW_WIDTHS
    config: dict[str, Any] = {
        row_col: st.column_config.TextColumn(
            row_col, disabled=True, width=widths["row"], pinned=True
        ),
        status_col: st.column_config.TextColumn(
            status_col, disabled=True, width=widths["status"], pinned=True
        ),
        message_col: st.column_config.TextColumn(message_col, disabled=True, width="large"),
    }
    for field in fields:
        config[field] = st.column_config.TextColumn(
            field_label(tr, field, loaded.kind), width=widths.get(field)
        )
    with st.container(key=f"mm_review_{loaded.kind}"):
        edited = st.data_editor(
            frame,
            key=editor_key,
            hide_index=True,
            num_rows="fixed",
            column_config=config,
            disabled=[row_col, status_col, message_col],
        )
    changed_password = False
    # Vectorised diff: a 5,000-row table must not cost a Python loop per cell on each rerun.
    before = frame[fields].fillna("").astype(str)
    after = edited[fields].fillna("").astype(str)
    changed = (before != after).to_numpy()
    for pos, col in zip(*changed.nonzero(), strict=True):
        field = fields[col]
        edits.setdefault(records[pos].row, {})[field] = after.iat[pos, col]
        changed_password = changed_password or field == "password"
    if changed_password:
        # Remount the editor so the typed password is masked again right away.
        st.session_state[mask_key] = mask_version + 1
        st.rerun()
    validated_rows = {r.row: r for r in source.records}
    pending = sum(
        1
        for row, change in edits.items()
        for field, value in change.items()
        if getattr(validated_rows.get(row), field, value) != value
    )
    if pending:
        st.info(tr("lists.review.pending", count=pending))


def _reveal_picker(
    loaded: Loaded, source: ListInput, tr: Translator, *, screen_share: bool
) -> set[int]:
    """Rows whose password the customer chose to see; none, and no picker, in screen share."""
    key = f"mm_reveal_{loaded.kind}_{loaded.digest[:16]}"
    if screen_share or "password" not in allowed_fields(loaded.kind):
        st.session_state.pop(key, None)
        return set()
    labels = {r.row: f"{r.row}: {clean_cell(r.address)}" for r in source.records if r.password}
    if not labels:
        return set()
    chosen: list[int] = st.multiselect(
        tr("lists.review.reveal"),
        options=list(labels),
        format_func=labels.__getitem__,
        placeholder=tr("app.choose"),
        key=key,
    )
    return set(chosen)


def clean_cell(text: str) -> str:
    return text.strip()[:60]


def revalidate_button(tr: Translator) -> None:
    if st.button(tr("lists.review.revalidate"), key="mm_lists_revalidate"):
        st.session_state[_VERSION] = st.session_state.get(_VERSION, 0) + 1
        st.rerun()


def continue_and_report(checked: Checked, tr: Translator) -> None:
    """Keep the valid rows for the next step; offer the findings as a CSV for Excel."""
    result = checked.result
    lang = tr.lang
    if st.session_state.get(_RESULT_FOR) != checked.key:
        # The lists changed since "continue": the next steps must not use the old rows.
        st.session_state.pop(RESULT_KEY, None)
    cols = st.columns(2)
    ready = bool(result.mailboxes or result.forwards)
    if cols[0].button(
        tr("lists.continue.button"), type="primary", disabled=not ready, key="mm_lists_continue"
    ):
        st.session_state[RESULT_KEY] = result
        st.session_state[_RESULT_FOR] = checked.key
    kept: ListResult | None = st.session_state.get(RESULT_KEY)
    if kept is not None:
        st.success(
            tr("lists.continue.done", mailboxes=len(kept.mailboxes), forwards=len(kept.forwards))
        )
    elif not ready:
        st.warning(tr("lists.continue.nothing"))
    if result.errors or result.warnings:
        cols[1].download_button(
            tr("lists.report.download"),
            data=lambda: error_report_csv(result, lang),
            file_name="mailmove-list-check.csv",
            mime="text/csv",
            key="mm_lists_report",
        )
