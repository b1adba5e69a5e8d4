"""`python -m xmodal.embed`: a --tsne file name whose format the t-SNE writer cannot produce is refused first."""
import subprocess
import sys


def test_a_tsne_suffix_matplotlib_cannot_write_is_one_line_before_any_work(tmp_path):
    """.bmp: PIL writes it, matplotlib does not; refused before the model (nonexistent here) is loaded."""
    done = subprocess.run([sys.executable, "-m", "xmodal.embed", "--model", str(tmp_path / "no-model"), "--data",
                           str(tmp_path / "no-data"), "--logdir", str(tmp_path / "logs"), "--tsne",
                           str(tmp_path / "tsne.bmp")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"error: --tsne {tmp_path / 'tsne.bmp'}: name a picture file ending in .png or "
                                        ".jpg"]
