# conftest.py at the project's root: keep pytest-concur's ini keys known when it is switched off
# with -p no:concur, so that --strict-config does not stop the run.
def pytest_addoption(parser, pluginmanager):
    if not pluginmanager.has_plugin("pytest_concur.plugin"):
        for name in ("concur_mode", "concur_workers", "concur_start_method", "concur_timeout"):
            parser.addini(name, "ignored: pytest-concur is switched off")
