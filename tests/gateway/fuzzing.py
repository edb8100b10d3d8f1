"""Schemathesis against a running gateway: every phase (examples, coverage, fuzzing and the
stateful phase that follows the document's links), every check, and a summary of what it saw.

`run` is synchronous (Schemathesis sends its requests with `requests`): the test calls it in a
thread while the gateway serves on the test's event loop.
"""

import uuid
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis.errors import HypothesisDeprecationWarning
from schemathesis.core.result import Ok
from schemathesis.engine import events, from_schema

#: What the `positive_data_acceptance` check accepts by default.
ACCEPTED = ["2xx", "3xx", 401, 403, 404, 409, 429, "5xx"]
#: Operations whose 422 can name a rule JSON Schema cannot say, so schema-valid data may be
#: refused: a workflow's node ids are unique, its templates parse and its config fits the
#: node's type; a key's expiry is in the future; a cursor is one this API returned; an upload
#: is a .docx or .pptx; a connection's config fits its kind; a gate's deadline is exactly one
#: of two fields and an approver's address is an address; a decision names one of the gate's
#: approvers; an event's payload fits the schema its node declares and has no NUL character
#: or lone surrogate (PostgreSQL stores no such string). Anywhere else it is a finding.
RULES_BEYOND_SCHEMA = frozenset(
    {
        "createWorkflow",
        "updateWorkflow",
        "startExecution",
        "createApiKey",
        "listExecutions",
        "uploadTemplate",
        "createConnection",
        "replaceConnection",
        "extendGate",
        "reassignGate",
        "resendGate",
        "decideGate",
        "postWaitEvent",
        "postToResumeUrl",
    }
)
#: Operations whose valid data may meet a link that was used, replaced or expired (410): the
#: seeded approval link is used by its example, and later cases get the used link's page.
SPENT_LINKS = frozenset({"showApprovalPage", "decideApproval"})
#: Statuses that say only that the request never got to the operation's real work (405: the
#: checks that try other methods).
_TURNED_AWAY = frozenset({401, 404, 405, 429})
#: Operations that refuse before they look anything up (a signature, a CSRF value, a form):
#: their 4xx says nothing about reaching them with real values; only a 2xx does.
REFUSED_BEFORE_LOOKUP = frozenset(
    {
        "decideApproval",
        "receiveHook",
        "receiveHubSpotEvents",
        "receiveSignatureEvent",
        "receiveConnectionSignatureEvent",
    }
)


@dataclass
class Summary:
    operations: int = 0
    cases: int = 0
    #: Cases by phase (examples, coverage, fuzzing, stateful).
    phases: Counter[str] = field(default_factory=Counter)
    #: Failures by check name: one per (check, operation, title), as the CLI counts them.
    failures: Counter[str] = field(default_factory=Counter)
    #: What each failure was: "check: METHOD /path: title" and an example of the request.
    findings: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: Every operation's label (METHOD /path), and those of REFUSED_BEFORE_LOOKUP.
    labels: list[str] = field(default_factory=list)
    only_success_counts: frozenset[str] = frozenset()

    @property
    def unreached(self) -> list[str]:
        """Operations that never answered past authentication, a lookup, a method or a rate
        limit (nor with a 2xx, for those that check a signature or a CSRF value first), or
        that were never called."""
        return sorted(label for label in self.labels if not self._reached(label))

    def _reached(self, label: str) -> bool:
        seen = set(self.statuses.get(label, ()))
        if label in self.only_success_counts:
            return any(200 <= status < 300 for status in seen)
        return bool(seen - _TURNED_AWAY)

    def render(self) -> str:
        lines = [
            f"Schemathesis {schemathesis.__version__}: {self.operations} operations, "
            f"{self.cases} cases, {sum(self.failures.values())} failures",
            "  cases by phase: " + ", ".join(f"{k} {v}" for k, v in sorted(self.phases.items())),
            *(f"  {name}: {count}" for name, count in sorted(self.failures.items())),
            *(f"  finding: {finding}\n    {example}" for finding, example in self.findings.items()),
            *(f"  error: {error}" for error in self.errors),
            f"  operations reached (past 401/404/405/429; a 2xx where a signature or a CSRF "
            f"value is checked first): {len(self.labels) - len(self.unreached)} of "
            f"{len(self.labels)}; not: {self.unreached}",
        ]
        return "\n".join(lines)


