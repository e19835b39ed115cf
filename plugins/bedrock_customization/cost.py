"""Estimated cost of a run: training, the evaluation's serving, and storage of the kept model.

The prices live in the package data file ``data/prices.json``, one entry per catalog model: training per 1,000
tokens, custom model storage per month, no-commitment provisioned throughput per model unit per hour, on-demand
input/output per 1,000 tokens for the base model and for an on-demand custom model deployment; each entry with
its ``source``, ``reviewed`` date, ``verified`` flag and a ``note`` saying which figures are unconfirmed.
``null`` means not known: that item is reported as unpriced, never guessed. ``[bedrock_customization] prices``
replaces figures (:func:`configured_table`).

Every figure here is an estimate (``estimated_cost_usd``), never a bill. The arithmetic:

* training: training records' estimated tokens (the dataset step's count) x epochs / 1,000 x price;
* provisioned throughput: model units x hours it existed, each started hour counted (AWS bills hourly until the
  throughput is deleted and does not document partial hours: rounding up is the conservative reading) x price;
* on demand: input tokens / 1,000 x input price + output tokens / 1,000 x output price, from Converse ``usage``;
* storage: kept custom models x months x price per month.

Pure: the standard library and the catalog only.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any

from bedrock_customization import catalog, promotion
from bedrock_customization.exceptions import BedrockCustomizationError, UnknownModelError

__all__ = [
    "PRICE_FIELDS",
    "PriceError",
    "configured_table",
    "estimate",
    "on_demand_cost",
    "price_table",
    "prices_for",
    "run_estimate",
    "serving_kind",
    "storage_cost",
    "throughput_cost",
    "training_cost",
    "training_estimates",
]

_DATA_FILE = "prices.json"
#: The price fields of an entry (USD).
PRICE_FIELDS = (
    "training_per_1k_tokens",
    "storage_per_month",
    "throughput_per_model_unit_hour",
    "on_demand_input_per_1k_tokens",
    "on_demand_output_per_1k_tokens",
    "custom_on_demand_input_per_1k_tokens",
    "custom_on_demand_output_per_1k_tokens",
)
_OVERRIDE = "[bedrock_customization] prices"
_DIGITS = 6


class PriceError(BedrockCustomizationError):
    """A price override that cannot be used."""


@functools.cache
def _document() -> Mapping[str, Any]:
    text = resources.files("bedrock_customization").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _key(model_id: str) -> str:
    """The catalog id of ``model_id`` (any alias the catalog knows), else ``model_id`` itself."""
    try:
        return catalog.get_model(model_id).id
    except (UnknownModelError, BedrockCustomizationError):
        return model_id


def price_table(override: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Model id -> price entry: the data file with ``override`` (model id -> fields) merged field by field.

    An overridden entry lists the replaced fields in ``overridden``. Raises :class:`PriceError` naming the
    model and field for an unknown field or a price that is not a non-negative number or null.
    """
    table = {model_id: dict(entry) for model_id, entry in _document()["models"].items()}
    for model_id, fields in (override or {}).items():
        if not isinstance(fields, Mapping):
            raise PriceError(
                f"{_OVERRIDE}: the entry of {model_id!r} must be an object of price fields, "
                f"got {type(fields).__name__}."
            )
        unknown = sorted(set(fields) - set(PRICE_FIELDS) - {"source", "reviewed", "note"})
        if unknown:
            raise PriceError(
                f"{_OVERRIDE}: unknown field(s) {', '.join(unknown)} for {model_id!r}; allowed: "
                f"{', '.join(PRICE_FIELDS)}, source, reviewed, note."
            )
        for name in PRICE_FIELDS:
            value = fields.get(name)
            if (
                name in fields
                and value is not None
                and (isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0)
            ):
                raise PriceError(
                    f"{_OVERRIDE}: {model_id!r} {name} must be a non-negative number of US dollars or null, "
                    f"got {value!r}."
                )
        entry = table.setdefault(_key(model_id), {name: None for name in PRICE_FIELDS})
        entry.update(fields)
        replaced = set(entry.get("overridden", [])) | (set(fields) & set(PRICE_FIELDS))
        entry["overridden"] = sorted(replaced)
        entry["override_source"] = _OVERRIDE
    return table


def configured_table() -> dict[str, dict[str, Any]]:
    """:func:`price_table` with the Airflow config's ``[bedrock_customization] prices`` override."""
    from bedrock_customization import settings

    return price_table(settings.prices_override())


