"""Reading YAML files with errors that name the file and line, and never quote its content.

PyYAML's own messages include a snippet of the offending line, which in a profile file may be an
API key; only the problem and its position are kept here. Duplicate mapping keys are an error
(PyYAML silently keeps the last one, which would hide a duplicated profile).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from geppetto.errors import ConfigError
from geppetto.inputs import LIMITS, InputTooLarge, read_file_text
from geppetto.settings.redact import redact_text

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that rejects duplicate keys."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            continue  # unhashable keys: let the base constructor report them
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first defined at line {seen[key]})", key_node.start_mark
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class SourceError(ConfigError):
    """A profile or config source cannot be read or is invalid; the message names the file."""


def parse_yaml(text: str, label: str) -> Any:
    """Parse ``text`` (from ``label``); :class:`SourceError` with file, line and column on errors."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
        problem = redact_text(str(exc.problem or exc.context or "invalid YAML"))
        raise SourceError(f"{label}: YAML syntax error at {where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{label}: invalid YAML: {redact_text(type(exc).__name__)}") from None


def read_yaml(path: Path) -> Any:
    """Read and parse ``path``; a missing or unreadable file is a :class:`SourceError`."""
    try:
        text = read_file_text(path, LIMITS.profile_file, "profile or config file")
    except InputTooLarge as exc:
        raise SourceError(str(exc)) from None
    except FileNotFoundError:
        raise SourceError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_yaml(text, str(path))
