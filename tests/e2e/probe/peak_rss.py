"""``python -S -E peak_rss.py RESULT -- COMMAND...``: runs COMMAND and writes its peak RSS (KiB) to RESULT.

Why a go-between: Linux carries a process's memory high-water mark across ``exec``, so a command
started straight from pytest (vfork or fork of a ~120 MB worker) reports at least the worker's size.
Forked from this small interpreter (no site, no environment read), the command's own peak shows.
It exits with the command's status, and passes every signal on by being in the same process group.
"""

import json
import os
import sys

result, argv = sys.argv[1], sys.argv[3:]
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)  # noqa: S606 - the test names the command; no shell in between
_, wait_status, usage = os.wait4(pid, 0)
with open(result, "w") as out:
    json.dump({"maxrss_kib": usage.ru_maxrss}, out)
code = os.waitstatus_to_exitcode(wait_status)
sys.exit(code if code >= 0 else 128 - code)  # killed by signal N: 128 + N, as shells say
