"""The build's artifacts: each model saved or converted into the run folder, then measured
(zipped bytes, non-zero parameters, per-layer sparsity, operators, host accuracy, output
fidelity against the float32 reference) and described as an :class:`Artifact`."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgebench.bench.device.runner.errors import ModelError
from edgebench.bench.device.runner.evaldata import EvalData
from edgebench.bench.device.runner.evaluate import evaluate
from edgebench.bench.device.runner.ops import model_ops
from edgebench.bench.device.shards import model_outputs, write_eval_data
from edgebench.build import facts, sources, strip, training
from edgebench.build.config import PipelineConfig
from edgebench.build.conversion import convert
from edgebench.build.progress import Progress
from edgebench.build.samples import calibration_samples
from edgebench.errors import ConfigError, EdgebenchError
from edgebench.files import zip_bytes
from edgebench.records import (
    Artifact,
    OpInfo,
    OutputFidelity,
    VariantKind,
    format_snr,
    from_dict,
    worst_fidelity,
)

EVAL_DIR = "eval"  # the evaluation shards, in the run folder
REFERENCE_FILE = "baseline-float32.tflite"  # the float32 reference every variant is held to
STRIP_CHECK_SAMPLES = 64  # training samples a stripped variant must answer byte-identically


@dataclass
class ArtifactBuilder:
    """Saves, converts, measures and describes artifacts relative to the dense baseline.

    The first artifact recorded is the dense baseline (its Keras file, or for a SavedModel its
    float32 TFLite): every compression ratio is measured against its zipped size. The eval
    shards (``eval_path``) hold the test samples and, once :meth:`attach_reference` ran, the
    float32 reference model's outputs that every TFLite variant's fidelity is measured
    against.
    """

    out_dir: Path
    eval_path: Path
    x_test: Any
    y_test: np.ndarray | None
    x_calibration_pool: Any
    config: PipelineConfig
    progress: Progress
    dense_zip: int | None = None
    label_output: str | None = None
    output_names: tuple[str, ...] = ()
    class_outputs: tuple[str, ...] | None = None  # for top-1 agreement; None: by shape
    reference_path: Path | None = None
    reference_variant: str | None = None
    _eval: tuple[dict[str, np.ndarray], dict[str, str]] | None = None

    # ------------------------------------------------------------------ eval data

    def write_eval(self, inputs: dict[str, np.ndarray], modes: dict[str, str]) -> None:
        """Write the eval shards: what each input's raw test samples are, and their labels."""
        self._eval = (inputs, modes)
        self._write_shards(None)

    def attach_reference(self, make_float32: Callable[[], bytes]) -> Path:
        """Convert the dense model to float32 TFLite (the reference), run it on the test
        inputs, and add its outputs to the eval shards. Returns the reference's path."""
        t0 = time.perf_counter()
        path = self.out_dir / REFERENCE_FILE
        try:
            path.write_bytes(make_float32())
        except EdgebenchError:
            raise
        except Exception as exc:
            raise self._converter_error("baseline", VariantKind.FLOAT32, exc) from None
        self.reference_path = path
        interp = Interpreter(model_path=str(path), num_threads=os.cpu_count() or 1)
        feeds = self.x_test if isinstance(self.x_test, dict) else {"x": self.x_test}
        outputs = model_outputs(interp, feeds, self.config.bench.eval_batch)
        self._write_shards(outputs)
        self.progress(
            f"reference: {path.name} (float32), outputs "
            + ", ".join(f"{k} {list(v.shape[1:])}" for k, v in outputs.items())
            + f" on {training.n_samples(self.x_test)} test samples "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        return path

    def _write_shards(self, reference: dict[str, np.ndarray] | None) -> None:
        if self._eval is None:
            if not self.eval_path.exists():  # the sweep writes its shards itself
                raise RuntimeError("write_eval must run before attach_reference")
            inputs, modes, labels = self._read_shards()
        else:
            (inputs, modes), labels = self._eval, self.y_test
        label_output = self.label_output
        if reference is not None and label_output is None and labels is not None:
            label_output = next(iter(reference))
        write_eval_data(
            self.eval_path, inputs, modes, labels=labels, reference=reference,
            label_output=label_output, metric=self.config.data.metric,
            reference_name=REFERENCE_FILE if reference is not None else None,
            class_outputs=self.class_outputs,
        )

    def _read_shards(self) -> tuple[dict[str, np.ndarray], dict[str, str], np.ndarray | None]:
        data = EvalData(self.eval_path)
        parts: dict[str, list[np.ndarray]] = {k: [] for k in data.inputs}
        labels: list[np.ndarray] = []
        for inputs, y, _ in data.chunks():
            for k, v in inputs.items():
                parts[k].append(v)
            if y is not None:
                labels.append(y)
        return (
            {k: np.concatenate(v) for k, v in parts.items()}, dict(data.preprocess),
            np.concatenate(labels) if labels else None,
        )

    def manifest_fields(self, source: sources.ModelSource | None = None) -> dict[str, Any]:
        """What the manifest says about the reference and the model's origin."""
        out: dict[str, Any] = {
            "reference": self.reference_path.name if self.reference_path else None,
            "reference_variant": self.reference_variant,
        }
        if source is not None:
            out["model_source"] = source.describe()
        return out

    # ------------------------------------------------------------------ artifacts

    def keras(self, recipe: str, model: Any, filename: str, extra: dict[str, Any]) -> Artifact:
        """Save ``model`` as ``filename`` in the run folder and record it with its accuracy."""
        t0 = time.perf_counter()
        path = self.out_dir / filename
        save_h5(model, path)
        zipped = zip_bytes(path)
        if self.dense_zip is None:
            self.dense_zip = zipped
        wf = facts.keras_facts(model)
        accuracy = None
        if self.y_test is not None:
            names = list(self.output_names) or list(model.output_names)
            index = names.index(self.label_output) if self.label_output in names else 0
            accuracy = training.keras_accuracy(
                model, self.x_test, self.y_test, output=index, k=self.config.data.top_k
            )
        return self._record(
            recipe,
            VariantKind.KERAS,
            path,
            zipped=zipped,
            weights=wf,
            accuracy=accuracy,
            input_dtype="float32",
            output_dtype="float32",
            extra={**extra, "eval_n": training.n_samples(self.x_test)},
            t0=t0,
        )

    def tflite(
        self,
        recipe: str,
        model: Any,
        kind: VariantKind,
        extra: dict[str, Any],
        *,
        sparse: bool = False,
        strip: str = "none",
    ) -> Artifact:
        """Convert ``model`` to the TFLite variant ``kind``, save it and record it."""
        return self.tflite_from(
            recipe, kind, extra, lambda: convert(model, kind, self.calibration(), sparse=sparse),
            strip=strip,
        )

    def tflite_from(
        self, recipe: str, kind: VariantKind, extra: dict[str, Any],
        make: Callable[[], bytes], *, strip: str = "none",
    ) -> Artifact:
        """Record the TFLite variant ``kind`` that ``make`` converts (the dense baseline's
        float32 is the reference, already converted).

        ``strip`` ("all" or "keep-signatures") strips the file (:mod:`edgebench.build.strip`)
        after checking that the stripped model answers byte-identically; ``extra["strip"]``
        records what went.
        """
        t0 = time.perf_counter()
        path = self.out_dir / f"{recipe}-{kind.value}.tflite"
        if recipe == "baseline" and kind is VariantKind.FLOAT32 and self.reference_path:
            self.reference_variant = f"{recipe}/{kind.value}"
            return self.existing_tflite(recipe, kind, self.reference_path, extra, t0=t0)
        try:
            flatbuffer = make()
        except EdgebenchError:
            raise
        except Exception as exc:
            raise self._converter_error(recipe, kind, exc) from None
        path.write_bytes(flatbuffer)
        if strip != "none":
            extra = {**extra, "strip": self._strip(f"{recipe}/{kind.value}", path, strip)}
        return self.existing_tflite(recipe, kind, path, extra, t0=t0)

    @staticmethod
    def _converter_error(recipe: str, kind: VariantKind, exc: Exception) -> EdgebenchError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return EdgebenchError(
            f"{recipe}: the TFLite converter failed on variant {kind.value} ({first[:200]}); "
            f"drop {kind.value!r} from that section's variants"
        )

    def _strip(self, name: str, path: Path, mode: str) -> dict[str, Any]:
        """Strip the file at ``path`` in place; return what went and what it weighed before."""
        flatbuffer = path.read_bytes()
        unstripped_zip = zip_bytes(path)
        out, removed = strip.strip_flatbuffer(flatbuffer, keep_signatures=mode == "keep-signatures")
        calibration = self.calibration()
        if not isinstance(calibration, np.ndarray):
            raise ConfigError(
                f"{name}: strip checks a stripped file on one input, and this model has "
                f"{len(calibration)}; set strip = false for it"
            )
        check = calibration[:STRIP_CHECK_SAMPLES]
        if not strip.identical_outputs(flatbuffer, out, check):
            raise EdgebenchError(
                f"{name}: the stripped model's outputs differ from the original's; set "
                "strip = false in that section and report this model"
            )
        path.write_bytes(out)
        self.progress(f"{name}: stripped {strip.summary(removed)}")
        return {
            "mode": mode,
            "unstripped_file_bytes": len(flatbuffer),
            "unstripped_zip_bytes": unstripped_zip,
            "removed": removed,
            "identical_outputs_on": len(check),
        }

    def existing_tflite(
        self,
        recipe: str,
        kind: VariantKind,
        path: Path,
        extra: dict[str, Any],
        *,
        t0: float | None = None,
    ) -> Artifact:
        """Measure and describe a .tflite file already in the run folder (the sweep's)."""
        t0 = time.perf_counter() if t0 is None else t0
        interp = Interpreter(model_path=str(path), num_threads=os.cpu_count() or 1)
        interp.allocate_tensors()
        in_dtype = np.dtype(interp.get_input_details()[0]["dtype"]).name
        out_dtype = np.dtype(interp.get_output_details()[0]["dtype"]).name
        try:
            ev = evaluate(interp, str(self.eval_path), self.config.bench.eval_batch, 0)
        except ModelError as exc:
            raise EdgebenchError(f"{recipe}/{kind.value}: {exc}") from None
        ops = tuple(OpInfo(o["name"], int(o["version"])) for o in model_ops(str(path)) or ())
        fidelity = tuple(from_dict(OutputFidelity, f) for f in ev.get("fidelity") or ())
        return self._record(
            recipe,
            kind,
            path,
            zipped=zip_bytes(path),
            weights=facts.tflite_facts(path),
            accuracy=ev["accuracy"],
            ops=ops,
            input_dtype=in_dtype,
            output_dtype=out_dtype,
            extra={**extra, "eval_method": ev["eval_method"], "eval_n": ev["eval_n"]},
            t0=t0,
            fidelity=fidelity,
        )

    def calibration(self) -> Any:
        """The int8 representative samples (``[data] calibration_samples`` of them)."""
        return calibration_samples(
            self.x_calibration_pool, self.config.train.seed, self.config.data.calibration_samples
        )

    def _record(
        self,
        recipe: str,
        kind: VariantKind,
        path: Path,
        *,
        zipped: int,
        weights: facts.WeightFacts,
        accuracy: float | None,
        input_dtype: str,
        output_dtype: str,
        extra: dict[str, Any],
        t0: float,
        ops: tuple[OpInfo, ...] = (),
        fidelity: tuple[OutputFidelity, ...] = (),
    ) -> Artifact:
        """The artifact of the file at ``path`` (measured since ``t0``), with its progress line."""
        if self.dense_zip is None:
            self.dense_zip = zipped  # a SavedModel: its float32 TFLite is the dense baseline
        art = Artifact(
            name=f"{recipe}/{kind.value}",
            recipe=recipe,
            kind=kind.value,
            path=path.name,
            file_bytes=path.stat().st_size,
            zip_bytes=zipped,
            params=weights.params,
            nonzero_params=weights.nonzero_params,
            compression_ratio=round(self.dense_zip / zipped, 3),
            host_accuracy=None if accuracy is None else round(float(accuracy), 5),
            layer_sparsity=weights.layer_sparsity,
            ops=ops,
            input_dtype=input_dtype,
            output_dtype=output_dtype,
            extra=extra,
            fidelity=fidelity,
        )
        acc = "n/a" if art.host_accuracy is None else f"{art.host_accuracy:.4f}"
        worst = worst_fidelity(fidelity)
        fid = "" if worst is None else f", SNR {format_snr(worst.snr_db)} dB"
        self.progress(
            f"{art.name}: {art.file_bytes:,} bytes, {art.zip_bytes:,} zipped "
            f"({art.compression_ratio:.2f}x), {art.nonzero_params:,}/{art.params:,} non-zero, "
            f"accuracy {acc}{fid} ({time.perf_counter() - t0:.1f} s)"
        )
        return art


def save_h5(model: Any, path: Path) -> None:
    """Save a tf_keras model as HDF5 without its optimizer."""
    with warnings.catch_warnings():  # "HDF5 is legacy": the guide measures .h5 on purpose
        warnings.simplefilter("ignore", UserWarning)
        model.save(path, include_optimizer=False)
