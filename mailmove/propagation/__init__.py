"""Live propagation check (issue #6): a traffic light per record and per vantage point.

Layout: ``_model`` (data), ``vantages`` (where to ask), ``_fetch`` (every question at once,
with the negative-cache guard), ``expect`` (the records to watch, from the records
generator), ``compare`` (one answer judged by meaning), ``lights`` (verdicts to lights, pure),
``checker`` (one check, start to end), ``report`` (JSON contract, text), ``history`` (days of
stored checks), ``schedule`` (when to check again), ``gate_facts`` (the cutover gate's DNS
half) and ``cli`` (``mailmove check``).
"""

from mailmove.propagation._model import (
    LIGHTS,
    CheckResult,
    CheckState,
    Expectation,
    Kind,
    Light,
    Note,
    RecordResult,
    Vantage,
    VantageResult,
    Verdict,
)
from mailmove.propagation.checker import acheck, check
from mailmove.propagation.gate_facts import (
    DnsGateFacts,
    dns_gate_facts,
    facts_from_result,
    observe_ttl,
    project_gate_dns,
)
from mailmove.propagation.history import (
    LightChange,
    light_changes,
    result_lights,
    share_green,
    state_from_json,
)
from mailmove.propagation.report import detail_text, light_word, result_json, text_report

__all__ = [
    "LIGHTS",
    "CheckResult",
    "CheckState",
    "DnsGateFacts",
    "Expectation",
    "Kind",
    "Light",
    "LightChange",
    "Note",
    "RecordResult",
    "Vantage",
    "VantageResult",
    "Verdict",
    "acheck",
    "check",
    "detail_text",
    "dns_gate_facts",
    "facts_from_result",
    "light_changes",
    "light_word",
    "observe_ttl",
    "project_gate_dns",
    "result_json",
    "result_lights",
    "share_green",
    "state_from_json",
    "text_report",
]
