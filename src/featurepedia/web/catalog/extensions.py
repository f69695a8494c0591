"""What the apps built on the catalog add to its pages, registered in their ``AppConfig.ready()``.

The catalog knows no app above it. An app adds a panel (a template and the context it needs) to a slot of
a catalog page, or a text filter that hides text a player asked not to see (logit tokens are masked,
example contexts left out). Registering a name twice raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

SLOTS = ("home", "feature")  # the home page's top; a feature page, between its heading and its data

PanelContext = Callable[[HttpRequest, Mapping[str, Any]], Mapping[str, Any]]
TextFilter = Callable[[HttpRequest], Callable[[str], bool] | None]  # a request -> "hide this text?" or None


@dataclass(frozen=True)
class Panel:
    """A part of a catalog page that another app renders.

    Attributes:
        name: unique among all panels (e.g. ``game.campaigns``).
        template: rendered with the page's context plus what ``context`` returns.
        context: (request, the page's context) -> the panel's own context.
        order: panels of a slot are shown by ascending order.
    """

    name: str
    template: str
    context: PanelContext
    order: int = 0


_PANELS: dict[str, Panel] = {}
_SLOTS: dict[str, str] = {}  # panel name -> slot
_TEXT_FILTERS: dict[str, TextFilter] = {}
_STAMPS: dict[str, Callable[[Any], tuple]] = {}


def register_panel(slot: str, panel: Panel) -> None:
    """Show ``panel`` in ``slot`` of its catalog page; an unknown slot or a name used twice raises ValueError."""
    if slot not in SLOTS:
        raise ValueError(f"no catalog slot {slot!r}; slots: {', '.join(SLOTS)}")
    if panel.name in _PANELS:
        raise ValueError(f"catalog panel {panel.name!r} is already registered")
    _PANELS[panel.name] = panel
    _SLOTS[panel.name] = slot


def panels(slot: str) -> list[Panel]:
    """The panels of a slot, in order."""
    return sorted((p for name, p in _PANELS.items() if _SLOTS[name] == slot), key=lambda p: (p.order, p.name))


def register_text_filter(name: str, text_filter: TextFilter) -> None:
    """Let ``text_filter`` hide text from catalog pages; a name used twice raises ValueError."""
    if name in _TEXT_FILTERS:
        raise ValueError(f"catalog text filter {name!r} is already registered")
    _TEXT_FILTERS[name] = text_filter


def active_text_filters(request: HttpRequest) -> dict[str, Callable[[str], bool]]:
    """The text filters this request turns on, by name (the names are part of cache keys of what they hide)."""
    active = {name: f(request) for name, f in _TEXT_FILTERS.items()}
    return {name: hides for name, hides in active.items() if hides is not None}


def hidden_text(request: HttpRequest) -> Callable[[str], bool] | None:
    """What this request asks to hide: a test of a text, or None when nothing is hidden."""
    return combined(active_text_filters(request))


def combined(active: Mapping[str, Callable[[str], bool]]) -> Callable[[str], bool] | None:
    """One test hiding what any of ``active`` hides, or None when there are none."""
    tests = list(active.values())
    if not tests:
        return None
    return lambda text: any(hides(text) for hides in tests)


def register_feature_stamp(name: str, stamp: Callable[[Any], tuple]) -> None:
    """Let ``stamp`` (a feature -> values that change whenever what the app's panels show of it changes) key
    cached feature pages; a name used twice raises ValueError. An app whose panels show a feature's data must
    register one, or its panels would be served stale to visitors from the shared page cache."""
    if name in _STAMPS:
        raise ValueError(f"feature stamp {name!r} is already registered")
    _STAMPS[name] = stamp


def feature_stamps(feature: Any) -> tuple:
    """Every registered stamp of the feature, in name order."""
    return tuple((name, _STAMPS[name](feature)) for name in sorted(_STAMPS))
