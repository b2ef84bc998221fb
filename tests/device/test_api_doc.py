"""docs/api.md stays true: its examples run, say what they send, and its signatures are the code's.

The doc's ```python blocks are of two kinds. A *signature block* lists calls whose positional arguments are all
bare parameter names (``meter.counter(name, unit="", ...)``): each is compared with ``inspect.signature`` of the
callable it names. Every other block is an *example*: the examples run in order, in one namespace, as a reader
would paste them. An example's ``# sent:`` comment is what its device's next frame carries, and is checked.
"""

import ast
import inspect
import re
from pathlib import Path

import pytest

from litetel import logs, tracing

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def python_blocks(text):
    """The ```python blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def _call(stmt):
    # The call a statement makes (``f(...)`` or ``x = f(...)``), else None.
    value = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
    return value if isinstance(value, ast.Call) else None


def is_signature_block(block):
    """Every statement is a call whose positional arguments are bare names, and at least one has such a name."""
    calls = [_call(stmt) for stmt in ast.parse(block).body]
    if not calls or None in calls:
        return False
    if not all(isinstance(arg, ast.Name) for call in calls for arg in call.args):
        return False
    return any(call.args for call in calls)


def documented_parameters(call):
    """``[(name, default or inspect.Parameter.empty), ...]`` of a signature call."""
    params = [(arg.id, inspect.Parameter.empty) for arg in call.args]
    params += [(kw.arg, ast.literal_eval(kw.value)) for kw in call.keywords]
    return params


def real_parameters(fn):
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


BLOCKS = python_blocks(API_MD.read_text(encoding="utf-8"))
SIGNATURES = [b for b in BLOCKS if is_signature_block(b)]
EXAMPLES = [b for b in BLOCKS if not is_signature_block(b)]


@pytest.fixture(scope="module")
def examples():
    """Every example block run in order, once; -> the namespace they leave."""
    namespace = {"tracing": tracing, "logs": logs}  # the doc's sections name these modules
    for block in EXAMPLES:
        exec(compile(block, str(API_MD), "exec"), namespace)
    return namespace


def test_the_doc_has_both_kinds_of_block():
    # The classification itself: a doc edit that made every block look alike would empty a test below.
    assert len(SIGNATURES) >= 2 and len(EXAMPLES) >= 5, (len(SIGNATURES), len(EXAMPLES))
    assert not is_signature_block('dev = Device("sat-7")\nok.add(1)')
    assert not is_signature_block("dev.tick(timeout_s=0.5)\ndev.stop()")  # nothing positional: an example
    assert is_signature_block('meter.gauge(name, unit="")')


def test_the_examples_run_and_the_first_one_collects_a_frame(examples):
    frame = examples["frame"]  # "bytes appended to dev.buffer"
    assert isinstance(frame, bytes) and frame
    assert examples["dev"].buffer.pending >= 1


@pytest.mark.parametrize("block", SIGNATURES, ids=lambda b: b.split("(")[0].strip())
def test_each_documented_signature_is_the_code_s(block, examples):
    for stmt in ast.parse(block).body:
        call = _call(stmt)
        # the receivers the signatures name (dev, meter) are the examples'
        fn = eval(compile(ast.Expression(call.func), str(API_MD), "eval"), examples)
        assert documented_parameters(call) == real_parameters(fn), ast.unparse(call.func)


def test_the_device_argument_table_names_every_parameter():
    text = API_MD.read_text(encoding="utf-8")
    section = text.split("\n## Device\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (`.*?) \|", section, flags=re.M)
    named = {name for row in rows for name in re.findall(r"`(\w+)`", row)}
    from litetel import Device

    assert named == {name for name, _ in real_parameters(Device)}


def _sent(comment):
    # "{user=ann}: 1, {otel.metric.overflow=true}: 2" -> {(("user", "ann"),): 1, ...}
    out = {}
    for attrs, value in re.findall(r"\{(.*?)\}: (\d+)", comment):
        pairs = []
        for pair in attrs.split(", "):
            k, v = pair.split("=")
            pairs.append((k, {"true": True, "false": False}.get(v, v)))
        out[tuple(sorted(pairs))] = int(value)
    return out


def test_what_the_examples_say_they_send_is_sent(make_recorder):
    checked = 0
    for block in EXAMPLES:
        said = re.search(r"^# sent: (.*)$", block, flags=re.M)
        if said is None:
            continue
        rec = make_recorder()
        namespace = {"dev": rec.dev, "meter": rec.meter}
        exec(compile(block, str(API_MD), "exec"), namespace)
        points = rec.points()
        expected = _sent(said.group(1))
        assert expected, said.group(0)
        assert {attrs: value for (_, attrs), value in points.items()} == expected
        checked += 1
    assert checked >= 1


def test_the_readme_device_example_calls_what_exists():
    # It cannot run here (a gateway host, a flash path, an endless loop): its calls of litetel's classes must
    # still bind to their signatures, and the methods it calls must exist.
    import litetel

    readme = Path(__file__).resolve().parents[2] / "README.md"
    (block,) = [b for b in python_blocks(readme.read_text(encoding="utf-8")) if "litetel.Device(" in b]
    tree = ast.parse(block)
    bound = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id == "litetel":
                fn = getattr(litetel, node.func.attr)
                inspect.signature(fn).bind(*node.args, **{kw.arg: kw.value for kw in node.keywords})
                bound += 1
    assert bound >= 2
    for method in re.findall(r"\bdev\.(\w+)\(", block):
        assert callable(getattr(litetel.Device, method)), method
