"""A search across model families (the AutoML step): which families take part, and their joint space.

`search(["cnn", "resnet20", "vit"], data)` or `search("auto", data)` tunes the
family itself: a KerasTuner choice `model` over the families, and each family's
declared space under `hp.conditional_scope("model", [family])`, its entries named
`family/argument` (`cnn/filters`, `vit/patch_size`), so a family's entries are
active only in that family's trials. The training settings (learning rate,
weight decay, batch size, augmentation) are shared by every family.

`auto` picks, from the registry, the families that take the data's input kind
and task and train from scratch on small inputs: not the Keras Applications
(tag `applications`: ImageNet architectures made for 224x224 inputs and
pretrained weights) nor those tagged `gpu`, and one name per builder (a named
variant such as `resnet20`, which fixes `resnet`'s depth, is left to its
family, whose space holds the depth). A family list naming a family that does
not fit the data fails in one line saying why.

A space for a family search takes a mapping per family and the shared training
settings: `{"cnn": {"filters": [[16, 32]]}, "learning_rate": [1e-3, 3e-3]}`.
Nothing here imports TensorFlow or KerasTuner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kerazoo.space import Choice, Declaration, space_from_dict, to_dict
from tuning.spaces import TRAINING_DEFAULTS, TRAINING_KEYS, ResolvedSpace, resolve_space

__all__ = ["AUTO", "AUTO_EXCLUDED_TAGS", "FAMILY_KEY", "FamilySpace", "auto_families", "resolve_families",
           "resolve_search_space", "is_family_search"]

#: The model name that asks the registry for the families.
AUTO = "auto"
#: The hyperparameter that holds a trial's family.
FAMILY_KEY = "model"
#: Registry tags `auto` leaves out: ImageNet Applications (224x224, pretrained weights) and GPU-sized models.
AUTO_EXCLUDED_TAGS = ("applications", "gpu")


def is_family_search(model: Any) -> bool:
    """Whether `model` asks for a search across families (`"auto"` or a list of names).

    Example:
    >>> is_family_search("cnn"), is_family_search("auto"), is_family_search(["cnn", "vit"])
    (False, True, True)
    """
    return model == AUTO or (isinstance(model, Sequence) and not isinstance(model, str))


def auto_families(spec=None) -> tuple[str, ...]:
    """The families `auto` searches: fitting the data, trainable from scratch on small inputs.

    Args:
        spec: the data's `DataSpec`. Defaults to None (every such family, for
            any data).

    Returns:
        Registry names, sorted.

    Example:
    >>> from kerazoo import load_data
    >>> auto_families(load_data("iris").spec)
    ('mlp', 'transformer')
    """
    from kerazoo.registry import fit_problem, get_entry, list_models

    entries = [get_entry(name) for name in list_models()]
    out = []
    for entry in entries:
        if set(entry.tags) & set(AUTO_EXCLUDED_TAGS):
            continue
        if entry.fixed and any(other.fn is entry.fn and not other.fixed for other in entries):
            continue  # a named variant (resnet20): its family (resnet) searches its settings
        if spec is not None and fit_problem(entry.name, spec) is not None:
            continue
        out.append(entry.name)
    return tuple(out)


def resolve_families(model: str | Sequence[str], spec=None) -> tuple[str, ...]:
    """The families of a search: `auto`'s pick, or a list checked against the registry and the data.

    Args:
        model: `"auto"`, or a list of registered names.
        spec: the data's `DataSpec` (None: check the names only).

    Returns:
        The family names, in the order given (duplicates dropped).

    Raises:
        ValueError: an empty list, an unknown name (with the closest ones), a
            family that does not fit the data (saying why), or no family for it.

    Example:
    >>> from kerazoo import load_data
    >>> resolve_families(["mlp", "cnn"], load_data("iris").spec)
    Traceback (most recent call last):
    ...
    ValueError: model: family 'cnn' cannot take part: model 'cnn' takes image inputs, but the data 'iris' has tabular inputs of shape (4,); models that take tabular inputs: mlp, transformer
    """
    from kerazoo.registry import fit_problem, get_entry

    if model == AUTO:
        families = auto_families(spec)
        if not families:
            raise ValueError(f"model: auto finds no family for {spec.kind} {spec.task} data"
                             if spec is not None else "model: auto finds no family in the registry")
        return families
    if isinstance(model, str) or not isinstance(model, Sequence) or not model:
        raise ValueError(f"model: expected a model name, 'auto' or a non-empty list of names, got {model!r}")
    families = tuple(dict.fromkeys(model))
    for name in families:
        if not isinstance(name, str):
            raise ValueError(f"model: expected model names, got {name!r}")
        try:
            get_entry(name)
        except KeyError as err:
            raise ValueError(f"model: {err.args[0]}") from None
        problem = fit_problem(name, spec) if spec is not None else None
        if problem is not None:
            raise ValueError(f"model: family {name!r} cannot take part: {problem}")
    return families


def _prefixed(family: str, decl: Declaration) -> Declaration:
    """`decl` of `family`, active only in the family's trials, its own conditions renamed."""
    d = to_dict(decl)
    d["when"] = {FAMILY_KEY: [family], **{f"{family}/{p}": v for p, v in (decl.when or {}).items()}}
    return space_from_dict({"x": d})["x"]


