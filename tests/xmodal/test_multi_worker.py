"""Two CPU worker processes on 127.0.0.1 under MultiWorkerMirroredStrategy train in lockstep."""
import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np

from xmodal.serving.versions import resolve_model


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def fit_command(data: str, run: str, export: str, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "xmodal.fit", "--data", data, "--steps", str(steps), "--batch-size", "4",
            "--out", run, "--export", export, "--checkpoint-every", "3", "--test-every", "2", "--loss", "triplet", *extra]


def run_cluster(command: list[str]) -> list[str]:
    """Run `command` as two workers of one cluster; return each worker's output."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                                            "task": {"type": "worker", "index": i}})})
               for i in range(2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    return outputs


def final_loss(output: str) -> str:
    """The training loss of the last progress line (a pipe gets plain lines, `step 6/6  train loss 1.23 ...`)."""
    return output.rsplit("train loss ", 1)[1].split()[0]


def weights(export: str) -> list[np.ndarray]:
    """The encoders' weights of the newest version under an export base."""
    return [w for name in ("voxel_encoder", "image_encoder")
            for w in keras.saving.load_model(resolve_model(export) / f"{name}.keras", safe_mode=True).get_weights()]


def test_multi_worker_lockstep_and_resume_match_one_process(tiny_data, tmp_path):
    run, export = str(tmp_path / "cluster"), str(tmp_path / "cluster_export")
    run_cluster(fit_command(tiny_data, run, export, 3, "--strategy", "multi_worker"))
    assert sorted(p.name for p in (tmp_path / "cluster" / "checkpoints").glob("ckpt-*.index")) == ["ckpt-3.index"]
    outputs = run_cluster(fit_command(tiny_data, run, export, 6, "--strategy", "multi_worker", "--resume"))
    assert final_loss(outputs[0]) == final_loss(outputs[1])  # both workers saw the same global loss
    single = subprocess.run(fit_command(tiny_data, str(tmp_path / "single"), str(tmp_path / "single_export"), 6),
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    for a, b in zip(weights(export), weights(str(tmp_path / "single_export"))):
        np.testing.assert_allclose(a, b, atol=1e-5)
