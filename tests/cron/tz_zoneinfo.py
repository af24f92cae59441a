#!/usr/bin/env python3
"""Checks tz.c (our TZif + POSIX footer reader) against Python's zoneinfo,
an independent reader of the same system tzdata: every zone, 120 seeded
instants from 1900 to 2200 (past the TZif tables, so the footer rules are
exercised), one process for all queries.  usage: tz_zoneinfo.py <tz_offsets>"""
import datetime
import random
import subprocess
import sys
import zoneinfo

zones = sorted(z for z in zoneinfo.available_timezones()
               if not z.startswith(('right/', 'posix/')))
rng = random.Random(20241103)
queries = []
for z in zones:
    queries += [(z, rng.randint(-2208988800, 7258118400)) for _ in range(80)]
    queries += [(z, rng.randint(1700000000, 2500000000)) for _ in range(40)]
out = subprocess.run([sys.argv[1]], input=''.join(f'{z} {t}\n' for z, t in queries),
                     capture_output=True, text=True, check=True).stdout.split('\n')
bad = []
for (z, t), got in zip(queries, out):
    want = int(datetime.datetime.fromtimestamp(t, zoneinfo.ZoneInfo(z)).utcoffset().total_seconds())
    if got != str(want):
        bad.append(f'{z} at {t}: ours {got}, zoneinfo {want}')
print(f'{len(zones)} zones, {len(queries)} instants, {len(bad)} mismatches')
print('\n'.join(bad[:20]))
sys.exit(1 if bad or len(zones) < 300 else 0)
