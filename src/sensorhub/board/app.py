"""The board's web application: server-rendered pages (Jinja2) on Starlette, and the ward of a
site pushed as server-sent events whenever it changes, so a page shows within a second without
reloading. Read-only: the board never publishes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route

from sensorhub.board.texts import TEXTS, age
from sensorhub.board.ward import Ward

#: How often a live view looks for a change: well inside the one second a page may take.
POLL = 0.1
#: How often a live view is sent even unchanged, so that the ages move on.
REFRESH = 10.0

#: site -> its language ("en"/"nl"), from the rule file (a site it does not name: the defaults')
Languages = Callable[[str], str]


def create_app(ward: Ward, language: Languages, zone: ZoneInfo) -> Starlette:
    """The board over ``ward``, each site in ``language(site)``, clock times in ``zone``."""
    env = Environment(loader=PackageLoader("sensorhub.board"), autoescape=select_autoescape())

    def page(name: str, site: str | None, **values: object) -> str:
        lang = language(site) if site else "en"
        now = time.time()
        return env.get_template(name).render(
            lang=lang,
            t=TEXTS.get(lang, TEXTS["en"]),
            site=site,
            now=now,
            age=age,
            clock=lambda ts: datetime.fromtimestamp(ts, zone).strftime("%H:%M"),
            service=ward.service_state,
            **values,
        )

    async def index(request: Request) -> HTMLResponse:
        sites = [
            (site, sum(not i.acknowledged for i in ward.incidents(site))) for site in ward.sites()
        ]
        return HTMLResponse(page("index.html", None, sites=sites))

    async def site_view(request: Request) -> HTMLResponse:
        site = request.path_params["site"]
        return HTMLResponse(page("site.html", site, incidents=ward.incidents(site)))

    async def events(request: Request) -> StreamingResponse:
        site = request.path_params["site"]

        async def stream() -> AsyncIterator[str]:
            sent, sent_at = -1, 0.0
            while not await request.is_disconnected():
                if ward.version != sent or time.monotonic() - sent_at >= REFRESH:
                    sent, sent_at = ward.version, time.monotonic()
                    html = page("ward.html", site, incidents=ward.incidents(site))
                    data = "".join(f"data: {line}\n" for line in html.splitlines())
                    yield f"event: ward\n{data}\n"
                await asyncio.sleep(POLL)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/site/{site}", site_view),
            Route("/site/{site}/events", events),
        ]
    )
