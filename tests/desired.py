"""Small stand-ins for the lists model, as the planner's protocols see it.

The provisioning tests build desired state directly, without parsing a file; one
definition serves them all (and keeps them independent of mailmove.lists).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mbx:
    address: str
    name: str = ""
    password: str = field(default="Secret123", repr=False)
    quota_mb: int | None = None
    row: int = 0
    generated_password: bool = False


@dataclass(frozen=True)
class Fwd:
    address: str
    targets: tuple[str, ...]
    keep_copy: bool = False
    catch_all: bool = False
    row: int = 0
