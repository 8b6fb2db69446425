"""Load scikit-learn models from ``.skops`` bytes with an explicit list of trusted types.

skops never unpickles: it rebuilds objects from a schema and refuses any type not
trusted by default or named by the caller. apibehave never passes ``trusted=True``:
each caller names the exact types its model needs (an ``IsolationForest`` needs
``"sklearn.tree._tree.Tree"``), and a file needing anything else is refused.

skops and scikit-learn are imported only when a model is loaded or saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apibehave.bundle.errors import BundleError


def check_trusted_types(trusted: Sequence[str]) -> list[str]:
    """Check that ``trusted`` is an explicit list of fully qualified type names.

    Parameters
    ----------
    trusted : sequence of str
        Such as ``["sklearn.tree._tree.Tree"]``.

    Returns
    -------
    list of str
        The same names.

    Raises
    ------
    TypeError
        For ``True``, a single string, or anything but a sequence of type names.
    """
    if isinstance(trusted, str | bytes) or not isinstance(trusted, Sequence):
        raise TypeError("trusted must be a list of type names such as ['sklearn.tree._tree.Tree']")
    names = list(trusted)
    if not all(isinstance(name, str) and "." in name for name in names):
        raise TypeError("trusted must hold fully qualified type names, such as 'module.Type'")
    return names


def load_skops_bytes(data: bytes, name: str, trusted: Sequence[str]) -> Any:
    """Rebuild an object from skops bytes, trusting only the listed extra types.

    Parameters
    ----------
    data : bytes
        The ``.skops`` file content (already verified against the manifest).
    name : str
        The file's name, for messages.
    trusted : sequence of str
        Types to trust beyond skops' defaults; nothing else is loaded.

    Returns
    -------
    object
        The model.

    Raises
    ------
    BundleError
        When the file needs a type that is not trusted, or cannot be read.
    """
    names = check_trusted_types(trusted)
    try:
        import skops.io as sio
    except ImportError:  # pragma: no cover - skops is a core dependency
        raise BundleError(f"cannot load {name}: skops is not installed") from None
    try:
        needed = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise BundleError(f"{name} is not a readable skops file: {exc}") from None
    untrusted = sorted(set(needed) - set(names))
    if untrusted:
        raise BundleError(f"{name} needs types that are not trusted: {', '.join(untrusted)}")
    try:
        return sio.loads(data, trusted=names)
    except Exception as exc:
        detail = " ".join(str(exc).split())
        raise BundleError(f"cannot load {name}: {type(exc).__name__}: {detail}") from None


def dump_skops_bytes(obj: Any) -> bytes:
    """Serialise a scikit-learn model to skops bytes for a bundle.

    Parameters
    ----------
    obj : object
        The fitted model.

    Returns
    -------
    bytes
        The ``.skops`` content.
    """
    import skops.io as sio

    return sio.dumps(obj)
