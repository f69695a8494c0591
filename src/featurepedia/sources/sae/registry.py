"""SAE architectures by the name cfg.json gives them, as SAELens registers its SAE classes.

A new architecture is one file with an :class:`~featurepedia.sources.sae.base.SAESource` subclass and one
``register_sae_architecture`` line; the built-ins register the same way (in ``__init__.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from featurepedia.sources.base import SourceError

if TYPE_CHECKING:
    from featurepedia.sources.sae.base import SAESource

_ARCHITECTURES: dict[str, type[SAESource]] = {}


def register_sae_architecture(name: str, cls: type[SAESource]) -> None:
    """Read SAEs whose cfg.json says ``"architecture": name`` with ``cls``; registering a name twice raises."""
    if name in _ARCHITECTURES:
        raise ValueError(f"SAE architecture {name!r} is already registered (by {_ARCHITECTURES[name].__name__})")
    _ARCHITECTURES[name] = cls


def sae_architectures() -> list[str]:
    """Registered architecture names, in registration order."""
    return list(_ARCHITECTURES)


def sae_architecture(name: str) -> type[SAESource]:
    """The class registered for ``name``; SourceError listing the registered names when there is none."""
    if name not in _ARCHITECTURES:
        raise SourceError(f"SAE architecture {name!r} is not supported; registered architectures: "
                          f"{', '.join(_ARCHITECTURES)} (add one with "
                          "featurepedia.sources.sae.register_sae_architecture)")
    return _ARCHITECTURES[name]
