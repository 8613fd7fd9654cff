"""Images in user blocks: the payload shape, constructors and one parser every consumer shares.

A user block carries ``payload["images"]``: a list of JSON dicts in the reference's shape,

* ``{"url": URL, "detail"?: ...}``: a remote image (``data:`` URLs are inline images);
* ``{"media_type": "image/png", "content": <base64>, "detail"?: ...}``: an inline image;
* ``{"file_id": ...}`` / ``{"file_uri": ..., "media_type": ...}``: a file already uploaded to a
  provider (OpenAI Files, Gemini Files API).

Payloads stay plain JSON so every codec round-trips them; :func:`image_parts` turns them into
:class:`ImagePart` values for the provider request builders, and refuses malformed entries
instead of dropping them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from geppetto.errors import TurnError
from geppetto.turns.kinds import PayloadKey

# Large enough for any photo a provider accepts inline (OpenAI and Gemini take 20 MB+ requests,
# Anthropic 5 MB per image), small enough that a wrong path (a video, a disk image) fails fast
# instead of filling memory and the turn store with base64.
MAX_IMAGE_BYTES = 20 * 1024 * 1024

_MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
_DETAILS = frozenset(("low", "high", "auto", "original"))
OCTET_STREAM = "application/octet-stream"


def media_type_for_path(path: str | os.PathLike[str]) -> str:
    """The image media type a file name (or URL path) implies; ``application/octet-stream`` if none."""
    return _MEDIA_TYPES.get(os.path.splitext(os.fspath(path))[1].lower(), OCTET_STREAM)


def sniff_media_type(data: bytes) -> str:
    """The media type the first bytes of a JPEG, PNG, GIF or WebP file declare, else ``""``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


def image_url(url: str, **options: Any) -> dict[str, Any]:
    """An image the provider fetches itself (or a ``data:`` URL); options such as ``detail`` are kept."""
    if not isinstance(url, str) or not url.strip():
        raise TurnError("image_url needs a non-empty URL")
    image: dict[str, Any] = {"url": url.strip()}
    image.update(options)
    return image


def image_bytes(
    content: bytes | bytearray | memoryview | str, media_type: str = OCTET_STREAM, **options: Any
) -> dict[str, Any]:
    """An inline image; ``bytes`` are base64-encoded, a ``str`` is taken as base64 already."""
    if isinstance(content, bytes | bytearray | memoryview):
        encoded = base64.b64encode(bytes(content)).decode("ascii")
    elif isinstance(content, str):
        encoded = content.strip()
    else:
        raise TurnError(f"image_bytes takes bytes or a base64 string, not {type(content).__name__}")
    if not encoded:
        raise TurnError("image_bytes needs non-empty content")
    image: dict[str, Any] = {"media_type": media_type or OCTET_STREAM, "content": encoded}
    image.update(options)
    return image


