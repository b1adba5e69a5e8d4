"""`python -m xmodal.serve` refuses, in one line and before it listens, an export other than the index's."""
import sys

from tfrecords_tools.errors import run_cli
from xmodal import serve


def test_another_export_than_the_index_s_is_one_line(tiny_index, other_model, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["serve", "--index", tiny_index, "--model", other_model, "--port", "0"])
    try:
        run_cli(serve.main)
    except SystemExit as exit:
        status = exit.code
    [line] = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and line.startswith(f"error: the index {tiny_index} was made by the export ")
    assert f"not by {other_model}" in line
