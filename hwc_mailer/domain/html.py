"""HTML mail bodies as the plain text a person sees, so the signal parser can read them."""

import re
from html.parser import HTMLParser

from .text import collapse

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6",
     "ul", "ol", "blockquote", "pre", "hr", "dt", "dd"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_DROPPED_TAGS = frozenset({"script", "style"})


class _TextExtractor(HTMLParser):
    """Collects visible text, with line breaks where the mail client would show them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._boundary(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        self._boundary(tag, opening=False)

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            # Source line breaks inside HTML text are plain spaces when rendered.
            self.parts.append(re.sub(r"\s+", " ", data))

    def _boundary(self, tag: str, *, opening: bool) -> None:
        if tag in _DROPPED_TAGS:
            self._dropping = self._dropping + 1 if opening else max(0, self._dropping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")


def text_from_html(html: str) -> str:
    """Plain text of an HTML mail body, one visual line per line, so parse_signal can read it."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (collapse(line) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)
