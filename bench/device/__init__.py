"""The device side: the runner, which runs on a device, and the host's half of its formats.

- ``runner/``: the package that ships to a device (what runs there: measuring, evaluating,
  device facts, the runtime checks; memory from /proc, the sustained run and the device's
  state, energy meters, the weight-cache probe). Standard library, numpy and a TFLite
  interpreter only.
- ``shards``: host only. Writes the evaluation shards the runner streams, and computes a
  model's outputs over whole arrays with the runner's own feeding code (reference outputs).
- ``pack``: host only. Builds the one file that ships, ``runner.pyz``.

The build stage may import this sub-room (preprocessing, sample selection, evaluation, input
quantisation are the runner's, so host and device agree bit for bit); nothing here imports
anything else of edgebench but the kernel, and ``runner/`` not even that.

How the runner ships, and why. The runner was one self-contained file copied as-is. Split by
job into modules of at most 600 lines it is a package of about 2,300 lines, and a package needs
a layout on the device. It ships as ONE file built on the host at deploy time: ``runner.pyz``, a
zip archive in zipapp's format (a ``__main__.py`` beside the package), run as ``python3
runner.pyz MODE …`` by any Python >= 3.9, with no install step on the device. We chose the
archive over copying the folder and running ``python -m``:

- every target moves files, not folders (``push`` returns one path per file, named by the
  target: ``03-runner.pyz``), so local, SSH (scp, scp -O, tar), adb and ``edgebench doctor``
  ship it unchanged, in the same single copy step as before;
- a folder would need a tree transfer on each transport and ``cwd``/``sys.path`` care on the
  device for ``python -m`` to find it;
- the modules import each other relatively, so the same files import as
  ``edgebench.bench.device.runner`` on the host and as ``edgebench_runner`` in the archive;
- entries are stored, not deflated, with fixed timestamps and modes: the device needs no zlib to
  read it, and the same sources give the same bytes on every host (``pack`` tests this).

The cost: Python compiles the modules from source at each start (it writes no ``.pyc`` into a
zip), as it compiled ``runner.py``, a script, at each start before: the same amount of source.
"""
