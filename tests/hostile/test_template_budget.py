"""No template can hold an executor's event loop for more than about a second or build more
than the budget: each hostile form fails with "template exceeded its budget", quickly; saving
one never computes it (nothing is folded at compile time)."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from services.executor.worker import ExecutorWorker
from shared.errors import TemplateError
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from shared.template_budget import budgeted
from shared.templating import check_syntax, render
from tests.gateway.conftest import Gateway
from tests.support import seed_workflow, start_execution, wait_for_status

HOSTILE = [
    "{{ (7 ** 17000000) % 10 }}",
    "{{ 'a' * 300000000 }}",
    "{{ [0] * 300000000 }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ 'x'.center(1000000000) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ '{:>1000000000}'.format(1) }}",
    "{{ '%1000000000d' % 1 }}",
    "{{ '%*d'|format(1000000000, 1) }}",
    "{{ 'a\tb'.expandtabs(1000000000) }}",
    "{{ [1]|batch(1000000000, 0)|list }}",
    "{{ (range(100000)|list) * 100000 }}",
    "{{ ('x' * 100000).replace('x', 'yyyyyyyyyyyyyyyyyyyy') }}",
    "{{ (range(100000)|map('string')|list * 2)|join('xxxxxxxxxx') }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
    "{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}{{ ns.n }}",
    "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
    "{{ f(40) }}",
    "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_a_hostile_template_fails_within_its_budget(source: str) -> None:
    started = time.monotonic()
    check_syntax(source)
    assert time.monotonic() - started < 0.5, "compiling computed something"
    with pytest.raises(TemplateError, match="template exceeded its budget"), budgeted(1.0):
        render(source, {})
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 2 ** 10 }}", 1024),
        ("{{ source.amount * 1.1 }}", 11.0),
        ("{{ 'a' ~ source.name ~ 'b' }}", "aAcmeb"),
        ("{% for x in [1, 2, 3] %}{{ x }}{% endfor %}", "123"),
        ("{{ ['a', 'b']|join('-') }}", "a-b"),
        ("{{ 'x'|center(5) }}", "  x  "),
        ("{{ '%05d' % 42 }}", "00042"),
        ("{{ '{:>4}'.format(7) }}", "   7"),
        ("{{ range(3)|list }}", [0, 1, 2]),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: object) -> None:
    assert render(source, {"source": {"amount": 10, "name": "Acme"}}) == expected


@pytest.fixture
async def resources(embedded_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(embedded_settings) as opened:
        yield opened


async def test_a_node_with_a_hostile_template_fails_and_the_worker_keeps_running(
    resources: Resources,
) -> None:
    def one_set(value: str) -> dict[str, object]:
        return {
            "name": "set",
            "nodes": [
                {"id": "v", "type": "set", "position": 0, "config": {"values": {"x": value}}}
            ],
        }

    worker = ExecutorWorker(resources)
    await worker.start()
    try:
        ws, hostile = await seed_workflow(resources, one_set("{{ (7 ** 17000000) % 10 }}"))
        ws2, loops = await seed_workflow(
            resources,
            one_set("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                    "{% endfor %}"),
        )  # fmt: skip
        ws3, fine = await seed_workflow(resources, one_set("{{ 6 * 7 }}"))
        runs = [
            await start_execution(resources, ws, hostile),
            await start_execution(resources, ws2, loops),
            await start_execution(resources, ws3, fine),
        ]
        done = await asyncio.gather(
            *(wait_for_status(resources, run, "completed", "failed", within=20) for run in runs)
        )
    finally:
        await worker.stop()

    assert [row.status for row in done] == ["failed", "failed", "completed"]
    assert "template exceeded its budget" in (done[0].error or "")
    assert "ran longer than 1 s" in (done[1].error or "")
    assert done[2].context["node_outputs"]["v"] == {"x": 42}


async def test_saving_a_workflow_with_a_huge_constant_answers_at_once(gateway: Gateway) -> None:
    definition = {
        "name": "huge",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {"id": "v", "type": "set", "position": 1,
             "config": {"values": {"x": "{{ (7 ** 17000000) % 10 }}",
                                   "y": "{{ 'a' * 300000000 }}"}}},
        ],
    }  # fmt: skip
    started = time.monotonic()
    response = await gateway.client.post("/api/v1/workflows", json=definition, headers=gateway.auth)
    assert response.status == 201, await response.text()
    assert time.monotonic() - started < 2
