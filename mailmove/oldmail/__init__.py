"""Old mail (FAQ step 3): mail that still reaches the old server after the switch.

Two ways, both per mailbox:

* **Instructions** (always possible): one printable page per user, in Japanese or
  English, with dated steps for their mail program, the old server by its own name,
  the new server's settings, and setup files (autoconfig, Autodiscover, .mobileconfig).
* **Server-side retrieval**: one PostfixAdmin fetchmail job per mailbox, so the new
  server fetches from the old one by itself; status and stop read/delete the same jobs.

Usage::

    from mailmove.oldmail import PageSettings, NewServer, compute_timing, write_bundle
    timing = compute_timing(switch_at, config.timezone)
    settings = PageSettings(old_host, timing, NewServer.from_config(server), lang="ja")
    write_bundle(mailboxes, settings, out_dir / "instructions.zip", out_dir=out_dir)
"""

from mailmove.oldmail._autoconfig import (
    MOBILECONFIG_MIME,
    SetupRenderer,
    apple_mobileconfig,
    outlook_autodiscover,
    profile_uuids,
    thunderbird_autoconfig,
)
from mailmove.oldmail._bundle import (
    INDEX_NAME,
    ZIP_NAME,
    BundleEntry,
    build_zip,
    index_csv,
    neutralise_cell,
    write_bundle,
)
from mailmove.oldmail._clients import CLIENT_IDS, CLIENTS, ClientGuide, client
from mailmove.oldmail._model import (
    MailboxLike,
    NewProtocol,
    NewServer,
    display_address,
    domain_of,
    is_ip,
    normalise_old_host,
    security_for,
)
from mailmove.oldmail._pages import PageRenderer, PageSettings, page_filename, render_page
from mailmove.oldmail._sweep import (
    EVENT_START,
    EVENT_STOP,
    JobStatus,
    StartOutcome,
    StopOutcome,
    SweepSettings,
    caveats,
    check_pop3_login,
    deadline_from_events,
    in_domains,
    job_state,
    result_line,
    start_detail,
    start_sweep,
    stop_sweep,
    sweep_status,
)
from mailmove.oldmail._timing import (
    Timing,
    compute_timing,
    format_after,
    format_day,
    format_when,
    parse_switch_at,
)

__all__ = [
    "CLIENTS",
    "CLIENT_IDS",
    "EVENT_START",
    "EVENT_STOP",
    "INDEX_NAME",
    "MOBILECONFIG_MIME",
    "ZIP_NAME",
    "BundleEntry",
    "ClientGuide",
    "JobStatus",
    "MailboxLike",
    "NewProtocol",
    "NewServer",
    "PageRenderer",
    "PageSettings",
    "SetupRenderer",
    "StartOutcome",
    "StopOutcome",
    "SweepSettings",
    "Timing",
    "apple_mobileconfig",
    "build_zip",
    "caveats",
    "check_pop3_login",
    "client",
    "compute_timing",
    "deadline_from_events",
    "display_address",
    "domain_of",
    "format_after",
    "format_day",
    "format_when",
    "in_domains",
    "index_csv",
    "is_ip",
    "job_state",
    "neutralise_cell",
    "normalise_old_host",
    "outlook_autodiscover",
    "page_filename",
    "parse_switch_at",
    "profile_uuids",
    "render_page",
    "result_line",
    "security_for",
    "start_detail",
    "start_sweep",
    "stop_sweep",
    "sweep_status",
    "thunderbird_autoconfig",
    "write_bundle",
]
