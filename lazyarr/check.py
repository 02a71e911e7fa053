"""``lazyarr check FILE``: validate every node and chunk of a file.

The work runs in a child process: a file corrupt enough to crash HDF5
(issue 14 found segmentation faults in PyTables' attribute reads) is then
reported as a finding instead of killing the caller. The child

1. opens the file with lazyarr (which validates every ragged array's
   metadata on open);
2. reads every array it lists in blocks of rows, so that every stored chunk
   is decoded and, for checksummed arrays, its Fletcher32 verified;
3. reads every ragged array item by item in blocks.

Each failure is a finding (node, error type, message). A crash or a hang of
the child is a finding too. :func:`check` returns the findings; the command
prints them and exits 1 when there is any (2 when the file cannot be read
at all).

Examples
--------
>>> import numpy as np, lazyarr as la, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ok.h5")
>>> with la.open(path, "w") as s:
...     _ = s.create_array("x", np.arange(10.0))
>>> check(path)
[]
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from typing import Any, Sequence, TextIO

__all__ = ["check", "main", "BLOCK_BYTES"]

#: Bytes read per call while walking an array.
BLOCK_BYTES = 16 * 2**20
#: Seconds the child may take per file before it counts as a hang.
TIMEOUT = 600.0

_CHILD = r"""
import json, sys
import numpy as np
import lazyarr as la
BLOCK = {block}
found = []
def note(node, exc):
    found.append({{"node": node, "error": type(exc).__name__, "message": str(exc)[:500]}})
try:
    store = la.open({path!r})
except Exception as exc:
    note(None, exc)
    print(json.dumps({{"fatal": True, "findings": found}}))
    sys.exit(0)
try:
    names = list(store)
except Exception as exc:
    note("/", exc)
    names = []
for name in names:
    print("checking", name, file=sys.stderr, flush=True)
    try:
        x = store[name]
        if isinstance(x, la.RaggedArray):
            n = len(x)
            step = 4096
            for a in range(0, n, step):
                x[a:a + step]
        else:
            n = x.shape[0] if x.ndim else 1
            row = max(1, x.itemsize * int(np.prod(x.shape[1:], dtype=np.int64)))
            step = max(1, BLOCK // row)
            if x.ndim == 0:
                x[()]
            for a in range(0, n if x.ndim else 0, step):
                np.asarray(x[a:a + step])
    except Exception as exc:
        note(name, exc)
store.close()
print(json.dumps({{"fatal": False, "findings": found}}))
"""


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def check(path: str | os.PathLike, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """Findings for ``path``: a list of ``{"node", "error", "message"}``, empty when sound.

    Runs in a child process (see the module docstring); a crash or a hang
    there is one finding whose ``error`` is ``"crash"`` or ``"hang"``.
    """
    path = os.path.abspath(os.fspath(path))
    code = _CHILD.format(block=BLOCK_BYTES, path=path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=timeout, env=env, preexec_fn=_limits)
    except subprocess.TimeoutExpired as exc:
        last = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] \
            if isinstance(exc.stderr, bytes) else []
        return [{"node": last[0].replace("checking ", "") if last else None, "error": "hang",
                 "message": f"reading did not finish within {timeout:.0f} s"}]
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode < 0 or not lines:
        # The child died (inside HDF5): name the node it was reading.
        at = [ln for ln in p.stderr.splitlines() if ln.startswith("checking ")]
        how = (f"signal {signal.Signals(-p.returncode).name}" if p.returncode < 0
               else f"exit status {p.returncode}: " + (p.stderr.strip().splitlines() or ["?"])[-1])
        return [{"node": at[-1][len("checking "):] if at else None, "error": "crash",
                 "message": f"the process reading the file died ({how})"}]
    return json.loads(lines[-1])["findings"]


def main(paths: Sequence[str], out: TextIO | None = None) -> int:
    """Check each file and print its findings; 0 if every file is sound, else 1."""
    out = sys.stdout if out is None else out  # looked up now: it may be redirected
    status = 0
    for path in paths:
        findings = check(path)
        if not findings:
            print(f"{path}: ok", file=out)
            continue
        status = 1
        for f in findings:
            where = f["node"] or "(file)"
            print(f"{path}: {where}: {f['error']}: {f['message']}", file=out)
    return status
