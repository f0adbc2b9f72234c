"""The report's outages section: per critical service, its longest outage during the cutover.

"During the cutover" is between the first and the last journal record; an outage is a host's check of the
service changing to ``down`` until it changed away from it (still down at the end: it lasts until then and
is marked ongoing). ``degraded`` and ``unknown`` (an unreachable host) are not counted as outages: the
report says what it cannot tell. Old and new services (``retired_by`` / ``introduced_by``) are left out:
their downs are planned, and a rollback's downtime shows on the services that stay.
"""

from __future__ import annotations

from typing import Any

from cockpit.report.base import ReportBase, _dur, _iso


class OutagesSection(ReportBase):
    """``## Longest outage per critical service``."""

    def _outages(self, service: str, end: float) -> list[tuple[float, float, str, bool]]:
        """(start, end, host, ongoing) of every outage of ``service``, from the journaled status changes."""
        down: dict[str, float] = {}
        out: list[tuple[float, float, str, bool]] = []
        rows: list[dict[str, Any]] = [r for r in self.status if r.get("service") == service]
        for r in sorted(rows, key=lambda r: (r["at"], r["id"])):
            host = str(r.get("host"))
            if r.get("new") == "down" and host not in down:
                down[host] = r["at"]
            elif r.get("new") != "down" and host in down:
                out.append((down.pop(host), r["at"], host, False))
        out += [(start, max(end, start), host, True) for host, start in down.items()]
        return out

    def outages_section(self) -> list[str]:
        out = ["## Longest outage per critical service", ""]
        services = [s for s in self.config.services if s.critical and s.lifecycle is None]
        if not services or not self.log:
            out.append("No critical service to report on, or nothing was journaled.")
            return out
        end = max(r["at"] for r in self.log)
        out += ["| Service | Longest outage | Host | From | To | Outages |", "|---|---:|---|---|---|---:|"]
        for svc in services:
            spans = self._outages(svc.name, end)
            if not spans:
                out.append(f"| {self.t(svc.name)} | none seen | – | – | – | 0 |")
                continue
            start, stop, host, ongoing = max(spans, key=lambda s: s[1] - s[0])
            to = "ongoing at the last record" if ongoing else _iso(stop)
            out.append(f"| {self.t(svc.name)} | {_dur(stop - start)} | {self.t(host)} | {_iso(start)} | {to} | "
                       f"{len(spans)} |")
        out += ["", "Counted from journaled status changes to `down`; `degraded` and `unknown` (host unreachable) "
                "are not outages here, and old and new services are left out (their downs are planned)."]
        return out
