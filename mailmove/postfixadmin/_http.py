"""PostfixAdmin 3.3 spoken over its own web forms, as an admin would in a browser.

Why HTTP and not the CLI or SQL: it is the only interface a hosting customer has, and
PFA then enforces the admin's own permissions, limits and hooks for us.

Protocol facts this module relies on (see docs/reference postfixadmin.md §7):

* login = GET login.php (token) + POST with ``lang=en``; success is a 302 to main.php;
  login regenerates the session and its CSRF token, so the token is read again from a
  form page afterwards.
* An expired session and a missing role both answer with a 302 to login.php; a stale
  token on a form answers ``Invalid token!``. Hence: log in again and replay once; a
  second 302 means the role is missing.
* ``list.php?output=csv`` starts with a BOM and an empty line, and its columns depend
  on the admin's role, so rows are read by (English) header name.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import requests

from mailmove.postfixadmin._errors import (
    Forbidden,
    LoginFailed,
    PostfixAdminError,
    ProtocolError,
    Unreachable,
)

__all__ = ["AdminIdentity", "DomainInfo", "PostfixAdminClient"]

_TOKEN_RE: Final = re.compile(r'name="token"\s+value="([0-9A-Za-z]+)"')
_FLASH_ERROR_RE: Final = re.compile(r'<ul class="flash-error">(.*?)</ul>', re.S)
_LI_RE: Final = re.compile(r"<li>(.*?)</li>", re.S)
_TAG_RE: Final = re.compile(r"<[^>]+>")
_QUOTA_RE: Final = re.compile(r"^\s*(-?[\d.]+)\s*/\s*(\S+)\s*$")
# Pages that render a form (and so the session's token) for every admin role.
_TOKEN_PAGES: Final = ("edit.php?table=alias", "sendmail.php")

Params = Mapping[str, str | int]


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    """Who we are logged in as; ``superadmin`` decides which operations make sense."""

    username: str
    superadmin: bool


@dataclass(frozen=True, slots=True)
class DomainInfo:
    """One row of PFA's domain list, as PFA reports it to the logged-in admin.

    Limits use PFA's encoding: 0 = unlimited, -1 = disabled, n = at most n. Counts
    are PFA's own (``alias_count`` excludes each mailbox's own alias row).
    ``description`` is None when PFA does not show it (it hides it from domain admins);
    the quota fields are None unless the server runs with ``$CONF['quota'] = 'YES'``
    (``domain_quota_*`` also needs ``domain_quota``): then every mailbox needs a quota
    of 1..``max_quota_mb`` MB (0 = unlimited is refused as "too high").
    """

    name: str
    description: str | None
    alias_count: int
    alias_limit: int
    mailbox_count: int
    mailbox_limit: int
    backup_mx: bool
    active: bool
    max_quota_mb: int | None = None
    domain_quota_used_mb: float | None = None
    domain_quota_mb: int | None = None

    @property
    def mailboxes_left(self) -> int | None:
        """How many more mailboxes PFA will accept; None = no limit."""
        return _left(self.mailbox_count, self.mailbox_limit)

    @property
    def aliases_left(self) -> int | None:
        """How many more aliases PFA will accept; None = no limit."""
        return _left(self.alias_count, self.alias_limit)


class PostfixAdminClient:
    """A logged-in admin session on one PostfixAdmin server.

    The ``requests.Session`` is injectable so callers can add proxies, CA bundles or
    retries. The password is kept in memory (never logged) only so that an expired
    session can be renewed once without asking the user again; ``logout()`` drops it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10,
    ) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        self.base_url = base_url
        self.timeout = timeout
        self._session = session if session is not None else requests.Session()
        self._username: str | None = None
        self._password: str | None = None
        self._token: str | None = None
        self._identity: AdminIdentity | None = None

    def __repr__(self) -> str:
        return f"PostfixAdminClient({self.base_url!r}, identity={self._identity!r})"

    @property
    def identity(self) -> AdminIdentity | None:
        """The admin we are logged in as, or None before login()/after logout()."""
        return self._identity

    # -- session ---------------------------------------------------------------------

    def login(self, username: str, password: str) -> AdminIdentity:
        """Log in and find out whether the admin is a superadmin."""
        # GET login.php ends any previous PFA session, so forget its state up front.
        self._username = self._password = self._token = None
        self._identity = None
        self._establish(username, password)
        self._username, self._password = username, password
        # A domain admin lacks the global-admin role that the admin list requires, so PFA
        # answers it with a 302 to login.php (without touching the session).
        probe = self._send(
            "GET", "list.php", params={"table": "admin", "output": "csv", "reset_search": 1}
        )
        if probe.status_code == 200:
            superadmin = True
        elif _redirects_to_login(probe):
            superadmin = False
        else:
            raise ProtocolError(
                f"unexpected HTTP {probe.status_code} from list.php?table=admin at {self.base_url}"
            )
        self._identity = AdminIdentity(username=username, superadmin=superadmin)
        return self._identity

    def logout(self) -> None:
        """End the PFA session (GET login.php destroys it) and forget the password."""
        try:
            if self._identity is not None:
                self._send("GET", "login.php")
        finally:
            self._username = self._password = self._token = None
            self._identity = None

    def close(self) -> None:
        """Log out and release the HTTP connections."""
        try:
            self.logout()
        except PostfixAdminError:
            pass  # best effort: the server may already be gone
        finally:
            self._session.close()

    def __enter__(self) -> PostfixAdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------

    def list_domains(self) -> list[DomainInfo]:
        """Domains the logged-in admin may manage (a superadmin sees all of them)."""
        rows = self._list_csv("domain")
        domains: list[DomainInfo] = []
        for row in rows:
            name = _column(row, "Domain").strip().lower()
            if not name or name == "all":  # 'ALL' is the superadmin pseudo-domain
                continue
            alias_count, alias_limit = _parse_quota(_column(row, "Aliases"))
            mailbox_count, mailbox_limit = _parse_quota(_column(row, "Mailboxes"))
            max_quota = row.get("Mailbox Quota (MB)")
            used_mb, domain_quota = _parse_used_limit(row.get("Domain Quota"))
            domains.append(
                DomainInfo(
                    name=name,
                    description=row.get("Description"),
                    alias_count=alias_count,
                    alias_limit=alias_limit,
                    mailbox_count=mailbox_count,
                    mailbox_limit=mailbox_limit,
                    backup_mx=_parse_bool(row.get("Mail server is backup MX", "0")),
                    active=_parse_bool(_column(row, "Active")),
                    max_quota_mb=_parse_int(max_quota) if max_quota is not None else None,
                    domain_quota_used_mb=used_mb,
                    domain_quota_mb=domain_quota,
                )
            )
        return domains

    def _list_csv(self, table: str) -> list[dict[str, str]]:
        # reset_search clears PFA's per-session sticky filter; an empty ``domain`` overrides
        # the domain remembered from list-virtual.php, which would filter the CSV too.
        resp = self._request(
            "GET",
            "list.php",
            params={"table": table, "output": "csv", "reset_search": 1, "domain": ""},
        )
        text = resp.content.decode("utf-8-sig", errors="replace").lstrip("\r\n")
        if resp.headers.get("Content-Type", "").split(";")[0].strip() != "text/csv":
            raise ProtocolError(f"list.php?table={table} did not return CSV at {self.base_url}")
        reader = csv.DictReader(io.StringIO(text))
        return [dict(row) for row in reader]

    # -- transport -------------------------------------------------------------------

    def _establish(self, username: str, password: str) -> None:
        """Run the login handshake and fetch the post-login CSRF token."""
        page = self._send("GET", "login.php")
        _raise_for_5xx(page, self.base_url)
        token = _find_token(page.text)
        if page.status_code != 200 or token is None or 'name="fUsername"' not in page.text:
            raise ProtocolError(f"no PostfixAdmin login form at {self.base_url}login.php")
        resp = self._send(
            "POST",
            "login.php",
            data={
                "token": token,
                "fUsername": username,
                "fPassword": password,
                "lang": "en",
                "submit": "Login",
            },
        )
        _raise_for_5xx(resp, self.base_url)
        if resp.status_code in (301, 302, 303) and _location_path(resp).endswith("main.php"):
            self._token = self._read_token()
            return
        errors = _flash_errors(resp.text)
        if resp.status_code == 200 and errors:
            raise LoginFailed(f"PostfixAdmin refused the login for {username}: {errors[0]}")
        snippet = _text_snippet(resp.text)
        raise ProtocolError(
            f"unexpected answer to the login at {self.base_url} "
            f"(HTTP {resp.status_code}{': ' + snippet if snippet else ''})"
        )

    def _read_token(self) -> str:
        for page in _TOKEN_PAGES:
            resp = self._send("GET", page)
            _raise_for_5xx(resp, self.base_url)
            token = _find_token(resp.text) if resp.status_code == 200 else None
            if token:
                return token
        raise ProtocolError(f"no form token found after login at {self.base_url}")

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """Send as the logged-in admin; renew an expired session or token once.

        PFA cannot tell us whether a 302 to login.php means "session expired" or "role
        missing", so we log in again and replay; if the replay is refused too, it is
        the role. Form ``data`` gets the current CSRF token added (also on the replay).
        Redirects are returned, not followed: a 302 is how PFA reports success.
        """
        if self._username is None or self._password is None:
            raise PostfixAdminError("not logged in to PostfixAdmin; call login() first")
        resp = self._send(method, path, params=params, data=self._with_token(data))
        _raise_for_5xx(resp, self.base_url)
        if not (_redirects_to_login(resp) or _is_invalid_token(resp)):
            return resp
        self._establish(self._username, self._password)
        resp = self._send(method, path, params=params, data=self._with_token(data))
        _raise_for_5xx(resp, self.base_url)
        if _redirects_to_login(resp):
            who = self._username
            raise Forbidden(f"{who} may not open {path} on {self.base_url} (role missing)")
        if _is_invalid_token(resp):
            raise ProtocolError(f"PostfixAdmin rejected a fresh CSRF token for {path}")
        return resp

    def _with_token(self, data: Mapping[str, Any] | None) -> dict[str, Any] | None:
        # Every PFA form POST carries the session's CSRF token; inserting it here means a
        # replay after a re-login automatically uses the new one.
        if data is None:
            return None
        return {**data, "token": self._token}

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        url = urljoin(self.base_url, path)
        try:
            return self._session.request(
                method,
                url,
                params=params,
                data=data,
                timeout=self.timeout,
                allow_redirects=False,  # the 302s are the protocol's answers
                headers={"Accept-Language": "en"},
            )
        except requests.Timeout as err:
            raise Unreachable(f"PostfixAdmin at {self.base_url} did not answer in time") from err
        except requests.ConnectionError as err:
            raise Unreachable(f"cannot connect to PostfixAdmin at {self.base_url}") from err
        except requests.RequestException as err:
            raise Unreachable(
                f"HTTP request to {self.base_url} failed: {type(err).__name__}"
            ) from err


