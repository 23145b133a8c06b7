"""PostfixAdmin 3.3 Fetchmail jobs over the web forms: create, list, delete.

Field names and answers verified against a real 3.3.13 instance (GET
``edit.php?table=fetchmail``; reference sheet §12 had them as unverified):

* Create: ``POST edit.php`` with ``table=fetchmail`` and ``value[mailbox]``,
  ``value[src_server]``, ``value[src_port]``, ``value[src_auth]``, ``value[src_user]``,
  ``value[src_password]``, ``value[src_folder]``, ``value[poll_time]``,
  ``value[fetchall]``, ``value[keep]``, ``value[protocol]``, ``value[usessl]``,
  ``value[sslcertck]``, ``value[active]`` (checkboxes: ``1`` or left out). Success is a
  302 to ``edit.php?table=fetchmail`` (flash "Entry saved in database."); a refusal is
  a 200 with the form again and per-field ``help-block`` messages, e.g.
  ``Invalid value given for mailbox`` or ``Invalid domain name ::1, fails regexp check``.
  PFA stores the password base64-encoded; it is never shown again.
* List: ``list.php?table=fetchmail``. The CSV output has no id column, so the HTML
  table is read instead: one ``<tr>`` per job, cells in header order, and the job id in
  the row's delete form (``name="delete" value="<id>"``). The list is not paged.
* Delete: ``POST delete.php`` with ``table=fetchmail``, ``delete=<id>`` → 302 to the
  list; the next page carries ``flash-info`` "<user> -> <mailbox> deleted." or
  ``flash-error`` "This fetchmail job does not exist!".

The password handed to :func:`add_fetchmail_job` goes into that one POST and nowhere
else: not into exceptions, logs or reprs.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Final

from mailmove.postfixadmin._errors import PostfixAdminError, ProtocolError
from mailmove.postfixadmin._http import PostfixAdminClient

__all__ = [
    "FetchmailJob",
    "FetchmailJobRefused",
    "NewFetchmailJob",
    "add_fetchmail_job",
    "delete_fetchmail_job",
    "list_fetchmail_jobs",
]

NEVER_RUN: Final = "2000-01-01"  # PFA's default for ``date``: the job has not run yet
_FIELD_ERROR_RE: Final = re.compile(
    r'has-error.*?name="value\[(\w+)\]".*?help-block">(.*?)</span>', re.S
)
_FLASH_RE: Final = re.compile(r'<ul class="flash-(info|error)">(.*?)</ul>', re.S)
_LI_RE: Final = re.compile(r"<li>(.*?)</li>", re.S)
_TAG_RE: Final = re.compile(r"<[^>]+>")
# English column headers of the list (we always log in with lang=en).
_COLUMNS: Final = {
    "Mailbox": "mailbox",
    "Server": "src_server",
    "Port": "src_port",
    "Auth Type": "src_auth",
    "User": "src_user",
    "Folder": "src_folder",
    "Poll": "poll_time",
    "Fetch All": "fetchall",
    "Keep": "keep",
    "Protocol": "protocol",
    "SSL active": "usessl",
    "SSL certificate check": "sslcertck",
    "Date": "date",
    "Returned Text": "returned_text",
    "Active": "active",
}


class FetchmailJobRefused(PostfixAdminError):
    """PostfixAdmin refused a job; ``errors`` maps form fields to PFA's messages."""

    def __init__(self, mailbox: str, errors: dict[str, str]) -> None:
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items()) or "no reason given"
        super().__init__(f"PostfixAdmin refused the fetchmail job for {mailbox}: {detail}")
        self.mailbox = mailbox
        self.errors = errors


@dataclass(frozen=True)
class NewFetchmailJob:
    """A job to create: fetch from ``src_server`` into the PFA ``mailbox``."""

    mailbox: str
    src_server: str
    src_user: str
    src_password: str = field(repr=False)
    src_port: int = 0  # 0 = the protocol's default port
    protocol: str = "POP3"
    usessl: bool = True
    sslcertck: bool = True
    keep: bool = True
    fetchall: bool = False
    poll_time: int = 10  # minutes
    active: bool = True
    src_auth: str = "password"
    src_folder: str = ""

    def form(self) -> dict[str, str]:
        data = {
            "table": "fetchmail",
            "value[mailbox]": self.mailbox.lower(),
            "value[src_server]": self.src_server,
            "value[src_port]": str(self.src_port),
            "value[src_auth]": self.src_auth,
            "value[src_user]": self.src_user,
            "value[src_password]": self.src_password,
            "value[src_folder]": self.src_folder,
            "value[poll_time]": str(self.poll_time),
            "value[protocol]": self.protocol,
            "submit": "New entry",
        }
        # A checkbox PFA should store as 0 must be left out of the form (sheet §7c).
        for name in ("fetchall", "keep", "usessl", "sslcertck", "active"):
            if getattr(self, name):
                data[f"value[{name}]"] = "1"
        return data


@dataclass(frozen=True)
class FetchmailJob:
    """One row of PFA's fetchmail list, as the logged-in admin sees it (no password)."""

    id: int
    mailbox: str
    src_server: str
    src_port: int
    src_auth: str
    src_user: str
    src_folder: str
    poll_time: int
    fetchall: bool
    keep: bool
    protocol: str
    usessl: bool
    sslcertck: bool
    date: str  # last run as PFA shows it; NEVER_RUN before the first run
    returned_text: str  # what the fetchmail run printed (empty with fetchmail.pl's syslog)
    active: bool

    @property
    def domain(self) -> str:
        return self.mailbox.rsplit("@", 1)[-1]

    @property
    def has_run(self) -> bool:
        return bool(self.date) and not self.date.startswith(NEVER_RUN)


