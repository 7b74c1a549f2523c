"""Error messages for users: one line that says what is wrong and what to do."""

from __future__ import annotations


def one_line(err: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (torch's are often several), at most ``limit`` characters."""
    text = "; ".join(part.strip() for part in str(err).splitlines() if part.strip()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
