"""Runs Apache Beam's own Python Nexmark queries (apache_beam.testing.benchmarks.nexmark.queries) on a file of
Nexmark JSON lines, as Beam's launcher does in batch (nexmark_launcher.read_from_file: ReadFromText, ParseJsonEventFn,
each event stamped with its dateTime; the launcher's query arguments), one pipeline per query.

  python beam_nexmark.py --input=FILE --queries=0,1,2 --out=DIR [--mode=check|bench]

check: each query's output goes to DIR/q<N>.jsonl, one JSON object per element: {"window": [startMs, endMs] or
null for the global window, "timestamp": its timestamp in ms (floored), "value": the element as JSON (events in the
file's camelCase layout, times in ms)}.
bench: outputs are only counted (a metrics counter, as the launcher's result monitor does).
Prints one JSON line per query on stdout: {"query", "ms" (the run, from run() to the end), "outputs", "runner"} or
{"query", "error"} when Beam fails; a failure does not stop the other queries.
"""

import argparse
import importlib
import json
import logging
import os
import sys
import time
import traceback

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.options.pipeline_options import TypeOptions
from apache_beam.testing.benchmarks.nexmark import nexmark_util
from apache_beam.testing.benchmarks.nexmark.models import auction_bid
from apache_beam.testing.benchmarks.nexmark.models import nexmark_model
from apache_beam.transforms import window
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp

# nexmark_launcher.NexmarkLauncher.run's query arguments.
QUERY_ARGS = {
    'auction_skip': 123,
    'window_size_sec': 10,
    'window_period_sec': 5,
    'fanout': 5,
    'num_max_workers': 5,
    'max_log_events': 100000,
    'occasional_delay_sec': 3,
    'max_auction_waiting_time': 600,
}

# Beam Python's FnApiRunner cannot take WinningBids' custom window function ("Cannot convert _OpaqueWindow"):
# these run on the BundleBasedDirectRunner.
BUNDLE_BASED = {4, 6, 9}

PERSON = (('id', 'id'), ('name', 'name'), ('emailAddress', 'email_address'),
          ('creditCard', 'credit_card'), ('city', 'city'), ('state', 'state'),
          ('dateTime', 'date_time'), ('extra', 'extra'))
AUCTION = (('id', 'id'), ('itemName', 'item_name'), ('description', 'description'),
           ('initialBid', 'initial_bid'), ('reserve', 'reserve'), ('dateTime', 'date_time'),
           ('expires', 'expires'), ('seller', 'seller'), ('category', 'category'), ('extra', 'extra'))
BID = (('auction', 'auction'), ('bidder', 'bidder'), ('price', 'price'), ('dateTime', 'date_time'),
       ('extra', 'extra'))


def to_json(v):
  if isinstance(v, Timestamp):
    return v.micros // 1000
  if isinstance(v, nexmark_model.Person):
    return {k: to_json(getattr(v, a)) for k, a in PERSON}
  if isinstance(v, nexmark_model.Auction):
    return {k: to_json(getattr(v, a)) for k, a in AUCTION}
  if isinstance(v, nexmark_model.Bid):
    return {k: to_json(getattr(v, a)) for k, a in BID}
  if isinstance(v, auction_bid.AuctionBid):
    return {'auction': to_json(v.auction), 'bid': to_json(v.bid)}
  if isinstance(v, dict):
    return {str(k): to_json(x) for k, x in v.items()}
  if isinstance(v, (list, tuple)):
    return [to_json(x) for x in v]
  return v


class Capture(beam.DoFn):
  def process(self, element, w=beam.DoFn.WindowParam, ts=beam.DoFn.TimestampParam):
    span = None if isinstance(w, GlobalWindow) else [w.start.micros // 1000, w.end.micros // 1000]
    yield json.dumps({'window': span, 'timestamp': ts.micros // 1000, 'value': to_json(element)}, sort_keys=True)


class CountResults(beam.DoFn):
  def __init__(self):
    self.results = Metrics.counter('nexmark', 'results')

  def process(self, element):
    self.results.inc()


def run_query(n, path, out_dir, mode):
  query = importlib.import_module('apache_beam.testing.benchmarks.nexmark.queries.query%d' % n)
  runner = 'BundleBasedDirectRunner' if n in BUNDLE_BASED else 'DirectRunner'
  options = PipelineOptions(['--runner=' + runner])
  options.view_as(TypeOptions).allow_unsafe_triggers = True
  options.view_as(StandardOptions).streaming = False
  p = beam.Pipeline(options=options)
  nexmark_util.setup_coder()
  events = (
      p
      | 'reading_from_file' >> beam.io.ReadFromText(path)
      | 'deserialization' >> beam.ParDo(nexmark_util.ParseJsonEventFn())
      | 'timestamping' >> beam.Map(lambda e: window.TimestampedValue(e, e.date_time)))
  output = query.load(events, QUERY_ARGS, options)
  target = os.path.join(out_dir, 'q%d.jsonl' % n)
  if mode == 'check':
    _ = (output | 'capture' >> beam.ParDo(Capture())
         | 'write' >> beam.io.WriteToText(target, shard_name_template='', num_shards=1))
  else:
    _ = output | 'count' >> beam.ParDo(CountResults())
  started = time.perf_counter()
  result = p.run()
  result.wait_until_finish()
  ms = (time.perf_counter() - started) * 1000
  if mode == 'check':
    with open(target) as f:
      outputs = sum(1 for line in f if line.strip())
  else:
    counters = result.metrics().query(MetricsFilter().with_name('results'))['counters']
    outputs = sum(c.committed or c.attempted or 0 for c in counters)
  return {'query': n, 'ms': round(ms, 1), 'outputs': outputs, 'runner': runner}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--input', required=True)
  parser.add_argument('--queries', required=True)
  parser.add_argument('--out', required=True)
  parser.add_argument('--mode', choices=['check', 'bench'], default='check')
  args = parser.parse_args()
  logging.getLogger().setLevel(logging.ERROR)
  os.makedirs(args.out, exist_ok=True)
  for n in [int(q) for q in args.queries.split(',') if q.strip()]:
    try:
      line = run_query(n, args.input, args.out, args.mode)
    except Exception as e:  # pylint: disable=broad-except
      line = {'query': n, 'error': '%s: %s' % (type(e).__name__, e),
              'trace': traceback.format_exc()[-2000:]}
    sys.stdout.write(json.dumps(line) + '\n')
    sys.stdout.flush()


if __name__ == '__main__':
  main()
