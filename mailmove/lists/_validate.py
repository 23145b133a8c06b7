"""Row-by-row and cross-row checks, by the rules PostfixAdmin itself enforces.

Reference: PostfixAdmin 3.3.13 §11 (address and domain syntax, one address space,
no self-pointing alias, catch-all, default aliases, password policy) and the
forwarding semantics of ``virtual(5)``. A row with an error is left out of the
model; the other rows go ahead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from mailmove.lists._model import (
    Forward,
    Issue,
    ListInput,
    ListResult,
    Mailbox,
    Options,
    Record,
    Severity,
)
from mailmove.lists._normalise import (
    Normalised,
    clean,
    display_address,
    display_domain,
    normalise_address,
    parse_keep_copy,
    parse_quota,
    split_targets,
)
from mailmove.lists._passwords import generate_password, policy_problems

DEFAULT_ALIASES = frozenset({"abuse", "hostmaster", "postmaster", "webmaster"})
MAX_NAME = 255  # PostfixAdmin's mailbox.name is varchar(255)

_ClaimKind = Literal["mailbox", "alias"]


@dataclass(slots=True)
class _Claim:
    """The first row that defined an address, to compare later rows against."""

    file: str
    row: int
    raw: str
    kind: _ClaimKind
    forward: _Pending | None = None


@dataclass(slots=True)
class _Pending:
    """A forward not yet in the model: loops and row errors may still strike it out."""

    file: str
    row: int
    column: str
    address: str
    targets: list[str]
    keep_copy: bool
    catch_all: bool


@dataclass
class _Run:
    options: Options
    issues: list[Issue] = field(default_factory=list)
    bad: set[tuple[str, int]] = field(default_factory=set)
    claims: dict[str, _Claim] = field(default_factory=dict)
    mailboxes: list[tuple[str, Mailbox]] = field(default_factory=list)
    forwards: list[_Pending] = field(default_factory=list)
    file_order: dict[str, int] = field(default_factory=dict)
    domain_checks: dict[str, tuple[str, str]] = field(default_factory=dict)  # this run only

    def add(
        self, severity: Severity, file: str, row: int, column: str, code: str, **params: str
    ) -> None:
        self.issues.append(Issue(file, row, column, code, severity, params))
        if severity == "error":
            self.bad.add((file, row))

    def error(self, file: str, row: int, column: str, code: str, **params: str) -> None:
        self.add("error", file, row, column, code, **params)

    def warn(self, file: str, row: int, column: str, code: str, **params: str) -> None:
        self.add("warning", file, row, column, code, **params)


def validate(
    addresses: ListInput, forwards: ListInput | None = None, options: Options | None = None
) -> ListResult:
    """Check the address list (and a separate forwarding list) and build the model."""
    run = _Run(options or Options())
    run.file_order = {addresses.file: 0}
    for note in addresses.notes:
        run.issues.append(note)
    for record in addresses.records:
        _address_row(run, addresses, record)
    if forwards is not None:
        run.file_order.setdefault(forwards.file, 1)
        run.issues.extend(forwards.notes)
        for record in forwards.records:
            _forward_row(run, forwards, record)
    _find_loops(run)
    return _result(run)


def _address_row(run: _Run, source: ListInput, r: Record) -> None:
    file, row, cols = source.file, r.row, source.columns
    col_a = cols.get("address", "")
    if r.extra_cells:
        run.warn(file, row, "", "extra_cells", count=str(r.extra_cells))
    addr = _address(run, file, row, col_a, r.address)
    keep = _keep(run, file, row, cols.get("keep_copy", ""), r.keep_copy)
    password = r.password.strip()
    has_targets = bool(r.targets.strip())
    if addr is None:
        if has_targets:  # still check the targets, so every problem shows at once
            _targets(run, file, row, cols.get("targets", ""), r.targets, catch_all=False)
        _mailbox_fields(run, source, r, "", check_missing=False)
        return
    key = addr.value
    if addr.catch_all:
        if password or not has_targets:
            run.error(file, row, col_a, "catch_all_mailbox", address=display_address(key))
            return
        kind: _ClaimKind = "alias"
    elif has_targets and not password and keep is not True:
        kind = "alias"  # 転送のみ with no password: a forward-only address
        if keep is None:
            # No password and no keep-a-copy cell: nothing to keep a copy in, so forward only.
            run.warn(file, row, col_a, "forward_only_assumed", address=display_address(addr.value))
    else:
        kind = "mailbox"
    _domain_in_migration(run, file, row, col_a, key)
    _default_alias(run, file, row, col_a, key, kind)
    claim = _claim(run, file, row, col_a, key, clean(r.address), kind)
    if claim is None:
        return  # a second definition of the address: that is this row's one problem
    pending = None
    if has_targets:
        pending = _forward(
            run,
            file,
            row,
            cols.get("targets", ""),
            key,
            r.targets,
            keep,
            mailbox=kind == "mailbox",
            catch_all=addr.catch_all,
        )
        if pending is not None:
            run.forwards.append(pending)
    claim.forward = pending
    if kind == "mailbox":
        mailbox = _mailbox_fields(run, source, r, key)
        if mailbox is not None:
            run.mailboxes.append((file, mailbox))


def _forward_row(run: _Run, source: ListInput, r: Record) -> None:
    file, row, cols = source.file, r.row, source.columns
    col_a, col_t = cols.get("address", ""), cols.get("targets", "")
    if r.extra_cells:
        run.warn(file, row, "", "extra_cells", count=str(r.extra_cells))
    addr = _address(run, file, row, col_a, r.address)
    keep = _keep(run, file, row, cols.get("keep_copy", ""), r.keep_copy)
    if not r.targets.strip():
        run.error(file, row, col_t, "targets_missing")
        return
    if addr is None:
        _targets(run, file, row, col_t, r.targets, catch_all=False)
        return
    key = addr.value
    claim = run.claims.get(key)
    if claim is not None and claim.kind == "mailbox":
        # The forward of a mailbox in the address list: PFA edits the mailbox's own alias.
        if (claim.file, claim.row) in run.bad:
            run.error(file, row, col_a, "mailbox_row_invalid", first_file=claim.file, **_at(claim))
            return
        if claim.forward is not None:
            first = claim.forward
            run.error(
                file,
                row,
                col_a,
                "forward_twice",
                address=display_address(key),
                first_file=first.file,
                first_row=str(first.row),
            )
            return
        pending = _forward(
            run, file, row, col_t, key, r.targets, keep, mailbox=True, catch_all=False
        )
        claim.forward = pending or claim.forward
    else:
        _domain_in_migration(run, file, row, col_a, key)
        _default_alias(run, file, row, col_a, key, "alias")
        if _claim(run, file, row, col_a, key, clean(r.address), "alias") is None:
            return
        if keep:
            run.warn(file, row, cols.get("keep_copy", ""), "keep_copy_no_mailbox")
        pending = _forward(
            run, file, row, col_t, key, r.targets, False, mailbox=False, catch_all=addr.catch_all
        )
    if pending is not None:
        run.forwards.append(pending)


def _at(claim: _Claim) -> dict[str, str]:
    return {"first_row": str(claim.row)}


def _address(run: _Run, file: str, row: int, column: str, raw: str) -> Normalised | None:
    """The row's own address, normalised with a warning per change; None if unusable."""
    addr = normalise_address(raw, allow_catch_all=True, domain_checks=run.domain_checks)
    _changes(run, file, row, column, raw, addr)
    if addr.problem:
        run.error(file, row, column, addr.problem, **_problem_params(raw, addr))
        return None
    return addr


