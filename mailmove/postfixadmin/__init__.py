"""Client for a PostfixAdmin 3.3 server, driven through its web forms (or its CLI).

Public surface; the implementation lives in small private modules so it can grow
without changing imports::

    from mailmove.postfixadmin import PostfixAdminClient, LoginFailed

    client = PostfixAdminClient("https://mail.example.com/postfixadmin/")
    me = client.login("admin@example.com", password)
    domains = client.list_domains()

Provisioning goes through the :class:`Backend` protocol, implemented by
:class:`PostfixAdminClient` (HTTP, primary) and :class:`PostfixAdminCli` (on the PFA
host); :func:`connect` picks one from a server's configuration.
"""

from __future__ import annotations

from mailmove.config import PostfixAdminSettings
from mailmove.postfixadmin._cli import CLI_IDENTITY, PostfixAdminCli
from mailmove.postfixadmin._errors import (
    Forbidden,
    FormError,
    LoginFailed,
    PostfixAdminError,
    ProtocolError,
    Rejected,
    Unreachable,
)
from mailmove.postfixadmin._fetchmail import (
    FetchmailJob,
    FetchmailJobRefused,
    NewFetchmailJob,
    add_fetchmail_job,
    delete_fetchmail_job,
    list_fetchmail_jobs,
)
from mailmove.postfixadmin._forms import is_side_effect
from mailmove.postfixadmin._http import PostfixAdminClient
from mailmove.postfixadmin._model import Backend, LiveAlias, LiveMailbox, LiveState, Outcome
from mailmove.postfixadmin._types import AdminIdentity, DomainInfo

__all__ = [
    "CLI_IDENTITY",
    "AdminIdentity",
    "Backend",
    "DomainInfo",
    "FetchmailJob",
    "FetchmailJobRefused",
    "Forbidden",
    "FormError",
    "LiveAlias",
    "LiveMailbox",
    "LiveState",
    "LoginFailed",
    "NewFetchmailJob",
    "Outcome",
    "PostfixAdminCli",
    "PostfixAdminClient",
    "PostfixAdminError",
    "ProtocolError",
    "Rejected",
    "Unreachable",
    "add_fetchmail_job",
    "connect",
    "delete_fetchmail_job",
    "is_side_effect",
    "list_fetchmail_jobs",
]


def connect(settings: PostfixAdminSettings, *, timeout: float = 10) -> Backend:
    """The configured backend, logged in with the configured (staff) account for HTTP."""
    if settings.backend == "cli":
        return PostfixAdminCli(settings.cli_path)
    client = PostfixAdminClient(settings.url, timeout=timeout)
    client.login(settings.username, settings.password)
    return client