@dataclass
class FamilySpace:
    """The joint space of a search across families (see the module docstring).

    Attributes:
        families: the family names (the values of the `model` choice).
        entries: `model`, then each family's entries as `family/argument`
            (conditional on the family), then the shared training settings.
        defaults: the value of every entry when it is not tuned.
    """

    families: tuple[str, ...]
    entries: dict[str, Declaration]
    defaults: dict[str, Any] = field(repr=False)

    @property
    def model(self) -> str:
        """The families, joined by `+` (a label for directories and messages)."""
        return "+".join(self.families)

    def family(self, values: Mapping[str, Any]) -> str:
        """The family of a trial's values.

        Example:
        >>> space = resolve_search_space(["mlp", "transformer"], {}, kind="tabular")
        >>> space.family({"model": "transformer", "transformer/dim": 32})
        'transformer'
        """
        return values.get(FAMILY_KEY, self.families[0])

    def split(self, values: Mapping[str, Any]) -> tuple[dict, dict]:
        """(the trial family's builder arguments, without their prefix; the training settings).

        Example:
        >>> space = resolve_search_space(["mlp", "transformer"], {}, kind="tabular")
        >>> space.split({"model": "mlp", "mlp/width": 16, "learning_rate": 0.01})
        ({'width': 16}, {'learning_rate': 0.01})
        """
        prefix = f"{self.family(values)}/"
        model = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
        training = {k: v for k, v in values.items() if k != FAMILY_KEY and "/" not in k}
        return model, training

    def to_dict(self) -> dict[str, dict]:
        """JSON-ready declarations (the fingerprint's, and what a worker process rebuilds the space from)."""
        return {k: to_dict(v) for k, v in self.entries.items()}

    @classmethod
    def from_dict(cls, families: Sequence[str], entries: Mapping[str, dict]) -> FamilySpace:
        """The space `to_dict` wrote, for `families` (defaults come from the registry).

        Example:
        >>> space = resolve_search_space(["mlp", "transformer"], {"mlp": {"width": [8, 16]}}, kind="tabular")
        >>> FamilySpace.from_dict(space.families, space.to_dict()).entries == space.entries
        True
        """
        return cls(families=tuple(families), entries=space_from_dict(dict(entries)),
                   defaults=_defaults(tuple(families)))

    def describe(self) -> list[str]:
        """One line per entry: name, range, and the family it belongs to.

        Example:
        >>> resolve_search_space(["mlp", "transformer"], {"mlp": {"width": [8, 16]}}, kind="tabular").describe()[:2]
        ['model: one of [mlp, transformer]', 'mlp/depth: int 1..4 (mlp)']
        """
        lines = []
        for name, decl in self.entries.items():
            fixed = isinstance(decl, Choice) and len(decl.values) == 1
            text = f"fixed {decl.values[0]!r}" if fixed else decl.describe()
            if name == FAMILY_KEY:
                text = f"one of [{', '.join(self.families)}]"
            when = dict(decl.when or {})
            family = when.pop(FAMILY_KEY, None)
            lines.append(f"{name}: {text}" + (f" when {when}" if when else "") + (f" ({family[0]})" if family else ""))
        return lines

    def per_family(self) -> dict[str, dict[str, dict]]:
        """Each family's entries without their prefix, and the shared ones under `"training"` (the model card's).

        Example:
        >>> space = resolve_search_space(["mlp", "transformer"], {"mlp": {"width": [8, 16]}}, kind="tabular")
        >>> space.per_family()["mlp"]["width"]["values"], sorted(space.per_family())
        ([8, 16], ['mlp', 'training', 'transformer'])
        """
        out: dict[str, dict[str, dict]] = {f: {} for f in self.families}
        out["training"] = {}
        for name, decl in self.entries.items():
            if name == FAMILY_KEY:
                continue
            family, _, arg = name.partition("/")
            d = to_dict(decl)
            d["when"] = {k.partition("/")[2]: v for k, v in (decl.when or {}).items() if k != FAMILY_KEY} or None
            if arg:
                out[family][arg] = d
            else:
                out["training"][name] = d
        return out


