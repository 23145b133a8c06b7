"""Reading PostfixAdmin's HTML: form values, field errors and flash messages.

Why a parser and not regexes for forms: an update must send the *whole* form back
(edit.php blanks every editable field missing from a POST, §7e), so we need every
input, textarea, select and checkbox exactly as PFA rendered it.

Flash messages live in the PHP session until some page renders them. Side effects
that failed after a successful save (hook script, welcome mail) are flash *errors*
that can show up on a later page, so they are told apart from real errors by their
(English, lang=en) wording: PFA 3.3 has a closed set of them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Final

from mailmove.postfixadmin._errors import FormError

__all__ = [
    "FormValues",
    "Page",
    "find_token",
    "is_side_effect",
    "parse_form",
    "parse_page",
]

_TOKEN_RE: Final = re.compile(r'name="token"\s+value="([0-9A-Za-z]+)"')
_FLASH_RE: Final = re.compile(r'<ul class="flash-(error|info)">(.*?)</ul>', re.S)
_LI_RE: Final = re.compile(r"<li>(.*?)</li>", re.S)
_TAG_RE: Final = re.compile(r"<[^>]+>")
_VALUE_NAME_RE: Final = re.compile(r"^value\[([A-Za-z0-9_]+)\](\[\])?$")
# What MailboxHandler/DomainHandler report when a save succeeded but a side effect did
# not (languages/en.lang + the literal strings in the handlers' post-scripts).
_SIDE_EFFECT_RE: Final = re.compile(
    r"Unable to send email to|script failed, check the error log"
    r"|Problems running .* script|Empty .* parameter in .*post(creation|deletion)",
)


def find_token(page: str) -> str | None:
    """The CSRF token of any PFA form page (hidden input ``token``)."""
    match = _TOKEN_RE.search(page)
    return match.group(1) if match else None


def is_side_effect(message: str) -> bool:
    """True for the messages PFA adds after a *successful* save whose aftermath failed."""
    return _SIDE_EFFECT_RE.search(message) is not None


@dataclass(frozen=True, slots=True)
class Page:
    """What a rendered PFA page tells us: flash messages and per-field errors."""

    infos: tuple[str, ...]
    errors: tuple[str, ...]
    field_errors: tuple[FormError, ...]

    def form_errors(self) -> list[FormError]:
        """Errors of the form just submitted: field errors + non-side-effect flash errors."""
        general = [FormError(None, e) for e in self.errors if not is_side_effect(e)]
        return [*self.field_errors, *general]

    @property
    def side_effects(self) -> tuple[str, ...]:
        return tuple(e for e in self.errors if is_side_effect(e))


def parse_page(page: str, *, fields: bool = True) -> Page:
    """Flash messages, and (unless ``fields=False``, for pages that show no result of
    a submission) the field errors of the form."""
    infos: list[str] = []
    errors: list[str] = []
    for kind, block in _FLASH_RE.findall(page):
        items = [_text(li) for li in _LI_RE.findall(block)]
        (errors if kind == "error" else infos).extend(i for i in items if i)
    field_errors: list[FormError] = []
    if fields and "has-error" in page:
        parser = _FieldErrorParser()
        parser.feed(page)
        parser.close()
        field_errors = parser.errors
    return Page(tuple(infos), tuple(errors), tuple(field_errors))


@dataclass(slots=True)
class FormValues:
    """The ``value[...]`` fields of the first form on a page, as PFA would receive them.

    ``values`` maps the bare field name to its text (a multi-select to a list);
    ``checkboxes`` names every checkbox, ticked or not, because an unticked one must
    be *left out* of the POST (PFA reads a missing checkbox as 0, any value as 1).
    """

    values: dict[str, str | list[str]] = field(default_factory=dict)
    checkboxes: set[str] = field(default_factory=set)

    def checked(self, name: str) -> bool:
        return name in self.checkboxes and name in self.values

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        return value if isinstance(value, str) else ",".join(value)

    def post_data(self, overrides: dict[str, str | bool | list[str]]) -> dict[str, str | list[str]]:
        """The POST body: current values with ``overrides``; bools tick or drop a checkbox."""
        merged: dict[str, str | bool | list[str]] = dict(self.values)
        for name in self.checkboxes:
            merged[name] = name in self.values
        merged.update(overrides)
        data: dict[str, str | list[str]] = {}
        for name, value in merged.items():
            key = f"value[{name}]" + ("[]" if isinstance(value, list) else "")
            if value is True:
                data[key] = "1"
            elif value is False:
                continue  # an absent checkbox is PFA's 0
            else:
                data[key] = value
        return data


def parse_form(page: str) -> FormValues | None:
    """Values of the first ``<form>`` on the page, or None when there is none.

    Password inputs are skipped on purpose: PFA never renders them with a value and
    an empty password on an edit means "keep the current one".
    """
    start = page.find("<form")
    if start < 0:
        return None
    end = page.find("</form>", start)
    parser = _FormParser()
    parser.feed(page[start : end + len("</form>")] if end >= 0 else page[start:])
    parser.close()
    return parser.form


def _text(fragment: str) -> str:
    return " ".join(html.unescape(_TAG_RE.sub(" ", fragment)).split())


def _value_name(attrs: dict[str, str | None]) -> tuple[str, bool] | None:
    match = _VALUE_NAME_RE.match(attrs.get("name") or "")
    if match is None:
        return None
    return match.group(1), match.group(2) is not None


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.form: FormValues | None = None
        self._in_form = False
        self._done = False
        self._textarea: str | None = None
        self._textarea_text: list[str] = []
        self._select: tuple[str, bool] | None = None
        self._select_first: str | None = None
        self._select_chosen: list[str] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        attrs = dict(attrs_list)
        if tag == "form" and not self._in_form:
            self._in_form = True
            self.form = FormValues()
            return
        if not self._in_form or self.form is None:
            return
        if tag == "input":
            named = _value_name(attrs)
            if named is None:
                return
            name, _multi = named
            kind = (attrs.get("type") or "text").lower()
            if kind == "password":
                return
            if kind == "checkbox":
                self.form.checkboxes.add(name)
                if "checked" in attrs:
                    self.form.values[name] = attrs.get("value") or "1"
                return
            if kind == "radio":
                if "checked" in attrs:
                    self.form.values[name] = attrs.get("value") or ""
                return
            self.form.values[name] = attrs.get("value") or ""
        elif tag == "textarea":
            named = _value_name(attrs)
            if named is not None:
                self._textarea, self._textarea_text = named[0], []
        elif tag == "select":
            named = _value_name(attrs)
            if named is not None:
                self._select = (named[0], named[1] or "multiple" in attrs)
                self._select_first, self._select_chosen = None, []
        elif tag == "option" and self._select is not None:
            value = attrs.get("value") or ""
            if self._select_first is None:
                self._select_first = value
            if "selected" in attrs:
                self._select_chosen.append(value)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self.form is None or self._done:
            return
        if tag == "textarea" and self._textarea is not None:
            self.form.values[self._textarea] = "".join(self._textarea_text)
            self._textarea = None
        elif tag == "select" and self._select is not None:
            name, multi = self._select
            if multi:
                self.form.values[name] = list(self._select_chosen)
            elif self._select_chosen:
                self.form.values[name] = self._select_chosen[0]
            elif self._select_first is not None:
                self.form.values[name] = self._select_first  # what a browser submits
            self._select = None
        elif tag == "form":
            self._done = True


class _FieldErrorParser(HTMLParser):
    """Collects ``<div class="form-group has-error">`` blocks: field name + help text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.errors: list[FormError] = []
        self._depth = 0  # div depth inside the current error group; 0 = not in one
        self._field: str | None = None
        self._in_help = False
        self._help: list[str] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        classes = (attrs.get("class") or "").split()
        if tag == "div":
            if self._depth:
                self._depth += 1
            elif "form-group" in classes and "has-error" in classes:
                self._depth, self._field, self._help = 1, None, []
            return
        if not self._depth:
            return
        if tag in ("input", "textarea", "select") and self._field is None:
            named = _value_name(attrs)
            if named is not None:
                self._field = named[0]
        elif tag == "span" and "help-block" in classes:
            self._in_help = True

    def handle_data(self, data: str) -> None:
        if self._in_help:
            self._help.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._in_help:
            self._in_help = False
        elif tag == "div" and self._depth:
            self._depth -= 1
            if self._depth == 0:
                message = " ".join("".join(self._help).split())
                if message:
                    self.errors.append(FormError(self._field, message))
