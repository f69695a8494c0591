"""What ``featurepedia build --source`` asks for: one source id, a comma list of them, or ``all-mlp``.

Each id is of the form ``{layer}-{set}`` (``6-mlp``, ``6-res-sae``); SAE sources get their folder from
``--sae ID=PATH`` (or ``--sae PATH`` when the build has exactly one SAE source) and, when their cfg.json
names no hook point, their hook from ``--hook ID=NAME`` (or ``--hook NAME``). ``all-mlp`` stands for the
MLP neurons of every layer, ``0-mlp`` .. ``{n_layers - 1}-mlp``, known once the model is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from featurepedia.errors import UsageError
from featurepedia.sources.resolve import parse_source_id

ALL_MLP = "all-mlp"
_ID = re.compile(r"^\d+-[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class SourceRequest:
    """One source of a build: its id, and for an SAE its folder and (optionally) hook point."""

    source_id: str
    sae_path: str | None = None
    hook: str | None = None


@dataclass(frozen=True)
class SourceList:
    """The sources of one build, as given (``all-mlp`` not yet expanded).

    Attributes:
        items: source ids and ``all-mlp``, in the order given.
        sae: SAELens folder by source id.
        hooks: hook point by source id (for SAEs whose cfg.json names none).
    """

    items: tuple[str, ...]
    sae: dict[str, str] = field(default_factory=dict)
    hooks: dict[str, str] = field(default_factory=dict)

    @property
    def all_mlp(self) -> bool:
        return ALL_MLP in self.items

    @property
    def is_list(self) -> bool:
        """More than one source (or ``all-mlp``): each source's bundle goes to its own folder under --out."""
        return len(self.items) > 1 or self.all_mlp

    def single(self) -> SourceRequest:
        """The one source of a build that is not a list."""
        if self.is_list:
            raise UsageError(f"--source {','.join(self.items)} is a list of sources, not one")
        (source_id,) = self.items
        return SourceRequest(source_id, self.sae.get(source_id), self.hooks.get(source_id))

    def expand(self, n_layers: int) -> list[SourceRequest]:
        """Every source, ``all-mlp`` replaced by the MLP neurons of each of the model's ``n_layers`` layers."""
        ids: list[str] = []
        for item in self.items:
            ids.extend([f"{layer}-mlp" for layer in range(n_layers)] if item == ALL_MLP else [item])
        for source_id in ids:
            if ids.count(source_id) > 1:
                raise UsageError(f"--source lists {source_id} twice: all-mlp already holds 0-mlp .. "
                                 f"{n_layers - 1}-mlp of this model; drop {source_id} from the list")
        return [SourceRequest(i, self.sae.get(i), self.hooks.get(i)) for i in ids]


def parse_source_list(spec: str, sae: Sequence[str] = (), hooks: Sequence[str] = ()) -> SourceList:
    """Check ``--source`` with its ``--sae`` and ``--hook`` options; what is wrong is said with the fix.

    Args:
        spec: one source id, a comma list (``6-mlp,6-res-sae,3-mlp``) or ``all-mlp`` (also inside a list).
        sae: ``--sae`` values: ``ID=PATH`` each, or one bare ``PATH`` when there is one SAE source.
        hooks: ``--hook`` values: ``ID=NAME`` each, or one bare ``NAME`` when there is one SAE source.
    """
    items = tuple(item.strip() for item in spec.split(","))
    if not spec.strip():
        raise UsageError("--source is empty; give a source id such as 6-mlp, a comma list such as "
                         "6-mlp,6-res-sae,3-mlp, or all-mlp")
    if "" in items:
        raise UsageError(f"--source {spec!r} has an empty item; separate source ids by single commas, "
                         "e.g. 6-mlp,3-mlp")
    listed = len(items) > 1 or ALL_MLP in items
    for item in items:
        if item == ALL_MLP:
            continue
        if listed and not _ID.match(item):
            raise UsageError(f"{item!r} in --source {spec} is not a source id of the form '<layer>-<set>' "
                             "(e.g. 6-mlp for MLP neurons, 6-res-sae for an SAE) nor all-mlp")
        parse_source_id(item)  # a single id gets the source layer's own message
    for item in items:
        if items.count(item) > 1:
            raise UsageError(f"--source {spec} names {item} twice; give each source once")
    explicit = [i for i in items if i != ALL_MLP]
    sae_paths = _assign("--sae", "PATH", sae, items, explicit, candidates=[
        i for i in explicit if parse_source_id(i)[1] != "mlp"])
    if listed:
        for source_id in explicit:
            if parse_source_id(source_id)[1] != "mlp" and source_id not in sae_paths:
                raise UsageError(f"source {source_id} needs an SAE: add --sae {source_id}=PATH (a SAELens folder "
                                 "with cfg.json and sae_weights.safetensors), or drop it from --source")
    hook_names = _assign("--hook", "NAME", hooks, items, explicit, candidates=list(sae_paths))
    for source_id in hook_names:
        if listed and source_id not in sae_paths:
            raise UsageError(f"--hook {source_id}=... is for an SAE whose cfg.json names no hook point, but "
                             f"{source_id} has no --sae {source_id}=PATH")
    return SourceList(items, sae_paths, hook_names)


def _assign(option: str, what: str, values: Sequence[str], items: tuple[str, ...], explicit: list[str],
            candidates: list[str]) -> dict[str, str]:
    """``ID=VALUE`` options as {id: value}; a lone bare ``VALUE`` goes to the only source (a build of one)
    or to the only candidate (the one SAE source of a list)."""
    keyed: dict[str, str] = {}
    bare: list[str] = []
    for value in values:
        key, sep, rest = value.partition("=")
        if sep and _ID.match(key):  # a path may hold '=' too: only an id before it makes it a key
            if not rest:
                raise UsageError(f"{option} {value} gives no {what} after '='; use {option} {key}={what}")
            if key not in explicit:
                raise UsageError(f"{option} {value} names {key}, which is not in --source ({','.join(items)}); "
                                 f"add {key} to --source or drop this {option}")
            if key in keyed:
                raise UsageError(f"{option} gives {key} twice ({keyed[key]} and {rest}); give it once")
            keyed[key] = rest
        else:
            bare.append(value)
    if not bare:
        return keyed
    single = len(items) == 1 and ALL_MLP not in items
    targets = explicit if single else candidates
    if len(values) > 1 or len(targets) != 1:
        names = ", ".join(candidates) or "none"
        raise UsageError(f"{option} {bare[0]} names no source; with several sources give {option} ID={what} for "
                         f"each (sources that need one here: {names}), e.g. {option} 6-res-sae={what}")
    return {targets[0]: bare[0]}
