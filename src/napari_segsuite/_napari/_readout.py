"""Where a model's validation figure comes from, in words (issue 20, item 3).

A readout such as "best val AP@0.5 0.958" on the sample model is its score on the synthetic data it was trained
on, and reads like a promise about the user's images; every figure the model widgets show says what it was
measured on.
"""

from __future__ import annotations

__all__ = ["figure_source"]

#: ``history["validation"]`` (what the training loop validated on) -> how the readout says it
_VALIDATED_ON = {
    "held-out training items": "on held-out items of the training data",
    "held-out part of the training image": "on a held-out part of the training image",
    "training images (no held-out data)": "on the training images themselves (nothing held out)",
    "validation data": "on the validation data given",
}


def _best_ap50(history: dict):
    best = history.get("best_val_ap50")
    if isinstance(best, (int, float)) and best == best:
        return float(best)
    values = [v for v in history.get("val_ap50", []) if isinstance(v, (int, float)) and v == v]
    return max(values) if values else None


def figure_source(history: dict | None, origin: str, sample: bool) -> str:
    """The model's validation AP@0.5 and what it was measured on, or "" when the history has none.

    Parameters
    ----------
    history : dict or None
        The checkpoint's training history (``best_val_ap50``, ``val_ap50``, ``validation``).
    origin : str
        How the model came: ``"trained"``, ``"fine-tuned"``, or the file it was loaded from.
    sample : bool
        True for the sample model shipped with the plugin (trained on synthetic nuclei).

    Examples
    --------
    >>> figure_source({"best_val_ap50": 0.958}, "unet_nuclei.pt", sample=True)
    'sample model: val AP@0.5 0.96 on held-out images of its synthetic training corpus, not a measure on your images'
    >>> figure_source({"best_val_ap50": 0.81, "validation": "held-out training items"}, "trained", sample=False)
    'val AP@0.5 0.81 on held-out items of your training data'
    """
    best = _best_ap50(history or {})
    if best is None:
        return "sample model" if sample else ""
    if sample:
        return (f"sample model: val AP@0.5 {best:.2f} on held-out images of its synthetic training corpus, not a "
                "measure on your images")
    note = (history or {}).get("validation")
    where = _VALIDATED_ON.get(note, f"on {note}" if note else "(validation data not recorded)")
    if origin in ("trained", "fine-tuned") or origin.startswith("trained"):
        where = where.replace("the training data", "your training data").replace("the training image",
                                                                                   "your training image")
        return f"val AP@0.5 {best:.2f} {where}"
    return f"val AP@0.5 {best:.2f} {where} (from the file's own training)"
