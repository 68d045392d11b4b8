"""The `prism` benchmark's Beam Python side (Apache Beam 2.77.0, installed by scripts/beam-python.sh).

The same job as bench/prism.ts runs through Tidemark: read "user,eventTimeMs" lines, stamp each event with its event
time, key by user, session windows with the gap, per session the count and the first and last event time, and an
order-independent checksum of the sessions. Submitted to the Prism whose Job API is given, with the SDK worker in
this process (LOOPBACK). Usage: python prism_sessions.py EVENTS_FILE JOB_ENDPOINT GAP_MS OUT_FILE
Writes {"ms": job wall time, "sessions": n, "events": n, "checksum": n} to OUT_FILE.
"""
import json
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import window

MOD = 1_000_003


class SessionStats(beam.CombineFn):
    def create_accumulator(self):
        return (0, None, None)

    def add_input(self, acc, t):
        count, first, last = acc
        return (count + 1, t if first is None or t < first else first, t if last is None or t > last else last)

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for count, first, last in accs:
            if count == 0:
                continue
            out = (
                out[0] + count,
                first if out[1] is None or first < out[1] else out[1],
                last if out[2] is None or last > out[2] else out[2],
            )
        return out

    def extract_output(self, acc):
        return acc


def parse(line):
    user, t = line.split(",")
    t = int(t)
    return window.TimestampedValue((user, t), t / 1000.0)


def session_sum(kv):
    _, (count, first, last) = kv
    return (1, count, ((first // 1000) % MOD) * 31 + (last // 1000) % MOD + count)


def add(rows):
    s = [0, 0, 0]
    for r in rows:
        s[0] += r[0]
        s[1] += r[1]
        s[2] += r[2]
    return tuple(s)


def main():
    path, endpoint, gap_ms, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    options = PipelineOptions(
        ["--runner=PortableRunner", "--job_endpoint=" + endpoint, "--environment_type=LOOPBACK"]
    )
    result = {}

    def write(total):
        result["sessions"], result["events"], result["checksum"] = total

    started = time.perf_counter()
    with beam.Pipeline(options=options) as p:
        (
            p
            | "Read" >> beam.io.ReadFromText(path)
            | "Parse" >> beam.Map(parse)
            | "Sessions" >> beam.WindowInto(window.Sessions(gap_ms / 1000.0))
            | "SessionStats" >> beam.CombinePerKey(SessionStats())
            | "Checksum" >> beam.Map(session_sum)
            | "AllTime" >> beam.WindowInto(window.GlobalWindows())
            | "Total" >> beam.CombineGlobally(add)
            | "Write" >> beam.Map(lambda total: json.dump(
                {"sessions": total[0], "events": total[1], "checksum": total[2]}, open(out_path + ".part", "w")))
        )
    elapsed_ms = (time.perf_counter() - started) * 1000
    with open(out_path + ".part") as f:
        result = json.load(f)
    result["ms"] = elapsed_ms
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
