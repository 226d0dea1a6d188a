"""Accuracy and output fidelity of a model on evaluation shards, streamed shard by shard."""

import math

from .errors import ModelError
from .evaldata import EvalData, select_samples
from .preprocess import preprocess
from .tensors import get_outputs, match_names, model_io, resize_inputs, set_inputs


class Fidelity(object):
    """How far one output of a model is from the reference model's, accumulated batch by
    batch (nothing is kept per sample): max and mean |Δ|, mean per-sample cosine similarity,
    SNR in dB (signal: the reference), and top-1 agreement where the output is a class vector.
    """

    def __init__(self, name, class_vector=None):
        self.name = name
        self.is_class = class_vector  # None: decided by the shape, (N, C >= 2)
        self.n = 0
        self.elements = 0
        self.max_abs = 0.0
        self.sum_abs = 0.0
        self.sum_cos = 0.0
        self.signal = 0.0
        self.noise = 0.0
        self.agree = 0
        self.class_vector = None

    def add(self, ref, out):
        import numpy as np

        if ref.shape != out.shape:
            raise ModelError(
                "output %r has shape %s but the reference's has %s; compare models with the "
                "same outputs" % (self.name, list(out.shape[1:]), list(ref.shape[1:])))
        n = len(ref)
        if not n:
            return
        a = ref.reshape(n, -1).astype(np.float64)
        b = out.reshape(n, -1).astype(np.float64)
        d = np.abs(a - b)
        self.max_abs = max(self.max_abs, float(d.max()))
        self.sum_abs += float(d.sum())
        self.elements += d.size
        na, nb = np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1))
        dot = (a * b).sum(axis=1)
        both_zero = (na == 0) & (nb == 0)
        denom = np.where(na * nb == 0, 1.0, na * nb)
        cos = np.where(both_zero, 1.0, np.where(na * nb == 0, 0.0, dot / denom))
        self.sum_cos += float(cos.sum())
        self.signal += float((a * a).sum())
        self.noise += float(((a - b) ** 2).sum())
        by_shape = ref.ndim == 2 and ref.shape[1] >= 2
        self.class_vector = by_shape if self.is_class is None else (self.is_class and by_shape)
        if self.class_vector:
            self.agree += int((ref.argmax(axis=1) == out.argmax(axis=1)).sum())
        self.n += n

    def result(self):
        """A JSON-ready dict. ``snr_db`` is None when it is not finite: identical outputs
        (``max_abs`` 0: +inf) or an all-zero reference (-inf)."""
        snr = None
        if self.noise > 0 and self.signal > 0:
            snr = round(10.0 * math.log10(self.signal / self.noise), 3)
        return {
            "output": self.name,
            "n": self.n,
            "max_abs": float("%.6g" % self.max_abs),
            "mean_abs": float("%.6g" % (self.sum_abs / self.elements)) if self.elements else 0.0,
            "cosine": round(self.sum_cos / self.n, 7) if self.n else None,
            "snr_db": snr,
            "top1_agreement": (round(self.agree / float(self.n), 6)
                               if self.class_vector and self.n else None),
        }


def _metric_k(metric):
    metric = metric or "top1"
    if not (metric.startswith("top") and metric[3:].isdigit() and int(metric[3:]) >= 1):
        raise ModelError("unknown accuracy metric %r; use top1, top5, ... (topK)" % metric)
    return int(metric[3:])


def evaluate(interp, eval_paths, eval_batch=256, eval_limit=0, seed=0):
    """Accuracy and output fidelity of a model on evaluation shards, streamed shard by shard.

    Accuracy (top-k as the eval data's metric says) needs labels; fidelity against the
    reference model needs reference outputs; either may be absent. ``eval_limit`` keeps a
    stratified subset (see :func:`select_samples`). Honours int8 scale and zero point on every
    input and output. Returns accuracy, accuracy_metric, eval_method, eval_n, eval_selection,
    fidelity (a list, one entry per output) and reference.
    """
    import numpy as np

    data = EvalData(eval_paths, need_labels=bool(eval_limit))
    meta = data.meta
    selected, how = select_samples(data.labels, data.n_total, eval_limit, seed)
    ins, outs = model_io(interp)
    in_map = match_names(data.inputs, [d["key"] for d in ins], "inputs")
    out_keys = [d["key"] for d in outs]
    ref_map = match_names(data.reference_outputs, out_keys, "outputs") if (
        data.reference_outputs) else {}
    label_output = None
    if data.has_labels:
        wanted = meta.get("label_output")
        label_output = ref_map.get(wanted) or (wanted if wanted in out_keys else None)
        if label_output is None:
            label_output = out_keys[0]
    k = _metric_k(meta.get("metric"))
    batch, method = resize_inputs(interp, ins, max(1, int(eval_batch)))
    ins, outs = model_io(interp)
    fid = [Fidelity(o, None if data.class_outputs is None else o in data.class_outputs)
           for o in data.reference_outputs]
    n = correct = 0
    for inputs, labels, ref in data.chunks(selected):
        m = len(next(iter(inputs.values())))
        for s in range(0, m, batch):
            feeds = dict((in_map[name], preprocess(arr[s:s + batch], data.preprocess[name]))
                         for name, arr in inputs.items())
            b = len(next(iter(feeds.values())))
            set_inputs(interp, ins, feeds, batch)
            interp.invoke()
            got = get_outputs(interp, outs, b)
            for f in fid:
                f.add(ref[f.name][s:s + b], got[ref_map[f.name]])
            if labels is not None:
                scores = got[label_output].reshape(b, -1)
                y = labels[s:s + b].astype(np.int64)
                if k == 1:
                    hit = scores.argmax(axis=1) == y
                else:
                    kk = min(k, scores.shape[1])
                    top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
                    hit = (top == y[:, None]).any(axis=1)
                correct += int(hit.sum())
            n += b
            del feeds, got
        # Let go of this shard before the next one loads: a batch is a view, and holding the
        # last one would keep two shards in memory at once.
        del inputs, labels, ref
    return {
        "accuracy": (correct / float(n)) if (data.has_labels and n) else None,
        "accuracy_metric": ("top%d" % k) if data.has_labels else None,
        "eval_method": method,
        "eval_n": int(n),
        "eval_selection": how,
        "fidelity": [f.result() for f in fid] or None,
        "reference": meta.get("reference") if fid else None,
    }
