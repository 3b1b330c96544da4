"""The node benchmarks' shared waits (benchmarks/bench_node_latency.py), without a node: the
wait for the first output ends on output, on the node's exit or at its timeout; the process
samples come at the asked times for the asked duration."""

import os
import sys
import tempfile
import time

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          'benchmarks')
sys.path.insert(0, BENCHMARKS)

from bench_node_latency import process_samples, wait_for_first  # noqa: E402


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
