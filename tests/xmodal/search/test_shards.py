"""Embedding shards' description: anything but what pipelines.embed writes is one line naming what is wrong."""
import json
import re

import pytest

from tfrecords_tools.errors import UserError
from xmodal.search.shards import DESCRIPTION, read_embeddings

GOOD = {"export": {"path": "/e/1", "version": 1, "sha256": "ab", "training": {}}, "data": "/d", "splits": ["train"],
        "shards": [{"file": "embeddings-00000-of-00001.tfrecord", "objects": 3, "sha256": "cd"}]}


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(shards=5), "key shards must be a list"),
    (lambda d: d["shards"][0].update(objects="3"), "key shards[0].objects must be an integer"),
    (lambda d: d["shards"][0].pop("sha256"), "key shards[0].sha256 is missing"),
    (lambda d: d.update(export=[]), "key export must be an object"),
    (lambda d: d["shards"][0].update(file="../x.tfrecord"), "must be a file name inside the folder"),
])
def test_description_of_another_shape_is_one_line(change, words, tmp_path):
    description = json.loads(json.dumps(GOOD))
    change(description)
    (tmp_path / DESCRIPTION).write_text(json.dumps(description))
    with pytest.raises(UserError, match="not a description written by pipelines.embed: .*" + re.escape(words)):
        read_embeddings(str(tmp_path))


def test_missing_shard_is_named(tmp_path):
    (tmp_path / DESCRIPTION).write_text(json.dumps(GOOD))
    with pytest.raises(UserError, match="embeddings-00000-of-00001.tfrecord is missing"):
        read_embeddings(str(tmp_path))
