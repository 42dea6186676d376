"""What kind of input a file is, from its first bytes, for every command alike.

Names lie (`scan.jpg` that is a PDF, `clip.mov.part`); bytes do not. glmv reads the head of
a file once and decides: image, pdf, video, audio, or unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

Kind = Literal["image", "pdf", "video", "audio", "unknown"]

HEAD_BYTES = 1024  # the PDF spec allows junk before `%PDF-` within the first 1024 bytes

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"GIF87a",
                b"GIF89a")
_AUDIO_MAGIC = (b"ID3", b"fLaC", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"#!AMR", b"MThd")
_VIDEO_MAGIC = (b"\x1a\x45\xdf\xa3", b"FLV", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3",
                b"\x30\x26\xb2\x75")
_IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1", b"jp2 ")
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ")


def sniff(head: bytes) -> Kind:
    """The kind of a file from its first bytes (HEAD_BYTES of them suffice)."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[4:8] == b"ftyp":  # ISO media: mp4, mov, 3gp, but also AVIF/HEIC and m4a
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return "image"
        return "audio" if brand in _AUDIO_BRANDS else "video"
    if head[:4] == b"RIFF":
        kind = head[8:12]
        return {b"AVI ": "video", b"WAVE": "audio", b"WEBP": "image"}.get(kind, "unknown")
    if head[:4] == b"OggS":
        return "video" if b"theora" in head else "audio"
    if head.startswith(_VIDEO_MAGIC) or (len(head) > 188 and head[0] == head[188] == 0x47):
        return "video"  # (the last test: an MPEG transport stream's sync bytes)
    if head.startswith(_IMAGE_MAGIC):
        return "image"
    if head.startswith(_AUDIO_MAGIC):
        return "audio"
    if b"%PDF-" in head[:HEAD_BYTES]:  # after the formats that name themselves at byte 0
        return "pdf"
    return "unknown"


def sniff_file(path: str | Path) -> Kind | None:
    """The kind of the file at `path`, or None when it cannot be read (the reader of that
    kind reports why, naming the file)."""
    try:
        with Path(path).expanduser().open("rb") as f:
            return sniff(f.read(HEAD_BYTES))
    except OSError:
        return None
