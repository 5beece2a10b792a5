"""gunicorn's logger as gunicorn.conf.py configures it: no access log, and no work done for one."""
import runpy

from gunicorn.config import Config

from tests.servers import ROOT


def test_requests_build_no_access_log_line(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ocpp.db'}")
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("logconfig_dict", settings["logconfig_dict"])  # what makes gunicorn's own logger build lines
    config.set("logger_class", settings["logger_class"])
    logger = config.logger_class(config)
    assert not logger.access_log_enabled
    # gunicorn's own logger reads the response and the request here; None has neither.
    logger.access(None, None, {}, None)
