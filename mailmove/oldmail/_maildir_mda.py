"""fetchmail's delivery agent for the demo/test runner: one message on stdin → a Maildir.

Why: the test bed has no Postfix or Dovecot for the *new* server, so the runner's
fetchmail hands each message to this MDA (``mda "python -I -S _maildir_mda.py DIR"``;
stdlib only, so it starts in milliseconds), which stores
it with ``mailbox.Maildir`` (written to ``tmp/``, renamed into ``new/``), where tests
and the demo can read it. A non-zero exit tells fetchmail the delivery failed, so it
keeps the message on the old server.
"""

from __future__ import annotations

import mailbox
import os
import sys
from collections.abc import Sequence

EX_USAGE = 64
EX_TEMPFAIL = 75


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m mailmove.oldmail._maildir_mda MAILDIR", file=sys.stderr)
        return EX_USAGE
    data = sys.stdin.buffer.read()
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args[0])), exist_ok=True)
        mailbox.Maildir(args[0], create=True).add(data)
    except OSError as err:
        print(f"maildir delivery failed: {err.strerror or err}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
