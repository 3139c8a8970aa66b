"""A stream produced as it is read: its position, and a seek that can only confirm it.

Google's resumable upload calls ``tell`` and ``seek(tell())`` on what it sends; a stream that is made while it is
sent (the archive, an upload's first chunk before the rest) can answer those but never go back.
"""

from __future__ import annotations

import os


class ForwardOnly:
    """``tell`` and a forward-only ``seek`` over ``_position``, which subclasses advance as they are read."""

    _position = 0
    _why_no_seek = "the stream is produced as it is read: it cannot seek back"

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = offset if whence == os.SEEK_SET else self._position + offset if whence == os.SEEK_CUR else -1
        if target != self._position:
            raise OSError(self._why_no_seek)
        return self._position
