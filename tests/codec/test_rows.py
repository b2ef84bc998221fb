"""codecs.Rows: a table made one row at a time while it is encoded (Device.collect's dictionary tables).

Every encoder writes it exactly as the list it stands for; the pure encoders (what MicroPython runs) make each
row only when they reach it, and hold two at most (the one just written, still the loop's, and the next).
"""

import pytest

from litetel import cbor_c, cbor_encoder, codecs, decoding, msgpack_c, msgpack_encoder
from litetel.dictionary import Dictionary

ROWS = [[0, "a", 1.5], [1, "b", None], [2, [3, 4], True]]
ENCODERS = [
    ("msgpack-pure", msgpack_encoder.packb),
    ("cbor-pure", cbor_encoder.dumps),
    ("msgpack-c", msgpack_c.encode),
    ("cbor-c", cbor_c.encode),
]


@pytest.mark.parametrize("encode", [e for _, e in ENCODERS], ids=[n for n, _ in ENCODERS])
def test_rows_encode_as_the_list_they_stand_for(encode):
    rows = codecs.Rows(ROWS.__getitem__, range(3))
    assert encode([7, rows, "end"]) == encode([7, ROWS, "end"])
    assert encode(codecs.Rows(ROWS.__getitem__, range(0))) == encode([])


class _Row(list):
    alive = 0

    def __init__(self, items):
        list.__init__(self, items)
        _Row.alive += 1
        self.most_alive = _Row.alive

    def __del__(self):
        _Row.alive -= 1


@pytest.mark.parametrize("encode", [msgpack_encoder.packb, cbor_encoder.dumps], ids=["msgpack", "cbor"])
def test_the_pure_encoders_make_each_row_when_they_reach_it(encode):
    made = []

    def make(i):
        row = _Row([i, "x" * i])
        made.append(row.most_alive)  # rows alive when this one was made, itself included
        return row

    rows = codecs.Rows(make, range(5))
    assert len(rows) == 5 and made == []  # nothing made before the encoder reaches the table
    assert encode(rows) == encode([[i, "x" * i] for i in range(5)])
    assert made == [1, 2, 2, 2, 2]  # never the whole table: the previous row and the one being made


def test_a_c_encoder_refuses_other_unknown_types_as_before():
    with pytest.raises(Exception, match="set"):
        msgpack_c.encode({1, 2})
    with pytest.raises(Exception, match="set"):
        cbor_c.encode([{1, 2}])


def _dictionary():
    d = Dictionary({"service.name": "demo"})
    d.add_scope("app", "1.0")
    return d


class _Inst:
    # What Dictionary reads of an instrument: its strings, scope, kind, boundaries and series.
    def __init__(self, d, name, boundaries, keys):
        self.name, self.unit, self.description, self.scope_id, self.kind = name, "s", "", 0, 3
        self.boundaries = boundaries
        self.id = d.add_instrument(self)
        self._series = [(d.new_series(k), k) for k in keys]

    def _series_since(self, first):
        return [(gid, key) for gid, key in self._series if gid >= first]


@pytest.mark.parametrize("codec_id", [codecs.MSGPACK, codecs.CBOR])
def test_dictionary_rows_tables_carry_what_the_list_tables_do(codec_id):
    lists, rows = _dictionary(), _dictionary()
    for d in (lists, rows):
        a = _Inst(d, "a", (0.5, 1.0), [("k", 1), ("k", 2)])
        _Inst(d, "b", None, [()])
        a._series.append((d.new_series(("k", "v")), ("k", "v")))  # series ids interleave across instruments
    first, first_rows = lists.delta(), rows.delta(rows=True)
    assert [type(t).__name__ for t in first_rows[5:8:2]] == ["Rows", "Rows"]
    assert codecs.encode(codec_id, first_rows) == codecs.encode(codec_id, first)
    assert decoding.decode(codec_id, codecs.encode(codec_id, rows.refresh(rows=True))) == lists.refresh()
    assert rows._sent == lists._sent and rows.delta(rows=True) is None and lists.delta() is None
