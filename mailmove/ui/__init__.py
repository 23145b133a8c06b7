"""Streamlit helpers shared by the pages; the only part of mailmove that imports streamlit."""
