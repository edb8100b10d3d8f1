"""Templates built in code, with bold and italic runs, and readers for what nodes produce."""

import io
from typing import Any

from docx import Document as WordDocument
from pptx import Presentation
from pptx.util import Inches

DEAL: dict[str, Any] = {
    "company": "Acme & Sons",
    "amount": 12500,
    "discount": 10,
    "rush": False,
    "lines": [
        {"name": "Onboarding", "qty": 1, "price": 2500},
        {"name": "Licence", "qty": 10, "price": 1000},
    ],
}


def docx_template(note: str = "") -> bytes:
    """`note` adds a closing paragraph, so two versions of the template differ."""
    document = WordDocument()
    title = document.add_paragraph()
    title.add_run("Contract for ")
    title.add_run("{{ source.deal.company }}").bold = True
    amount = document.add_paragraph()
    amount.add_run("Amount: ")
    amount.add_run("{{ source.deal.amount }}").italic = True
    amount.add_run(" EUR, prepared for ")
    amount.add_run("{{ customer }}").bold = True
    table = document.add_table(rows=4, cols=3)
    for cell, text in zip(table.rows[0].cells, ["Item", "Qty", "Price"], strict=True):
        cell.text = text
    table.cell(1, 0).text = "{%tr for line in source.deal.lines %}"
    table.cell(2, 0).paragraphs[0].add_run("{{ line.name }}").bold = True
    table.cell(2, 1).text = "{{ line.qty }}"
    table.cell(2, 2).paragraphs[0].add_run("{{ line.price }}").italic = True
    table.cell(3, 0).text = "{%tr endfor %}"
    document.add_paragraph("{%p if source.deal.discount %}")
    discount = document.add_paragraph("Discount: ")
    discount.add_run("{{ source.deal.discount }}%").bold = True
    document.add_paragraph("{%p endif %}")
    document.add_paragraph("Delivery: {% if source.deal.rush %}rush{% else %}standard{% endif %}.")
    if note:
        document.add_paragraph(note)
    return _save(document)


def pptx_template(note: str = "") -> bytes:
    """`note` adds a text box, so two versions of the template differ."""
    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    assert slide.shapes.title is not None
    slide.shapes.title.text = "Proposal for {{ source.deal.company }}"
    box = slide.shapes.add_textbox(Inches(0.5), Inches(1.5), Inches(8), Inches(1))
    paragraph = box.text_frame.paragraphs[0]
    paragraph.add_run().text = "Total "
    # PowerPoint splits text where it likes; this placeholder spans two runs.
    bold = paragraph.add_run()
    bold.text = "{{ source.deal."
    bold.font.bold = True
    rest = paragraph.add_run()
    rest.text = "amount }}"
    italic = paragraph.add_run()
    italic.text = " EUR for {{ customer }}"
    italic.font.italic = True
    table = slide.shapes.add_table(3, 2, Inches(0.5), Inches(3), Inches(8), Inches(1.5)).table
    table.cell(0, 0).text = "Item"
    table.cell(0, 1).text = "Price"
    name = table.cell(1, 0).text_frame.paragraphs[0].add_run()
    name.text = "{% for line in source.deal.lines %}{{ line.name }}"
    name.font.bold = True
    table.cell(1, 1).text = "{{ line.price }}{% endfor %}"
    table.cell(2, 0).text = "Total"
    table.cell(2, 1).text = "{{ source.deal.amount }}"
    if note:
        slide.shapes.add_textbox(
            Inches(0.5), Inches(5), Inches(8), Inches(1)
        ).text_frame.text = note
    return _save(presentation)


def _save(document: Any) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_runs(data: bytes) -> list[tuple[str, bool | None, bool | None]]:
    """(text, bold, italic) of every run, body paragraphs then table cells."""
    document = WordDocument(io.BytesIO(data))
    paragraphs = list(document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                paragraphs.extend(cell.paragraphs)
    return [(run.text, run.bold, run.italic) for p in paragraphs for run in p.runs]


def docx_table(data: bytes) -> list[list[str]]:
    document = WordDocument(io.BytesIO(data))
    return [[cell.text for cell in row.cells] for row in document.tables[0].rows]


def docx_text(data: bytes) -> str:
    document = WordDocument(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    texts += [cell.text for t in document.tables for row in t.rows for cell in row.cells]
    return "\n".join(texts)


def pptx_runs(data: bytes) -> list[tuple[str, bool | None, bool | None]]:
    presentation = Presentation(io.BytesIO(data))
    runs = []
    for shape in presentation.slides[0].shapes:
        frames = []
        if shape.has_text_frame:
            frames.append(shape.text_frame)
        if shape.has_table:
            frames += [cell.text_frame for row in shape.table.rows for cell in row.cells]
        for frame in frames:
            for paragraph in frame.paragraphs:
                runs += [(r.text, r.font.bold, r.font.italic) for r in paragraph.runs]
    return runs


def pptx_table(data: bytes) -> list[list[str]]:
    presentation = Presentation(io.BytesIO(data))
    [table] = [s.table for s in presentation.slides[0].shapes if s.has_table]
    return [[cell.text for cell in row.cells] for row in table.rows]
