"""Provider paths and names built from templates, checked one segment at a time.

A folder like `Contracts/{{ source.company }}` is a path under the drive's root. A company named
`../../../../users/ceo@acme.test/drive/root:/Finance` must not climb out of it: `..` would be
resolved away by the URL (and the server), `:` ends Graph's `root:/…:` path syntax, and control
characters end headers and names. Such a segment fails the node; every other one is
percent-encoded on its own, so no character in it can act as a separator.
"""

from urllib.parse import quote

from shared.errors import DocflowError

#: Characters OneDrive and SharePoint refuse in names, or give a meaning in a Graph path.
GRAPH_RESERVED = frozenset('"*:<>?\\|')


class UnsafePath(DocflowError):
    """A name or path segment from a template that could reach outside where it belongs."""

    retryable = False


def _control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def check_name(name: str, what: str, *, reserved: frozenset[str] = GRAPH_RESERVED) -> str:
    """`name` as one path segment or file name; UnsafePath saying why, naming `what`."""
    if name in ("", ".", ".."):
        raise UnsafePath(f"{what}: {name!r} is not a name")
    if _control(name):
        raise UnsafePath(f"{what}: {name!r} holds a control character")
    if "/" in name:
        raise UnsafePath(f"{what}: {name!r} holds a '/'")
    bad = sorted(set(name) & reserved)
    if bad:
        raise UnsafePath(f"{what}: {name!r} holds {' '.join(repr(c) for c in bad)}")
    return name


def path_segments(path: str, what: str) -> list[str]:
    """The segments of a `/`-separated path, each checked; empty segments are dropped."""
    return [check_name(segment, what) for segment in path.split("/") if segment != ""]


def encoded_path(path: str, what: str) -> str:
    """`path` with each checked segment percent-encoded on its own, joined by `/`."""
    return "/".join(quote(segment, safe="") for segment in path_segments(path, what))


def check_display_name(name: str, what: str) -> str:
    """A name a provider keeps as data, not as a path (a Drive file's name): no control
    characters, not empty."""
    if not name.strip():
        raise UnsafePath(f"{what}: the name is empty")
    if _control(name):
        raise UnsafePath(f"{what}: {name!r} holds a control character")
    return name
