"""The first screen fills as hosts answer (issue 20, item 4): a hung host holds back only its own row."""

from __future__ import annotations

from cockpitcfg import write_config
from test_ui_pilot import SERVICES, cells, until

from cockpit.config import load_config
from cockpit.engine import Engine
from screens.app import CockpitApp
from screens.widgets.fleet_table import FleetTable


async def test_rows_fill_as_hosts_answer_not_after_the_slowest(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for h in ("h1", "h2", "h3"):
        fleet.set_systemd(h, "fleet-agent", "active running")
    # h3 accepts TCP and never answers; its handshake deadline is far beyond the test
    fleet["h3"].pause()
    path = write_config(tmp_path, fleet, SERVICES.replace("{marker}", "unused"),
                        cockpit={"interval": "0.5s"}, ssh={"connect_timeout": "60s"})
    app = CockpitApp(Engine(load_config(path)), quiet=True)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.dashboard.query_one("#fleet", FleetTable)
        await until(pilot, lambda: table.row_count == 3 and all("up" in cells(app, h) for h in ("h1", "h2")))
        # the others' rows are filled while the hung host is still in its first handshake
        assert app.snapshot is not None
        assert app.snapshot.host("h3").reach == "connecting"
        assert "up" not in cells(app, "h3") and "connecting" in cells(app, "h3")
        assert [app.snapshot.host(h).reach for h in ("h1", "h2")] == ["ok", "ok"]
        fleet["h3"].resume()
        await until(pilot, lambda: "up" in cells(app, "h3"), timeout=20)