def _defaults(families: tuple[str, ...]) -> dict[str, Any]:
    from kerazoo.registry import get_entry

    out: dict[str, Any] = {FAMILY_KEY: families[0], **TRAINING_DEFAULTS}
    for family in families:
        entry = get_entry(family)
        out.update({f"{family}/{k}": v for k, v in entry.params.items() if k not in entry.fixed})
    return out


def resolve_search_space(
    model: str | Sequence[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    kind: str | None = None,
) -> ResolvedSpace | FamilySpace:
    """The space of a search: one model's (`resolve_space`), or the joint space of several families.

    Args:
        model: a registered name, or the families (a list; `resolve_families`
            turns `"auto"` into one).
        overrides: for one model, as `resolve_space` takes them; for families,
            a mapping per family (`{"cnn": {"filters": [[16, 32]]}}`) and the
            shared training settings (`learning_rate: [1e-3, 3e-3]`).
        kind: the data's input kind.

    Returns:
        A `ResolvedSpace` for one model (or a list of one), else a `FamilySpace`.

    Raises:
        ValueError: an override that names neither a family of the search nor
            a training setting, or a family's override that its model does not take.

    Example:
    >>> space = resolve_search_space(["mlp", "transformer"], {"mlp": {"depth": 1}, "batch_size": 32},
    ...                              kind="tabular")
    >>> list(space.entries)[:3], space.entries["mlp/depth"].when
    (['model', 'mlp/depth', 'mlp/width'], {'model': ['mlp']})
    >>> resolve_search_space(["mlp", "transformer"], {"depth": 1})
    Traceback (most recent call last):
    ...
    ValueError: space: 'depth' is neither a family of this search (mlp, transformer) nor a training setting; a family's arguments go under its name, e.g. `mlp: {depth: ...}`
    """
    if isinstance(model, str):
        return resolve_space(model, overrides, kind=kind)
    families = tuple(model)
    if len(families) == 1:
        inner = (overrides or {}).get(families[0])
        flat = {k: v for k, v in (overrides or {}).items() if k != families[0]}
        return resolve_space(families[0], {**flat, **(inner or {})}, kind=kind)
    overrides = dict(overrides or {})
    training = {k: v for k, v in overrides.items() if k in TRAINING_KEYS}
    for key, value in overrides.items():
        if key in TRAINING_KEYS:
            continue
        if key not in families:
            raise ValueError(f"space: {key!r} is neither a family of this search ({', '.join(families)}) nor a "
                             f"training setting; a family's arguments go under its name, e.g. "
                             f"`{families[0]}: {{{key}: ...}}`")
        if value is not None and not isinstance(value, Mapping):
            raise ValueError(f"space: {key}: expected a mapping of {key}'s arguments, got {value!r}")
    entries: dict[str, Declaration] = {FAMILY_KEY: Choice(families)}
    shared: dict[str, Declaration] = {}
    for family in families:
        try:
            space = resolve_space(family, {**training, **(overrides.get(family) or {})}, kind=kind)
        except ValueError as err:
            raise ValueError(f"{err} (under space: {family})") from None
        for name, decl in space.entries.items():
            if name in space.model_keys:
                entries[f"{family}/{name}"] = _prefixed(family, decl)
            else:
                shared.setdefault(name, decl)
    entries.update(shared)
    return FamilySpace(families=families, entries=entries, defaults=_defaults(families))
