"""The examples in the docstrings of litetel and the gateway run and show what they print (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import litetel
import litetel_gateway

MODULES = sorted(
    name
    for package in (litetel, litetel_gateway)
    for _, name, _ in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
    if not name.endswith(".__main__")  # running it starts the gateway
)


def test_every_module_is_listed():
    assert {"litetel.codecs", "litetel.decoding", "litetel_gateway.decoder"} <= set(MODULES)


@pytest.mark.parametrize("name", ["litetel"] + MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, "%d of %d examples failed in %s (printed above)" % (
        result.failed, result.attempted, name)
