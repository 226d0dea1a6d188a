"""The evaluation shards the runner streams, read and checked one shard at a time; and which
samples ``--eval-limit`` keeps."""

import json
import os

from .errors import ModelError, first_line

# The evaluation data goes to the device as shards: .npz files of at most a few MB each, so
# the runner holds one shard at a time whatever the size of the test set. A shard holds
#   meta           JSON text: format, version, shard k of K, its first sample, the inputs
#                  with their preprocessing, the label output and metric, the reference
#   x:<input>      raw samples of each model input (stored as given: uint8 images stay uint8)
#   y              int64 class labels (optional)
#   ref:<output>   the float32 reference model's outputs on the same samples (optional)
EVAL_FORMAT = "edgebench-eval"
EVAL_FORMAT_VERSION = 1


def eval_shard_paths(spec):
    """The shard files of ``spec``: a folder of shards, one shard, or a list of shards."""
    if isinstance(spec, (list, tuple)):
        return [str(p) for p in spec]
    spec = str(spec)
    if os.path.isdir(spec):
        return sorted(os.path.join(spec, f) for f in os.listdir(spec)
                      if f.startswith("shard-") and f.endswith(".npz"))
    return [spec]


class EvalData(object):
    """The shards of one evaluation set, checked; labels read up front (they are small)."""

    def __init__(self, paths, need_labels=False):
        import numpy as np

        self.paths = eval_shard_paths(paths)
        if not self.paths:
            raise ModelError("no evaluation shards given; rebuild the eval data")
        self.metas = []
        for p in self.paths:
            try:
                with np.load(p, allow_pickle=False) as z:
                    meta = json.loads(str(z["meta"])) if "meta" in z.files else None
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(
                    "cannot read evaluation shard %s (%s); copy it again or rebuild the eval "
                    "data" % (os.path.basename(p), first_line(exc))) from None
            if not meta or meta.get("format") != EVAL_FORMAT:
                raise ModelError(
                    "%s is not an edgebench evaluation shard (an eval.npz from an older "
                    "edgebench?); rebuild the eval data with edgebench build" % p)
            if int(meta.get("version", 0)) > EVAL_FORMAT_VERSION:
                raise ModelError("%s has eval format version %s, newer than this runner "
                                 "reads (%d); copy the runner of the same edgebench"
                                 % (p, meta.get("version"), EVAL_FORMAT_VERSION))
            self.metas.append(meta)
        first = self.metas[0]
        if [m["shard"] for m in self.metas] != list(range(first["shards"])):
            raise ModelError("expected %d evaluation shards in order, got shards %s; give every "
                             "shard of the eval data, in order"
                             % (first["shards"], [m["shard"] for m in self.metas]))
        self.meta = first
        self.n_total = int(first["n_total"])
        self.inputs = [i["name"] for i in first["inputs"]]
        self.preprocess = dict((i["name"], i["preprocess"]) for i in first["inputs"])
        self.has_labels = bool(first.get("labels"))
        self.reference_outputs = list(first.get("reference_outputs") or [])
        classes = first.get("class_outputs")  # None: every (N, C >= 2) output is a class vector
        self.class_outputs = None if classes is None else set(classes)
        self.labels = None
        if need_labels and self.has_labels:
            parts = []
            for p in self.paths:
                with np.load(p, allow_pickle=False) as z:
                    parts.append(z["y"])
            self.labels = np.concatenate(parts)

    def chunks(self, selected=None):
        """(inputs, labels, reference) of each shard, restricted to the ``selected`` global
        indices (sorted) or whole; one shard is in memory at a time."""
        import numpy as np

        for p, meta in zip(self.paths, self.metas):  # noqa: B905 (Python 3.9: no strict=)
            start, n = int(meta["start"]), int(meta["n"])
            rows = None
            if selected is not None:
                lo, hi = np.searchsorted(selected, [start, start + n])
                if lo == hi:
                    continue
                rows = selected[lo:hi] - start
            with np.load(p, allow_pickle=False) as z:
                inputs = dict((name, _rows(z["x:" + name], rows)) for name in self.inputs)
                labels = _rows(z["y"], rows) if self.has_labels else None
                ref = dict((o, _rows(z["ref:" + o], rows)) for o in self.reference_outputs)
            yield inputs, labels, ref
            del inputs, labels, ref  # a slice is a view: holding it would keep the shard alive


def _rows(arr, rows):
    return arr if rows is None else arr[rows]


def select_samples(labels, n_total, limit, seed=0):
    """The samples ``--eval-limit`` keeps, and a phrase saying how they were chosen.

    Returns (sorted global indices or None for all, description). With labels the subset is
    stratified: each class keeps its share (largest remainders get the leftover places), the
    samples within a class drawn with a seeded RandomState (its stream is fixed across numpy
    versions, so host and device choose the same samples). Without labels: evenly spaced.
    """
    import numpy as np

    if not limit or limit >= n_total:
        return None, "all %d samples" % n_total
    if labels is None:
        idx = (np.arange(limit, dtype=np.int64) * n_total) // limit
        return idx, "evenly spaced: %d of %d samples (no labels to stratify by)" % (
            limit, n_total)
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * float(limit) / n_total
    take = np.floor(quota).astype(np.int64)
    left = limit - int(take.sum())
    if left:
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:left]] += 1
    rs = np.random.RandomState(seed)
    picked = []
    for c, k in zip(classes, take):  # noqa: B905 (Python 3.9: no strict=)
        members = np.flatnonzero(labels == c)
        picked.append(members[rs.permutation(len(members))[:k]])
    idx = np.sort(np.concatenate(picked)).astype(np.int64)
    return idx, "stratified: %d of %d samples, %d classes in proportion, seed %d" % (
        limit, n_total, len(classes), seed)
