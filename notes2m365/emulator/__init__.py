"""A local Microsoft Graph v1.0 emulator: the rehearsal target and the backbone of end-to-end tests.

Modules: ``config`` (settings and UNCONFIRMED switches), ``store`` (SQLite),
``router`` (transport-free requests and routing), ``odata`` (query options),
``tenant`` and ``directory`` (users, sites), ``mail`` (folders, messages,
attachments), ``pim`` (events, contacts, To Do), ``lists`` (SharePoint lists),
``drives`` (document libraries, uploads), ``onedrive`` (users' personal
drives), ``batch`` (JSON batching), ``throttle`` and ``faults`` (limits and
fault injection), ``reqlog``, ``service`` (the request pipeline) and
``server`` (Starlette + uvicorn).
"""

from .config import EmulatorConfig, FaultConfig, Switches, ThrottleConfig
from .server import BackgroundEmulator, build_app, serve
from .service import Emulator

__all__ = ["BackgroundEmulator", "Emulator", "EmulatorConfig", "FaultConfig", "Switches", "ThrottleConfig",
           "build_app", "serve"]