def _problem_params(raw: str, addr: Normalised) -> dict[str, str]:
    params = {"address": clean(raw) or addr.value}
    if addr.detail:
        params["detail"] = addr.detail
    return params


_CHANGE_CODES = {"spaces": "norm_spaces", "width": "norm_width", "lower": "norm_lower"}


def _changes(run: _Run, file: str, row: int, column: str, raw: str, addr: Normalised) -> None:
    for change in addr.changes:
        if change == "idn":
            run.warn(
                file,
                row,
                column,
                "norm_idn",
                address=display_address(addr.value),
                ascii=addr.value,
            )
        else:
            run.warn(file, row, column, _CHANGE_CODES[change], before=clean(raw), after=addr.value)


def _keep(run: _Run, file: str, row: int, column: str, raw: str) -> bool | None:
    try:
        return parse_keep_copy(raw)
    except ValueError:
        run.error(file, row, column, "keep_copy_invalid", value=clean(raw))
        return None


def _targets(
    run: _Run, file: str, row: int, column: str, cell: str, *, catch_all: bool
) -> list[str] | None:
    """The targets of one cell, deduplicated; None if any target is unusable."""
    ok = True
    seen: list[str] = []
    for raw in split_targets(cell):
        addr = normalise_address(raw, allow_catch_all=True, domain_checks=run.domain_checks)
        _changes(run, file, row, column, raw, addr)
        if addr.problem:
            code = {"address_no_at": "target_no_domain"}.get(addr.problem, addr.problem)
            run.error(file, row, column, code, **_problem_params(raw, addr))
            ok = False
        elif addr.catch_all and not catch_all:
            run.error(file, row, column, "catch_all_target", address=display_address(addr.value))
            ok = False
        elif addr.value in seen:
            run.warn(file, row, column, "target_duplicate", address=display_address(addr.value))
        else:
            seen.append(addr.value)
    return seen if ok else None


