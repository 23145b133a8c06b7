"""One printable HTML page per user: what to do, when, and how in their mail program.

Why these choices:

* Every piece of user data (address, name, password) and every catalog text goes
  through ``html.escape``; the page has no script and a CSP that forbids any, so a
  name like ``<script>`` stays text even if a browser is lenient.
* Print CSS (A4, no link colours, no breaks inside a step) so "Print → Save as PDF"
  in any browser gives a clean handout; no PDF library is needed.
* The page is the same for every user except address, name and password, so it is
  rendered once per settings with placeholders and filled per user: 5,000 pages
  must take seconds, not minutes (see bench/bench_instructions.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mailmove.i18n import CatalogError, Lang, catalog
from mailmove.oldmail._clients import CLIENT_IDS, ClientGuide, client
from mailmove.oldmail._model import (
    MailboxLike,
    NewProtocol,
    NewServer,
    clean_text,
    display_address,
    is_ip,
    security_for,
)
from mailmove.oldmail._timing import Timing, format_after, format_day, format_when

__all__ = ["PageRenderer", "PageSettings", "page_filename", "render_page"]

# Placeholders filled per user. NUL never survives clean_text(), so user data cannot fake one.
_ADDR = "\x00addr\x00"
_FOR = "\x00for\x00"
_PASSWORD = "\x00secret\x00"  # noqa: S105 (a placeholder, not a password)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._@+-]")

_CSS = """
:root{color-scheme:light}
body{font-family:"Hiragino Kaku Gothic ProN","Hiragino Sans","Yu Gothic","Meiryo",
"Noto Sans CJK JP","Noto Sans JP",sans-serif;font-size:11pt;line-height:1.7;color:#111;
max-width:46em;margin:2em auto;padding:0 1em;overflow-wrap:anywhere}
h1{font-size:1.6em;line-height:1.3;margin:0 0 .3em}
h2{font-size:1.25em;border-bottom:2px solid #333;padding-bottom:.1em;margin-top:1.8em}
h3{font-size:1.15em;margin-top:1.6em;border-left:6px solid #2b6cb0;padding-left:.4em}
h4{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0;width:32%;font-weight:600}
ol,ul{padding-left:1.6em}li{margin:.2em 0}
.for{font-size:1.1em;margin:0}
.when{font-size:1.15em;font-weight:700;border:2px solid #2b6cb0;background:#eef5ff;
padding:.6em .8em}
.warn{border-left:5px solid #c05621;background:#fff5eb;padding:.5em .8em}
.secret{font-family:ui-monospace,Consolas,monospace;font-size:1.1em;letter-spacing:.05em}
footer{margin-top:2.5em;border-top:1px solid #999;padding-top:.5em;font-size:.95em}
@page{size:A4;margin:14mm 14mm 16mm}
@media print{body{margin:0;max-width:none;font-size:10.5pt}a{color:inherit;
text-decoration:none}nav{display:none}h2,h3,h4{break-after:avoid}
li,tr,.warn,.when{break-inside:avoid}}
"""


@dataclass(frozen=True)
class PageSettings:
    """What the customer chose for all pages of one run."""

    old_host: str  # normalised (see _model.normalise_old_host)
    timing: Timing
    new_server: NewServer
    lang: Lang = "ja"
    old_port: int = 995  # 995 = POP3 over TLS; 110 only as a last resort
    new_protocol: NewProtocol = "imap"
    clients: tuple[str, ...] = CLIENT_IDS
    include_generated_passwords: bool = False
    guides: tuple[ClientGuide, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.clients:
            raise ValueError("choose at least one mail program")
        object.__setattr__(self, "guides", tuple(client(c) for c in self.clients))

    @property
    def old_tls(self) -> bool:
        return self.old_port != 110


def page_filename(address: str) -> str:
    """``<address>.html`` with anything outside a safe set replaced (no paths, no dots first)."""
    name = _SAFE_NAME.sub("_", address).lstrip(".") or "_"
    return f"{name}.html"


def render_page(
    mailbox: MailboxLike, settings: PageSettings, *, mask_password: bool = False
) -> str:
    """One page; for many pages build a :class:`PageRenderer` once and reuse it."""
    return PageRenderer(settings).render(mailbox, mask_password=mask_password)


class PageRenderer:
    """Renders the shared page once per settings, then fills in each user."""

    def __init__(self, settings: PageSettings) -> None:
        self.settings = settings
        self._texts = _texts(settings.lang)
        self._template = self._build()

    # -- per user ----------------------------------------------------------------------

    def render(self, mailbox: MailboxLike, *, mask_password: bool = False) -> str:
        address = clean_text(mailbox.address)
        name = clean_text(mailbox.name or "").strip()
        shown = display_address(address)
        if name:
            header = self._fmt("oldmail.page.for_named", name=name, address=shown)
        else:
            header = self._fmt("oldmail.page.for", address=shown)
        return (
            self._template.replace(_FOR, header)
            .replace(_PASSWORD, self._password_cell(mailbox, mask_password))
            .replace(_ADDR, html.escape(address))
        )

    def includes_password(self, mailbox: MailboxLike) -> bool:
        """The generated initial password is printed only if the customer opted in."""
        return bool(
            self.settings.include_generated_passwords
            and mailbox.generated_password
            and mailbox.password
        )

    def _password_cell(self, mailbox: MailboxLike, mask: bool) -> str:
        if not self.includes_password(mailbox):
            return html.escape(self._texts["oldmail.page.password_not_printed"])
        if mask:
            return html.escape(self._texts["oldmail.page.password_masked"])
        secret = f'<span class="secret">{html.escape(clean_text(mailbox.password))}</span>'
        line = html.escape(self._texts["oldmail.page.password_generated"]).format(password=secret)
        keep = html.escape(self._texts["oldmail.page.password_keep_safe"])
        return f'{line}<p class="warn">{keep}</p>'

    # -- shared part -------------------------------------------------------------------

    def _fmt(self, key: str, **params: object) -> str:
        """Catalog text, escaped, with each value escaped and bold (sentinels pass through)."""
        values = {k: f"<b>{html.escape(str(v))}</b>" for k, v in params.items()}
        return html.escape(self._texts[key]).format(**values) if values else self._esc(key)

    def _esc(self, key: str) -> str:
        return html.escape(self._texts[key])

    def _step_params(self) -> dict[str, str]:
        s = self.settings
        incoming = s.new_server.incoming(s.new_protocol)
        return {
            "address": _ADDR,
            "old_host": s.old_host,
            "old_port": str(s.old_port),
            "old_security": self._security("ssl" if s.old_tls else "none"),
            "protocol": self._texts[f"oldmail.protocol.{s.new_protocol}"],
            "protocol_short": "IMAP" if s.new_protocol == "imap" else "POP3",
            "in_host": incoming.host,
            "in_port": str(incoming.port),
            "in_security": self._security(security_for(incoming.port)),
            "smtp_host": s.new_server.smtp.host,
            "smtp_port": str(s.new_server.smtp.port),
            "smtp_security": self._security(security_for(s.new_server.smtp.port)),
        }

    def _security(self, kind: str) -> str:
        return self._texts[f"oldmail.security.{kind}"]

    def _build(self) -> str:
        s = self.settings
        lang, tz = s.lang, s.timing.zone
        switch = format_when(s.timing.switch_at, lang, tz)
        fetch_after = format_after(s.timing.fetch_after, lang, tz)
        remove_day = format_day(s.timing.remove_after, lang)
        p = self._step_params()
        f = self._fmt
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{lang}"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta http-equiv="Content-Security-Policy" '
            "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            f"<title>{self._esc('oldmail.page.title')} - {_ADDR}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<header><h1>{self._esc('oldmail.page.title')}</h1>",
            f'<p class="for">{_FOR}</p></header>',
            f"<p>{f('oldmail.page.intro', switch=switch)}</p>",
            f'<p class="when">{f("oldmail.page.when_box", fetch_after=fetch_after)}</p>',
            f"<section><h2>{self._esc('oldmail.page.plan_title')}</h2><ol>",
            f"<li>{f('oldmail.page.plan.1', switch=switch, old_host=s.old_host)}</li>",
            f"<li>{f('oldmail.page.plan.2')}</li>",
            f"<li>{f('oldmail.page.plan.3', fetch_after=fetch_after)}</li>",
            f"<li>{f('oldmail.page.plan.4', remove_day=remove_day)}</li></ol>",
            f"<p>{self._esc('oldmail.page.plan.late')}</p></section>",
            self._old_server_section(p),
            self._new_server_section(p),
            self._explain_section("why", 2),
            self._explain_section("copy", 3),
            self._programs_section(p),
            f"<section><h2>{self._esc('oldmail.page.final_title')}</h2>",
            f"<p>{f('oldmail.page.final.1', fetch_after=fetch_after)}</p>",
            f"<p>{f('oldmail.page.final.2', remove_day=remove_day)}</p>",
            f"<h4>{self._esc('oldmail.page.remove_title')}</h4>",
            f"<p>{self._esc('oldmail.page.remove.1')}</p></section>",
            f"<footer>{self._esc('oldmail.page.footer')}</footer>",
            "</body></html>\n",
        ]
        return "\n".join(parts)

    def _row(self, label_key: str, value_html: str) -> str:
        return f"<tr><th>{self._esc(label_key)}</th><td>{value_html}</td></tr>"

    def _old_server_section(self, p: Mapping[str, str]) -> str:
        s = self.settings
        e = html.escape
        rows = [
            self._row("oldmail.page.row.server", f"<b>{e(s.old_host)}</b>"),
            self._row("oldmail.page.row.protocol", self._esc("oldmail.protocol.pop3")),
            self._row("oldmail.page.row.port", f"<b>{s.old_port}</b>"),
            self._row("oldmail.page.row.security", e(p["old_security"])),
            self._row("oldmail.page.row.username", self._esc("oldmail.page.unchanged")),
            self._row("oldmail.page.row.password", self._esc("oldmail.page.unchanged")),
        ]
        if is_ip(s.old_host):
            host_note = f'<p class="warn">{self._esc("oldmail.page.old_host_is_ip")}</p>'
        else:
            host_note = f"<p>{self._fmt('oldmail.page.old_host_named', old_host=s.old_host)}</p>"
        port_key = "oldmail.page.port_fallback" if s.old_tls else "oldmail.page.plain_warning"
        return (
            f"<section><h2>{self._esc('oldmail.page.old_title')}</h2>"
            f"<table>{''.join(rows)}</table>{host_note}"
            f'<p class="{"" if s.old_tls else "warn"}">{self._esc(port_key)}</p></section>'
        )

    def _endpoint(self, host: str, port: int) -> str:
        return self._fmt(
            "oldmail.page.endpoint",
            host=host,
            port=port,
            security=self._security(security_for(port)),
        )

    def _new_server_section(self, p: Mapping[str, str]) -> str:
        srv = self.settings.new_server
        order: list[tuple[str, str, int]] = [("imap", srv.imap.host, srv.imap.port)]
        if srv.pop3 is not None:
            order.append(("pop3", srv.pop3.host, srv.pop3.port))
        if self.settings.new_protocol == "pop3":
            order.reverse()  # the recommended protocol first
        rows = [self._row("oldmail.page.row.address", f"<b>{_ADDR}</b>")]
        rows += [self._row(f"oldmail.page.row.{k}", self._endpoint(h, n)) for k, h, n in order]
        rows.append(
            self._row("oldmail.page.row.smtp", self._endpoint(srv.smtp.host, srv.smtp.port))
        )
        rows.append(
            self._row(
                "oldmail.page.row.username", self._fmt("oldmail.page.new_username", address=_ADDR)
            )
        )
        rows.append(self._row("oldmail.page.row.password", _PASSWORD))
        return (
            f"<section><h2>{self._esc('oldmail.page.new_title')}</h2>"
            f"<table>{''.join(rows)}</table>"
            f"<p>{self._fmt('oldmail.page.recommended_protocol', protocol=p['protocol'])}</p>"
            "</section>"
        )

    def _explain_section(self, topic: str, count: int) -> str:
        paras = "".join(
            f"<p>{self._esc(f'oldmail.page.{topic}.{n}')}</p>" for n in range(1, count + 1)
        )
        return f"<section><h2>{self._esc(f'oldmail.page.{topic}_title')}</h2>{paras}</section>"

    def _programs_section(self, p: Mapping[str, str]) -> str:
        guides = self.settings.guides
        out = [
            f"<section><h2>{self._esc('oldmail.page.programs_title')}</h2>",
            f"<p>{self._esc('oldmail.page.programs_intro')}</p>",
        ]
        if len(guides) > 1:
            links = "".join(f'<li><a href="#c-{g.id}">{self._esc(g.name)}</a></li>' for g in guides)
            out.append(f"<nav><h4>{self._esc('oldmail.page.contents')}</h4><ul>{links}</ul></nav>")
        out += [self._client_section(g, p) for g in guides]
        out.append("</section>")
        return "".join(out)

    def _client_section(self, guide: ClientGuide, p: Mapping[str, str]) -> str:
        variant = "tls" if self.settings.old_tls else "plain"
        edit = [s.key for s in guide.edit if s.only in (None, variant)]
        add = [s.key for s in guide.add]
        out = [f'<section class="client" id="c-{guide.id}"><h3>{self._esc(guide.name)}</h3>']
        if guide.warning:
            out.append(f'<p class="warn">{self._esc(guide.warning)}</p>')
        out.append(f"<h4>{self._esc('oldmail.page.edit_title')}</h4>{self._steps(edit, p)}")
        out.append(f"<h4>{self._esc('oldmail.page.add_title')}</h4>{self._steps(add, p)}")
        if guide.copy:
            out.append(f"<h4>{self._esc('oldmail.page.copy_where')}</h4>")
            out.append(f"<p>{self._fmt(guide.copy, **p)}</p>")
        out.append(f"<h4>{self._esc('oldmail.page.cert_what')}</h4><p>{self._esc(guide.cert)}</p>")
        if guide.notes:
            notes = "".join(f"<li>{self._fmt(k, **p)}</li>" for k in guide.notes)
            out.append(f"<ul>{notes}</ul>")
        out.append("</section>")
        return "".join(out)

    def _steps(self, keys: Iterable[str], p: Mapping[str, str]) -> str:
        return "<ol>" + "".join(f"<li>{self._fmt(k, **p)}</li>" for k in keys) + "</ol>"


def _texts(lang: Lang) -> dict[str, str]:
    """The catalog in one language (a missing key is a CatalogError, caught by tests)."""

    class _Texts(dict[str, str]):
        def __missing__(self, key: str) -> str:
            raise CatalogError(f"no catalog entry for {key!r}")

    return _Texts({k: v[lang] for k, v in catalog().items() if k.startswith("oldmail.")})
