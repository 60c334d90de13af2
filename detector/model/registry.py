"""Named models and their checkpoints.

A checkpoint is a torch file holding a dict: `name`, `trained`, `input_size`, `threshold`, `metrics`,
`state_dict` (float16 to keep the shipped file small) and `recipe`; since the alert rule became
sequential also `calibration` (Platt parameters with the clips they were fitted on) and `alert` (the
rule's bound, per-frame clip and drift, with how the bound was chosen), and optionally `geometry` (the
face-mesh geometry head fused with the CNN, `detector.model.geometry`). A checkpoint without them loads
with the identity calibration and the documented default rule (`detector.evidence.AlertRule()`). The
bundled checkpoint lives in `detector/model/weights/`; without it the analyzer runs on an ImageNet
backbone and an untrained head and says so (`model_trained: false`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from detector.calibration import Calibration, CalibrationError
from detector.faces.align import ZOOM
from detector.model.errors import ModelLoadError
from detector.model.geometry import GeometryError, GeometryHead
from detector.model.network import CELL_INPUT, PROJ, DeepfakeNet
from detector.model.views import ViewSpec

logger = logging.getLogger(__name__)

MODEL_NAME = "effnetlite0-lstm"
INPUT_SIZE = 128
BUNDLED_WEIGHTS = Path(__file__).parent / "weights" / "deepfake-monitor-v2.pt"
UNTRAINED_THRESHOLD = 0.5


@dataclass(frozen=True)
class LoadedModel:
    """A network ready for inference plus what is known about it."""

    net: DeepfakeNet = field(repr=False)
    name: str
    trained: bool
    input_size: int
    threshold: float
    metrics: dict[str, Any]
    crop_zoom: float = ZOOM  # the alignment zoom the model was trained at
    views: ViewSpec = field(default_factory=ViewSpec)  # aligned crop size, face and mouth views

    @property
    def align_size(self) -> int:
        """Side of the aligned crop the analyzer cuts the model's views from."""
        return self.views.align_size

    calibration: Calibration = field(default_factory=Calibration)
    alert: dict[str, Any] = field(default_factory=dict)  # bound, clip, drift (+ how chosen); {} = defaults
    geometry: GeometryHead | None = None  # face-mesh geometry fused with the CNN (needs `mesh.enabled`)


def save_checkpoint(
    net: DeepfakeNet,
    path: Path,
    *,
    trained: bool,
    threshold: float,
    metrics: dict[str, Any],
    recipe: dict[str, Any],
    views: ViewSpec | None = None,
) -> None:
    """Write a checkpoint (float16 weights) atomically; the views are the network's unless given."""
    views = views or net.views
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    payload = {
        "name": MODEL_NAME,
        "trained": trained,
        "input_size": views.face_size,
        "crop_zoom": views.zoom,
        "views": asdict(views),
        "threshold": threshold,
        "metrics": metrics,
        "recipe": recipe,
        "state_dict": state,
    }
    _write(payload, path)


def with_alerting(
    weights: Path | None, out: Path, calibration: Calibration | None = None, alert: dict[str, Any] | None = None
) -> None:
    """Copy a checkpoint (default: the bundled one) with a new calibration and/or alert rule stored in it."""
    payload = _read(weights if weights is not None else BUNDLED_WEIGHTS)
    if calibration is not None:
        payload["calibration"] = calibration.as_dict()
    if alert is not None:
        payload["alert"] = dict(alert)
    _write(payload, out)


def with_geometry(weights: Path | None, out: Path, head: GeometryHead, threshold: float) -> None:
    """Copy a checkpoint with a geometry head and the threshold of the fused output. A calibration or
    alert bound fitted to the CNN alone no longer fits, so both are dropped: run `calibrate` again."""
    payload = _read(weights if weights is not None else BUNDLED_WEIGHTS)
    payload["geometry"] = head.as_dict()
    payload["threshold"] = threshold
    payload.pop("calibration", None)
    payload.pop("alert", None)
    _write(payload, out)


def load_model(weights: Path | None) -> LoadedModel:
    """Load `weights`, else the bundled checkpoint, else an untrained model on ImageNet features."""
    path = weights if weights is not None else (BUNDLED_WEIGHTS if BUNDLED_WEIGHTS.is_file() else None)
    if path is None:
        logger.warning("no trained weights bundled: using an ImageNet backbone with an untrained head")
        net = DeepfakeNet(pretrained_backbone=True).eval()
        return LoadedModel(net, MODEL_NAME + "-untrained", False, INPUT_SIZE, UNTRAINED_THRESHOLD, {}, ZOOM, net.views)
    payload = _read(path)
    views = checkpoint_views(payload)
    net = DeepfakeNet(pretrained_backbone=False, views=views)
    try:
        state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
        net.load_state_dict(_with_motion_inputs(state))
    except (RuntimeError, KeyError) as exc:
        raise ModelLoadError(f"checkpoint {path} does not fit model {MODEL_NAME}: {exc}") from exc
    return LoadedModel(
        net=net.eval(),
        name=str(payload.get("name", MODEL_NAME)),
        trained=bool(payload.get("trained", False)),
        input_size=int(payload.get("input_size", INPUT_SIZE)),
        threshold=float(payload.get("threshold", UNTRAINED_THRESHOLD)),
        metrics=dict(payload.get("metrics", {})),
        crop_zoom=views.zoom,
        views=views,
        calibration=_calibration(path, payload),
        alert=dict(payload.get("alert", {})),
        geometry=_geometry(path, payload),
    )


def checkpoint_views(payload: dict[str, Any]) -> ViewSpec:
    """The views a checkpoint's model takes (checkpoints before views: one crop at `input_size`)."""
    if "views" in payload:
        return ViewSpec(**payload["views"])
    size = int(payload.get("input_size", INPUT_SIZE))
    return ViewSpec(align_size=size, face_size=size, mouth_size=0, zoom=float(payload.get("crop_zoom", ZOOM)))


def _calibration(path: Path, payload: dict[str, Any]) -> Calibration:
    if "calibration" not in payload:
        return Calibration()  # checkpoints from before calibration: the raw output, unchanged
    try:
        return Calibration.from_dict(payload["calibration"])
    except CalibrationError as exc:
        raise ModelLoadError(f"checkpoint {path}: {exc}") from exc


def _geometry(path: Path, payload: dict[str, Any]) -> GeometryHead | None:
    if "geometry" not in payload:
        return None
    try:
        return GeometryHead.from_dict(payload["geometry"])
    except (GeometryError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"checkpoint {path}: {exc}") from exc


def _with_motion_inputs(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Checkpoints from before the cell saw frame-to-frame change (v1) get zero weights for that input,
    which gives exactly their old outputs."""
    weight = state.get("cell.weight_ih")
    if weight is None or weight.shape[1] != PROJ + 1:
        return state
    motion = weight.new_zeros(weight.shape[0], CELL_INPUT - weight.shape[1])
    return {**state, "cell.weight_ih": torch.cat([weight[:, :PROJ], motion, weight[:, PROJ:]], dim=1)}


def _write(payload: dict[str, Any], path: Path) -> None:
    """Save a checkpoint atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelLoadError(f"model weights not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise ModelLoadError(f"cannot read model weights {path}: {exc}") from exc
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ModelLoadError(f"{path} is not a deepfake-monitor checkpoint")
    return payload
