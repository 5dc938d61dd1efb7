"""Read a user's YAML file defensively: bounded size and nesting, UTF-8, no duplicate keys, no aliases.

``yaml.safe_load`` already refuses Python objects; it still accepts a duplicate key (the last one wins
silently), an alias bomb (a few lines that expand to gigabytes once a program walks them) and nesting
deep enough to overflow the parser's recursion. Each of these becomes a :class:`YAMLInputError` with one
line that says what is wrong and where.
"""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["MAX_BYTES", "MAX_DEPTH", "YAMLInputError", "load_yaml_file", "load_yaml_text"]

MAX_BYTES = 1 << 20  # a campaign file is a few KB
MAX_DEPTH = 12  # mapping/sequence levels; a campaign needs 4


class YAMLInputError(ValueError):
    """A YAML input that is refused before any of its content is used."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases and duplicate keys, with bounded nesting."""

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise YAMLInputError(f"line {mark.line + 1}: YAML aliases (*name) are not accepted; write the value out")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YAMLInputError(f"line {mark.line + 1}: nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise YAMLInputError(f"line {key_node.start_mark.line + 1}: a mapping key must be a plain value") from None
            if key in seen:
                raise YAMLInputError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def load_yaml_text(text: str):
    """Parse ``text`` with the strict loader; raises :class:`YAMLInputError` (one line)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except YAMLInputError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YAMLInputError(f"{where}not valid YAML ({what})") from None
    except RecursionError:
        raise YAMLInputError(f"nesting deeper than {MAX_DEPTH} levels") from None


def load_yaml_file(path: str | Path, max_bytes: int = MAX_BYTES):
    """Read ``path`` (at most ``max_bytes``, UTF-8) and parse it strictly."""
    from hts.user_files import UserFileError, read_text

    try:
        text = read_text(path, max_bytes)
    except UserFileError as exc:
        raise YAMLInputError(str(exc)) from None
    return load_yaml_text(text)
