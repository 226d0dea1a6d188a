"""The TFLite interpreter the runner uses: ``ai_edge_litert``, else ``tflite_runtime``, else
``tensorflow.lite`` as a last resort; the known ways a runtime fails every model (with their
fixes); and loading a delegate library."""

import os
import platform
import sys

from .errors import DelegateError, first_line, type_and_line

#: (distribution name, import name) of the interpreters the runner can use, in order of choice.
RUNTIMES = (
    ("ai-edge-litert", "ai_edge_litert"),
    ("tflite-runtime", "tflite_runtime"),
    ("tensorflow.lite", "tensorflow"),  # last resort only: a full TensorFlow install
)


def installed(module):
    """Whether a package is installed at all, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def package_version(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return None


def _import_runtime(name):
    """(Interpreter, OpResolverType, version) of one runtime; raises what importing raises."""
    if name == "ai-edge-litert":
        import ai_edge_litert
        from ai_edge_litert import interpreter as mod

        version = getattr(ai_edge_litert, "__version__", None) or package_version(name)
        return mod.Interpreter, getattr(mod, "OpResolverType", None), version or "unknown"
    if name == "tflite-runtime":
        import tflite_runtime
        from tflite_runtime import interpreter as mod

        version = getattr(tflite_runtime, "__version__", None) or package_version(name)
        return mod.Interpreter, getattr(mod, "OpResolverType", None), version or "unknown"
    import tensorflow as tf

    return tf.lite.Interpreter, getattr(tf.lite.experimental, "OpResolverType", None), (
        tf.__version__)


_RUNTIME: list = []  # the loaded runtime, once: (Interpreter, OpResolverType, name, version)
_BROKEN: list = []  # runtimes that are installed but fail to import: (name, version, why)


def load_runtime():
    """Return (Interpreter class, OpResolverType or None, runtime name, runtime version).

    A runtime that is not installed is skipped; one that is installed but fails to import
    (a missing system library, a wheel built for a newer glibc, a damaged file) is remembered
    in :data:`_BROKEN` and the next one is tried, so the error that matters is not lost behind
    "not installed".
    """
    if _RUNTIME:
        return _RUNTIME[0]
    for dist, module in RUNTIMES:
        if not installed(module):
            continue
        try:
            interpreter, resolver, version = _import_runtime(dist)
        except Exception as exc:  # ImportError, OSError, AttributeError of a half install
            if all(b[0] != dist for b in _BROKEN):
                _BROKEN.append((dist, package_version(dist), type_and_line(exc)))
            continue
        _RUNTIME.append((interpreter, resolver, dist, version))
        return _RUNTIME[0]
    if _BROKEN:
        dist, version, why = _BROKEN[0]
        raise RuntimeError(
            "%s %s is installed but fails to import (%s)" % (dist, version or "", why)
        )
    raise RuntimeError(
        "no TFLite interpreter found; install one on the device: "
        "pip install ai-edge-litert (or tflite-runtime)"
    )


def glibc_version():
    """The C library's version, e.g. "2.36", or None off glibc."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        text = ""
    return text.split()[-1] if text.startswith("glibc") else None


def _version_tuple(text):
    out = []
    for part in (text or "").split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def install_hint(python=None):
    """The pip line that installs a runtime that fits this device."""
    py = python or sys.executable
    if platform.machine() in ("armv7l", "armv6l"):
        return '%s -m pip install tflite-runtime "numpy<2"' % py
    return "%s -m pip install ai-edge-litert" % py


def runtime_traps(python=None):
    """Known ways a runtime fails every model, found before any model runs: one dict per trap
    with the problem and the one command (or step) that fixes it."""
    py = python or sys.executable
    traps = []
    numpy_version = None
    try:
        import numpy

        numpy_version = numpy.__version__
    except Exception:
        pass
    try:
        _, _, name, version = load_runtime()
    except RuntimeError:
        name = version = None
    if (name == "tflite-runtime" and numpy_version
            and _version_tuple(version) and _version_tuple(version)[:2] <= (2, 14)
            and _version_tuple(numpy_version) >= (2,)):
        traps.append({
            "problem": "tflite-runtime %s was built for numpy 1 and fails every model with "
                       "numpy %s (SystemError in CreateWrapperFromFile)" % (version, numpy_version),
            "fix": '%s -m pip install "numpy<2"' % py,
        })
    for dist, dist_version, why in _BROKEN:
        label = "%s %s" % (dist, dist_version) if dist_version else dist
        if "GLIBC_" in why:
            needed = why.split("GLIBC_", 1)[1].split("'")[0].split(" ")[0]
            problem = ("%s is installed but its wheel needs glibc %s and this device has glibc "
                       "%s (%s)" % (label, needed, glibc_version() or "?", why))
            fix = ("%s -m pip uninstall -y %s && %s (or upgrade the OS; see edgebench's "
                   "docs, Getting started: a Raspberry Pi)" % (py, dist, install_hint(py)))
        elif "cannot open shared object file" in why:
            lib = why.split(":")[1].strip() if why.count(":") >= 2 else "a system library"
            problem = "%s is installed but fails to import: %s" % (label, why)
            fix = ("install the system package that provides %s (apt-file search %s), or "
                   "%s -m pip install --force-reinstall %s" % (lib, lib, py, dist))
        else:
            problem = "%s is installed but fails to import: %s" % (label, why)
            fix = "%s -m pip install --force-reinstall %s" % (py, dist)
        traps.append({"problem": problem, "fix": fix, "runtime": dist})
    return traps


def load_delegate(path, options):
    """A TFLite delegate from a shared library (``load_delegate``), or DelegateError in one
    line. ``path`` is a file path or a library name the dynamic linker finds."""
    try:
        from ai_edge_litert.interpreter import load_delegate as load
    except ImportError:
        try:
            from tflite_runtime.interpreter import load_delegate as load
        except ImportError:
            import tensorflow as tf

            load = tf.lite.experimental.load_delegate
    try:
        return load(path, dict(options or {}))
    except (ValueError, OSError, RuntimeError) as exc:
        raise DelegateError("cannot load the delegate %s: %s" % (path, first_line(exc))) from None