# -- parsing helpers -------------------------------------------------------------------


def _left(count: int, limit: int) -> int | None:
    if limit == 0:
        return None
    if limit < 0:
        return 0
    return max(limit - count, 0)


def _find_token(page: str) -> str | None:
    match = _TOKEN_RE.search(page)
    return match.group(1) if match else None


def _location_path(resp: requests.Response) -> str:
    return urlsplit(resp.headers.get("Location", "")).path


def _redirects_to_login(resp: requests.Response) -> bool:
    return resp.status_code in (301, 302, 303) and _location_path(resp).endswith("login.php")


def _is_invalid_token(resp: requests.Response) -> bool:
    # edit.php, delete.php, ... die('Invalid token!') with HTTP 200 and nothing else.
    return (
        resp.status_code == 200
        and len(resp.content) < 2000
        and resp.text.rstrip().endswith("Invalid token!")
    )


def _raise_for_5xx(resp: requests.Response, base_url: str) -> None:
    if resp.status_code >= 500:
        reason = resp.reason or "server error"
        raise Unreachable(
            f"PostfixAdmin at {base_url} failed with HTTP {resp.status_code} {reason}"
        )


def _flash_errors(page: str) -> list[str]:
    messages: list[str] = []
    for block in _FLASH_ERROR_RE.findall(page):
        for item in _LI_RE.findall(block):
            text = html.unescape(_TAG_RE.sub("", item)).strip()
            if text:
                messages.append(text)
    return messages


