"""The node benchmarks' shared parts, without a node: the wait for the first output ends on
output, on the node's exit or at its timeout; the process samples come at the asked times for
the asked duration (bench_node_latency.py); the rigs' camera plays its frames in turn and
stops, and their diagnostics keep the named node's status (driver_rig.py)."""

import os
import sys
import tempfile
import time
from types import SimpleNamespace

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          'benchmarks')
sys.path.insert(0, BENCHMARKS)

from bench_node_latency import process_samples, wait_for_first  # noqa: E402
from driver_rig import SpinningDriver  # noqa: E402


class FakeProcess:
    """A node process that has exited (``code``) or still runs (None)."""

    def __init__(self, code=None):
        self.code = code

    def poll(self):
        return self.code


def node_log(text):
    log = tempfile.TemporaryFile(mode='w+')
    log.write(text)
    return log


def test_wait_for_first_returns_once_the_poke_brings_output():
    records = []
    wait_for_first(records, FakeProcess(), node_log(''), 5.0, 'command',
                   poke=lambda: records.append(1), poll_s=0.01)
    assert records == [1]   # poked once, then the record ended the wait


@pytest.mark.parametrize('code,timeout_s', [(1, 5.0), (None, 0.05)])
def test_wait_for_first_gives_up_with_the_node_output(code, timeout_s):
    started = time.monotonic()
    with pytest.raises(SystemExit, match=r'no prediction within .* s; node output:\nboom'):
        wait_for_first([], FakeProcess(code), node_log('boom'), timeout_s, 'prediction',
                       poll_s=0.01)
    assert time.monotonic() - started < 2.0


def test_process_samples_cover_the_duration():
    samples = list(process_samples(os.getpid(), 0.3, 0.1))
    times = [s[0] for s in samples]
    assert times[0] == 0.0 and 0.3 <= times[-1] < 0.6 and 3 <= len(samples) <= 6
    assert all(len(s) == 4 and s[2] > 0 for s in samples)   # (t, cpu, rss MiB, load)


def test_rig_camera_plays_frames_in_turn_until_stopped():
    rig = SpinningDriver()
    sent = []
    clock = SimpleNamespace(now=lambda: SimpleNamespace(to_msg=lambda: len(sent)))
    rig.node = SimpleNamespace(get_clock=lambda: clock)
    rig.image_pub = SimpleNamespace(publish=lambda msg: sent.append((msg.name, msg.header.stamp)))
    rig.frames = [SimpleNamespace(name=n, header=SimpleNamespace(stamp=None)) for n in 'abc']
    rig.published, rig.camera_on, rig.last_image_wall = 0, True, None
    for _ in range(4):
        rig._next_frame()
    assert sent == [('a', 0), ('b', 1), ('c', 2), ('a', 3)] and rig.published == 4
    assert rig.last_image_wall is not None
    rig.camera_on = False
    rig._next_frame()
    assert len(sent) == 4 and rig.published == 4


def test_rig_keeps_the_named_nodes_diagnostics():
    rig = SpinningDriver()
    rig.diag, rig._status_name = None, 'bench/planner_node'

    def status(name, level, message, **values):
        return SimpleNamespace(name=name, level=bytes([level]), message=message,
                               values=[SimpleNamespace(key=k, value=v)
                                       for k, v in values.items()])

    rig._on_diagnostics(SimpleNamespace(status=[status('bench/world_model_node', 0, 'ok', a='1')]))
    assert rig.diag is None
    rig._on_diagnostics(SimpleNamespace(status=[
        status('bench/world_model_node', 0, 'ok', a='1'),
        status('bench/planner_node: plan', 1, 'slow', **{'plan_ms.p50': '60'})]))
    assert rig.diag == {'plan_ms.p50': '60', '_level': 1, '_message': 'slow'}
