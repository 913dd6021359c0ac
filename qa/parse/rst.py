"""reStructuredText (.rst) read as text with its structure marked, as Markdown would mark it.

Not rendered with docutils: most .rst files people have are Sphinx sources, full of directives and
roles docutils does not know (``.. function::``, ``:func:``), which it turns into error messages
in the text. What a reader needs is the text as written, with four things made explicit:

- **section titles** (a line underlined, or over- and underlined, with one punctuation character)
  become ``## Title`` heading lines, their level the order in which each adornment style first
  appears (docutils' rule); the adornment lines go;
- **literal blocks** (the indented block after a paragraph ending in ``::``) and ``code-block``
  / ``code`` / ``sourcecode`` directives become fenced code blocks (a ``text::`` paragraph keeps
  ``text:``, as docutils prints it);
- **directives**: an admonition's (``note``, ``warning``...) or a Sphinx object's
  (``.. function:: name(args)``) content stays, the object's signature as a line of its own;
  comments, targets, substitutions and layout directives (``toctree``, ``image``, ``include``...) go;
- **inline roles** are their text: ``:func:`os.path.join``` -> ``os.path.join``, ```title <url>`_``
  -> ``title``.
"""

from __future__ import annotations

import re

from qa.errors import NoText
from qa.parse.blocks import TextBuilder
from qa.parse.content import decode

_ADORNMENT = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])\1{2,}\s*""")
_DIRECTIVE = re.compile(r"\.\.\s+([\w:.+-]+)::\s*(.*)")
_CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode", "highlight-block", "literalinclude"})
_DROP_DIRECTIVES = frozenset(
    {
        "toctree", "image", "figure", "include", "raw", "contents", "index", "meta", "highlight", "sectnum",
        "role", "default-role", "tabularcolumns", "autosummary", "only", "literalinclude", "csv-table",
        "list-table", "table", "header", "footer", "target-notes", "class", "title", "currentmodule",
        "module", "automodule", "autoclass", "autofunction", "automethod", "autoattribute", "autodata",
    }
)  # fmt: skip
_OBJECT_DIRECTIVES = re.compile(
    r"(?:py:|c:|cpp:|js:|std:)?(function|method|class|exception|data|attribute|"
    r"classmethod|staticmethod|decorator|macro|member|type|var|option|envvar|"
    r"describe|object|program|cmdoption)"
)
_ROLE = re.compile(r":[\w.+-]+(?::[\w.+-]+)*:`([^`]+)`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`__?")
_REF = re.compile(r"`([^`]+)`__?(?![\w`])")


def _inline(text: str) -> str:
    """Roles and hyperlinks as their text (``title <target>`` as the title)."""
    text = _ROLE.sub(lambda m: re.sub(r"\s*<[^>]*>$", "", m.group(1)).lstrip("~!"), text)
    text = _LINK.sub(r"\1", text)
    return _REF.sub(r"\1", text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _block(lines: list[str], i: int, base: int) -> tuple[list[str], int]:
    """The lines from ``i`` indented deeper than ``base`` (blank lines inside kept), dedented, and
    the index after them."""
    out, j = [], i
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
        out.append(lines[j])
        j += 1
    while out and not out[-1].strip():
        out.pop()
    depth = min((_indent(ln) for ln in out if ln.strip()), default=0)
    return [ln[depth:] for ln in out], j


def parse_rst(data: bytes, filename: str) -> tuple[TextBuilder, str | None]:
    """The text of an .rst file (see the module's docstring) and its title (the first section's)."""
    raw, _ = decode(data, filename)
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = TextBuilder()
    styles: list[tuple[str, bool]] = []  # adornment styles in order of first appearance
    title: str | None = None
    para: list[str] = []
    literal_next = False

    def flush() -> None:
        nonlocal literal_next
        if not para:
            return
        text = "\n".join(para).rstrip()
        para.clear()
        if text.endswith("::"):  # a literal block follows: "text::" prints "text:", "text ::" and "::" nothing
            literal_next = True
            head = text[:-2]
            if not head.strip():
                return
            text = head.rstrip() if head[-1].isspace() else head + ":"
        out.paragraph(_inline(text))

    def heading(text: str, style: tuple[str, bool]) -> None:
        nonlocal title
        if style not in styles:
            styles.append(style)
        out.heading(_inline(text), styles.index(style) + 1)
        title = title or " ".join(_inline(text).split())

    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        if literal_next and not para and _indent(line) > 0:
            body, i = _block(lines, i, 0)
            out.code("\n".join(body))
            literal_next = False
            continue
        literal_next = False
        # Over- and underlined title.
        if (
            not para
            and _ADORNMENT.fullmatch(line)
            and i + 2 < n
            and lines[i + 1].strip()
            and lines[i + 2].strip()[:1] == stripped[0]
            and _ADORNMENT.fullmatch(lines[i + 2])
        ):
            heading(lines[i + 1].strip(), (stripped[0], True))
            i += 3
            continue
        # Underlined title: one text line (after a blank), then the adornment.
        if (
            not para
            and _indent(line) == 0
            and i + 1 < n
            and _ADORNMENT.fullmatch(lines[i + 1])
            and len(lines[i + 1].strip()) >= min(len(stripped), 3)
        ):
            heading(stripped, (lines[i + 1].strip()[0], False))
            i += 2
            continue
        if _ADORNMENT.fullmatch(line) and len(stripped) >= 4 and not para:  # a transition
            i += 1
            continue
        if stripped.startswith(".."):
            flush()
            base = _indent(line)
            m = _DIRECTIVE.match(stripped)
            body, i = _block(lines, i + 1, base)
            if m is None:  # a comment, a target (.. _name:) or a footnote without a directive
                if re.match(r"\.\.\s+\[[^\]]+\]\s+\S", stripped):  # a footnote or citation: its text stays
                    out.paragraph(_inline(re.sub(r"^\.\.\s+\[[^\]]+\]\s+", "", stripped) + "\n" + "\n".join(body)))
                continue
            name, arg = m.group(1).lower(), m.group(2).strip()
            content = [ln for ln in body if not re.match(r"\s*:[\w-]+:", ln)] if body else []
            if name in _CODE_DIRECTIVES:
                out.code("\n".join(content), (arg.split() or ["text"])[0])
            elif name in _DROP_DIRECTIVES or name.startswith("auto"):
                pass
            else:
                if _OBJECT_DIRECTIVES.fullmatch(name) and arg:
                    out.paragraph(arg)
                elif arg:
                    content.insert(0, arg)
                sub = parse_rst("\n".join(content).encode(), filename)[0] if any(c.strip() for c in content) else None
                if sub is not None:
                    out.extend(sub.text, [])
            continue
        para.append(line)
        i += 1
    flush()
    if not out.text.strip():
        raise NoText(f"'{filename}' has no text: nothing to index")
    return out, title
