"""What the ``pytest11`` entry point ``concur`` loads: a pointer to :mod:`pytest_concur.plugin`.

pytest registers an entry point's module under the entry point's name (``concur``), and a module
named by ``-p`` or ``pytest_plugins`` under the module's own name. Were the entry point the plugin
module itself, naming ``pytest_concur.plugin`` while autoloading is on would register one module
under two names, which pytest refuses ("Plugin already registered under a different name").
So the entry point loads this module, which asks pytest to load the plugin by the module's name:
every loading form then registers the plugin once, as ``pytest_concur.plugin``, and
``-p no:concur`` still keeps it out, since blocking the entry point means this module never loads.
"""

from __future__ import annotations

__all__: list[str] = []

pytest_plugins = ["pytest_concur.plugin"]
