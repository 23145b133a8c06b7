"""PostfixAdminClient against real PostfixAdmin 3.3.13 instances (no fakes)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from mailmove.postfixadmin import (
    AdminIdentity,
    Forbidden,
    LoginFailed,
    PostfixAdminClient,
    Unreachable,
)
from mailmove.testbed.postfixadmin import CliError, PostfixAdminInstance
from tests.fixtures.postfixadmin import PfaFactory

pytestmark = pytest.mark.integration

DOMAIN_ADMIN_PASSWORD = "DomAdmin123"


class Recorder:
    """Remembers (method, path, status) of every response a real session receives."""

    def __init__(self, session: requests.Session) -> None:
        self.calls: list[tuple[str, str, int]] = []
        session.hooks["response"].append(self._record)

    def _record(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls.append((resp.request.method or "", urlsplit(resp.url).path, resp.status_code))

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.calls if m == method and p == path)


@pytest.fixture(scope="module")
def seeded(pfa: PostfixAdminInstance) -> PostfixAdminInstance:
    """Two customer domains on the shared instance; dadmin manages only the first."""
    pfa.add_domain("alpha.test", mailboxes=5, aliases=0, description="Alpha GmbH")
    pfa.add_domain("beta.test", mailboxes=0, aliases=-1)
    pfa.add_mailbox("anna@alpha.test", "Secret123", name="Anna")
    pfa.add_mailbox("ben@alpha.test", "Secret123")
    pfa.add_alias("team@alpha.test", ["anna@alpha.test", "ben@alpha.test"])
    pfa.add_admin("dadmin@alpha.test", DOMAIN_ADMIN_PASSWORD, ["alpha.test"])
    return pfa


def superadmin_client(instance: PostfixAdminInstance) -> PostfixAdminClient:
    client = PostfixAdminClient(instance.url)
    client.login(instance.superadmin, instance.superadmin_password)
    return client


def test_superadmin_sees_all_domains_with_counts(seeded: PostfixAdminInstance) -> None:
    client = PostfixAdminClient(seeded.url)

    identity = client.login(seeded.superadmin, seeded.superadmin_password)
    domains = {d.name: d for d in client.list_domains()}

    assert identity == AdminIdentity(username=seeded.superadmin, superadmin=True)
    assert {"alpha.test", "beta.test"} <= domains.keys()
    alpha = domains["alpha.test"]
    assert alpha.description == "Alpha GmbH"
    assert (alpha.mailbox_count, alpha.mailbox_limit, alpha.mailboxes_left) == (2, 5, 3)
    # PFA does not count the mailboxes' own alias rows as aliases.
    assert (alpha.alias_count, alpha.alias_limit, alpha.aliases_left) == (1, 0, None)
    assert alpha.active
    assert not alpha.backup_mx
    beta = domains["beta.test"]
    assert (beta.alias_limit, beta.aliases_left, beta.mailbox_limit) == (-1, 0, 0)


def test_domain_admin_sees_only_its_domains(seeded: PostfixAdminInstance) -> None:
    client = PostfixAdminClient(seeded.url)

    identity = client.login("dadmin@alpha.test", DOMAIN_ADMIN_PASSWORD)
    domains = client.list_domains()

    assert identity == AdminIdentity(username="dadmin@alpha.test", superadmin=False)
    assert [d.name for d in domains] == ["alpha.test"]
    assert domains[0].description is None  # PFA hides the description from domain admins
    assert domains[0].mailbox_count == 2


def test_wrong_password_raises_login_failed_without_the_password(
    seeded: PostfixAdminInstance,
) -> None:
    client = PostfixAdminClient(seeded.url)
    wrong = "Wrong-Pass-987"

    with pytest.raises(LoginFailed) as caught:
        client.login(seeded.superadmin, wrong)

    assert "not correct" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in repr(caught.value)
    assert wrong not in repr(client)
    assert client.identity is None


def test_domain_admin_lacking_a_role_is_forbidden_after_one_relogin(
    seeded: PostfixAdminInstance,
) -> None:
    # No public call needs the superadmin role yet; the rule lives in _request.
    session = requests.Session()
    calls = Recorder(session)
    client = PostfixAdminClient(seeded.url, session=session)
    client.login("dadmin@alpha.test", DOMAIN_ADMIN_PASSWORD)
    logins_before = calls.count("POST", "/login.php")

    with pytest.raises(Forbidden) as caught:
        client._request("GET", "edit.php", params={"table": "admin"})

    assert calls.count("POST", "/login.php") == logins_before + 1
    assert DOMAIN_ADMIN_PASSWORD not in str(caught.value)


def test_expired_session_is_renewed_once_transparently(seeded: PostfixAdminInstance) -> None:
    session = requests.Session()
    calls = Recorder(session)
    client = PostfixAdminClient(seeded.url, session=session)
    client.login(seeded.superadmin, seeded.superadmin_password)
    before = {d.name for d in client.list_domains()}
    assert calls.count("POST", "/login.php") == 1

    seeded.expire_sessions()  # as PHP's session GC would after 24 idle minutes
    after = {d.name for d in client.list_domains()}

    assert after == before
    assert calls.count("POST", "/login.php") == 2
    assert calls.count("GET", "/list.php") == 4  # admin probe, list, refused list, replay


def test_stale_csrf_token_is_renewed_once(seeded: PostfixAdminInstance) -> None:
    seeded.add_domain("gamma.test")
    session = requests.Session()
    calls = Recorder(session)
    client = PostfixAdminClient(seeded.url, session=session)
    client.login(seeded.superadmin, seeded.superadmin_password)
    client._token = "0" * 32  # as after a session regenerated behind our back

    resp = client._request(
        "POST",
        "edit.php",
        params={"table": "alias"},
        data={
            "table": "alias",
            "value[localpart]": "fwd",
            "value[domain]": "gamma.test",
            "value[goto]": "someone@elsewhere.example",
            "value[active]": "1",
        },
    )

    assert resp.status_code == 302  # PFA's "created"
    assert calls.count("POST", "/login.php") == 2
    gamma = next(d for d in client.list_domains() if d.name == "gamma.test")
    assert gamma.alias_count == 1


def test_logout_ends_the_pfa_session(seeded: PostfixAdminInstance) -> None:
    session = requests.Session()
    client = PostfixAdminClient(seeded.url, session=session)
    client.login(seeded.superadmin, seeded.superadmin_password)

    client.logout()

    assert client.identity is None
    resp = session.get(seeded.url + "main.php", allow_redirects=False, timeout=5)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "login.php"


def test_stopped_server_is_unreachable(pfa_factory: PfaFactory) -> None:
    instance = pfa_factory()
    client = superadmin_client(instance)

    instance.stop()

    assert not instance.running
    with pytest.raises(Unreachable, match="cannot connect"):
        client.list_domains()
    with pytest.raises(Unreachable):
        PostfixAdminClient(instance.url, timeout=2).login(
            instance.superadmin, instance.superadmin_password
        )


def test_second_instance_runs_independently(
    seeded: PostfixAdminInstance, pfa_factory: PfaFactory
) -> None:
    other = pfa_factory(superadmin="boss@other.test", superadmin_password="OtherPass456")
    other.add_domain("only-here.test")

    mine = {d.name for d in superadmin_client(seeded).list_domains()}
    theirs = {d.name for d in superadmin_client(other).list_domains()}

    assert other.port != seeded.port
    assert theirs == {"only-here.test"}
    assert "only-here.test" not in mine
    with pytest.raises(LoginFailed):
        PostfixAdminClient(other.url).login(seeded.superadmin, seeded.superadmin_password)


def test_restarted_instance_keeps_data_port_and_sessions(pfa_factory: PfaFactory) -> None:
    instance = pfa_factory()
    instance.add_domain("kept.test")
    session = requests.Session()
    calls = Recorder(session)
    client = PostfixAdminClient(instance.url, session=session)
    client.login(instance.superadmin, instance.superadmin_password)
    url = instance.url

    instance.restart()
    again = PostfixAdminInstance(base_dir=instance.base_dir, cache_dir=instance.cache_dir)
    again.prepare()  # what a restarted demo does: must not wipe or re-seed anything

    assert instance.url == url
    assert [d.name for d in client.list_domains()] == ["kept.test"]
    assert calls.count("POST", "/login.php") == 1


def test_cli_errors_are_clear_and_hide_passwords(pfa_factory: PfaFactory) -> None:
    instance = pfa_factory()
    instance.add_domain("cli.test")

    with pytest.raises(CliError) as caught:
        instance.add_mailbox("weak@cli.test", "ab1")

    assert "too short" in str(caught.value)
    assert "ab1" not in str(caught.value)
    assert caught.value.result.returncode == 1


def test_quota_settings_show_up_in_domain_info(pfa_factory: PfaFactory) -> None:
    instance = pfa_factory(conf={"quota": "YES"})
    instance.add_domain("quota.test", maxquota=100)
    # With quota=YES PFA refuses 0 (= unlimited) as "too high": a quota is mandatory.
    with pytest.raises(CliError, match="too high"):
        instance.add_mailbox("unlimited@quota.test", "Secret123")
    instance.add_mailbox("fifty@quota.test", "Secret123", quota=50)

    [domain] = superadmin_client(instance).list_domains()

    assert (domain.name, domain.mailbox_count, domain.max_quota_mb) == ("quota.test", 1, 100)
    assert (domain.domain_quota_used_mb, domain.domain_quota_mb) == (50.0, 2048)
