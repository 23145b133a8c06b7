"""An unexpected error on a page: the user sees only an id, the server log has the trace."""

from __future__ import annotations

import logging
import re

import pytest
from streamlit.testing.v1 import AppTest


def _page_that_fails() -> None:
    from mailmove.ui import frame

    def broken() -> None:
        raise RuntimeError("secret internal detail /srv/mailmove/db password=hunter2")

    frame.run_guarded(broken)


@pytest.mark.parametrize(
    ("lang", "words"), [("ja", "予期しないエラー"), ("en", "Something went wrong")]
)
def test_unexpected_error_shows_only_an_id(
    lang: str, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = AppTest.from_function(_page_that_fails)
    app.session_state["lang"] = lang
    with caplog.at_level(logging.ERROR, logger="mailmove.ui"):
        app.run()
    assert not app.exception  # no Streamlit exception box with a trace
    [error] = app.error
    assert words in error.value
    shown_id = re.search(r"[0-9a-f]{8}", error.value)
    assert shown_id is not None
    assert "hunter2" not in error.value
    assert "RuntimeError" not in error.value
    # The server log has the id and the trace, for support to find.
    logged = [r for r in caplog.records if shown_id.group(0) in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
