"""``edgebench build`` and ``edgebench sweep``: the build stage, one config in, one manifest
out (:func:`edgebench.api.build_models`, :func:`edgebench.api.sweep`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgebench import api
from edgebench.build.config import DataConfig, PipelineConfig, TrainConfig
from edgebench.build.sweep_config import SweepConfig
from edgebench.commands.common import EXIT_FAILED, EXIT_OK, Command, add_config, add_out, log
from edgebench.declare import add_flags, given


def ray_address(text: str) -> str:
    """A Ray cluster's HOST:PORT (or ray://HOST:PORT), or auto."""
    host, _, port = text.removeprefix("ray://").rpartition(":")
    if text == "auto" or (host and port.isdigit()):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a Ray address; use HOST:PORT (e.g. 127.0.0.1:6379) or auto"
    )


def add_quick_overrides(p: argparse.ArgumentParser) -> None:
    """--epochs, --train-limit, --test-limit: the [train] and [data] keys a smoke run shrinks."""
    g = p.add_argument_group("quick runs (override the config)")
    add_flags(g, TrainConfig)
    add_flags(g, DataConfig)


def config_with_overrides(args: argparse.Namespace, default: Path | None = None) -> PipelineConfig:
    """The pipeline config of --config (or ``default``) with --epochs / --*-limit applied."""
    config = api.load_config(args.config or default)
    return config.with_overrides(**given(args, DataConfig), **given(args, TrainConfig))


# --------------------------------------------------------------------------- build


def add_build_args(p: argparse.ArgumentParser) -> None:
    add_config(p, "pipeline TOML (default: the models/pipeline.toml shipped with edgebench)",
               from_env=True)
    p.add_argument(
        "--model",
        type=Path,
        help="your own trained model as the dense baseline: a .keras or .h5 file (tf-keras or "
        "Keras 3) is pruned and converted; a SavedModel folder is converted to the quantised "
        "variants only",
    )
    p.add_argument("--run", help="name of the run folder under --out (default: UTC timestamp)")
    add_quick_overrides(p)
    add_out(p)


def cmd_build(args: argparse.Namespace) -> int:
    manifest = api.build_models(
        config_with_overrides(args), out=args.out, run=args.run, model=args.model, progress=log
    )
    print(f"manifest: {manifest.path}")
    return EXIT_OK


# --------------------------------------------------------------------------- sweep


def add_sweep_args(p: argparse.ArgumentParser) -> None:
    add_config(p, "pipeline TOML with a [sweep] section (default: models/sweep.toml)")
    p.add_argument("--run", help="name of the run folder under --out (default: UTC timestamp)")
    p.add_argument(
        "--ray",
        type=ray_address,
        metavar="ADDRESS",
        help="run the trials on the Ray cluster at HOST:PORT (default: local worker processes)",
    )
    add_flags(p, SweepConfig)
    p.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="trained-artifact cache (default: <out>/<[sweep] cache_dir>)",
    )
    add_quick_overrides(p)
    add_out(p)


def cmd_sweep(args: argparse.Namespace) -> int:
    config = config_with_overrides(args, default=api.default_sweep_path())
    outcome = api.sweep(
        config, out=args.out, run=args.run, cache=args.cache, ray=args.ray, progress=log,
        **given(args, SweepConfig),
    )
    print(f"manifest: {outcome.manifest.path}")
    if outcome.chosen is None:
        print("chosen: none (no variant reached the accuracy floor on validation)")
        return EXIT_FAILED
    print(
        f"chosen: {outcome.chosen} (validation {outcome.chosen_val_accuracy:.2%}, "
        f"test {outcome.chosen_test_accuracy:.2%})"
    )
    return EXIT_OK


BUILD = Command(
    "build",
    "train, prune and convert models; write a manifest",
    "Train the dense baseline (or take yours with --model: tf-keras or Keras 3 .keras/.h5, "
    "or a SavedModel folder, convert-only), prune it with every recipe of the pipeline "
    "config, convert each to TFLite variants, and write <out>/<run>/manifest.json with zip "
    "bytes, sparsity, operators, host accuracy and output fidelity against the float32 "
    "reference; the test set goes to <out>/<run>/eval/ as shards with the reference's "
    "outputs. Example: edgebench build --epochs 1 --train-limit 5000",
    add_build_args,
    cmd_build,
)

SWEEP = Command(
    "sweep",
    "search recipes x sparsity x clusters x quantisation; choose the smallest that passes",
    "Search the [sweep] of the config (default models/sweep.toml) for the Pareto front of "
    "zipped bytes against validation accuracy (a seeded share of the training data, held "
    "out of every training run), choose the smallest variant at or above the accuracy "
    "floor there, then measure the front on the test set, and write "
    "<out>/<run>/manifest.json with the front as artifacts, every trial, and the chosen "
    "file under 'chosen' (its validation and test accuracy side by side). Trained stages "
    "are cached under <out>/cache, so a rerun trains only what changed. Exit 1 when "
    "nothing reaches the floor.",
    add_sweep_args,
    cmd_sweep,
)
