"""benchmarks/call_timing.py: the micro-benchmarks' timer summarises what it measured (a
sleep of known length reads as that length), calls functions in turn, and refuses nonsense."""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks'))

from call_timing import summarise, time_call, time_calls  # noqa: E402


def test_summary_percentiles_are_measured_samples():
    samples = [float(v) for v in range(1, 101)]       # 1 .. 100 ms
    out = summarise(list(reversed(samples)))
    assert out == {'median_ms': 50.5, 'p90_ms': 90.0, 'p99_ms': 99.0, 'max_ms': 100.0,
                   'samples': 100}


def test_a_sleep_reads_as_its_length():
    out = time_call(lambda: time.sleep(0.004), repeats=5, warmup=1)
    assert out['samples'] == 5
    assert 3.9 <= out['median_ms'] <= 40.0       # generous upper bound: a loaded machine
    assert out['median_ms'] <= out['p90_ms'] <= out['p99_ms'] <= out['max_ms']


def test_functions_run_in_turn_after_warmup():
    calls = []
    out = time_calls({'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')},
                     repeats=3, warmup=2)
    assert calls == ['a', 'b'] * 5
    assert set(out) == {'a', 'b'} and out['a']['samples'] == 3


@pytest.mark.parametrize('repeats, warmup', [(0, 1), (3, -1)])
def test_bad_counts_are_refused(repeats, warmup):
    with pytest.raises(ValueError, match='repeats'):
        time_calls({'a': lambda: None}, repeats, warmup)


def test_nothing_to_summarise_is_an_error():
    with pytest.raises(ValueError, match='no timed calls'):
        summarise([])
