"""microsoft-word: a .docx template filled with the context, kept as a document of the run."""

from services.executor.worker import ExecutorWorker
from shared.runtime import Resources
from tests.documents.builders import DEAL, docx_runs, docx_table, docx_template, docx_text
from tests.documents.support import add_template, run_to_end, seed, stored

CONTRACT = {
    "id": "contract",
    "type": "microsoft-word",
    "config": {
        "template": "contract",
        "filename": "Contract {{ source.deal.company }}",
        "data": {"customer": "{{ source.deal.company | upper }}"},
    },
}


async def test_a_word_template_gets_values_loop_rows_and_conditionals_in_its_own_formatting(
    resources: Resources, executor: ExecutorWorker
) -> None:
    workspace_id, workflow_id = await seed(resources, CONTRACT)
    template = await add_template(resources, workspace_id, "contract", "c.docx", docx_template())

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})

    assert done.status == "completed", done.error
    output = done.context["node_outputs"]["contract"]
    assert done.context["generated_documents"] == [output["document"]]
    meta, data = await stored(resources, workspace_id, output["document"]["id"])
    assert (meta.name, meta.template_id, meta.template_version) == (
        "Contract Acme & Sons.docx", template.id, 1,
    )  # fmt: skip
    assert output["document"]["sha256"] == meta.sha256 and output["document"]["size"] == len(data)
    text = docx_text(data)
    assert "{{" not in text and "{%" not in text and "%}" not in text
    assert docx_table(data) == [
        ["Item", "Qty", "Price"],
        ["Onboarding", "1", "2500"],
        ["Licence", "10", "1000"],
    ]
    runs = docx_runs(data)
    # The values sit in the template's own runs, so their formatting is the template's.
    for value, bold, italic in [
        ("Acme & Sons", True, None),
        ("12500", None, True),
        ("ACME & SONS", True, None),
        ("Onboarding", True, None),
        ("Licence", True, None),
        ("2500", None, True),
        ("10%", True, None),
    ]:
        assert (value, bold, italic) in runs
    assert "Discount: 10%" in text
    assert "Delivery: standard." in text


async def test_a_false_condition_leaves_its_paragraphs_out(
    resources: Resources, executor: ExecutorWorker
) -> None:
    workspace_id, workflow_id = await seed(resources, CONTRACT)
    await add_template(resources, workspace_id, "contract", "c.docx", docx_template())
    deal = {**DEAL, "discount": 0, "rush": True}

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": deal})

    assert done.status == "completed", done.error
    _, data = await stored(
        resources, workspace_id, done.context["node_outputs"]["contract"]["document"]["id"]
    )
    text = docx_text(data)
    assert "Discount" not in text
    assert "Delivery: rush." in text


async def test_a_value_missing_from_the_context_fails_the_node_without_a_retry(
    resources: Resources, executor: ExecutorWorker
) -> None:
    workspace_id, workflow_id = await seed(resources, CONTRACT)
    await add_template(resources, workspace_id, "contract", "c.docx", docx_template())

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": {"company": "Acme"}})

    assert done.status == "failed"
    assert "the template uses a value the context lacks" in (done.error or "")
    assert "has no attribute 'amount'" in (done.error or "")
    assert "attempt 1" in (done.error or "")


async def test_an_unknown_template_fails_the_node_naming_it(
    resources: Resources, executor: ExecutorWorker
) -> None:
    workspace_id, workflow_id = await seed(resources, CONTRACT)

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})

    assert done.status == "failed"
    assert "template contract not found" in (done.error or "")


async def test_a_word_template_past_its_budget_fails_the_node_and_the_executor_goes_on(
    resources: Resources, executor: ExecutorWorker
) -> None:
    workspace_id, workflow_id = await seed(resources, CONTRACT)
    bomb = docx_template(note="{{ (7 ** 17000000) % 10 }}")
    await add_template(resources, workspace_id, "contract", "c.docx", bomb)

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})

    assert done.status == "failed"
    assert "template exceeded its budget" in (done.error or "")
    # The executor took the next run as usual.
    await add_template(resources, workspace_id, "contract", "c.docx", docx_template())
    again = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})
    assert again.status == "completed", again.error
