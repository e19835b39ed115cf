"""How the catalog differs from what an account's Bedrock says (``ListFoundationModels``/``GetFoundationModel``).

Pure functions over the catalog and the API's model summaries, used by ``bedrock-customize catalog --check``
and by the preflight's ``model-availability`` check. The API states a model's lifecycle as ``ACTIVE`` or
``LEGACY`` with an optional ``endOfLifeTime``; a model past that time is end of life (``EOL``), as in the
catalog. ``ListFoundationModels`` lists ``customizationsSupported`` only from FINE_TUNING,
CONTINUED_PRE_TRAINING and DISTILLATION (botocore's ``ModelCustomization``), so other types are not compared.
The catalog covers models that answer with text: a customizable model of the account whose output is only
images or embeddings (Nova Canvas, Titan Image Generator, Titan Multimodal Embeddings) is out of its scope,
not drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bedrock_customization import catalog

__all__ = ["LISTED_TYPES", "Drift", "find_drift", "live_lifecycle", "render_drift"]

#: Customization types that ``ListFoundationModels`` reports (botocore's ``ModelCustomization`` enum).
LISTED_TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION")


@dataclass(frozen=True)
class Drift:
    """One difference: the model, what differs, the catalog's value, the account's value."""

    model_id: str
    aspect: str  # "availability" | "customizations" | "lifecycle" | "uncatalogued" | "withdrawn"
    catalog: str
    account: str

    def to_dict(self) -> dict[str, str]:
        return {
            "model_id": self.model_id,
            "aspect": self.aspect,
            "catalog": self.catalog,
            "account": self.account,
        }


def live_lifecycle(summary: Mapping[str, Any], today: date) -> str:
    """``ACTIVE``, ``LEGACY`` or ``EOL`` of a model summary/details from the API, on ``today``."""
    lifecycle = summary.get("modelLifecycle") or {}
    end = lifecycle.get("endOfLifeTime")
    if isinstance(end, datetime):
        end = (end if end.tzinfo else end.replace(tzinfo=UTC)).date()
    if isinstance(end, date) and today >= end:
        return "EOL"
    return str(lifecycle.get("status") or "ACTIVE")


def _types(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def find_drift(
    models: Sequence[catalog.BaseModel],
    summaries: Sequence[Mapping[str, Any]],
    region: str,
    today: date,
    withdrawn: Iterable[str] = (),
) -> list[Drift]:
    """Differences between the catalog's models for ``region`` and the account's ``summaries``.

    :param models: the catalog's customizable models (all regions; those not offered in ``region`` are
        only compared when the account says they are customizable there).
    :param summaries: ``modelSummaries`` of ``ListFoundationModels`` in ``region``.
    :param withdrawn: ids the catalog records as no longer offered for customization.
    """
    live = {summary["modelId"]: summary for summary in summaries}
    drift: list[Drift] = []
    known = {model.id for model in models}
    for model in models:
        summary = live.get(model.id)
        here = region in model.regions
        offered = sorted(set(summary.get("customizationsSupported") or ()) if summary else set())
        ours = model.lifecycle.status_on(today)
        if here and summary is None and ours != "EOL":  # an end-of-life model is expected to be gone
            drift.append(Drift(model.id, "availability", f"customizable in {region}", "not listed"))
            continue
        if summary is None:
            continue
        if not here:
            if offered:
                drift.append(
                    Drift(
                        model.id,
                        "availability",
                        f"not offered in {region}",
                        f"customizable: {_types(offered)}",
                    )
                )
            continue
        expected = sorted(t for t in model.customization_types if t in LISTED_TYPES)
        if expected != offered:
            drift.append(Drift(model.id, "customizations", _types(expected), _types(offered)))
        theirs = live_lifecycle(summary, today)
        if ours != theirs:
            drift.append(Drift(model.id, "lifecycle", ours, theirs))
    gone = set(withdrawn)
    for model_id, summary in sorted(live.items()):
        offered = summary.get("customizationsSupported") or []
        if not offered or model_id in known or "TEXT" not in summary.get("outputModalities", ["TEXT"]):
            continue
        aspect = "withdrawn" if model_id in gone else "uncatalogued"
        label = "no longer offered" if model_id in gone else "not in the catalog"
        drift.append(Drift(model_id, aspect, label, f"customizable: {_types(offered)}"))
    return drift


def render_drift(drift: Sequence[Drift], region: str) -> str:
    """A table of the differences, or one line saying there are none."""
    from bedrock_customization.tables import text_table

    if not drift:
        return f"The catalog matches ListFoundationModels in {region}."
    rows = [[d.model_id, d.aspect, d.catalog, d.account] for d in drift]
    return (
        f"{len(drift)} difference(s) between the catalog and ListFoundationModels in {region}:\n"
        + text_table(rows, ["MODEL", "ASPECT", "CATALOG", "ACCOUNT"])
    )
