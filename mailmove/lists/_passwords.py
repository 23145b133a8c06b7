"""The server's password policy, and strong passwords for rows that have none.

PostfixAdmin counts only ASCII letters and digits (its regexes are ``[a-zA-Z]`` and
``[0-9]``), so we do too: a full-width ``ｐａｓｓ１２`` has no letters for it.
"""

from __future__ import annotations

import re
import secrets

from mailmove.config import PasswordPolicy

# No look-alikes (0/O, 1/l/I): users copy these from a printed sheet or a phone screen.
_LETTERS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"
GENERATED_LENGTH = 16
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")


def policy_problems(password: str, policy: PasswordPolicy) -> list[str]:
    """Catalog codes for each rule of the policy the password breaks (never the password)."""
    problems = []
    if len(password) < policy.min_length:
        problems.append("password_too_short")
    if len(_LETTER.findall(password)) < policy.min_letters:
        problems.append("password_few_letters")
    if len(_DIGIT.findall(password)) < policy.min_digits:
        problems.append("password_few_digits")
    return problems


def generate_password(policy: PasswordPolicy) -> str:
    """A random password from the OS's CSPRNG that meets the policy with room to spare."""
    digits = max(policy.min_digits, 2)
    letters = max(policy.min_letters, 3)
    length = max(GENERATED_LENGTH, policy.min_length, digits + letters)
    chars = [secrets.choice(_DIGITS) for _ in range(digits)]
    chars += [secrets.choice(_LETTERS) for _ in range(letters)]
    chars += [secrets.choice(_LETTERS + _DIGITS) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
