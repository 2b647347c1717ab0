"""HTML mail bodies as the plain text a person sees, so the signal parser can read them.

What a person does not see as new text is kept apart: quoted material (a cited
`<blockquote>`, the quoted part of Outlook, Thunderbird and Gmail replies) and hidden
elements (inline styles or `<style>` rules that hide them, a closed `<details>`). The
parser never reads children from it; it only looks whether it holds any. A `<style>`
rule that hides something this reader cannot place sets the whole body apart: when in
doubt, a person reads it.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from .text import collapse, lines_of

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6",
     "ul", "ol", "blockquote", "pre", "hr", "dt", "dd", "section", "article", "details", "summary"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_DROPPED_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                        "track", "wbr"})
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_ZERO = r"\s*[-+]?(?:0+(?:\.0*)?|\.0+)(?:px|pt|em|rem|%|cm|mm|in)?\s*(?:!important)?\s*(?:;|$)"
_HIDING = re.compile(
    rf"display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)|mso-hide\s*:\s*all|font-size\s*:{_ZERO}"
    rf"|font-size\s*:\s*[01](?:\.\d+)?\s*px|(?<![-\w])(?:max-)?(?:height|width)\s*:{_ZERO}|opacity\s*:{_ZERO}"
    r"|(?:left|top|right|text-indent)\s*:\s*-\s*\d{3,}|clip\s*:\s*rect\s*\(\s*0|clip-path\s*:"
    r"|(?<![-\w])color\s*:\s*(?:#fff(?:fff)?\b|white\b|rgba?\(\s*255\s*,\s*255\s*,\s*255)", re.IGNORECASE)
_CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SIMPLE_SELECTOR = re.compile(r"([a-z][a-z0-9]*)?(?:([.#])([-\w]+))?", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
# Where mail clients put the message being answered or forwarded: in a container (Thunderbird, Gmail,
# Apple Mail), or after a marker from which everything below is the old message (Outlook).
_QUOTE_CONTAINER = re.compile(r"moz-forward-container|moz-cite-prefix|gmail_quote|"
                              r"mail-editor-reference-message-container", re.IGNORECASE)
_QUOTE_FROM_HERE = re.compile(r"divRplyFwdMsg|appendonsend|OLK_SRC_BODY_SECTION", re.IGNORECASE)
_QUOTE_BAR = re.compile(r"border-left\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class HtmlText:
    visible: str       # the new text, one visual line per line
    set_apart: str     # quoted, forwarded or hidden text: never read as children


@dataclass(frozen=True)
class _Hidden:
    """What the body's `<style>` rules hide, by tag, class and id; `unplaced` when a hiding rule has a selector
    this reader cannot match."""

    tags: frozenset[str]
    classes: frozenset[str]
    ids: frozenset[str]
    unplaced: bool


def _hidden_by_stylesheets(html: str) -> _Hidden:
    tags: set[str] = set()
    classes: set[str] = set()
    ids: set[str] = set()
    unplaced = False
    for sheet in _STYLE_BLOCK.findall(html):
        for selectors, declarations in _CSS_RULE.findall(_CSS_COMMENT.sub("", sheet)):
            if not _HIDING.search(declarations):
                continue
            for selector in selectors.split(","):
                match = _SIMPLE_SELECTOR.fullmatch(selector.strip())
                if match is None or not (match[1] or match[3]):
                    unplaced = True
                    continue
                if match[3] is None:
                    tags.add(match[1].lower())
                elif match[2] == ".":
                    classes.add(match[3].lower())
                else:
                    ids.add(match[3].lower())
    return _Hidden(frozenset(tags), frozenset(classes), frozenset(ids), unplaced)


class _TextExtractor(HTMLParser):
    """Collects text with line breaks where the mail client would show them, visible and set apart."""

    def __init__(self, hidden: _Hidden) -> None:
        super().__init__(convert_charrefs=True)
        self.visible: list[str] = []
        self.set_apart: list[str] = []
        self._hidden = hidden
        self._open: list[tuple[str, str]] = []     # (tag, "drop" | "apart" | "")
        self._open_count: dict[str, int] = {}      # how many of each tag are open: end tags find theirs in O(1)
        self._drop = 0                             # open elements whose text is dropped
        self._apart = 0                            # open elements whose text is set apart
        self._cells = 0                            # inside a table cell, paragraphs are not lines of their own
        self._old_message = False                  # past Outlook's marker: the rest is the message answered

    def _mode_of(self, tag: str, values: dict[str, str]) -> str:
        names = f"{values.get('id', '')} {values.get('class', '')}"
        style = _CSS_COMMENT.sub("", values.get("style", ""))
        if tag in _DROPPED_TAGS:
            return "drop"
        classes = set(values.get("class", "").lower().split())
        cited = tag == "blockquote" and (values.get("type", "").lower() == "cite" or _QUOTE_BAR.search(style))
        if ("hidden" in values or _HIDING.search(style) or (tag == "details" and "open" not in values)
                or tag in self._hidden.tags or classes & self._hidden.classes
                or values.get("id", "").lower() in self._hidden.ids
                or cited or _QUOTE_CONTAINER.search(names)):
            return "apart"
        return ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        mode = self._mode_of(tag, values)
        if _QUOTE_FROM_HERE.search(f"{values.get('id', '')} {values.get('class', '')}"):
            self._old_message = True
        self._boundary(tag)
        if tag in _VOID_TAGS:
            return
        if tag in _CELL_TAGS:
            self._cells += 1
        self._open.append((tag, mode))
        self._open_count[tag] = self._open_count.get(tag, 0) + 1
        self._drop += mode == "drop"
        self._apart += mode == "apart"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """`<span style='display:none'/>` stays open in a browser, hiding what follows; so here too."""
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self._open_count.get(tag):
            while self._open:
                open_tag, mode = self._open.pop()
                self._open_count[open_tag] -= 1
                self._drop -= mode == "drop"
                self._apart -= mode == "apart"
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
        # Source line breaks inside HTML text are plain spaces when rendered, except in <pre>.
        if self._open_count.get("pre"):
            self._write("\n".join(re.sub(r"\s+", " ", line) for line in lines_of(data)))
        else:
            self._write(re.sub(r"\s+", " ", data))

    def _write(self, text: str) -> None:
        if self._drop:
            return
        (self.set_apart if self._apart or self._old_message else self.visible).append(text)


def _lines(parts: list[str]) -> str:
    """Collapsed lines, empty ones dropped; tabs between table cells kept (one each), so a label cell and its
    value cell read as "label<TAB>value"."""
    lines = ("\t".join(cell for cell in map(collapse, line.split("\t")) if cell)
             for line in lines_of("".join(parts)))
    return "\n".join(line for line in lines if line)


def split_html(html: str) -> HtmlText:
    """The visible new text of an HTML body, and apart from it what is quoted or hidden."""
    hidden = _hidden_by_stylesheets(html)
    extractor = _TextExtractor(hidden)
    extractor.feed(html)
    extractor.close()
    visible, set_apart = _lines(extractor.visible), _lines(extractor.set_apart)
    if hidden.unplaced:
        return HtmlText("", "\n".join(part for part in (visible, set_apart) if part))
    return HtmlText(visible, set_apart)


def text_from_html(html: str) -> str:
    """Plain text of an HTML mail body as a person reads it, one visual line per line."""
    return split_html(html).visible
