"""The config.json a run keeps: read back on --resume and --init, refused in one line when cut short or not ours."""
import dataclasses
import json

import pytest

from tfrecords_tools.errors import UserError
from xmodal.training.config import FitConfig, read_stored
from xmodal.fit import stored_model
from xmodal.training.warm_start import source_weights


def test_a_stored_config_reads_back_and_a_run_predating_a_setting_still_reads(tmp_path):
    stored = {**dataclasses.asdict(FitConfig(preset="small", normalize=None)), "dataset": {"train": ["a"]}}
    del stored["mirror_average"]
    (tmp_path / "config.json").write_text(json.dumps(stored))
    assert read_stored(tmp_path) == stored


@pytest.mark.parametrize("text, problem", [
    ('{"preset": "small", "loss": "trip', "unreadable"),
    ('"small"', "must be a JSON object"),
    ('{"loss": "triplet", "data": ""}', "key preset is missing"),
    ('{"preset": "small", "loss": "triplet", "data": "", "learning_rate": true}', "key learning_rate holds True"),
    ('{"preset": "small", "loss": "triplet", "data": "", "normalize": "yes"}', "key normalize holds 'yes'"),
])
def test_a_config_json_cut_short_or_not_ours_is_one_line_on_init(tmp_path, text, problem):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(UserError, match=f"^{tmp_path / 'config.json'}: .*{problem}"):
        source_weights(str(tmp_path), stored_model)
