"""``geppetto infer --images`` and ``geppetto chat`` ``/attach``: images reach the stored and
printed turn; bad files and image-blind engines are one-line errors."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from geppetto.cli.chat import _attach_args
from geppetto.cli.images import load_image_args, split_image_args
from geppetto.errors import ConfigError
from geppetto.store import TurnStore
from geppetto.turns import BlockKind, Turn

GEPPETTO = [sys.executable, "-m", "geppetto"]
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PNG_B64 = base64.b64encode(PNG_BYTES).decode()


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GEPPETTO, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def _png(tmp_path: Path, name: str = "cat.png") -> Path:
    path = tmp_path / name
    path.write_bytes(PNG_BYTES)
    return path


def _latest_stored_turn(db: Path) -> Turn:
    with TurnStore(db) as store:
        session_id = store.latest_session_id()
        assert session_id is not None
        return store.load_turns(session_id)[-1]


def _stored_user_images(db: Path) -> list[object]:
    [user] = [block for block in _latest_stored_turn(db).blocks if block.kind is BlockKind.USER]
    return list(user.payload.get("images") or [])


def test_split_image_args_repeats_and_splits_commas(tmp_path: Path) -> None:
    odd = tmp_path / "a,b.png"
    odd.write_bytes(PNG_BYTES)
    assert split_image_args(None) == []
    assert split_image_args(["a.png", " b.png , c.png ", ""]) == ["a.png", "b.png", "c.png"]
    assert split_image_args(["data:image/png;base64,AAAA"]) == ["data:image/png;base64,AAAA"]
    assert split_image_args([str(odd)]) == [str(odd)]  # an existing file keeps its comma


def test_attach_takes_typed_quoted_and_home_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spaced = _png(tmp_path, "my cat.png")
    assert _attach_args(str(spaced)) == [str(spaced)]  # typed as is, spaces and all
    assert _attach_args(f"'{spaced}'") == [str(spaced)]  # pasted by a terminal, quoted
    assert _attach_args(str(spaced).replace(" ", "\\ ")) == [str(spaced)]
    assert _attach_args("'unbalanced") == ["'unbalanced"]
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = [{"media_type": "image/png", "content": PNG_B64}]
    _png(tmp_path)
    assert load_image_args(["~/cat.png"]) == expected
    with pytest.raises(ConfigError, match=r"^--images: image file .*nope\.png. does not exist$"):
        load_image_args(["~/nope.png"])


def test_infer_images_on_echo_are_printed_and_stored(tmp_path: Path) -> None:
    png = _png(tmp_path)
    db = tmp_path / "turns.db"
    url_list = "https://img.test/a.jpg,https://img.test/b.png"
    args = ["infer", "what is this?", "--ai-api-type", "echo", "--store", str(db)]
    result = run_cli(*args, "--images", str(png), "--images", url_list, "--output", "json")
    assert result.returncode == 0, result.stderr
    expected = [
        {"media_type": "image/png", "content": PNG_B64},
        {"url": "https://img.test/a.jpg"},
        {"url": "https://img.test/b.png"},
    ]
    printed = orjson.loads(result.stdout)
    [user] = [b for b in printed["blocks"] if b["kind"] == "user"]
    assert user["payload"] == {"text": "what is this?", "images": expected}
    assert _stored_user_images(db) == expected

    args = ["infer", "see", "--ai-api-type", "echo", "--no-store", "--system", ""]
    text = run_cli(*args, "--images", str(png))
    assert text.returncode == 0, text.stderr
    assert text.stdout == "\n=== Final Turn ===\nuser: see [image: image/png, 16 bytes]\nassistant: READY\n"


def test_infer_bad_image_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    result = run_cli("infer", "x", "--ai-api-type", "echo", "--no-store", "--images", str(missing))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"error: --images: image file '{missing}' does not exist\n"
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = run_cli("infer", "x", "--ai-api-type", "echo", "--no-store", "--images", str(notes))
    assert result.returncode == 1
    assert result.stderr == f"error: --images: '{notes}' is not a JPEG, PNG, GIF or WebP image\n"


def test_infer_images_on_the_local_model_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("infer", "what is this?", "--no-store", "--images", str(_png(tmp_path)))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the local model is text-only and cannot take images" in result.stderr
    assert result.stderr.count("\n") == 1


def test_chat_attach_goes_with_the_next_message_only(tmp_path: Path) -> None:
    png = _png(tmp_path)
    db = tmp_path / "turns.db"
    script = "\n".join(
        [
            f"/attach {png}",
            f"/attach {tmp_path / 'missing.png'}",
            "/attach",
            "what is this?",
            "/attach",
            "and now?",
            f"/attach {png}",
            "/attach --clear",
            "/help",
        ]
    )
    result = run_cli("chat", "--ai-api-type", "echo", "--store", str(db), stdin=script + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "attached [image: image/png, 16 bytes]; 1 image(s) go with your next message" in out
    assert "attached to the next message: [image: image/png, 16 bytes]" in out
    assert out.count("no images attached") == 1  # after the first message took the image
    assert "attachments dropped" in out
    assert "/attach FILE|URL" in out  # listed in /help
    assert result.stderr == f"error: /attach: image file '{tmp_path / 'missing.png'}' does not exist\n"
    users = [block.payload for block in _latest_stored_turn(db).blocks if block.kind is BlockKind.USER]
    assert users == [
        {"text": "what is this?", "images": [{"media_type": "image/png", "content": PNG_B64}]},
        {"text": "and now?"},
    ]
