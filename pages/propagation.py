"""The propagation step: live lights per record and per resolver, and history (issue #6)."""

from mailmove.ui import propagation

propagation.render_page()
