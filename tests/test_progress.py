"""Progress lines (signgeom.progress): counts, rate from the units done in this process only,
and the log lines of ``logged``."""

import logging
import time

from signgeom.progress import Progress, format_seconds, logged


def test_resumed_progress_counts_only_this_process_for_the_rate():
    meter = Progress(10, done=4, unit="epoch")
    assert meter.line().startswith("4/10 | elapsed 00:00 | ETA ?")  # nothing done yet here
    time.sleep(0.05)
    meter.update(6)
    line = meter.line()
    assert line.startswith("6/10 | elapsed 00:00 | ETA 00:00 |")
    rate = float(line.split("|")[-1].strip().removesuffix("epoch/s"))
    assert 2 / (meter.elapsed + 0.05) < rate <= 2 / 0.05  # 2 epochs, not 6, in ~0.05 s


def test_format_seconds():
    assert format_seconds(3725.4) == "1:02:05"
    assert format_seconds(59) == "00:59"


def test_logged_yields_everything_and_logs_the_end(caplog):
    log = logging.getLogger("signgeom.test")
    with caplog.at_level(logging.INFO, logger="signgeom.test"):
        items = list(logged(range(5), 5, "work", log, unit="chunk", every_seconds=3600))
    assert items == [0, 1, 2, 3, 4]
    assert [r.getMessage().split(" |")[0] for r in caplog.records] == ["work: 5/5"]
