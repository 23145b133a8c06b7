"""Client for a PostfixAdmin 3.3 server, driven through its web forms.

Public surface; the implementation lives in small private modules so it can grow
(provisioning, listing mailboxes and aliases) without changing imports::

    from mailmove.postfixadmin import PostfixAdminClient, LoginFailed

    client = PostfixAdminClient("https://mail.example.com/postfixadmin/")
    me = client.login("admin@example.com", password)
    domains = client.list_domains()
"""

from mailmove.postfixadmin._errors import (
    Forbidden,
    LoginFailed,
    PostfixAdminError,
    ProtocolError,
    Unreachable,
)
from mailmove.postfixadmin._http import AdminIdentity, DomainInfo, PostfixAdminClient

__all__ = [
    "AdminIdentity",
    "DomainInfo",
    "Forbidden",
    "LoginFailed",
    "PostfixAdminClient",
    "PostfixAdminError",
    "ProtocolError",
    "Unreachable",
]
