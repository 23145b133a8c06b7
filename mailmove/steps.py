"""The migration's steps, in the FAQ's order, and which page serves each.

The step header on every page and the Overview's "what next" read this one
table, so the order is stated once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    key: str
    page: str  # the page's url_path in app.py
    title_key: str  # catalog key of the step's label


STEPS: tuple[Step, ...] = (
    Step("addresses", "addresses", "steps.addresses"),
    Step("dns", "dns-records", "steps.dns"),
    Step("propagation", "propagation", "steps.propagation"),
    Step("old_mail", "old-mail", "steps.old_mail"),
)


def step_for_page(url_path: str) -> Step | None:
    """The step a page belongs to; None for pages outside the sequence (Overview, Staff)."""
    return next((s for s in STEPS if s.page == url_path), None)


def next_step(done: frozenset[str]) -> Step | None:
    """The first step not yet done, in FAQ order: a later step never jumps the queue."""
    return next((s for s in STEPS if s.key not in done), None)
