"""Print the summary tables (markdown) from bench/results/*.json.

Usage: .venv/bin/python bench/report.py [--prefix quick_]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def f(x: Any, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def b1(d: dict[str, Any]) -> None:
    print("\n### B1 cold fan-out (`cat /proc/loadavg`), medians\n")
    print("| N | tool | wall (process) | fan-out (in-process) | client CPU | sshd CPU | peak RSS (tree) | vs asyncssh (wall) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for res in d["results"]:
        floor = res["tools"].get("asyncssh", {}).get("wall_s", {}).get("median")
        for t, row in res["tools"].items():
            w = row["wall_s"].get("median")
            print(f"| {res['hosts']} | {t} | {f(w)} s | {f(row.get('fanout_s', {}).get('median'))} s | "
                  f"{f(row['cpu_s'].get('median'))} s | {f(row['server_cpu_s'].get('median'))} s | "
                  f"{f(row['peak_rss_tree_mb'].get('median'), 0)} MB | {f(w / floor if w and floor else None)}× |")
        print(f"| {res['hosts']} | sshd per connection (OpenSSH client, serial) | | | | "
              f"{f(res['sshd_cost']['sshd_cpu_ms_per_connection'], 1)} ms | | |")


def b2(ds: list[dict[str, Any]]) -> None:
    print("\n### B2 warm round (load + 3 checks per host)\n")
    print("| N | tool | round p50 | round p99 | client CPU / round | machine CPU / round | ok hosts |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for d in ds:
        for res in d["results"]:
            for t, row in res["tools"].items():
                print(f"| {res['hosts']} | {t} | {f(row['round_s']['p50'], 3)} s | {f(row['round_s']['p99'], 3)} s | "
                      f"{f(row['round_cpu_s']['median'], 3)} s | {f(row.get('round_machine_cpu_s', {}).get('median'), 2)} s | "
                      f"{row['ok_hosts']} |")


def b3(d: dict[str, Any]) -> None:
    print("\n### B3 1,000 HTTP checks (warm round median; cold = first round)\n")
    print("| origins | scenario | concurrency | warm | cold | CPU |")
    print("|---:|---|---:|---:|---:|---:|")
    for origins, by_name in d["results"].items():
        for name, rows in by_name.items():
            for c, row in rows.items():
                if "error" in row:
                    print(f"| {origins} | {name} | {c} | error | | |")
                    continue
                print(f"| {origins} | {name} | {c} | {f(row['warm_median_s'], 3)} s | {f(row['cold_s'], 3)} s | "
                      f"{f(row['cpu_s_median'], 3)} s |")


def b4(feed: dict[str, Any] | None, idle: dict[str, Any] | None, live: dict[str, Any] | None) -> None:
    print("\n### B4 UI\n")
    if feed:
        print(f"- feed {feed['hosts']} hosts × {feed['services']} services, a round every {feed['every_s']} s, "
              f"{feed['rounds']} rounds: apply+render p50 {feed['apply_plus_render_ms']['p50']} ms, "
              f"p99 {feed['apply_plus_render_ms']['p99']} ms (apply p99 {feed['apply_ms']['p99']} ms, "
              f"render p99 {feed['render_ms']['p99']} ms, GC p99 {feed.get('gc_ms_per_round', {}).get('p99')} ms; "
              f"main-thread CPU p50 {feed.get('apply_plus_render_cpu_ms', {}).get('p50')} ms, "
              f"p99 {feed.get('apply_plus_render_cpu_ms', {}).get('p99')} ms); "
              f"CPU {feed['cpu_pct_of_one_core']} %; RSS {feed['rss_mb']} MB")
    if idle:
        print(f"- idle {idle['hosts']} hosts, a round every {idle['every_s']} s: CPU {idle['cpu_pct_of_one_core']} % "
              f"of a core, RSS {idle['rss_mb']} MB")
    if live:
        print(f"- live {live['hosts']} hosts (engine + sshd fleet), interval {live['interval']}: "
              f"CPU {live['cpu_pct_of_one_core']} % of a core (screen updates {live.get('ui_render_pct_of_one_core')} %), "
              f"RSS {live['rss_mb']} MB, {live['snapshots_applied']} snapshots applied")


def b5(d: dict[str, Any]) -> None:
    print("\n### B5 soak\n")
    keys = ["hosts", "rounds", "elapsed_s", "round_s_median", "rss_mb_baseline", "rss_mb_end", "rss_growth_mb",
            "rss_slope_mb_per_1000_rounds", "history_mb_growth_est", "rss_growth_without_history_mb",
            "history_full_round", "rss_growth_after_history_full_mb",
            "cpu_pct_of_one_core", "journal_bytes_end", "journal_status_rows_end", "journal_bytes_per_status_change",
            "journal_mb_per_day_at_5s_rounds"]
    for k in keys:
        print(f"- {k}: {d.get(k)}")


def b6(d: dict[str, Any]) -> None:
    print("\n### B6 false alarms and detection\n")
    soak = d["soak"]
    print(f"- soak: {soak['rounds']} rounds ({soak['seconds']:g} s) of {soak['host_series']} host series, "
          f"{d.get('pinning')}: {soak['false_alarms']} false alarms")
    for name, r in d["detection"].items():
        print(f"- {name}: flagged after {r['rounds_to_flag']} rounds (window minimum {r['window_minimum']})")


def b7(d: dict[str, Any]) -> None:
    print("\n### B7 output flood (quiet run vs flood)\n")
    print("| figure | quiet | flood |")
    print("|---|---:|---:|")
    q, fl = d["quiet"], d["flood"]
    for name, key, sub in (("UI tick gap p99 ms", "ui_tick_gap_ms", "p99"), ("UI tick gap max ms", "ui_tick_gap_ms", "max"),
                           ("HTTP probe p99 ms", "http_probe_ms", "p99"), ("round p99 ms", "round_ms", "p99")):
        print(f"| {name} | {q[key][sub]} | {fl[key][sub]} |")
    print(f"| HTTP p99 ms over every answer, counted or not | {q['http_probe_ms'].get('p99_all_answers', '')} | "
          f"{fl['http_probe_ms'].get('p99_all_answers', '')} |")
    print(f"| HTTP answers whose timing was not counted | {q['http_probe_ms'].get('not_counted', '')} | "
          f"{fl['http_probe_ms'].get('not_counted', '')} |")
    print(f"| false downs | {q['false_downs']} | {fl['false_downs']} |")
    print(f"| RSS max MB | {q['rss_mb_max']} | {fl['rss_mb_max']} |")
    print(f"| remote end to finished, max s | | {fl.get('finish_lag_s_max')} |")
    print(f"| load average (1 min) | {d.get('loadavg1_quiet')} | {d.get('loadavg1_flood')} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", default="")
    p = ap.parse_args().prefix
    if (d := load(f"{p}b1_fanout")) is not None:
        b1(d)
    b2s = [d for d in (load(f"{p}b2_warm"), load(f"{p}b2_warm_500")) if d is not None]
    if b2s:
        b2(b2s)
    if (d := load(f"{p}b3_http")) is not None:
        b3(d)
    b4(load(f"{p}b4_ui_feed_500"), load(f"{p}b4_ui_idle_50"), load(f"{p}b4_ui_live_50"))
    if (d := load(f"{p}b5_soak")) is not None:
        b5(d)
    if (d := load(f"{p}b6_false_alarms")) is not None:
        b6(d)
    if (d := load(f"{p}b7_flood")) is not None:
        b7(d)


if __name__ == "__main__":
    main()
