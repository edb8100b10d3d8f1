"""microsoft-powerpoint: placeholders in text frames and tables, rows repeated per item."""

from services.executor.worker import ExecutorWorker
from shared.runtime import Resources
from tests.documents.builders import DEAL, docx_template, pptx_runs, pptx_table, pptx_template
from tests.documents.support import add_template, run_to_end, seed, stored

DECK = {
    "id": "deck",
    "type": "microsoft-powerpoint",
    "config": {
        "template": "deck",
        "filename": "Proposal {{ source.deal.company }}.pptx",
        "data": {"customer": "{{ source.deal.company }}"},
    },
}


async def test_a_powerpoint_template_gets_values_in_frames_and_tables_in_its_own_formatting(
    resources: Resources, executor: ExecutorWorker
) -> None:
    workspace_id, workflow_id = await seed(resources, DECK)
    template = await add_template(resources, workspace_id, "deck", "deck.pptx", pptx_template())

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})

    assert done.status == "completed", done.error
    output = done.context["node_outputs"]["deck"]
    meta, data = await stored(resources, workspace_id, output["document"]["id"])
    assert (meta.name, meta.template_id, meta.template_version) == (
        "Proposal Acme & Sons.pptx", template.id, 1,
    )  # fmt: skip
    assert meta.content_type.endswith("presentationml.presentation")
    assert pptx_table(data) == [
        ["Item", "Price"],
        ["Onboarding", "2500"],
        ["Licence", "1000"],
        ["Total", "12500"],
    ]
    runs = pptx_runs(data)
    texts = "".join(text for text, _, _ in runs)
    assert "{{" not in texts and "{%" not in texts and "}}" not in texts
    assert ("Proposal for Acme & Sons", None, None) in runs
    # The placeholder split over a bold and a plain run takes the bold run it starts in.
    assert ("12500", True, None) in runs
    assert (" EUR for Acme & Sons", None, True) in runs
    assert ("Onboarding", True, None) in runs and ("Licence", True, None) in runs


async def test_a_docx_template_is_refused_by_the_powerpoint_node(
    resources: Resources, executor: ExecutorWorker
) -> None:
    workspace_id, workflow_id = await seed(resources, DECK)
    await add_template(resources, workspace_id, "deck", "deck.docx", docx_template())

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})

    assert done.status == "failed"
    assert "template 'deck' is a .docx, not a .pptx" in (done.error or "")
