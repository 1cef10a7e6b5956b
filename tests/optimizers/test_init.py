"""optimizers.get / serialize / deserialize: names, configs, instances, errors."""

import pytest

from shinsou import optimizers

NAMES = {
    "sgd": optimizers.SGD,
    "rmsprop": optimizers.RMSprop,
    "adam": optimizers.Adam,
    "adamw": optimizers.AdamW,
    "adagrad": optimizers.Adagrad,
    "adadelta": optimizers.Adadelta,
    "adamax": optimizers.Adamax,
    "nadam": optimizers.Nadam,
}


@pytest.mark.parametrize("name", NAMES)
def test_get_by_name_any_case(name):
    assert type(optimizers.get(name)) is NAMES[name]
    assert type(optimizers.get(NAMES[name].__name__)) is NAMES[name]


def test_get_passes_instances_and_none_through():
    optimizer = optimizers.Adam()
    assert optimizers.get(optimizer) is optimizer
    assert optimizers.get(None) is None


def test_get_from_config_dict():
    optimizer = optimizers.get(
        {"class_name": "Adam", "config": {"learning_rate": 0.01, "amsgrad": True}}
    )
    assert optimizer.amsgrad and float(optimizer.learning_rate) == pytest.approx(0.01)


def test_serialize_deserialize_round_trip():
    schedule = optimizers.schedules.ExponentialDecay(0.1, 1000, 0.96)
    optimizer = optimizers.RMSprop(learning_rate=schedule, momentum=0.5, global_clipnorm=1.0)
    config = optimizers.serialize(optimizer)
    assert (config["module"], config["class_name"]) == ("keras.optimizers", "RMSprop")
    assert config["config"]["learning_rate"]["class_name"] == "ExponentialDecay"
    clone = optimizers.deserialize(config)
    assert clone.get_config() == optimizer.get_config()


def test_deserialize_custom_objects():
    class MySGD(optimizers.SGD):
        pass

    config = {"class_name": "MySGD", "config": {"momentum": 0.5}}
    assert type(optimizers.deserialize(config, custom_objects={"MySGD": MySGD})) is MySGD


def test_bad_identifiers():
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; valid names: adadelta, "):
        optimizers.get("adamm")
    with pytest.raises(ValueError, match="could not interpret optimizer identifier 3"):
        optimizers.get(3)
    with pytest.raises(TypeError, match="expected a dict with 'class_name'"):
        optimizers.deserialize(["adam"])
    with pytest.raises(TypeError, match="expected an Optimizer"):
        optimizers.serialize("adam")
