"""The root of mailmove's exceptions.

Every error a user can cause (bad configuration, unreadable input) derives from
:class:`MailmoveError`, so the CLI and the pages can turn it into one clear
sentence instead of a traceback.
"""


class MailmoveError(Exception):
    """Something the user can fix; ``str(err)`` is a one-line reason without secrets."""


class ConfigError(MailmoveError):
    """The configuration file is missing, unreadable or has a wrong value."""
