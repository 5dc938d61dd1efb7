"""The repulsive wall of fine-tuning: compressed one-element cells beyond the screening range (``hts finetune
--wall-max-pressure``), which cells they are, how far they reach, and what they weigh in the loss."""

from __future__ import annotations

__all__ = ["WALL_WEIGHTS", "beyond_range", "energy_free", "is_wall_cell", "loss_weights", "weighted_targets",
           "within_pressure"]


def is_wall_cell(label: dict, hydrogen: bool = False) -> bool:
    """A one-element cell: a wall cell (hydrogen's only with ``hydrogen``)."""
    species = set(label["species"])
    return len(species) == 1 and (hydrogen or species != {"H"})


def within_pressure(labels: list[dict], max_pressure_GPa: float,
                    wall_max_pressure_GPa: float | None = None, wall_hydrogen: bool = False) -> list[dict]:
    """The labels whose pressure magnitude is at most ``max_pressure_GPa``; cells of one element other than H (H too
    with ``wall_hydrogen``) up to ``wall_max_pressure_GPa`` when it is given."""
    wall = max_pressure_GPa if wall_max_pressure_GPa is None else wall_max_pressure_GPa
    return [r for r in labels
            if abs(r["pressure_GPa"]) <= (wall if is_wall_cell(r, wall_hydrogen) else max_pressure_GPa)]


def beyond_range(labels: list[dict], settings: dict) -> list[dict]:
    """The wall cells of a model with these settings (``asdict(FinetuneSettings)``) beyond its ``max_pressure_GPa``."""
    h = settings.get("wall_hydrogen", False)
    return [r for r in labels if is_wall_cell(r, h) and abs(r["pressure_GPa"]) > settings["max_pressure_GPa"]]


def energy_free(labels: list[dict], settings: dict) -> set[str]:
    """Ids of the labels whose energies a model with these settings does not train on: the wall cells beyond
    ``max_pressure_GPa`` when ``wall_energies`` is False."""
    if settings.get("wall_energies", True):
        return set()
    return {r["id"] for r in beyond_range(labels, settings)}


WALL_WEIGHTS = ("equal", "relative")


def loss_weights(labels: list[dict], settings: dict) -> dict[str, float]:
    """Per-label loss weights of a model with these settings (``asdict(FinetuneSettings)``), by id; only labels
    whose weight is not 1 are listed: with ``wall_weight`` "relative", the wall cells beyond ``max_pressure_GPa``
    weigh (max_pressure_GPa / |P|)^2."""
    if settings.get("wall_weight", "equal") == "equal":
        return {}
    p_max = settings["max_pressure_GPa"]
    return {r["id"]: (p_max / abs(r["pressure_GPa"])) ** 2 for r in beyond_range(labels, settings)}


def weighted_targets(targets: dict, prediction: dict) -> dict:
    """Targets moved towards the prediction so that each structure's squared-error gradient is scaled by its weight
    ``targets["w"]`` (t' = p + w (t - p), p detached): per-label weights under CHGNet's unweighted MSE."""
    import torch

    if "w" not in targets:
        return targets
    w = torch.stack([torch.as_tensor(x, dtype=prediction["e"].dtype) for x in targets["w"]])
    out = {k: v for k, v in targets.items() if k != "w"}
    pe = prediction["e"].detach()
    out["e"] = pe + w * (targets["e"] - pe)
    for key in ("f", "s"):
        if key in targets and key in prediction:
            out[key] = [p.detach() + wi * (t - p.detach()) for t, p, wi in zip(targets[key], prediction[key], w)]
    return out
