import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from multiprocessing.context import SpawnProcess

import pytest

from tfrecords_tools.workers import imap_spawned

SCRIPT = textwrap.dedent("""
    import numpy as np
    import tensorflow as tf  # the parent holds TensorFlow, as `python -m xmodal.fit` does
    from tfrecords_tools.meshes.objects import render_voxels
    from tfrecords_tools.workers import imap_spawned

    if __name__ == "__main__":
        grid = np.zeros((8, 8, 8), bool)
        grid[2:6, 2:6, 2:6] = True
        [picture] = imap_spawned(render_voxels, [(grid, np.array([30.0, 20.0, 0.0, 2.0]), 32)], workers=1)
        print("non-white pixels", int((picture != 255).any(axis=2).sum()))
""")


def test_workers_render_when_the_main_module_imported_tensorflow(tmp_path):
    script = tmp_path / "main_with_tensorflow.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split("non-white pixels")[1]) > 20


def test_ctrl_c_while_the_workers_start_waits_until_all_started_then_ends_them(monkeypatch):
    started = []
    real_start = SpawnProcess.start

    def start_after_ctrl_c(process: SpawnProcess) -> None:
        if not started:  # as the first child starts, Ctrl-C reaches another thread of the parent (a terminal's may)
            thread = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
            thread.start()
            thread.join()
            time.sleep(0.2)  # time for Python to run its handler in this thread
        real_start(process)
        started.append(process)

    monkeypatch.setattr(SpawnProcess, "start", start_after_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        list(imap_spawned(abs, [(-1,)] * 4, workers=2))
    assert len(started) == 2 and all(process.exitcode is not None for process in started)  # none half-started or left