def add_fetchmail_job(client: PostfixAdminClient, job: NewFetchmailJob) -> None:
    """Create one job; raise :class:`FetchmailJobRefused` with PFA's field messages."""
    resp = client._request("POST", "edit.php", data=job.form())
    if resp.status_code in (301, 302, 303) and "table=fetchmail" in resp.headers.get(
        "Location", ""
    ):
        return
    if resp.status_code == 200:
        errors = {name: _text(message) for name, message in _FIELD_ERROR_RE.findall(resp.text)}
        errors.update({f"error{i}": m for i, m in enumerate(_flashes(resp.text, "error"), 1)})
        raise FetchmailJobRefused(job.mailbox, errors)
    raise ProtocolError(
        f"unexpected HTTP {resp.status_code} creating a fetchmail job at {client.base_url}"
    )


def delete_fetchmail_job(client: PostfixAdminClient, job_id: int) -> None:
    """Delete one job by id; a job that is already gone is an error (PFA says so)."""
    resp = client._request("POST", "delete.php", data={"table": "fetchmail", "delete": job_id})
    if resp.status_code not in (301, 302, 303):
        raise ProtocolError(
            f"unexpected HTTP {resp.status_code} deleting fetchmail job {job_id} "
            f"at {client.base_url}"
        )
    # The outcome is a flash message shown on the next page: read it there.
    page = client._request("GET", "list.php", params={"table": "fetchmail", "reset_search": 1})
    errors = _flashes(page.text, "error")
    if errors:
        raise PostfixAdminError(f"PostfixAdmin did not delete fetchmail job {job_id}: {errors[0]}")


def list_fetchmail_jobs(client: PostfixAdminClient) -> list[FetchmailJob]:
    """Every job the logged-in admin may see (a superadmin sees all domains)."""
    resp = client._request("GET", "list.php", params={"table": "fetchmail", "reset_search": 1})
    if resp.status_code != 200:
        raise ProtocolError(
            f"unexpected HTTP {resp.status_code} from list.php?table=fetchmail at {client.base_url}"
        )
    parser = _ListParser()
    parser.feed(resp.text)
    parser.close()
    if not parser.found_table:
        raise ProtocolError(f"no fetchmail list found at {client.base_url}list.php")
    return [_job(parser.headers, row, job_id) for row, job_id in parser.rows]


# -- parsing ---------------------------------------------------------------------------


def _text(fragment: str) -> str:
    return html.unescape(_TAG_RE.sub("", fragment)).strip()


def _flashes(page: str, kind: str) -> list[str]:
    out: list[str] = []
    for found_kind, block in _FLASH_RE.findall(page):
        if found_kind == kind:
            out += [t for t in (_text(li) for li in _LI_RE.findall(block)) if t]
    return out


def _bool(text: str) -> bool:
    return text.strip().upper() in ("YES", "1", "TRUE")


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip() or 0)
    except ValueError:
        raise ProtocolError(
            f"expected a number for {what} in the fetchmail list, got {text!r}"
        ) from None


def _job(headers: list[str], cells: list[str], job_id: int | None) -> FetchmailJob:
    values: dict[str, str] = {}
    for header, cell in zip(headers, cells, strict=False):
        key = _COLUMNS.get(header)
        if key:
            values[key] = cell
    missing = [c for c in ("mailbox", "src_server", "src_user", "date") if c not in values]
    if missing or job_id is None:
        raise ProtocolError(
            f"the fetchmail list lacks {', '.join(missing) or 'the job id'} (was lang=en ignored?)"
        )
    return FetchmailJob(
        id=job_id,
        mailbox=values["mailbox"].lower(),
        src_server=values["src_server"],
        src_port=_int(values.get("src_port", "0"), "the port"),
        src_auth=values.get("src_auth", ""),
        src_user=values["src_user"],
        src_folder=values.get("src_folder", ""),
        poll_time=_int(values.get("poll_time", "0"), "the poll time"),
        fetchall=_bool(values.get("fetchall", "")),
        keep=_bool(values.get("keep", "")),
        protocol=values.get("protocol", ""),
        usessl=_bool(values.get("usessl", "")),
        sslcertck=_bool(values.get("sslcertck", "")),
        date=values["date"],
        returned_text=values.get("returned_text", ""),
        active=_bool(values.get("active", "")),
    )


class _ListParser(HTMLParser):
    """Cells of ``table#admin_table``: header texts, then each row with its delete id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found_table = False
        self.headers: list[str] = []
        self.rows: list[tuple[list[str], int | None]] = []
        self._depth = 0  # nesting of <table> inside the list table
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._row_id: int | None = None
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            if self._depth or a.get("id") == "admin_table":
                self._depth += 1
                self.found_table = True
            return
        if not self._depth:
            return
        if tag == "tr":
            self._row, self._row_id = [], None
        elif tag == "th":
            self._in_th, self._cell = True, []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "input" and a.get("name") == "delete" and self._row is not None:
            try:
                self._row_id = int(a.get("value") or "")
            except ValueError:
                self._row_id = None

    def handle_endtag(self, tag: str) -> None:
        if not self._depth:
            return
        if tag == "table":
            self._depth -= 1
        elif tag == "th" and self._cell is not None:
            self.headers.append("".join(self._cell).strip())
            self._in_th, self._cell = False, None
        elif tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:  # header rows have th cells only
                self.rows.append((self._row, self._row_id))
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
