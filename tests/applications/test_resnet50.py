"""resnet50: Keras's older module name for ResNet50 and its caffe-mode preprocessing."""

import numpy as np
import pytest

from shinsou import applications
from shinsou.applications import imagenet_utils, resnet, resnet50
from shinsou.utils import data_utils


def test_the_module_offers_kerass_names():
    assert resnet50.ResNet50 is resnet.ResNet50 is applications.ResNet50
    assert resnet50.__all__ == ["ResNet50"]
    model = resnet50.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert model.name == "resnet50" and model.count_params() == 23_587_712


def test_preprocess_and_decode(tmp_path, monkeypatch):
    image = np.array([[[[255.0, 128.0, 0.0]]]])
    out = resnet50.preprocess_input(image)
    np.testing.assert_array_equal(out, imagenet_utils.preprocess_input(image, mode="caffe"))
    np.testing.assert_allclose(out[0, 0, 0], [-103.939, 11.221, 131.32], atol=1e-4)
    index = tmp_path / "index.json"
    index.write_text("{" + ",".join(f'"{i}": ["n{i}", "c{i}"]' for i in range(1000)) + "}")
    monkeypatch.setattr(data_utils, "get_file", lambda *args, **kwargs: str(index))
    preds = np.linspace(0, 1, 1000, dtype="float32")[None]
    assert [entry[1] for entry in resnet50.decode_predictions(preds, top=2)[0]] == ["c999", "c998"]
    with pytest.raises(ValueError, match="mode must be one of"):
        imagenet_utils.preprocess_input(image, mode="resnet")