def _text_snippet(page: str, limit: int = 120) -> str:
    text = " ".join(html.unescape(_TAG_RE.sub(" ", page)).split())
    return text[:limit]


def _column(row: Mapping[str, str | None], name: str) -> str:
    value = row.get(name)
    if value is None:
        raise ProtocolError(f"PostfixAdmin's CSV has no column {name!r} (was lang=en ignored?)")
    return value


def _parse_quota(text: str) -> tuple[int, int]:
    """Split PFA's "count / limit" cell; "∞" means 0 (unlimited), "-" means -1 (disabled)."""
    used, limit = _split_used_limit(text)
    return _parse_int(used), limit


def _parse_used_limit(text: str | None) -> tuple[float | None, int | None]:
    """Parse the "50.0 / 2048" domain quota cell (MB used / MB allowed) if present."""
    if text is None:
        return None, None
    used, limit = _split_used_limit(text)
    try:
        return float(used), limit
    except ValueError:
        raise ProtocolError(f"unexpected quota cell {text!r} in PostfixAdmin's CSV") from None


def _split_used_limit(text: str) -> tuple[str, int]:
    match = _QUOTA_RE.match(text)
    if match is None:
        raise ProtocolError(f"unexpected count/limit cell {text!r} in PostfixAdmin's CSV")
    used, limit = match.groups()
    if limit == "∞":
        return used, 0
    if limit == "-":
        return used, -1
    return used, _parse_int(limit)


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ProtocolError(f"expected a number in PostfixAdmin's CSV, got {text!r}") from None


def _parse_bool(text: str | None) -> bool:
    return (text or "").strip() in ("1", "t", "true", "YES")
