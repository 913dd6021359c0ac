"""E-mail: one message (.eml) or a mailbox of them (.mbox, one document per message), read with
the standard library's ``email`` package.

A message is written as its subject (a heading line), one line of its head (``From: ...; To:
...; Date: ...``), its body (the plain-text part, else the HTML part read by ``qa.parse.html``)
and the names of its attachments (``Attachments: report.pdf, photo.jpg``; their content is not
read). The head's fields are also metadata (``from``, ``to``, ``date``, ``subject``), so
searches can filter on them.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from qa.errors import InvalidInput
from qa.parse.blocks import TextBuilder, one_line
from qa.parse.html import parse_html
from qa.types import Heading

_HEAD = ("From", "To", "Cc", "Date")
# A mailbox's messages start at "From " lines (the separator; a body's own "From " lines are
# quoted as ">From " by the writer).
_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header too malformed for the parser to make a value of: left out
        return ""
    return one_line(str(value)) if value is not None else ""


def _body(msg: EmailMessage, filename: str) -> TextBuilder | None:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return None
    try:
        content = part.get_content()
    except Exception:  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload or "")
    out = TextBuilder()
    if part.get_content_subtype() == "html":
        try:
            text, headings, _ = parse_html(str(content).encode("utf-8"), filename)
        except InvalidInput:
            return None
        out.extend(text, headings)
    else:
        for paragraph in re.split(r"\n[ \t]*\n", str(content).replace("\r\n", "\n")):
            out.paragraph(paragraph)
    return out


def message_text(msg: EmailMessage, filename: str) -> tuple[str, list[Heading], str, dict[str, str]]:
    """A message's text, heading spans, subject and head fields (see the module's docstring)."""
    out = TextBuilder()
    subject = _header(msg, "Subject")
    out.heading(subject or "(no subject)", 1)
    fields = {name.lower(): v for name in _HEAD if (v := _header(msg, name))}
    if fields:
        out.paragraph("; ".join(f"{name.title()}: {v}" for name, v in fields.items()))
    body = _body(msg, filename)
    if body is not None:
        out.extend(body.text, body.headings)
    names = [one_line(n) for part in msg.iter_attachments() if (n := part.get_filename())]
    if names:
        out.paragraph("Attachments: " + ", ".join(names))
    if subject:
        fields["subject"] = subject
    return out.text, list(out.headings), subject, fields


def parse_message(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


def check_message(msg: EmailMessage, filename: str) -> None:
    """Refuse what is not an e-mail: no header the parser recognised."""
    if not any(msg.get(name) for name in ("From", "To", "Subject", "Date", "Message-ID")):
        raise InvalidInput(
            f"'{filename}' is not an e-mail message (no From, To, Subject or Date header); check the file"
        )


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of a mailbox, without their ``From `` separator lines (``>From`` unquoted)."""
    data = data.replace(b"\r\n", b"\n")
    starts = [m for m in _SEPARATOR.finditer(data) if m.start() == 0 or data[m.start() - 1 : m.start()] == b"\n"]
    messages = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(data)
        body = re.sub(rb"^>(>*From )", rb"\1", data[m.end() : end], flags=re.MULTILINE)
        messages.append(body)
    return messages
