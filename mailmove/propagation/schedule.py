"""When the page checks again: by itself every ``dns.refresh_s``, or now when asked.

The "check now" button is throttled: a customer clicking repeatedly must not turn the page
into a query flood against their own nameservers and the public resolvers (reference sheet
§10: throttle the re-check button). Pure, so the rule is tested without a browser.
"""

from __future__ import annotations

import math

THROTTLE_S = 5.0  # "check now" at most this often
# A fragment re-run lands a little early or late; a check this close to due is due.
DUE_SHARE = 0.8


def due(
    last_check: float | None,
    now: float,
    refresh_s: float,
    *,
    clicked: bool,
    throttle_s: float = THROTTLE_S,
) -> tuple[bool, int]:
    """(check now?, seconds until the button works again; 0 unless a click was refused)."""
    if last_check is None:
        return True, 0
    since = now - last_check
    if clicked:
        if since >= throttle_s:
            return True, 0
        return since >= refresh_s * DUE_SHARE, math.ceil(throttle_s - since)
    return since >= refresh_s * DUE_SHARE, 0
