"""Sign-in against a real PostfixAdmin: customers, superadmins, staff from secrets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mailmove.auth import SignInError, hash_password, sign_in, verify_password
from mailmove.config import PostfixAdminSettings, Server
from mailmove.testbed.postfixadmin import PostfixAdminInstance

pytestmark = pytest.mark.integration


def server_for(pfa: PostfixAdminInstance, **pfa_settings: str) -> Server:
    return Server(
        name="test-1",
        postfixadmin=PostfixAdminSettings(url=pfa.url, **pfa_settings),
        ipv4="198.51.100.25",
    )


@pytest.fixture(scope="module")
def customers(pfa: PostfixAdminInstance) -> PostfixAdminInstance:
    for domain in ("auth-a.test", "auth-b.test"):
        pfa.add_domain(domain)
    pfa.add_admin("admin@auth-a.test", "Auth-pass-11", ["auth-a.test"])
    return pfa


def test_customer_gets_exactly_their_domains(customers: PostfixAdminInstance) -> None:
    who, client = sign_in(server_for(customers), " Admin@Auth-A.test ", "Auth-pass-11")
    assert who.username == "admin@auth-a.test"
    assert not who.is_staff
    assert who.domains == ("auth-a.test",)
    assert who.may_act_on("auth-a.test")
    assert not who.may_act_on("auth-b.test")
    client.logout()


def test_wrong_password_and_unreachable_server_are_told_apart(
    customers: PostfixAdminInstance,
) -> None:
    with pytest.raises(SignInError) as err:
        sign_in(server_for(customers), "admin@auth-a.test", "wrong-99x")
    assert err.value.reason == "failed"
    dead = Server("dead", PostfixAdminSettings(url="http://127.0.0.1:9/"), "198.51.100.25")
    with pytest.raises(SignInError) as err:
        sign_in(dead, "admin@auth-a.test", "Auth-pass-11")
    assert err.value.reason == "unreachable"


def test_superadmin_is_staff_and_sees_every_domain(customers: PostfixAdminInstance) -> None:
    who, _ = sign_in(server_for(customers), customers.superadmin, customers.superadmin_password)
    assert who.is_staff
    assert {"auth-a.test", "auth-b.test"} <= set(who.domains)


def test_staff_account_from_secrets_acts_through_the_configured_account(
    customers: PostfixAdminInstance,
) -> None:
    accounts = {"alice@support.test": hash_password("correct horse battery", rounds=1000)}
    server = server_for(
        customers, username=customers.superadmin, password=customers.superadmin_password
    )
    who, _ = sign_in(server, "alice@support.test", "correct horse battery", staff_accounts=accounts)
    assert who.is_staff
    assert who.username == "alice@support.test"
    assert "auth-b.test" in who.domains
    with pytest.raises(SignInError):
        sign_in(server, "alice@support.test", "wrong horse", staff_accounts=accounts)


def test_password_hashes_verify_and_the_cli_makes_them() -> None:
    hashed = hash_password("s3cret-long-enough", rounds=1000)
    assert verify_password("s3cret-long-enough", hashed)
    assert not verify_password("s3cret-long-enougH", hashed)
    assert not verify_password("x", "garbage")
    made = subprocess.run(
        [sys.executable, "-m", "mailmove", "staff-hash"],
        input="a-long-staff-password\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert verify_password("a-long-staff-password", made.stdout.strip())
    assert "a-long-staff-password" not in made.stdout


def test_a_postfixadmin_answering_500_is_unreachable_not_a_crash() -> None:
    """PHP fatal errors come back as HTTP 500: the customer is told to try again later."""
    import http.server
    import threading

    class Broken(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"PHP Fatal error: Uncaught Exception")

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        broken = Server("broken", PostfixAdminSettings(url=url), "198.51.100.25")
        with pytest.raises(SignInError) as err:
            sign_in(broken, "admin@auth-a.test", "Auth-pass-11")
        assert err.value.reason == "unreachable"
        assert "Auth-pass-11" not in str(err.value)
    finally:
        httpd.shutdown()
        httpd.server_close()
