"""Paths built from templates stay where they belong: a segment that could climb out of the
folder or end Graph's path syntax fails the node before anything is uploaded."""

import pytest

from services.executor.worker import ExecutorWorker
from shared.providers_http.paths import UnsafePath, check_name, encoded_path
from shared.runtime import Resources
from tests.documents.builders import DEAL, docx_template
from tests.documents.fakes import FakeGraph
from tests.documents.support import add_microsoft, add_template, run_to_end, seed

CLIMBING = "../../../../../users/ceo@acme.test/drive/root:/Finance"


def contract(folder: str) -> dict[str, object]:
    return {
        "id": "contract",
        "type": "microsoft-word",
        "config": {
            "template": "contract",
            "filename": "Contract",
            "data": {"customer": "ACME"},
            "upload": {"connection": "m365", "folder": folder},
        },
    }


async def test_a_company_name_that_climbs_out_of_the_upload_folder_fails_the_node(
    resources: Resources, executor: ExecutorWorker, graph: FakeGraph
) -> None:
    workspace_id, workflow_id = await seed(resources, contract("Contracts/{{ source.company }}"))
    await add_template(resources, workspace_id, "contract", "c.docx", docx_template())
    await add_microsoft(resources, workspace_id, graph)

    done = await run_to_end(
        resources, workspace_id, workflow_id, {"deal": DEAL, "company": CLIMBING}
    )

    assert done.status == "failed"
    assert "upload.folder" in (done.error or "") and "'..'" in (done.error or "")
    assert graph.called("PUT", r".*") == []
    assert graph.called("POST", r".*createUploadSession") == []


@pytest.mark.parametrize(
    "segment", ["..", ".", "root:", "a:b", "tab\there", "nl\nx", "a\\b", "q?", "p|"]
)
def test_segments_with_a_meaning_to_the_provider_are_refused(segment: str) -> None:
    with pytest.raises(UnsafePath):
        encoded_path(f"Contracts/{segment}/x", "upload.folder")


def test_other_segments_are_percent_encoded_one_by_one() -> None:
    assert encoded_path("/Contracts//Acme & Sons/#1 50%/", "f") == (
        "Contracts/Acme%20%26%20Sons/%231%2050%25"
    )


def test_an_attachment_name_may_hold_a_colon_but_not_a_folder_or_a_line_break() -> None:
    assert check_name("Q1: report.pdf", "a", reserved=frozenset("\\")) == "Q1: report.pdf"
    for name in ("../x.pdf", "a\r\nBcc: x@y", "..", "a\\b"):
        with pytest.raises(UnsafePath):
            check_name(name, "a", reserved=frozenset("\\"))
