import pytest

from ttom.layout import Layout

TWO_OBJECTS = {
    "prompt": "a red car drives to the left while a dog sits on the right",
    "objects": [
        {"id": 0, "name": "car", "phrase": "a red car",
         "keyframes": [{"t": 0, "box": [0.55, 0.5, 0.95, 0.9]}, {"t": 1, "box": [0.05, 0.5, 0.45, 0.9]}]},
        {"id": 1, "name": "dog", "phrase": "a dog",
         "keyframes": [{"t": 0, "box": [0.6, 0.05, 0.95, 0.4]}, {"t": 1, "box": [0.6, 0.05, 0.95, 0.4]}]},
    ],
    "background": "street",
}


@pytest.fixture
def layout() -> Layout:
    return Layout.parse(TWO_OBJECTS)


@pytest.fixture(scope="session")
def backends():
    from ttom.engine.backends import load_backend

    return {name: load_backend(name, "cpu") for name in ("tiny-cogvideox", "tiny-wan")}


@pytest.fixture(params=["tiny-cogvideox", "tiny-wan"])
def backend(request, backends):
    return backends[request.param]