def _forward(
    run: _Run,
    file: str,
    row: int,
    column: str,
    source: str,
    cell: str,
    keep: bool | None,
    *,
    mailbox: bool,
    catch_all: bool,
) -> _Pending | None:
    """Targets of ``source``: a mailbox keeps a copy unless told; an alias never targets itself."""
    targets = _targets(run, file, row, column, cell, catch_all=catch_all)
    if targets is None:
        return None
    shown = display_address(source)
    if source in targets:
        if not mailbox or keep is False:
            code = "alias_to_itself" if not mailbox else "self_target_conflict"
            run.error(file, row, column, code, address=shown)
            return None
        # virtual(5): an address in its own target list means "and keep a copy".
        targets.remove(source)
        run.warn(file, row, column, "self_target_keep_copy", address=shown)
        keep = True
    if not targets:
        return None
    if mailbox and keep is None:
        keep = True
        if (file, row) not in run.bad:  # an unreadable keep-a-copy cell is already an error
            run.warn(file, row, column, "keep_copy_assumed", address=shown)
    if catch_all:
        run.warn(
            file,
            row,
            column,
            "catch_all",
            domain=display_domain(source[1:]),
            targets=", ".join(display_address(t) for t in targets),
        )
    return _Pending(file, row, column, source, targets, bool(keep) and mailbox, catch_all)


def _claim(
    run: _Run, file: str, row: int, column: str, key: str, raw: str, kind: _ClaimKind
) -> _Claim | None:
    """Register that this row defines ``key``; a second definition is an error on that row."""
    first = run.claims.get(key)
    if first is None:
        claim = _Claim(file, row, raw, kind)
        run.claims[key] = claim
        return claim
    if first.kind != kind:
        code = "mailbox_and_alias"
    elif first.raw == raw:
        code = "duplicate"
    else:
        code = "duplicate_normalised"
    run.error(
        file, row, column, code, address=display_address(key), first_file=first.file, **_at(first)
    )
    return None


def _domain_in_migration(run: _Run, file: str, row: int, column: str, key: str) -> None:
    allowed = run.options.domains
    domain = key.rpartition("@")[2]
    if allowed is not None and domain not in allowed:
        run.error(
            file,
            row,
            column,
            "domain_not_in_migration",
            domain=display_domain(domain),
            allowed=", ".join(sorted(display_domain(d) for d in allowed)) or "-",
        )