def image_file(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_IMAGE_BYTES, **options: Any
) -> dict[str, Any]:
    """An inline image read from ``path``; the media type comes from the extension (or the
    file's magic bytes when the extension says nothing). Errors name the path."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if not file.is_file():
            raise TurnError(f"image file {os.fspath(path)!r} is not a regular file")
        if size > max_bytes:
            raise TurnError(
                f"image file {os.fspath(path)!r} is {size} bytes, over the {max_bytes}-byte limit; "
                "resize it or pass a URL"
            )
        with file.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since stat()
    except FileNotFoundError:
        raise TurnError(f"image file {os.fspath(path)!r} does not exist") from None
    except OSError as exc:
        raise TurnError(f"cannot read image file {os.fspath(path)!r}: {exc.strerror or exc}") from None
    if not data:
        raise TurnError(f"image file {os.fspath(path)!r} is empty")
    if len(data) > max_bytes:
        raise TurnError(f"image file {os.fspath(path)!r} is over the {max_bytes}-byte limit")
    media_type = media_type_for_path(file)
    if media_type == OCTET_STREAM:
        media_type = sniff_media_type(data) or OCTET_STREAM
    return image_bytes(data, media_type, **options)


def is_image_url(spec: str) -> bool:
    """Whether a CLI argument names a URL (``http(s)://`` or ``data:``) rather than a file."""
    lowered = spec.strip().lower()
    return lowered.startswith(("http://", "https://", "data:"))


def load_image(spec: str, **options: Any) -> dict[str, Any]:
    """One ``--images``/``/attach`` argument: a URL is kept as a URL, anything else is read as a
    file that must be a JPEG, PNG, GIF or WebP image."""
    if is_image_url(spec):
        return image_url(spec, **options)
    image = image_file(os.path.expanduser(spec), **options)
    if not str(image["media_type"]).startswith("image/"):
        raise TurnError(f"{spec!r} is not a JPEG, PNG, GIF or WebP image")
    return image


class ImagePart(NamedTuple):
    """One image as a provider sees it: exactly one of ``data`` (base64), ``url``, ``file_id``
    or ``file_uri`` is set. ``detail`` is ``""`` when the user gave none."""

    media_type: str = ""
    data: str = ""
    url: str = ""
    file_id: str = ""
    file_uri: str = ""
    detail: str = ""

    @property
    def data_url(self) -> str:
        """The URL OpenAI-style APIs take: the remote URL, or the inline data as a ``data:`` URL."""
        return self.url or f"data:{self.media_type};base64,{self.data}"

    @property
    def url_media_type(self) -> str:
        """The media type of a URL image: given, or implied by the URL path's extension."""
        if self.media_type:
            return self.media_type
        guessed = media_type_for_path(urlsplit(self.url or self.file_uri).path)
        return "" if guessed == OCTET_STREAM else guessed


def payload_images(images: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validated copies of ``images`` ready for a payload (``bytes`` content becomes base64, so
    the payload stays JSON)."""
    listed = list(images)
    image_parts(listed)
    copies = []
    for image in listed:
        copy = dict(image)
        if isinstance(copy.get("content"), bytes | bytearray):
            copy["content"] = base64.b64encode(bytes(copy["content"])).decode("ascii")
        copies.append(copy)
    return copies


def block_image_parts(payload: Mapping[str, Any], where: str = "images") -> list[ImagePart]:
    """The images of a block payload, validated (see :func:`image_parts`)."""
    return image_parts(payload.get(PayloadKey.IMAGES), where)


def image_parts(raw: Any, where: str = "images") -> list[ImagePart]:
    """Parse ``payload["images"]``; a malformed entry is a :class:`TurnError` naming it, never
    a silently dropped image. ``None`` or ``[]`` means no images."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TurnError(f"{where} must be a list of image objects, not {type(raw).__name__}")
    return [_parse(item, f"{where}[{index}]") for index, item in enumerate(raw)]


def _parse(item: Any, where: str) -> ImagePart:
    if not isinstance(item, Mapping):
        kind = type(item).__name__
        raise TurnError(f"{where} must be an object with url or media_type+content, not {kind}")
    detail = _detail(item.get("detail"))
    media_type = _string(item.get("media_type"))
    url = _string(item.get("url")) or _string(item.get("image_url"))
    if url:
        if url.lower().startswith("data:"):
            data_type, data = _split_data_url(url, where)
            return ImagePart(data_type, data=data, detail=detail)
        return ImagePart(media_type, url=url, detail=detail)
    if file_id := _string(item.get("file_id")):
        return ImagePart(media_type, file_id=file_id, detail=detail)
    if file_uri := _string(item.get("file_uri")):
        return ImagePart(media_type, file_uri=file_uri, detail=detail)
    content = item.get("content")
    if isinstance(content, bytes | bytearray):
        content = base64.b64encode(bytes(content)).decode("ascii")
    if isinstance(content, str) and content.strip():
        content = content.strip()
        if content.lower().startswith("data:"):
            data_type, data = _split_data_url(content, where)
            return ImagePart(data_type, data=data, detail=detail)
        if not media_type:
            raise TurnError(f"{where}: inline image content needs a media_type (e.g. image/png)")
        if media_type == OCTET_STREAM:  # image_bytes' default: providers want the real type
            media_type = _sniff_base64(content) or media_type
        return ImagePart(media_type, data=content, detail=detail)
    raise TurnError(f"{where} has no image: give url, file_id, file_uri or media_type+content (base64)")


def describe_images(raw: Any) -> str:
    """A short, never-failing summary for printers: ``[image: https://...] [image: image/png, 12 KB]``."""
    if not isinstance(raw, list) or not raw:
        return ""
    return " ".join(f"[image: {_describe(item)}]" for item in raw)


def _describe(item: Any) -> str:
    try:
        part = _parse(item, "image")
    except TurnError:
        return "invalid"
    if part.url:
        return part.url if len(part.url) <= 80 else part.url[:77] + "..."
    if part.file_id:
        return f"file_id {part.file_id}"
    if part.file_uri:
        return part.file_uri
    size = len(part.data) * 3 // 4 - part.data[-2:].count("=")
    shown = f"{size} bytes" if size < 1024 else f"{(size + 512) // 1024} KB"
    return f"{part.media_type}, {shown}"


def _sniff_base64(data: str) -> str:
    try:
        return sniff_media_type(base64.b64decode(data[:16], validate=True))
    except ValueError:
        return ""


def _split_data_url(url: str, where: str) -> tuple[str, str]:
    head, comma, data = url.partition(",")
    params = head[5:].split(";")
    media_type = params[0].strip()
    if not comma or not media_type:
        raise TurnError(f"{where}: invalid data URL (expected data:<media type>;base64,<data>)")
    if not any(p.strip().lower() == "base64" for p in params[1:]):
        raise TurnError(f"{where}: only base64 data URLs are supported for images")
    data = data.strip()
    if not data:
        raise TurnError(f"{where}: the data URL holds no image data")
    return media_type, data


def _detail(value: Any) -> str:
    """Known detail levels pass; anything else given becomes ``auto`` (the reference rule)."""
    text = _string(value).lower()
    if not text:
        return ""
    return text if text in _DETAILS else "auto"


def _string(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


__all__ = [
    "MAX_IMAGE_BYTES",
    "ImagePart",
    "block_image_parts",
    "describe_images",
    "image_bytes",
    "image_file",
    "image_parts",
    "image_url",
    "is_image_url",
    "load_image",
    "media_type_for_path",
    "payload_images",
    "sniff_media_type",
]
