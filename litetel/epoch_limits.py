"""A device's dictionary held within a gateway's per-device limits (wire format §2.1), and to the process that
made it. CPython only.

A gateway keeps at most ``MAX_EPOCH_SERIES`` series (and instruments), ``MAX_EPOCH_STRINGS`` strings and
``MAX_EPOCH_SCOPES`` scopes of one device epoch (its ``--max-series-per-device`` and
``--max-strings-per-device`` defaults). It rejects the frame that adds one more, and every later frame of the
epoch (each needs the refused entry), so every point would be lost from then on. This ``Dictionary`` keeps
within them instead:

- a new attribute set that would pass a limit goes to its instrument's overflow series, as past
  ``max_series``: never dropped, never counted twice. One series an instrument is kept for that overflow
  series, so it always has room;
- a new instrument or scope that would pass one is refused with ``InstrumentError``, and adds nothing;
- a span or event name that would pass the string limit travels inline instead; a span or log record with an
  attribute key that would pass it is dropped and counted (``litetel.device.spans.dropped`` /
  ``logs.dropped``);
- the device's own scope (``dictionary.SELF_SCOPE``) keeps ``SELF_RESERVE`` entries and one scope below the
  limits: its loss counters are made when a loss happens, maybe after the application filled the rest.

An epoch also belongs to one process. A Device inherited across ``fork()`` would send the child's frames
under the parent's epoch and seqs, and the gateway would answer ``dup`` to whichever came second, dropping
its points. So ``mark()``, the first step of ``Device.collect()``, raises ``LitetelError`` in any process
but the one that made the dictionary.

A CPython ``Device`` uses this class (``device.py``). A MicroPython heap runs out long before the limits
(10,000 series take over 2 MB there), so a board never loads this code.

    >>> from litetel.device import Device
    >>> meter = Device("doc-epoch").meter("demo")
    >>> users = meter.counter("users", max_series=20000)
    >>> for i in range(MAX_EPOCH_SERIES + 100):
    ...     users.add(1, {"user": i})
    >>> users.series_count <= MAX_EPOCH_SERIES - SELF_RESERVE
    True
"""

import os

from litetel.dictionary import OVERFLOW_KEY, SELF_SCOPE
from litetel.dictionary import Dictionary as _Dictionary
from litetel.errors import InstrumentError, LitetelError

MAX_EPOCH_SERIES = 10000  # series of an epoch, and instruments
MAX_EPOCH_STRINGS = 50000
MAX_EPOCH_SCOPES = 1024
SELF_RESERVE = 64  # series, instruments and strings kept for the device's own scope (and one scope)


class Dictionary(_Dictionary):
    """``dictionary.Dictionary`` held within a gateway's per-device limits."""

    _overflow_owed = 0  # instruments without an overflow series yet: each may still need one
    _self_scope = -1  # the scope id of SELF_SCOPE, whose entries may use SELF_RESERVE

    def __init__(self, resource=None):
        self._pid = os.getpid()
        _Dictionary.__init__(self, resource)

    def mark(self):
        """As ``dictionary.Dictionary.mark``; ``LitetelError`` in a process other than the one that made it."""
        if os.getpid() != self._pid:
            raise LitetelError(
                "this Device was made in process %d, before a fork: collecting in process %d would send frames "
                "under the same epoch and seqs, which the gateway drops as duplicates. Make a Device in each "
                "process, after the fork, with its own device id and key" % (self._pid, os.getpid())
            )
        return _Dictionary.mark(self)

    def signal_sid(self, s):
        """As ``dictionary.Dictionary.signal_sid``, None when ``s`` is new and would leave less than
        ``SELF_RESERVE`` strings below the gateway's limit (instead of ``MAX_SIGNAL_STRINGS``)."""
        i = self._sids.get(s)
        if i is None and self._has_room(SELF_RESERVE, 0, 0, (s,), 1):
            i = self.sid(s)
        return i

    def add_scope(self, name, version=""):
        """As ``dictionary.Dictionary.add_scope``; ``InstrumentError`` past ``MAX_EPOCH_SCOPES`` (of which one
        is kept for the device's own scope)."""
        own = name == SELF_SCOPE and not version
        sids = self._sids
        if (sids.get(name), sids.get(version)) not in self._scope_ids and not self._has_room(
            0 if own else SELF_RESERVE, 0, 0, (name, version), 1, len(self.scopes) + 2 - own
        ):
            raise self._full()
        i = _Dictionary.add_scope(self, name, version)
        if own:
            self._self_scope = i
        return i

    def add_instrument(self, inst):
        """As ``dictionary.Dictionary.add_instrument``; ``InstrumentError`` when the epoch has no room for the
        instrument and the overflow series it may need."""
        if not self._has_room(self._room(inst.scope_id), 1, 1, (inst.name, inst.unit, inst.description), 1):
            raise self._full()
        i = _Dictionary.add_instrument(self, inst)
        self._owe(1)
        return i

    def new_series(self, key):
        gid = _Dictionary.new_series(self, key)
        if key == OVERFLOW_KEY:
            self._owe(-1)
        return gid

    def _owe(self, n):
        with self._lock:  # instruments are made on several threads at once
            self._overflow_owed += n

    def admits(self, key, scope_id):
        """Whether a new series of canonical ``key`` (of an instrument of scope ``scope_id``) fits, with room
        left for every instrument's overflow series. Read without the lock: instruments making series at
        once on several threads may pass it together, a series each, into ``SELF_RESERVE``."""
        return self._has_room(self._room(scope_id), 0, 1, key, 2)  # values travel inline: keys only

    def _room(self, scope_id):
        # How far below the limits a scope's entries stop: SELF_RESERVE, none for the device's own.
        return 0 if scope_id == self._self_scope else SELF_RESERVE

    def _has_room(self, room, instruments, series, texts, step, scopes=0):
        # Whether the epoch takes this many more instruments and series, the strings of texts[::step] it lacks
        # (a repeat counted twice) and, with scopes, that many scopes in all, `room` below the limits; only
        # what is added is checked. One overflow series an instrument stays owed, and one string for its key.
        sids = self._sids
        strings = len(self.strings) + room + 1
        for j in range(0, len(texts), step):
            if texts[j].__class__ is str and texts[j] not in sids:
                strings += 1
        return (
            (not instruments or len(self.instruments) + instruments + room <= MAX_EPOCH_SERIES)
            and (not series or self.series_count + self._overflow_owed + series + room <= MAX_EPOCH_SERIES)
            and strings <= MAX_EPOCH_STRINGS
            and scopes <= MAX_EPOCH_SCOPES
        )

    def _full(self):
        return InstrumentError(
            "the epoch's dictionary is full (%d series, %d strings, %d scopes: a gateway takes %d, %d, %d)"
            % (self.series_count, len(self.strings), len(self.scopes),
               MAX_EPOCH_SERIES, MAX_EPOCH_STRINGS, MAX_EPOCH_SCOPES)
        )  # fmt: skip
