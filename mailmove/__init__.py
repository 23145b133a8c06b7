"""mailmove: move a customer's mail to a PostfixAdmin server, step by step.

The package holds all logic; the Streamlit pages and the CLI are thin callers.
It never imports streamlit (UI helpers live in :mod:`mailmove.ui`).
"""

__version__ = "0.1.0"
