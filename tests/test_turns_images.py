"""geppetto.turns.images: the constructors, the parser providers use, payloads through every codec."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

import geppetto
from geppetto.errors import TurnError
from geppetto.turns import (
    Block,
    BlockKind,
    PayloadKey,
    Turn,
    format_turn,
    from_json,
    from_yaml,
    image_bytes,
    image_file,
    image_url,
    to_json,
    to_yaml,
)
from geppetto.turns.codec import decode_turn, encode_turn
from geppetto.turns.images import (
    ImagePart,
    describe_images,
    image_parts,
    load_image,
    media_type_for_path,
    sniff_media_type,
)
from geppetto.turns.printers import PrettyPrinter

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PNG_B64 = base64.b64encode(PNG_BYTES).decode()


def test_image_url_keeps_options() -> None:
    assert image_url("https://x.test/a.png") == {"url": "https://x.test/a.png"}
    with_detail = {"url": "https://x.test/a.png", "detail": "low"}
    assert image_url(" https://x.test/a.png ", detail="low") == with_detail
    with pytest.raises(TurnError, match="non-empty URL"):
        image_url("  ")


def test_image_bytes_encodes_bytes_and_keeps_base64_strings() -> None:
    assert image_bytes(PNG_BYTES, "image/png") == {"media_type": "image/png", "content": PNG_B64}
    assert image_bytes(bytearray(b"ab")) == {"media_type": "application/octet-stream", "content": "YWI="}
    assert image_bytes("QUJD", "image/gif", detail="high") == {
        "media_type": "image/gif",
        "content": "QUJD",
        "detail": "high",
    }
    with pytest.raises(TurnError, match="non-empty content"):
        image_bytes(b"")
    with pytest.raises(TurnError, match="bytes or a base64 string, not int"):
        image_bytes(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.JPEG", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("a.bmp", "application/octet-stream"),
    ],
)
def test_image_file_media_type_from_the_extension(tmp_path: Path, name: str, media_type: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"not really an image")
    image = image_file(path)
    assert image == {"media_type": media_type, "content": base64.b64encode(b"not really an image").decode()}
    assert media_type_for_path(name) == media_type


def test_image_file_sniffs_files_without_a_known_extension(tmp_path: Path) -> None:
    for data, expected in [
        (PNG_BYTES, "image/png"),
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"GIF89a...", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    ]:
        path = tmp_path / "noext"
        path.write_bytes(data)
        assert image_file(str(path), detail="low") == {
            "media_type": expected,
            "content": base64.b64encode(data).decode(),
            "detail": "low",
        }
        assert sniff_media_type(data) == expected
    assert sniff_media_type(b"hello") == ""


def test_image_file_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(TurnError, match=re.escape(f"image file '{missing}' does not exist")):
        image_file(missing)
    with pytest.raises(TurnError, match="is not a regular file"):
        image_file(tmp_path)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(TurnError, match=re.escape("empty.png' is empty")):
        image_file(empty)
    big = tmp_path / "big.png"
    big.write_bytes(b"x" * 101)
    too_big = "big.png' is 101 bytes, over the 100-byte limit; resize it or pass a URL"
    with pytest.raises(TurnError, match=re.escape(too_big)):
        image_file(big, max_bytes=100)
    not_a_dir = tmp_path / "file.png"
    not_a_dir.write_bytes(PNG_BYTES)
    with pytest.raises(TurnError, match=r"cannot read image file .*file\.png/x\.png"):
        image_file(not_a_dir / "x.png")


def test_load_image_takes_urls_or_image_files(tmp_path: Path) -> None:
    assert load_image("https://x.test/a.png") == {"url": "https://x.test/a.png"}
    assert load_image("data:image/png;base64,AAAA") == {"url": "data:image/png;base64,AAAA"}
    path = tmp_path / "cat.png"
    path.write_bytes(PNG_BYTES)
    assert load_image(str(path)) == {"media_type": "image/png", "content": PNG_B64}
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(TurnError, match=re.escape("notes.txt' is not a JPEG, PNG, GIF or WebP image")):
        load_image(str(text))


def test_block_user_and_the_builder_put_images_in_the_payload() -> None:
    images = [image_url("https://x.test/a.png"), image_bytes(PNG_BYTES, "image/png")]
    block = Block.user("look", images)
    assert block.kind is BlockKind.USER and block.payload == {"text": "look", "images": images}
    assert block.payload[PayloadKey.IMAGES] is not images  # the caller's list is not shared
    assert Block.user("plain").payload == {"text": "plain"}  # no images key without images
    turn = Turn.builder().system("s").user("look", images).user("", [image_url("https://x.test/b.png")]).build()
    assert [b.payload.get("images") for b in turn.blocks] == [None, images, [{"url": "https://x.test/b.png"}]]
    assert len(Turn.builder().user("", []).build().blocks) == 0  # nothing to say: no block (reference rule)
    assert geppetto.image_url is image_url and geppetto.image_file is image_file


def test_malformed_images_fail_when_the_block_is_built() -> None:
    with pytest.raises(TurnError, match=r"images\[1\]: inline image content needs a media_type"):
        Block.user("x", [image_url("https://x.test/a.png"), {"content": "AAAA"}])
    with pytest.raises(TurnError, match=r"images\[0\] has no image"):
        Turn.builder().user("x", [{"detail": "low"}])
    with pytest.raises(TurnError, match=r"images\[0\] must be an object"):
        Block.user("x", ["https://x.test/a.png"])  # type: ignore[list-item]


def test_image_parts_parses_every_reference_form() -> None:
    raw: list[Any] = [
        {"url": "https://x.test/a.png", "detail": "HIGH"},
        {"image_url": "https://x.test/b.jpg", "media_type": "image/jpeg", "detail": "weird"},
        {"url": "data:image/gif;base64,R0lG"},
        {"content": "data:image/webp;base64,UklG"},
        {"media_type": "image/png", "content": PNG_B64},
        {"media_type": "image/png", "content": PNG_BYTES},
        {"file_id": "file-1"},
        {"file_uri": "https://files.test/f", "media_type": "image/png"},
    ]
    assert image_parts(raw) == [
        ImagePart(url="https://x.test/a.png", detail="high"),
        ImagePart("image/jpeg", url="https://x.test/b.jpg", detail="auto"),
        ImagePart("image/gif", data="R0lG"),
        ImagePart("image/webp", data="UklG"),
        ImagePart("image/png", data=PNG_B64),
        ImagePart("image/png", data=PNG_B64),
        ImagePart(file_id="file-1"),
        ImagePart("image/png", file_uri="https://files.test/f"),
    ]
    assert image_parts(None) == [] and image_parts([]) == []
    assert ImagePart("image/png", data="AA").data_url == "data:image/png;base64,AA"
    assert ImagePart(url="https://x.test/a.PNG?x=1").url_media_type == "image/png"
    assert ImagePart(url="https://x.test/photo").url_media_type == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"url": "x"}, "images must be a list of image objects, not dict"),
        ([{"url": "data:image/png,AAAA"}], "only base64 data URLs are supported"),
        ([{"url": "data:;base64,AAAA"}], "invalid data URL"),
        ([{"url": "data:image/png;base64,"}], "the data URL holds no image data"),
        ([{"content": 5, "media_type": "image/png"}], "has no image"),
    ],
)
def test_image_parts_refuses_malformed_payloads(raw: Any, message: str) -> None:
    with pytest.raises(TurnError, match=message):
        image_parts(raw)


def test_images_round_trip_through_yaml_json_and_the_js_codec() -> None:
    images = [image_url("https://x.test/a.png", detail="low"), image_bytes(PNG_BYTES, "image/png")]
    turn = Turn.builder().user("look", images).build()
    for decoded in (from_yaml(to_yaml(turn)), from_json(to_json(turn)), decode_turn(encode_turn(turn))):
        assert decoded.blocks[0].payload == {"text": "look", "images": images}
        assert image_parts(decoded.blocks[0].payload["images"]) == image_parts(images)


def test_printers_show_attached_images() -> None:
    images = [image_url("https://x.test/a.png"), image_bytes(b"x" * 3000, "image/png")]
    built = Turn.builder().user("look", images).build()
    assert format_turn(built) == "user: look [image: https://x.test/a.png] [image: image/png, 3 KB]\n"
    assert PrettyPrinter().format(built) == (
        "[00] user: look\n  [image: https://x.test/a.png] [image: image/png, 3 KB]\n"
    )
    assert format_turn(Turn.builder().user("plain").build()) == "user: plain\n"  # reference form unchanged
    assert describe_images([{"broken": True}, {"file_id": "f1"}]) == "[image: invalid] [image: file_id f1]"
    assert describe_images("nonsense") == ""


def test_bytes_content_is_stored_as_base64() -> None:
    block = Block.user("x", [{"media_type": "image/png", "content": PNG_BYTES}])
    assert block.payload["images"] == [{"media_type": "image/png", "content": PNG_B64}]
    block.validate()  # JSON all the way down


def test_octet_stream_content_is_sent_with_the_type_its_bytes_declare() -> None:
    """image_bytes' default media type stays in the payload (the reference shape), but providers
    are given the type the bytes declare, which is what their APIs check."""
    image = image_bytes(PNG_BYTES)
    assert image["media_type"] == "application/octet-stream"
    assert image_parts([image]) == [ImagePart("image/png", data=PNG_B64)]
    unknown = image_bytes(b"plain text here")
    assert image_parts([unknown])[0].media_type == "application/octet-stream"
    assert image_parts([{"media_type": "application/octet-stream", "content": "***"}])[0].data == "***"
