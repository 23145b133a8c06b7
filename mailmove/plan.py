"""Desired state (the customer's lists) against live state (PostfixAdmin) = a Plan.

Why a separate, pure step: the customer sees every change before it happens, and a
resume after any interruption is just "plan again against what is live now and do
the rest", which makes apply idempotent by construction.

Rules (issue #4, reference §7g/§11):

* Order: domains, mailboxes to create, mailboxes to update, forwards, catch-alls last.
* A domain is created only when the signed-in admin may (a superadmin); otherwise the
  customer is told to ask support. Items in domains outside the admin's scope are
  refused here, before any request.
* Per-domain limits are checked up front; a plan that would hit one refuses to run,
  with the numbers.
* Keep-a-copy forwarding lives on the mailbox's own alias (targets + the
  goto_mailbox flag); a forward without a mailbox is an alias of its own.
* Something that exists but differs is a conflict: shown side by side and changed only
  when the customer confirms. Passwords of existing mailboxes are never overwritten
  unless asked (``PlanOptions.overwrite_passwords``).
* An orphan self-alias (alias ``x -> x`` without a mailbox: a mailbox create that died
  half-way) is repaired: deleted, then the mailbox is created.

This module imports nothing from ``mailmove.lists``: :class:`MailboxLike` and
:class:`ForwardLike` describe the attributes it reads.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mailmove.config import PasswordPolicy
from mailmove.i18n import DEFAULT_LANG, LANGS, Lang, t
from mailmove.jobs import AddressCheck, Kind, Op
from mailmove.postfixadmin import AdminIdentity, Backend, DomainInfo, LiveAlias, LiveState

__all__ = [
    "Action",
    "Conflict",
    "ConflictField",
    "Desired",
    "ForwardLike",
    "MailboxLike",
    "Plan",
    "PlanOptions",
    "Problem",
    "build_plan",
    "make_plan",
    "normalize_address",
    "normalize_domain",
    "read_live",
    "scope_of",
    "verify",
]

PHASE_DOMAIN, PHASE_MAILBOX, PHASE_MAILBOX_UPDATE, PHASE_ALIAS, PHASE_CATCH_ALL = range(5)
Params = tuple[tuple[str, str], ...]


# -- input: what the lists model provides ---------------------------------------------------


class MailboxLike(Protocol):
    """A listed mailbox (``mailmove.lists.Mailbox`` has this shape)."""

    @property
    def address(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def quota_mb(self) -> int | None: ...
    @property
    def row(self) -> int: ...
    @property
    def generated_password(self) -> bool: ...


class ForwardLike(Protocol):
    """A listed forwarding (``mailmove.lists.Forward`` has this shape)."""

    @property
    def address(self) -> str: ...
    @property
    def targets(self) -> Sequence[str]: ...
    @property
    def keep_copy(self) -> bool: ...
    @property
    def catch_all(self) -> bool: ...
    @property
    def row(self) -> int: ...


@dataclass(frozen=True)
class Desired:
    """Everything the customer wants to exist. ``errors``: invalid rows from the lists."""

    mailboxes: Sequence[MailboxLike] = ()
    forwards: Sequence[ForwardLike] = ()
    domains: Sequence[str] = ()
    errors: Sequence[object] = ()

    @classmethod
    def from_lists(cls, result: object, *, domains: Iterable[str] = ()) -> Desired:
        """From a ``mailmove.lists.ListResult`` (mailboxes, forwards, errors)."""
        return cls(
            mailboxes=tuple(getattr(result, "mailboxes", ())),
            forwards=tuple(getattr(result, "forwards", ())),
            domains=tuple(domains),
            errors=tuple(getattr(result, "errors", ())),
        )

    def all_domains(self) -> list[str]:
        found: dict[str, None] = {}
        for d in self.domains:
            found[normalize_domain(d)] = None
        for m in self.mailboxes:
            found[_domain_of(normalize_address(m.address))] = None
        for f in self.forwards:
            found[_domain_of(_forward_id(f))] = None
        return [d for d in found if d]

    def fingerprint(self) -> str:
        """Identifies the lists without their passwords, to notice a resume with other lists."""
        parts = sorted(normalize_address(m.address) for m in self.mailboxes)
        parts += sorted(
            f"{_forward_id(f)}>{','.join(sorted(_targets(f.targets)))}/{int(f.keep_copy)}"
            for f in self.forwards
        )
        parts += sorted(normalize_domain(d) for d in self.domains)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class PlanOptions:
    """Choices the customer (or staff) makes; the defaults are the safe ones.

    ``scope``: the domains the signed-in customer holds (``auth.Identity.domains``);
    None = whatever the backend's admin can see (a staff account or the CLI).
    ``may_create_domains``: None = only if the backend's admin is a superadmin.
    """

    overwrite_passwords: bool = False
    scope: frozenset[str] | None = None
    may_create_domains: bool | None = None
    new_domain_mailboxes: int = 0  # limits for a domain the plan creates; 0 = unlimited
    new_domain_aliases: int = 0
    password_policy: PasswordPolicy | None = None


# -- output: the plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConflictField:
    field: str
    live: str
    desired: str


@dataclass(frozen=True)
class Conflict:
    """An existing object that differs from the list, shown side by side."""

    kind: Kind
    object: str
    fields: tuple[ConflictField, ...]
    row: int | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.object}"

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "kind": self.kind,
            "object": self.object,
            "row": self.row,
            "fields": [
                {"field": f.field, "live": f.live, "desired": f.desired} for f in self.fields
            ],
        }


@dataclass(frozen=True)
class Problem:
    """Why (part of) the plan cannot run, or a warning; text comes from the catalog."""

    code: str  # provision.error.<code> / provision.warning.<code>
    object: str
    domain: str = ""
    row: int | None = None
    params: Params = ()
    severity: str = "error"
    texts: tuple[tuple[str, str], ...] = ()  # already rendered per language (list errors)

    def message(self, lang: Lang = DEFAULT_LANG) -> str:
        if self.texts:
            return dict(self.texts).get(lang) or self.texts[0][1]
        return t(
            f"provision.{self.severity}.{self.code}", lang, object=self.object, **dict(self.params)
        )

    def to_json(self, lang: Lang = DEFAULT_LANG) -> dict[str, object]:
        return {
            "code": self.code,
            "object": self.object,
            "domain": self.domain,
            "row": self.row,
            "message": self.message(lang),
        }


@dataclass(frozen=True)
class Action:
    """One step of the plan; ``skip`` steps are kept so a re-run shows everything as done.

    Carries what the step sends. ``password`` is only set for a create or an explicitly
    requested overwrite; it is never part of ``repr``, ``to_json`` or any result.
    """

    op: Op
    kind: Kind
    object: str
    domain: str
    phase: int
    detail_code: str
    params: Params = ()
    row: int | None = None
    conflict: Conflict | None = None
    repair_orphan: bool = False
    name: str | None = None
    quota_mb: int | None = None
    set_active: bool = False
    password: str | None = field(default=None, repr=False)
    targets: tuple[str, ...] = ()
    keep_copy: bool | None = None
    known: LiveAlias | None = None  # alias state when known without reading (just created)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.object}"

    def detail(self, lang: Lang = DEFAULT_LANG) -> str:
        return t(f"provision.detail.{self.detail_code}", lang, **dict(self.params))

    def to_json(self, lang: Lang = DEFAULT_LANG) -> dict[str, object]:
        return {
            "op": self.op,
            "object": self.object,
            "detail": self.detail(lang),
            "row": self.row,
            "conflict": self.conflict is not None,
        }


@dataclass
class Plan:
    identity: AdminIdentity
    actions: list[Action] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    allowed_domains: frozenset[str] = frozenset()

    @property
    def runnable(self) -> bool:
        """False when anything must be fixed first (limits, scope, invalid rows)."""
        return not self.errors

    @property
    def conflicts(self) -> list[Conflict]:
        return [a.conflict for a in self.actions if a.conflict is not None]

    @property
    def pending(self) -> list[Action]:
        return [a for a in self.actions if a.op != "skip"]

    def counts(self) -> dict[str, int]:
        counts = Counter(a.op for a in self.actions)
        return {op: counts.get(op, 0) for op in _OPS}

    def to_json(self, lang: Lang = DEFAULT_LANG) -> dict[str, object]:
        """The CLI contract: actions, conflicts, errors (+ warnings, counts)."""
        return {
            "actions": [a.to_json(lang) for a in self.actions],
            "conflicts": [c.to_json() for c in self.conflicts],
            "errors": [e.to_json(lang) for e in self.errors],
            "warnings": [w.to_json(lang) for w in self.warnings],
            "counts": self.counts(),
            "runnable": self.runnable,
        }


_OPS: tuple[Op, ...] = (
    "create_domain",
    "create_mailbox",
    "update_mailbox",
    "create_alias",
    "update_alias",
    "skip",
)


# -- normalisation ---------------------------------------------------------------------------


def normalize_domain(domain: str) -> str:
    """Lower case, no trailing dot, punycode A-labels (PFA rejects Unicode domains)."""
    domain = domain.strip().rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain  # left for PostfixAdmin to reject with its own message


def normalize_address(address: str) -> str:
    local, sep, domain = address.strip().rpartition("@")
    if not sep:
        return address.strip().lower()
    return f"{local.lower()}@{normalize_domain(domain)}"


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def _forward_id(forward: ForwardLike) -> str:
    """A catch-all is ``@domain`` in PFA, however the list spelled it."""
    address = normalize_address(forward.address)
    if forward.catch_all or address.startswith("*@"):
        return "@" + _domain_of(address)
    return address


def _targets(targets: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for target in targets:
        clean = normalize_address(target)  # PFA wants punycode domains in targets too
        if clean:
            seen[clean] = None
    return tuple(seen)


def _name(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _p(**params: object) -> Params:
    return tuple((k, str(v)) for k, v in params.items())


# -- reading the live state ------------------------------------------------------------------


def read_live(backend: Backend, desired: Desired) -> LiveState:
    """What PostfixAdmin has now, as far as the lists are concerned (bulk where possible)."""
    mailbox_addrs = [normalize_address(m.address) for m in desired.mailboxes]
    forward_addrs = [_forward_id(f) for f in desired.forwards]
    return backend.read_state(
        desired.all_domains(),
        [*mailbox_addrs, *forward_addrs],
        [a for a in forward_addrs if not a.startswith("@")],
    )


def build_plan(backend: Backend, desired: Desired, options: PlanOptions | None = None) -> Plan:
    return make_plan(desired, read_live(backend, desired), options or PlanOptions())


# -- planning --------------------------------------------------------------------------------


@dataclass
class _DomainTally:
    info: DomainInfo | None
    new_mailboxes: int = 0
    new_aliases: int = 0
    repaired: int = 0
    quota_mb: int = 0


def make_plan(desired: Desired, live: LiveState, options: PlanOptions | None = None) -> Plan:
    """Diff the lists against the live state. Pure: no I/O."""
    options = options or PlanOptions()
    plan = Plan(identity=live.identity)
    _list_errors(desired, plan)

    may_create = (
        options.may_create_domains
        if options.may_create_domains is not None
        else live.identity.superadmin
    )
    mailboxes = _unique_mailboxes(desired, plan)
    forwards = _unique_forwards(desired, plan)
    per_domain: dict[str, int] = Counter(_domain_of(a) for a in [*mailboxes, *forwards])
    for domain in desired.domains:
        per_domain.setdefault(normalize_domain(domain), 0)

    allowed: set[str] = set()
    tallies: dict[str, _DomainTally] = {}
    for domain in sorted(per_domain):
        count = per_domain[domain]
        if options.scope is not None and domain not in options.scope:
            plan.errors.append(Problem("domain_not_yours", domain, domain, params=_p(count=count)))
            continue
        info = live.domains.get(domain)
        if info is not None:
            allowed.add(domain)
            tallies[domain] = _DomainTally(info)
            if not info.active:
                plan.warnings.append(Problem("domain_inactive", domain, domain, severity="warning"))
            plan.actions.append(
                Action("skip", "domain", domain, domain, PHASE_DOMAIN, "domain_present")
            )
        elif may_create:
            allowed.add(domain)
            tallies[domain] = _DomainTally(None)
            plan.actions.append(
                Action(
                    "create_domain",
                    "domain",
                    domain,
                    domain,
                    PHASE_DOMAIN,
                    "new_domain",
                    _p(
                        mailboxes=_limit_text(options.new_domain_mailboxes),
                        aliases=_limit_text(options.new_domain_aliases),
                    ),
                )
            )
        else:
            plan.errors.append(
                Problem("ask_support_domain", domain, domain, params=_p(count=count))
            )
    plan.allowed_domains = frozenset(allowed)

    created: set[str] = set()  # mailboxes this plan creates (their alias state is known)
    for address, mailbox in mailboxes.items():
        domain = _domain_of(address)
        if domain in allowed:
            _plan_mailbox(plan, address, mailbox, live, options, tallies[domain], created)
    ordinary = {a: f for a, f in forwards.items() if not a.startswith("@")}
    catch_all = {a: f for a, f in forwards.items() if a.startswith("@")}
    for group in (ordinary, catch_all):
        for address, forward in group.items():
            domain = _domain_of(address)
            if domain in allowed:
                is_mailbox = address in mailboxes or address in live.mailboxes
                _plan_forward(plan, address, forward, live, tallies[domain], created, is_mailbox)

    for domain, tally in tallies.items():
        _check_limits(plan, domain, tally, options)
    plan.actions.sort(key=lambda a: a.phase)  # stable: keeps list order within a phase
    return plan


def _list_errors(desired: Desired, plan: Plan) -> None:
    """Invalid rows the lists reported: the plan does not run until they are fixed."""
    for error in desired.errors:
        row = getattr(error, "row", None)
        render = getattr(error, "message", None)
        if callable(render):  # mailmove.lists.Issue renders itself per language
            texts = tuple((lang, str(render(lang))) for lang in LANGS)
        else:
            texts = tuple((lang, str(render or error)) for lang in LANGS)
        plan.errors.append(
            Problem(
                "list_error",
                "",
                row=row if isinstance(row, int) else None,
                params=_p(file=getattr(error, "file", "") or ""),
                texts=texts,
            )
        )


def _unique_mailboxes(desired: Desired, plan: Plan) -> dict[str, MailboxLike]:
    rows: dict[str, list[int]] = defaultdict(list)
    found: dict[str, MailboxLike] = {}
    for mailbox in desired.mailboxes:
        address = normalize_address(mailbox.address)
        rows[address].append(mailbox.row)
        if "@" not in address or address.startswith("@"):
            plan.errors.append(Problem("invalid_address", address, row=mailbox.row))
            continue
        found.setdefault(address, mailbox)
    for address, seen in rows.items():
        if len(seen) > 1:
            plan.errors.append(
                Problem("duplicate", address, _domain_of(address), seen[0], _p(rows=_rows(seen)))
            )
    return found


def _unique_forwards(desired: Desired, plan: Plan) -> dict[str, ForwardLike]:
    rows: dict[str, list[int]] = defaultdict(list)
    found: dict[str, ForwardLike] = {}
    for forward in desired.forwards:
        address = _forward_id(forward)
        rows[address].append(forward.row)
        if "@" not in address:
            plan.errors.append(Problem("invalid_address", address, row=forward.row))
            continue
        found.setdefault(address, forward)
    for address, seen in rows.items():
        if len(seen) > 1:
            plan.errors.append(
                Problem("duplicate", address, _domain_of(address), seen[0], _p(rows=_rows(seen)))
            )
    return found


def _rows(rows: Sequence[int]) -> str:
    return ", ".join(str(r) for r in rows)


def _limit_text(limit: int) -> str:
    return "∞" if limit == 0 else ("0" if limit < 0 else str(limit))


def _plan_mailbox(
    plan: Plan,
    address: str,
    mailbox: MailboxLike,
    live: LiveState,
    options: PlanOptions,
    tally: _DomainTally,
    created: set[str],
) -> None:
    domain = _domain_of(address)
    name = _name(mailbox.name or "")
    quota = mailbox.quota_mb
    info = tally.info
    max_quota = info.max_quota_mb if info is not None and info.max_quota_mb else None
    existing = live.mailboxes.get(address)

    if existing is not None:
        fields: list[ConflictField] = []
        if name and name != _name(existing.name):
            fields.append(ConflictField("name", existing.name, name))
        if quota is not None and quota != existing.quota_mb:
            fields.append(
                ConflictField("quota", _quota_text(existing.quota_mb), _quota_text(quota))
            )
        if not existing.active:
            fields.append(ConflictField("active", "no", "yes"))
        password = mailbox.password if options.overwrite_passwords and mailbox.password else None
        if not fields and password is None:
            plan.actions.append(
                Action(
                    "skip",
                    "mailbox",
                    address,
                    domain,
                    PHASE_MAILBOX,
                    "mailbox_present",
                    row=mailbox.row,
                )
            )
            return
        if password is not None and not _password_ok(plan, address, mailbox, options):
            return
        conflict = Conflict("mailbox", address, tuple(fields), mailbox.row) if fields else None
        changed = ", ".join(f.field for f in fields)
        plan.actions.append(
            Action(
                "update_mailbox",
                "mailbox",
                address,
                domain,
                PHASE_MAILBOX_UPDATE,
                "mailbox_changes" if fields else "password_overwrite",
                _p(fields=changed),
                row=mailbox.row,
                conflict=conflict,
                name=name if any(f.field == "name" for f in fields) else None,
                quota_mb=quota if any(f.field == "quota" for f in fields) else None,
                set_active=not existing.active,
                password=password,
            )
        )
        return

    orphan = False
    alias = live.aliases.get(address)
    if alias is not None:
        if not alias.is_orphan_self_alias:
            plan.errors.append(
                Problem(
                    "exists_as_alias",
                    address,
                    domain,
                    mailbox.row,
                    _p(targets=", ".join(alias.targets)),
                )
            )
            return
        orphan = True
    if not _password_ok(plan, address, mailbox, options):
        return
    if max_quota is not None:
        if quota is None:
            quota = max_quota
            plan.warnings.append(
                Problem("quota_defaulted", address, domain, mailbox.row, _p(quota=quota), "warning")
            )
        elif quota > max_quota:
            plan.errors.append(
                Problem(
                    "quota_too_high", address, domain, mailbox.row, _p(quota=quota, max=max_quota)
                )
            )
            return
    tally.new_mailboxes += 1
    tally.quota_mb += quota or 0
    tally.repaired += int(orphan)
    created.add(address)
    plan.actions.append(
        Action(
            "create_mailbox",
            "mailbox",
            address,
            domain,
            PHASE_MAILBOX,
            "repair_orphan" if orphan else "new_mailbox",
            _p(name=name or "-", quota=_quota_text(quota)),
            row=mailbox.row,
            repair_orphan=orphan,
            name=name,
            quota_mb=quota,
            password=mailbox.password,
        )
    )


def _password_ok(plan: Plan, address: str, mailbox: MailboxLike, options: PlanOptions) -> bool:
    password = mailbox.password or ""
    domain = _domain_of(address)
    if not password:
        plan.errors.append(Problem("password_missing", address, domain, mailbox.row))
        return False
    policy = options.password_policy
    if policy is None:
        return True
    letters = sum(c.isascii() and c.isalpha() for c in password)
    digits = sum(c.isdigit() for c in password)
    if (
        len(password) < policy.min_length
        or letters < policy.min_letters
        or digits < policy.min_digits
    ):
        plan.errors.append(
            Problem(
                "password_policy",
                address,
                domain,
                mailbox.row,
                _p(
                    min_length=policy.min_length,
                    min_letters=policy.min_letters,
                    min_digits=policy.min_digits,
                ),
            )
        )
        return False
    return True


def _quota_text(quota: int | None) -> str:
    if quota is None:
        return "-"
    return "∞" if quota == 0 else f"{quota} MB"


def _plan_forward(
    plan: Plan,
    address: str,
    forward: ForwardLike,
    live: LiveState,
    tally: _DomainTally,
    created: set[str],
    is_mailbox: bool,
) -> None:
    domain = _domain_of(address)
    phase = PHASE_CATCH_ALL if address.startswith("@") else PHASE_ALIAS
    targets = _targets(forward.targets)
    keep_copy = bool(forward.keep_copy)
    if address in targets:  # "to myself" means "keep a copy" on a mailbox
        if not is_mailbox:
            plan.errors.append(Problem("self_target", address, domain, forward.row))
            return
        targets = tuple(x for x in targets if x != address)
        keep_copy = True
    if not targets:
        plan.errors.append(Problem("no_targets", address, domain, forward.row))
        return
    shown = ", ".join(targets)

    if is_mailbox:
        copy_code = "copy" if keep_copy else "nocopy"
        if address not in live.mailboxes:
            if address not in created:
                return  # the mailbox itself could not be planned; its error is reported
            fresh = LiveAlias(address, (), active=True, is_mailbox=True, keep_copy=True)
            plan.actions.append(
                Action(
                    "update_alias",
                    "alias",
                    address,
                    domain,
                    phase,
                    f"forward_{copy_code}",
                    _p(targets=shown),
                    row=forward.row,
                    targets=targets,
                    keep_copy=keep_copy,
                    known=fresh,
                )
            )
            return
        if address in live.unreadable or address not in live.mailbox_aliases:
            reason = live.unreadable.get(address, "not readable")
            plan.errors.append(
                Problem("forward_unreadable", address, domain, forward.row, _p(reason=reason))
            )
            return
        current = live.mailbox_aliases[address]
        same = set(_targets(current.targets)) == set(targets) and current.keep_copy == keep_copy
        if same and current.active:
            plan.actions.append(
                Action("skip", "alias", address, domain, phase, "forward_present", row=forward.row)
            )
            return
        # Adding forwarding to a mailbox that has none is no conflict; replacing existing
        # forwarding, or stopping local delivery of an existing mailbox, needs a yes.
        untouched = not current.targets and current.keep_copy and current.active and keep_copy
        conflict = None
        if not untouched:
            conflict = Conflict(
                "alias", address, _alias_fields(current, targets, keep_copy), forward.row
            )
        plan.actions.append(
            Action(
                "update_alias",
                "alias",
                address,
                domain,
                phase,
                f"forward_{copy_code}",
                _p(targets=shown),
                row=forward.row,
                conflict=conflict,
                targets=targets,
                keep_copy=keep_copy,
                set_active=not current.active,
            )
        )
        return

    if keep_copy:
        plan.errors.append(Problem("keep_copy_needs_mailbox", address, domain, forward.row))
        return
    current_alias = live.aliases.get(address)
    if current_alias is None:
        tally.new_aliases += 1
        plan.actions.append(
            Action(
                "create_alias",
                "alias",
                address,
                domain,
                phase,
                "new_alias",
                _p(targets=shown),
                row=forward.row,
                targets=targets,
            )
        )
        return
    if set(_targets(current_alias.targets)) == set(targets) and current_alias.active:
        plan.actions.append(
            Action("skip", "alias", address, domain, phase, "alias_present", row=forward.row)
        )
        return
    plan.actions.append(
        Action(
            "update_alias",
            "alias",
            address,
            domain,
            phase,
            "new_alias",
            _p(targets=shown),
            row=forward.row,
            conflict=Conflict(
                "alias", address, _alias_fields(current_alias, targets, None), forward.row
            ),
            targets=targets,
            set_active=not current_alias.active,
        )
    )


def _alias_fields(
    current: LiveAlias, targets: tuple[str, ...], keep_copy: bool | None
) -> tuple[ConflictField, ...]:
    fields = []
    if set(_targets(current.targets)) != set(targets):
        fields.append(
            ConflictField("targets", ", ".join(current.targets) or "-", ", ".join(targets))
        )
    if keep_copy is not None and current.keep_copy != keep_copy:
        fields.append(ConflictField("keep_copy", _yes(current.keep_copy), _yes(keep_copy)))
    if not current.active:
        fields.append(ConflictField("active", "no", "yes"))
    return tuple(fields)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _check_limits(plan: Plan, domain: str, tally: _DomainTally, options: PlanOptions) -> None:
    info = tally.info
    if info is not None:
        mailbox_used, mailbox_limit = info.mailbox_count, info.mailbox_limit
        alias_used, alias_limit = info.alias_count, info.alias_limit
    else:
        mailbox_used, mailbox_limit = 0, options.new_domain_mailboxes
        alias_used, alias_limit = 0, options.new_domain_aliases
    _check_one(plan, domain, "mailbox", tally.new_mailboxes, mailbox_used, mailbox_limit)
    # Each repaired orphan's alias is deleted first, which frees one alias slot.
    net_aliases = tally.new_aliases - tally.repaired
    _check_one(plan, domain, "alias", net_aliases, alias_used, alias_limit)
    if info is not None and info.domain_quota_mb and tally.quota_mb:
        free = info.domain_quota_mb - int(info.domain_quota_used_mb or 0)
        if tally.quota_mb > free:
            plan.errors.append(
                Problem(
                    "domain_quota",
                    domain,
                    domain,
                    params=_p(
                        planned=tally.quota_mb, left=max(free, 0), limit=info.domain_quota_mb
                    ),
                )
            )


def _check_one(plan: Plan, domain: str, what: str, planned: int, used: int, limit: int) -> None:
    if planned <= 0 or limit == 0:
        return
    if limit < 0:
        code = "mailboxes_disabled" if what == "mailbox" else "aliases_disabled"
        plan.errors.append(Problem(code, domain, domain, params=_p(planned=planned)))
        return
    left = max(limit - used, 0)
    if planned > left:
        plan.errors.append(
            Problem(
                f"{what}_limit",
                domain,
                domain,
                params=_p(planned=planned, left=left, used=used, limit=limit),
            )
        )


# -- verification ----------------------------------------------------------------------------


def verify(desired: Desired, live: LiveState) -> list[AddressCheck]:
    """Mark every listed address present, missing or different in the live state.

    A mailbox is present when it exists and is active. A forward is present when its
    targets (and keep-a-copy, for a mailbox) are exactly the listed ones.
    """
    checks: list[AddressCheck] = []
    for mailbox in desired.mailboxes:
        address = normalize_address(mailbox.address)
        found = live.mailboxes.get(address)
        if found is not None and found.active:
            status, detail = "present", ""
        elif found is not None:
            status, detail = "different", "inactive"
        else:
            status, detail = "missing", ""
        checks.append(
            AddressCheck(address, "mailbox", _domain_of(address), status, detail, mailbox.row)
        )
    for forward in desired.forwards:
        address = _forward_id(forward)
        targets = set(_targets(forward.targets))
        keep_copy = bool(forward.keep_copy) or address in targets
        targets.discard(address)
        if address in live.mailboxes:
            alias = live.mailbox_aliases.get(address)
            expect_copy: bool | None = keep_copy
        else:
            alias = live.aliases.get(address)
            expect_copy = None
        if alias is None:
            status, detail = "missing", ""
        elif set(_targets(alias.targets)) != targets:
            status, detail = "different", ", ".join(alias.targets)
        elif expect_copy is not None and alias.keep_copy != expect_copy:
            status, detail = "different", f"keep_copy={_yes(alias.keep_copy)}"
        elif not alias.active:
            status, detail = "different", "inactive"
        else:
            status, detail = "present", ""
        checks.append(
            AddressCheck(address, "forward", _domain_of(address), status, detail, forward.row)
        )
    return checks


def scope_of(domains: Collection[str] | None) -> frozenset[str] | None:
    """``PlanOptions.scope`` from a signed-in identity's domains (None = unrestricted)."""
    return None if domains is None else frozenset(normalize_domain(d) for d in domains)
