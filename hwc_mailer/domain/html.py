"""HTML mail bodies as the plain text a person sees, so the signal parser can read them.

What a person does not see as new text is kept apart: quoted material (`<blockquote>`,
Outlook's reply and forward header block) and hidden elements (`display:none` and the
like). The parser never reads children from it; it only looks whether it holds any.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from .text import collapse, lines_of

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6",
     "ul", "ol", "blockquote", "pre", "hr", "dt", "dd", "section", "article"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_DROPPED_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                        "track", "wbr"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all|font-size\s*:\s*0"
                           r"(?![.\d]*[1-9])|max-height\s*:\s*0(?![.\d]*[1-9])|opacity\s*:\s*0(?![.\d]*[1-9])",
                           re.IGNORECASE)
# Where mail clients put the message being answered or forwarded: in a container (Thunderbird, Gmail,
# Apple Mail), or after a marker from which everything below is the old message (Outlook).
_QUOTE_CONTAINER = re.compile(r"moz-forward-container|moz-cite-prefix|gmail_quote|"
                              r"mail-editor-reference-message-container", re.IGNORECASE)
_QUOTE_FROM_HERE = re.compile(r"divRplyFwdMsg|appendonsend|OLK_SRC_BODY_SECTION", re.IGNORECASE)


@dataclass(frozen=True)
class HtmlText:
    visible: str       # the new text, one visual line per line
    set_apart: str     # quoted, forwarded or hidden text: never read as children


class _TextExtractor(HTMLParser):
    """Collects text with line breaks where the mail client would show them, visible and set apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.visible: list[str] = []
        self.set_apart: list[str] = []
        self._open: list[tuple[str, str]] = []     # (tag, "drop" | "apart" | "")
        self._cells = 0                            # inside a table cell, paragraphs are not lines of their own
        self._old_message = False                  # past Outlook's marker: the rest is the message answered

    def _mode(self) -> str:
        modes = {mode for _, mode in self._open}
        if "drop" in modes:
            return "drop"
        return "apart" if "apart" in modes or self._old_message else ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        names = f"{values.get('id', '')} {values.get('class', '')}"
        mode = ""
        if tag in _DROPPED_TAGS:
            mode = "drop"
        elif ("hidden" in values or _HIDDEN_STYLE.search(values.get("style", "")) or tag == "blockquote"
              or _QUOTE_CONTAINER.search(names)):
            mode = "apart"
        if _QUOTE_FROM_HERE.search(names):
            self._old_message = True
        self._boundary(tag)
        if tag in _CELL_TAGS:
            self._cells += 1
        if tag not in _VOID_TAGS:
            self._open.append((tag, mode))

    def handle_endtag(self, tag: str) -> None:
        if any(open_tag == tag for open_tag, _ in self._open):
            while self._open:
                open_tag, _ = self._open.pop()
                if open_tag in _CELL_TAGS:
                    self._cells = max(0, self._cells - 1)
                if open_tag == tag:
                    break
        self._boundary(tag)

    def _boundary(self, tag: str) -> None:
        """A line break where a block begins or ends; a tab between table cells, as label and value."""
        if tag in _CELL_TAGS:
            self._write("\t")
        elif tag in _BLOCK_TAGS:
            self._write("\n" if tag in ("tr", "table") or not self._cells else " ")

    def handle_data(self, data: str) -> None:
        # Source line breaks inside HTML text are plain spaces when rendered.
        self._write(re.sub(r"\s+", " ", data))

    def _write(self, text: str) -> None:
        mode = self._mode()
        if mode == "":
            self.visible.append(text)
        elif mode == "apart":
            self.set_apart.append(text)


def _lines(parts: list[str]) -> str:
    """Collapsed lines, empty ones dropped; tabs between table cells kept (one each), so a label cell and its
    value cell read as "label<TAB>value"."""
    lines = ("\t".join(cell for cell in map(collapse, line.split("\t")) if cell)
             for line in lines_of("".join(parts)))
    return "\n".join(line for line in lines if line)


def split_html(html: str) -> HtmlText:
    """The visible new text of an HTML body, and apart from it what is quoted or hidden."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return HtmlText(_lines(extractor.visible), _lines(extractor.set_apart))


def text_from_html(html: str) -> str:
    """Plain text of an HTML mail body as a person reads it, one visual line per line."""
    return split_html(html).visible
