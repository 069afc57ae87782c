"""How fast the Graph emulator answers, as a ratio of the bare server stack in the same run.

The baseline is a Starlette app on the same uvicorn configuration that answers every request with a
fixed JSON body: the floor set by HTTP parsing, routing and serialisation.  Each server runs in its
own process; one client process sends requests sequentially over a keep-alive connection.

    python benchmarks/bench_emulator.py [--requests 2000] [--messages 2000]

Passes: ``baseline`` (fixed JSON), ``get-folder`` (GET one mail folder), ``post-message`` (POST a
non-draft message with its source key as an extended property), ``find-by-key`` (GET with the
extended-property ``$filter`` over a folder of ``--messages`` messages), ``batch-20`` ($batch of 20
GETs; requests/s counts the items).
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEY = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name NotesKey"
U = "/users/jane.doe@acme.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_baseline(port: int) -> None:
    import asyncio

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from notes2m365.emulator.server import listen

    async def fixed(request):  # noqa: ANN001
        await request.body()
        return JSONResponse({"id": "x", "displayName": "Inbox", "totalItemCount": 0})

    app = Starlette(routes=[Route("/v1.0/{rest:path}", fixed, methods=["GET", "POST"])])
    config = uvicorn.Config(app, http="h11", lifespan="off", log_level="error", access_log=False)
    asyncio.run(uvicorn.Server(config).serve(sockets=[listen("127.0.0.1", port)]))


def _serve_emulator(port: int) -> None:
    from notes2m365.emulator import Emulator, EmulatorConfig, ThrottleConfig, serve

    serve(Emulator(EmulatorConfig(port=port, throttle=ThrottleConfig(enabled=False))), log_level="error")


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on {port} did not start")


def _rate(client, n: int, make) -> float:  # noqa: ANN001
    started = time.perf_counter()
    for i in range(n):
        r = make(client, i)
        if r.status_code >= 400:
            raise SystemExit(f"request failed: {r.status_code} {r.text[:200]}")
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    import httpx

    results: dict[str, float] = {}
    for name, target in (("baseline", _serve_baseline), ("emulator", _serve_emulator)):
        port = _free_port()
        proc = multiprocessing.Process(target=target, args=(port,), daemon=True)
        proc.start()
        _wait(port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/v1.0",
                              headers={"Authorization": "Bearer bench"}, timeout=60) as c:
                if name == "baseline":
                    results["baseline"] = _rate(c, args.requests, lambda c, i: c.get(f"{U}/mailFolders/inbox"))
                    continue
                results["get-folder"] = _rate(c, args.requests, lambda c, i: c.get(f"{U}/mailFolders/inbox"))
                results["post-message"] = _rate(c, args.requests, lambda c, i: c.post(
                    f"{U}/mailFolders/inbox/messages", json={"subject": f"m{i}", "singleValueExtendedProperties": [
                        {"id": "Integer 0x0E07", "value": "1"}, {"id": KEY, "value": f"R/{i:08d}"}]}))
                extra = max(0, args.messages - args.requests)
                _rate(c, extra, lambda c, i: c.post(f"{U}/mailFolders/inbox/messages", json={"subject": "x"}))
                n = max(20, args.requests // 20)
                results["find-by-key"] = _rate(c, n, lambda c, i: c.get(f"{U}/mailFolders/inbox/messages", params={
                    "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY}' and ep/value eq 'R/{i:08d}')",
                    "$select": "id"}))
                batch = {"requests": [{"id": str(k), "method": "GET", "url": f"{U}/mailFolders/inbox"}
                                      for k in range(20)]}
                results["batch-20"] = 20 * _rate(c, max(10, args.requests // 20),
                                                 lambda c, i: c.post("/$batch", json=batch))
        finally:
            proc.terminate()
            proc.join()
    base = results["baseline"]
    print(f"{'pass':<14}{'requests/s':>12}{'vs baseline':>14}")
    for name, rate in results.items():
        print(f"{name:<14}{rate:>12,.0f}{rate / base:>14.2f}")
    print(f"(find-by-key scans a folder of {max(args.messages, args.requests):,} messages)")


if __name__ == "__main__":
    main()
