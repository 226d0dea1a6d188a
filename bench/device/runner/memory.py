"""Memory as the device's OS sees it: RSS, PSS and USS, and where the resident pages come from
(the mapped model file, anonymous memory: the arena and XNNPACK's packed weights).

Linux keeps these in ``/proc/self/smaps_rollup`` (kernel >= 4.14), else per mapping in
``/proc/self/smaps``, which this module sums as psutil's ``memory_full_info`` does. Elsewhere
each figure is None. Sizes are MiB (2**20 bytes; the record's ``*_mb`` fields are MiB, as
``VmRSS``'s kB are KiB).

Standard library only: this module ships to devices (Python >= 3.9).
"""

import os

STATUS = "/proc/self/status"
ROLLUP = "/proc/self/smaps_rollup"
SMAPS = "/proc/self/smaps"


def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None


def _mib(kib):
    return None if kib is None else round(kib / 1024.0, 2)


def _kib_totals(text):
    """``Key:   1234 kB`` lines -> {key: kB summed over every mapping}: one block of
    ``smaps_rollup``, or every mapping of ``smaps``."""
    out = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        parts = rest.split()
        if sep and len(parts) == 2 and parts[1] == "kB":
            try:
                out[key.strip()] = out.get(key.strip(), 0) + int(parts[0])
            except ValueError:
                pass
    return out


def parse_rollup(text):
    """RSS, PSS, USS, anonymous and file-backed MiB from ``smaps_rollup`` (or ``smaps``)."""
    f = _kib_totals(text)
    if "Rss" not in f:
        return {}
    private = None
    if "Private_Clean" in f and "Private_Dirty" in f:
        private = f["Private_Clean"] + f["Private_Dirty"]
    anon = f.get("Anonymous")
    return {
        "rss": _mib(f["Rss"]),
        "pss": _mib(f.get("Pss")),
        "uss": _mib(private),
        "anon": _mib(anon),
        "file": _mib(None if anon is None else f["Rss"] - anon),
    }


def mapped_file_mib(smaps_text, path):
    """Resident MiB of the mappings of ``path`` (the model file, mmapped by the runtime).
    The kernel names a mapping by its resolved path, so ``path`` is resolved too."""
    target = os.path.realpath(path)
    total, inside = 0, False
    for line in smaps_text.splitlines():
        head = line.split(None, 5)
        if head and "-" in head[0] and ":" not in head[0]:  # a mapping's header line
            inside = len(head) == 6 and head[5] == target
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return _mib(total)


def rss_mib():
    """VmRSS in MiB (what ``ps``, ``top`` and a bare process's measurement read), or None."""
    text = _read(STATUS)
    for line in (text or "").splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024.0, 2)
    return None


def snapshot(model_path=None):
    """This process's memory now: {rss, pss, uss, anon, file[, model_file]} in MiB; what the
    OS cannot give is None. ``rss`` is VmRSS (the process's peak, VmHWM, is counted the same
    way); the others come from smaps."""
    text = _read(ROLLUP)
    smaps = None
    if text is None:
        smaps = _read(SMAPS)
        text = smaps
    parsed = parse_rollup(text) if text else {}
    out = {k: parsed.get(k) for k in ("pss", "uss", "anon", "file")}
    out["rss"] = rss_mib()
    if model_path is not None:
        if smaps is None:
            smaps = _read(SMAPS)
        out["model_file"] = mapped_file_mib(smaps, model_path) if smaps else None
    return out


def model_memory(before, steady):
    """The model's share: what the process grew by from just before the model was loaded to
    after warm-up, and how much of that is the mapped model file and anonymous memory."""
    def grew(key):
        a, b = before.get(key), steady.get(key)
        return None if a is None or b is None else round(b - a, 2)

    return {"model": grew("rss"), "model_anon": grew("anon"),
            "model_file": steady.get("model_file")}
