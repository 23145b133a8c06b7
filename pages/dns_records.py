"""The DNS records step: what to set, in which order and when, per domain (issue #5)."""

from mailmove.ui import records

records.render_page()
