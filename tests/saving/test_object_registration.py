import pytest

from shinsou import layers
from shinsou.saving import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)


def test_register_class_under_package_and_class_name():
    @register_keras_serializable(package="my_package")
    class Scale(layers.Layer):
        pass

    assert get_registered_name(Scale) == "my_package>Scale"
    assert get_registered_object("my_package>Scale") is Scale
    assert get_custom_objects()["my_package>Scale"] is Scale


def test_register_defaults_and_explicit_name():
    @register_keras_serializable()
    def my_loss(y_true, y_pred):
        return y_pred

    @register_keras_serializable("pkg", name="renamed")
    def other(x):
        return x

    assert get_registered_name(my_loss) == "Custom>my_loss"
    assert get_registered_name(other) == "pkg>renamed"


def test_unregistered_name_is_dunder_name():
    def plain(x):
        return x

    assert get_registered_name(plain) == "plain"
    assert get_registered_object("Custom>plain") is None


def test_reregistering_replaces():
    @register_keras_serializable("pkg", name="thing")
    def first(x):
        return x

    @register_keras_serializable("pkg", name="thing")
    def second(x):
        return x

    assert get_registered_object("pkg>thing") is second


def test_lookup_order_scope_then_registry_then_custom_objects():
    @register_keras_serializable("pkg", name="Obj")
    class Registered(layers.Layer):
        pass

    assert get_registered_object("pkg>Obj", custom_objects={"pkg>Obj": int}) is Registered
    with CustomObjectScope({"pkg>Obj": float}):
        assert get_registered_object("pkg>Obj") is float
    assert get_registered_object("other", module_objects={"other": str}) is str


def test_scopes_nest_and_restore():
    with custom_object_scope({"a": int}):
        with custom_object_scope({"b": float}):
            assert get_registered_object("a") is int
            assert get_registered_object("b") is float
        assert get_registered_object("b") is None
    assert get_registered_object("a") is None


def test_scope_restored_after_an_error():
    with pytest.raises(RuntimeError), custom_object_scope({"a": int}):
        raise RuntimeError("boom")
    assert get_registered_object("a") is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="get_config"):

        @register_keras_serializable("pkg")
        class NoConfig:
            pass

    with pytest.raises(ValueError, match="package must be"):
        register_keras_serializable(package="a>b")
    with pytest.raises(ValueError, match="name must be"):
        register_keras_serializable(name="")
    with pytest.raises(TypeError, match="only classes and functions"):
        register_keras_serializable()(42)
    with pytest.raises(TypeError, match="must be a dict"):
        CustomObjectScope(["not", "a", "dict"])