def _default_alias(run: _Run, file: str, row: int, column: str, key: str, kind: _ClaimKind) -> None:
    local = key.partition("@")[0]
    if run.options.default_aliases and local in DEFAULT_ALIASES:
        code = "default_alias_mailbox" if kind == "mailbox" else "default_alias_forward"
        run.add(
            "error" if kind == "mailbox" else "warning",
            file,
            row,
            column,
            code,
            address=display_address(key),
        )


def _mailbox_fields(
    run: _Run, source: ListInput, r: Record, address: str, *, check_missing: bool = True
) -> Mailbox | None:
    """Password, quota and name of a mailbox row; the Mailbox if they are all usable."""
    file, row, cols = source.file, r.row, source.columns
    col_p, col_q, col_n = cols.get("password", ""), cols.get("quota", ""), cols.get("name", "")
    policy = run.options.policy
    had_error = (file, row) in run.bad
    password = r.password.strip()
    generated = False
    if password != r.password and password:
        run.warn(file, row, col_p, "password_trimmed")
    if not password:
        if check_missing and run.options.generate_passwords:
            password, generated = generate_password(policy), True
            run.warn(file, row, col_p, "password_generated")
        elif check_missing:
            run.error(file, row, col_p, "password_missing")
    else:
        for code in policy_problems(password, policy):
            run.error(
                file,
                row,
                col_p,
                code,
                min_length=str(policy.min_length),
                min_letters=str(policy.min_letters),
                min_digits=str(policy.min_digits),
            )
        if not password.isascii():
            run.warn(file, row, col_p, "password_not_ascii")
        if r.password_was_number:
            run.warn(file, row, col_p, "password_was_number")
    quota: int | None = None
    try:
        quota, change = parse_quota(r.quota)
        if change == "gb":
            run.warn(file, row, col_q, "quota_gb", value=clean(r.quota), mb=str(quota))
        elif change == "unlimited":
            run.warn(file, row, col_q, "quota_unlimited", value=clean(r.quota))
    except ValueError:
        run.error(file, row, col_q, "quota_invalid", value=clean(r.quota))
    name = clean(r.name)
    if len(name) > MAX_NAME:
        run.error(file, row, col_n, "name_too_long", max=str(MAX_NAME), length=str(len(name)))
    if had_error or (file, row) in run.bad or not address:
        return None
    return Mailbox(address, name, password, quota, row, generated, file)


def _find_loops(run: _Run) -> None:
    """Forwarding cycles across the list (a → b → a): Tarjan's SCC, iteratively."""
    live = [p for p in run.forwards if (p.file, p.row) not in run.bad]
    graph = {p.address: p for p in live}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(graph[start].targets))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child].targets)))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    _report_loop(run, graph, set(component))


def _report_loop(run: _Run, graph: dict[str, _Pending], members: set[str]) -> None:
    first = min(members, key=lambda a: (run.file_order.get(graph[a].file, 9), graph[a].row))
    path = [first]
    while True:
        nxt = next(t for t in graph[path[-1]].targets if t in members)
        if nxt in path:
            path = [*path[path.index(nxt) :], nxt]
            break
        path.append(nxt)
    loop = " → ".join(display_address(a) for a in path)
    for address in sorted(members, key=lambda a: graph[a].row):
        p = graph[address]
        run.error(
            p.file, p.row, p.column, "forward_loop", address=display_address(address), loop=loop
        )


def _result(run: _Run) -> ListResult:
    order = run.file_order
    mailboxes = tuple(m for file, m in run.mailboxes if (file, m.row) not in run.bad)
    forwards = tuple(
        Forward(p.address, tuple(p.targets), p.keep_copy, p.catch_all, p.row, p.file)
        for p in sorted(run.forwards, key=lambda p: (order.get(p.file, 9), p.row))
        if (p.file, p.row) not in run.bad
    )
    issues = sorted(
        run.issues, key=lambda i: (order.get(i.file, 9), i.row, len(i.column), i.column)
    )
    return ListResult(
        mailboxes=mailboxes,
        forwards=forwards,
        errors=tuple(i for i in issues if i.severity == "error"),
        warnings=tuple(i for i in issues if i.severity == "warning"),
    )
