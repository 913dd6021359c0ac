"""PDF: the text layer of every page (no OCR), the metadata title and the page count."""

from __future__ import annotations

import io

from qa.errors import InvalidInput
from qa.parse.content import normalize_text


def parse_pdf(data: bytes, filename: str) -> tuple[str, str | None, int]:
    """Text layer of a PDF (pages joined by blank lines), its metadata title and page count."""
    import pypdf

    # Readers accept the header anywhere in the first 1 KiB (some tools prepend junk); so do we.
    if b"%PDF-" not in data[:1024]:
        raise InvalidInput(f"'{filename}' is not a PDF (no %PDF- header); check the file or its extension")
    # pypdf raises many exception types (its own, ValueError, KeyError, ...) on damaged files;
    # any of them means "this file cannot be read", which is the user's problem to fix.
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many "protected" PDFs have an empty user password
            except Exception:
                opened = pypdf.PasswordType.NOT_DECRYPTED
            if opened == pypdf.PasswordType.NOT_DECRYPTED:
                raise InvalidInput(
                    f"'{filename}' is an encrypted PDF that cannot be opened without a password; "
                    "save an unencrypted copy and index that"
                )
        pages = [page.extract_text() or "" for page in reader.pages]
        try:
            meta_title = reader.metadata.title if reader.metadata is not None else None
        except Exception:  # a broken info dictionary should not lose the text
            meta_title = None
    except InvalidInput:
        raise
    except Exception as e:
        raise InvalidInput(
            f"'{filename}' is a corrupt or unreadable PDF ({type(e).__name__}: {e}); re-export or repair it"
        ) from None

    if not pages:
        raise InvalidInput(f"'{filename}' is a PDF with no pages: nothing to index")
    text = normalize_text("\n\n".join(pages))
    if not text.strip():
        raise InvalidInput(
            f"'{filename}' has no text layer (it is probably a scanned image) and OCR is not supported; "
            "run it through OCR first (e.g. ocrmypdf) and index the result"
        )
    title = normalize_text(meta_title).strip() if isinstance(meta_title, str) else ""
    return text, title or None, len(pages)
