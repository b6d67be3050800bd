"""The trunk's cell pooling and the feature cache's one-layout rule."""

import sqlite3

import pytest
import torch
import torch.nn.functional as F

from shelfsight.indexer.embedders.trunk import CellPool, CnnTrunk, cell_pool, grid_side
from shelfsight.indexer.features import FeatureCache


@pytest.mark.parametrize("size,cells", [(28, 7), (14, 7), (33, 9), (17, 9), (260, 9)])
def test_cell_pool_matches_adaptive_average_pooling(size, cells):
    x = torch.randn(2, 3, size, size)
    assert torch.allclose(CellPool(size, cells)(x), F.adaptive_avg_pool2d(x, cells), atol=1e-5)


def test_the_native_pool_is_kept_where_it_exports():
    # Lite0's maps (28 and 14 px to 7) keep torch's op: ONNX Runtime runs it faster.
    assert isinstance(cell_pool(28, 7), torch.nn.AdaptiveAvgPool2d)
    assert isinstance(cell_pool(33, 9), CellPool)


def test_grid_is_the_deep_blocks_resolution():
    # Lite0 at 224 px ends at 7 x 7; Lite2 at 260 px at 9 x 9 (stride-32 "same" padding).
    assert grid_side(224) == 7
    assert grid_side(260) == 9


@pytest.fixture(scope="module")
def trunk():
    return CnnTrunk("efficientnet_lite0", runtime="torch")


def test_trunk_maps_have_the_announced_groups_and_grid(trunk):
    x = torch.zeros(1, 3, trunk.input_size, trunk.input_size)
    with torch.no_grad():
        out = trunk.network(x)
    assert out.shape == (1, sum(trunk.groups), trunk.grid, trunk.grid)


def test_a_cache_of_another_trunk_is_refused(tmp_path, trunk):
    path = tmp_path / "features.db"
    FeatureCache(path, trunk).close()
    FeatureCache(path, trunk).close()  # same trunk: reopens fine
    with sqlite3.connect(path) as conn:  # as a run on another CNN would have left it
        conn.execute("update meta set value = 'efficientnet_lite2-ms1' where key = 'layout'")
    with pytest.raises(ValueError, match="efficientnet_lite2-ms1"):
        FeatureCache(path, trunk)