def prices_for(model_id: str, table: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The price entry of ``model_id`` (a catalog id or alias); every price null for a model not in the table."""
    key = _key(model_id)
    entry = table.get(key)
    if entry is None:
        return {
            **{name: None for name in PRICE_FIELDS},
            "model_id": key,
            "source": None,
            "reviewed": None,
            "verified": False,
            "note": f"{key} is not in the price table: add it with {_OVERRIDE}.",
        }
    return {"model_id": key, **entry}


def _money(value: float) -> float:
    return round(value, _DIGITS)


def _price(value: float | None) -> str:
    """A price in plain decimals (``0.000035``, not ``3.5e-05``)."""
    return f"{value or 0:.8f}".rstrip("0").rstrip(".")


def _line(cost: float | None, basis: str, **figures: Any) -> dict[str, Any]:
    return {"estimated_cost_usd": None if cost is None else _money(cost), "basis": basis, **figures}


def training_cost(
    training_tokens: int | None, epochs: int | str | None, price: float | None
) -> dict[str, Any]:
    """Training: ``training_tokens`` x ``epochs`` tokens at ``price`` per 1,000 tokens."""
    epochs = int(epochs) if epochs not in (None, "") else None
    figures = {"training_tokens": training_tokens, "epochs": epochs, "price_per_1k_tokens": price}
    if training_tokens is None or epochs is None:
        missing = "training token count" if training_tokens is None else "epoch count"
        return _line(None, f"unpriced: the {missing} is not known", tokens=None, **figures)
    tokens = training_tokens * epochs
    basis = f"{training_tokens:,} training tokens x {epochs} epochs = {tokens:,} tokens"
    if price is None:
        return _line(None, f"{basis}; unpriced: no training price", tokens=tokens, **figures)
    return _line(tokens / 1000 * price, f"{basis} at ${_price(price)} per 1,000", tokens=tokens, **figures)


def throughput_cost(model_units: int | None, seconds: float | None, price: float | None) -> dict[str, Any]:
    """A no-commitment provisioned throughput: ``model_units`` x started hours of ``seconds`` x ``price``."""
    hours = max(1, math.ceil(seconds / 3600)) if seconds is not None else None
    figures = {
        "model_units": model_units,
        "seconds": seconds,
        "hours": hours,
        "price_per_model_unit_hour": price,
    }
    if model_units is None or hours is None:
        return _line(None, "unpriced: the throughput's model units or lifetime are not known", **figures)
    basis = f"{model_units} model unit(s) x {hours} started hour(s)"
    if price is None:
        return _line(None, f"{basis}; unpriced: no throughput price", **figures)
    return _line(model_units * hours * price, f"{basis} at ${_price(price)} per model unit-hour", **figures)


def on_demand_cost(
    input_tokens: int, output_tokens: int, input_price: float | None, output_price: float | None
) -> dict[str, Any]:
    """On-demand tokens: input and output tokens at their prices per 1,000 tokens."""
    figures = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_price_per_1k_tokens": input_price,
        "output_price_per_1k_tokens": output_price,
    }
    basis = f"{input_tokens:,} input + {output_tokens:,} output tokens"
    if input_price is None or output_price is None:
        return _line(None, f"{basis}; unpriced: no on-demand price", **figures)
    cost = input_tokens / 1000 * input_price + output_tokens / 1000 * output_price
    return _line(cost, f"{basis} at ${_price(input_price)} / ${_price(output_price)} per 1,000", **figures)


def storage_cost(models: int, price: float | None, months: int = 1) -> dict[str, Any]:
    """Storage of ``models`` kept custom models for ``months`` months at ``price`` per model-month."""
    figures = {"models": models, "months": months, "price_per_month": price}
    basis = f"{models} kept custom model(s) x {months} month(s)"
    if price is None and models:
        return _line(None, f"{basis}; unpriced: no storage price", **figures)
    return _line(models * months * (price or 0.0), f"{basis} at ${_price(price)} per month", **figures)


def training_estimates(
    entries: list[dict[str, Any]],
    base_model_id: str,
    training_tokens: int | None,
    table: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Leaderboard entries with their training estimate: ``train_tokens`` (the training records' estimated
    tokens, one epoch), ``estimated_training_cost_usd`` (null when unpriced) and ``estimated_training_cost``
    (the figures and their basis), from each configuration's ``epochCount``."""
    price = prices_for(base_model_id, table)["training_per_1k_tokens"]
    annotated = []
    for entry in entries:
        line = training_cost(training_tokens, (entry.get("hyperparameters") or {}).get("epochCount"), price)
        annotated.append(
            {
                **entry,
                "train_tokens": training_tokens,
                "estimated_training_cost_usd": line["estimated_cost_usd"],
                "estimated_training_cost": line,
            }
        )
    return annotated


def serving_kind(model_id: str | None) -> str:
    """How ``model_id`` is served: ``provisioned`` (a throughput ARN), ``on_demand_deployment`` (a custom
    model deployment ARN), ``other`` (an imported model, a custom model ARN), or ``on_demand`` (a base model
    id or inference profile)."""
    text = str(model_id or "")
    if ":provisioned-model/" in text:
        return "provisioned"
    if promotion.serving_kind_of(text) == promotion.ON_DEMAND:
        return "on_demand_deployment"
    if text.startswith("arn:"):
        return "other"
    return "on_demand"


def estimate(
    items: Mapping[str, Mapping[str, Any]], prices: Mapping[str, Any], assumptions: list[str]
) -> dict:
    """The estimate: ``estimated_cost_usd`` (the sum of the priced items), the ``breakdown``, the ``unpriced``
    items, the price entry's provenance and the ``assumptions``."""
    priced = [line["estimated_cost_usd"] for line in items.values() if line["estimated_cost_usd"] is not None]
    return {
        "estimated_cost_usd": _money(sum(priced)),
        "currency": "USD",
        "breakdown": {name: dict(line) for name, line in items.items()},
        "unpriced": [name for name, line in items.items() if line["estimated_cost_usd"] is None],
        "prices": {
            key: prices.get(key)
            for key in ("model_id", "source", "reviewed", "verified", "note", "overridden", "override_source")
            if key in prices
        },
        "assumptions": list(assumptions),
    }


def run_estimate(
    base_model_id: str,
    table: Mapping[str, Mapping[str, Any]],
    *,
    training_tokens: int | None = None,
    epochs: int | str | None = None,
    candidate_model_id: str | None = None,
    candidate_usage: Mapping[str, int] | None = None,
    throughput: Mapping[str, Any] | None = None,
    baseline_model_id: str | None = None,
    baseline_usage: Mapping[str, int] | None = None,
    kept_models: int = 1,
) -> dict[str, Any]:
    """One run's estimate: training, the candidate's serving during the evaluation, the baseline's on-demand
    tokens (the base model's, or a champion deployment's; a champion on its own throughput costs the run
    nothing more), and one month of storage per kept model. ``throughput`` has ``model_units`` and ``seconds`` (creation to the end of the evaluation)."""
    prices = prices_for(base_model_id, table)
    items: dict[str, dict[str, Any]] = {
        "training": training_cost(training_tokens, epochs, prices["training_per_1k_tokens"]),
    }
    assumptions = [
        "Training tokens are the dataset step's estimate (characters / the model's characters per token) of "
        "the training records, times the epochs: Bedrock reports no trained-token count.",
        "Distillation's teacher calls and the judge's and embedding model's calls are not included.",
    ]
    kind = serving_kind(candidate_model_id)
    if kind == "provisioned":
        throughput = throughput or {}
        items["evaluation_candidate"] = throughput_cost(
            throughput.get("model_units"), throughput.get("seconds"), prices["throughput_per_model_unit_hour"]
        )
        assumptions.append(
            "The candidate's no-commitment throughput is counted from its creation to the end of the "
            "evaluation, each started hour in full; a throughput kept to serve the champion bills on."
        )
    elif candidate_usage is not None:
        usage = candidate_usage
        custom = kind == "on_demand_deployment"
        items["evaluation_candidate"] = on_demand_cost(
            int(usage.get("inputTokens", 0)),
            int(usage.get("outputTokens", 0)),
            prices["custom_on_demand_input_per_1k_tokens" if custom else "on_demand_input_per_1k_tokens"],
            prices["custom_on_demand_output_per_1k_tokens" if custom else "on_demand_output_per_1k_tokens"],
        )
    baseline_kind = serving_kind(baseline_model_id)
    if baseline_usage is not None and baseline_kind in ("on_demand", "on_demand_deployment"):
        prefix = "custom_" if baseline_kind == "on_demand_deployment" else ""  # a champion deployed on demand
        items["evaluation_baseline"] = on_demand_cost(
            int(baseline_usage.get("inputTokens", 0)),
            int(baseline_usage.get("outputTokens", 0)),
            prices[f"{prefix}on_demand_input_per_1k_tokens"],
            prices[f"{prefix}on_demand_output_per_1k_tokens"],
        )
    items["storage_first_month"] = storage_cost(kept_models, prices["storage_per_month"])
    assumptions.append(
        "Storage: one month of each custom model the run keeps (a promoted candidate); it bills monthly "
        "for as long as the model exists."
    )
    return estimate(items, prices, assumptions)