def config(base_url: str, key: str, *, examples: int, seed: int | None) -> schemathesis.Config:
    """`seed=None` derandomizes: the same cases every run, so CI is not flaky."""
    generation: dict[str, Any] = {
        "max-examples": examples,
        "deterministic": seed is None,
        # Nothing kept between runs: each run is decided by its seed alone.
        "database": "none",
    }
    values: dict[str, Any] = {
        "base-url": base_url,
        "headers": {"Authorization": f"Bearer {key}"},
        "generation": generation,
        "checks": {"enabled": True},
        "operations": [
            {
                "include-operation-id": sorted(RULES_BEYOND_SCHEMA),
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, 422]}},
            },
            {
                "include-operation-id": sorted(SPENT_LINKS),
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, 410]}},
            },
        ],
        "phases": {"stateful": {"max-steps": max(6, examples // 2)}},
        # Nothing learnt by an earlier run (kept under .schemathesis/) changes this one.
        "cache": {"enabled": False},
        "workers": 1,
        # Nothing should take this long (a live event stream ends after 0.2 seconds in this test).
        "request-timeout": 5,
        "output": {"sanitization": {"enabled": False}},
    }
    if seed is not None:
        values["seed"] = seed
    return schemathesis.Config.from_dict(values)


def run(document: dict[str, Any], settings: schemathesis.Config, own_key_id: uuid.UUID) -> Summary:
    """`own_key_id` is the fuzzer's API key: a revocation of it (its id is in `listApiKeys`,
    which responses feed to later cases) is sent for another id, or every later case is 401."""

    def spare_own_key(context: Any, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
        if str((case.path_parameters or {}).get("key_id")) == str(own_key_id):
            case.path_parameters["key_id"] = str(uuid.UUID(int=0))

    schema = schemathesis.openapi.from_dict(document, config=settings)
    results = list(schema.get_all_operations())
    # One the document describes so wrongly that it cannot be loaded is also an error event.
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    summary = Summary(
        operations=len(results),
        labels=sorted(o.label for o in operations),
        only_success_counts=frozenset(
            o.label
            for o in operations
            if o.definition.raw.get("operationId") in REFUSED_BEFORE_LOOKUP
        ),
    )
    seen: set[tuple[str, str, str]] = set()
    # The services under test run in the main thread beside this one and draw on the global
    # `random` module (retry jitter, message ids); Hypothesis, generating a case here, takes a
    # change of that state for a strategy using it and warns, which the test settings make an
    # error. Our strategies use no global randomness, so the warning says nothing here.
    warnings.filterwarnings(
        "ignore",
        message="Do not use the `random` module inside strategies",
        category=HypothesisDeprecationWarning,
    )
    # before_call is a global hook only: registered for this run, and removed after it.
    schemathesis.hook("before_call")(spare_own_key)
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                _count(summary, event, seen)
            elif isinstance(event, events.NonFatalError):
                summary.errors.append(_error(event))
            elif isinstance(event, events.FatalError):
                raise event.exception
    finally:
        schemathesis.hooks.unregister(spare_own_key)
    return summary


def _error(event: events.NonFatalError) -> str:
    """What went wrong, with what a flaky case did on its first call (Hypothesis keeps it in
    an exception group): the summary is all a CI log shows of a run no seed repeats."""
    text = f"{event.label}: {event.info.title}: {event.info.message}"
    first = [f"{type(e).__name__}: {str(e)[:500]}" for e in getattr(event.value, "exceptions", ())]
    return text + "".join(f"\n    first call: {line}" for line in first)


def _count(
    summary: Summary, event: events.ScenarioFinished, seen: set[tuple[str, str, str]]
) -> None:
    recorder = event.recorder
    summary.cases += len(recorder.cases)
    summary.phases[event.phase.value] += len(recorder.cases)
    for case_id, interaction in recorder.interactions.items():
        if interaction.response is None:
            continue
        node = recorder.cases.get(case_id)
        label = node.value.operation.label if node is not None else recorder.label
        summary.statuses.setdefault(label, Counter())[interaction.response.status_code] += 1
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            node = recorder.cases.get(case_id)
            label = node.value.operation.label if node is not None else recorder.label
            failure = check.failure_info.failure
            key = (check.name, label, failure.title)
            if key in seen:
                continue
            seen.add(key)
            summary.failures[check.name] += 1
            summary.findings[f"{check.name}: {label}: {failure.title}"] = (
                f"{failure.message[:300]!r} -- {check.failure_info.code_sample[:600]}"
            )


def statuses(summary: Summary) -> str:
    return "\n".join(f"  {label}: {dict(seen)}" for label, seen in sorted(summary.statuses.items()))
