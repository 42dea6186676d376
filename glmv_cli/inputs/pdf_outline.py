"""A PDF's outline (bookmarks): section titles and the pages where they start.

Page ranking uses it as a cheap table of contents: a section's title tells what its pages
are about even when their text never repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass

from glmv_cli.inputs.pdf import PdfDocument


@dataclass(frozen=True)
class OutlineEntry:
    level: int  # 1 for a top-level section
    title: str
    page: int  # 1-based


def read_outline(pdf: PdfDocument) -> list[OutlineEntry]:
    """The outline's entries that point at a page, in outline order; [] when the PDF has
    none. A damaged outline is no reason to refuse the document: it reads as none."""
    try:
        toc = pdf.doc.get_toc(simple=True)
    except (RuntimeError, ValueError):
        return []
    return [OutlineEntry(int(level), str(title).strip(), int(page))
            for level, title, page, *_ in toc
            if 1 <= int(page) <= pdf.page_count and str(title).strip()]
