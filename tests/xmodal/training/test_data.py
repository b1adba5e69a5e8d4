import shutil

import numpy as np
import pytest

from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import read_manifest
from tfrecords_tools.dataset.read import dataset
from tfrecords_tools.synth.dataset import synth_dataset
from xmodal.training.data import Stream, object_views, split_categories, triplets


def test_triplets_pair_voxels_with_their_own_view_and_another_objects_view(tiny_data):
    objects = list(dataset(tiny_data, "train").as_numpy_iterator())
    by_voxels = {o["voxels"].tobytes(): o for o in objects}
    for batch in triplets(tiny_data, "train", 4, 32, 64, Stream(seed=5)).take(3).as_numpy_iterator():
        assert batch["voxels"].shape == (4, 32, 32, 32) and batch["positive"].shape == (4, 64, 64, 3)
        owners = [by_voxels[v.tobytes()] for v in batch["voxels"]]
        assert len({o["object_id"] for o in owners}) == 4  # distinct objects in a batch
        for i, owner in enumerate(owners):
            assert any((batch["positive"][i] == view).all() for view in owner["images"])
            assert not any((batch["negative"][i] == view).all() for view in owner["images"])


def test_stream_is_deterministic_and_resumable(tiny_data):
    first = [b["positive"] for b in triplets(tiny_data, "train", 4, 32, 64, Stream(seed=2)).take(5).as_numpy_iterator()]
    again = [b["positive"] for b in triplets(tiny_data, "train", 4, 32, 64, Stream(seed=2, start_step=3)).take(2).as_numpy_iterator()]
    np.testing.assert_array_equal(np.stack(first[3:]), np.stack(again))


def test_wrong_resolution_names_the_expected_shape(tiny_data):
    with pytest.raises(UserError, match=r"expects 96\^3 voxels and 486\^2 images"):
        triplets(tiny_data, "train", 4, 96, 486)


def test_object_views_give_k_distinct_views_of_each_batch_object(tiny_data):
    objects = list(dataset(tiny_data, "train").as_numpy_iterator())
    by_voxels = {o["voxels"].tobytes(): o for o in objects}
    for batch in object_views(tiny_data, "train", 4, 3, 32, 64, Stream(seed=1)).take(3).as_numpy_iterator():
        assert batch["voxels"].shape == (4, 32, 32, 32) and batch["images"].shape == (4, 3, 64, 64, 3)
        owners = [by_voxels[v.tobytes()] for v in batch["voxels"]]
        assert len({o["object_id"] for o in owners}) == 4
        for owner, views in zip(owners, batch["images"]):
            indices = [next(i for i, view in enumerate(owner["images"]) if (view == image).all()) for image in views]
            assert len(set(indices)) == 3  # distinct views, all of this object


def test_more_views_per_object_than_converted_is_a_user_error(tiny_data):
    with pytest.raises(UserError, match="exceeds the 4 views"):
        object_views(tiny_data, "train", 4, 5, 32, 64)


@pytest.fixture(scope="module")
def chairs_and_tables(tmp_path_factory) -> str:
    """12 objects, chairs and tables in turn, converted at 32^3 voxels and 2 views of 64^2."""
    root = tmp_path_factory.mktemp("two-categories")
    synth_dataset(str(root / "meshes"), 12, seed=4, categories=("chair", "table"))
    convert(ConvertConfig(meshes=str(root / "meshes"), out=str(root / "data"), voxel_res=32, image_size=64, views=2,
                          workers=2, seed=4))
    return str(root / "data")


def batch_categories(data: str, same_category: bool, steps: int) -> list[set]:
    """The categories of the objects of each of the first `steps` P x K batches (P = 3)."""
    owners = {o["voxels"].tobytes(): o["category"] for o in dataset(data, "train").as_numpy_iterator()}
    stream = Stream(seed=1, same_category=same_category)
    return [{owners[v.tobytes()] for v in batch["voxels"]}
            for batch in object_views(data, "train", 3, 1, 32, 64, stream).take(steps).as_numpy_iterator()]


def test_same_category_batches_hold_one_category_each(chairs_and_tables):
    same = batch_categories(chairs_and_tables, True, 8)
    assert all(len(categories) == 1 for categories in same) and len(set.union(*same)) == 2
    assert any(len(categories) == 2 for categories in batch_categories(chairs_and_tables, False, 8))


def test_same_category_without_a_category_big_enough_for_a_batch_is_a_user_error(chairs_and_tables):
    with pytest.raises(UserError, match="--same-category: no category of split 'train' .* has the 7 objects"):
        object_views(chairs_and_tables, "train", 7, 1, 32, 64, Stream(same_category=True))


def test_split_categories_are_the_categories_of_the_split_objects(tiny_data, chairs_and_tables):
    assert split_categories(tiny_data, read_manifest(tiny_data), "train") == {"car"}
    assert split_categories(chairs_and_tables, read_manifest(chairs_and_tables), "train") == {"chair", "table"}


def test_a_corrupted_record_met_while_counting_categories_names_its_shard(tiny_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    shard = data / "train-00000-of-00001.tfrecord"
    flipped = bytearray(shard.read_bytes())
    flipped[-100] ^= 0x10  # inside the last record
    shard.write_bytes(bytes(flipped))
    with pytest.raises(UserError, match="train-00000-of-00001.tfrecord: record index \\d+ is unreadable"):
        split_categories(str(data), read_manifest(str(data)), "train")
    with pytest.raises(UserError, match="train-00000-of-00001.tfrecord: record index \\d+ is unreadable"):
        object_views(str(data), "train", 2, 1, 32, 64, Stream(same_category=True))
