"""JSON batching: ``POST /$batch`` with up to 20 requests, run through the same pipeline as direct calls.

Rules (graph-semantics §7 and §11.13; DC:concepts/json-batching.md):

- at most 20 requests, unique ids, ``Content-Type`` header required when a body is sent;
- ``dependsOn`` (camelCase; the SDK's ``depends_on`` is an unknown key and ignored, so its
  bug shows) sequences requests; a dependency must come earlier; a dependent of a failed
  request gets 424; "Batch should be either fully sequential or fully parallel"
  (GH microsoft-graph-docs-contrib#2339), otherwise 400;
- the outer answer is 200 whatever the items did; each item has its own status, headers
  and JSON body, and responses may come in any order (we shuffle them under the seed);
- each item is throttled on its own; Outlook runs "up to four individual requests from
  the batch at a time" for unordered batches and one at a time with ``dependsOn``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from typing import Any

from ..errors import EmulatorHttpError
from .router import GraphRequest, GraphResponse, Router

MAX_REQUESTS = 20
PARALLELISM = 4


def _bad(message: str) -> EmulatorHttpError:
    return EmulatorHttpError(400, "BadRequest", message)


def parse_items(req: GraphRequest) -> list[dict[str, Any]]:
    """The validated ``requests`` array (400 for everything json-batching.md forbids)."""
    payload = req.json()
    items = payload.get("requests")
    if not isinstance(items, list) or not items:
        raise _bad("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(items) > MAX_REQUESTS:
        raise _bad(f"The number of requests in a batch ({len(items)}) exceeds the limit of {MAX_REQUESTS}.")
    seen: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad("Each batch request must be an object.")
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise _bad("Each batch request needs a string id.")
        if item_id in seen:
            raise _bad(f"Batch request ids must be unique; '{item_id}' is repeated.")
        if not isinstance(item.get("method"), str) or not isinstance(item.get("url"), str):
            raise _bad(f"Request id : {item_id} needs a method and a url.")
        if item["url"].lower().startswith(("http://", "https://")):
            raise _bad(f"Request id : {item_id}: the url must be relative to the version, like '/users'.")
        if item["url"].lstrip("/").lower().startswith("$batch"):
            raise _bad("Nested batch requests are not supported.")
        if item["url"].lstrip("/").lower().startswith("_upload/"):
            raise _bad(f"Request id : {item_id}: upload URLs cannot be used in a batch.")
        headers = item.get("headers") or {}
        if not isinstance(headers, dict):
            raise _bad(f"Request id : {item_id}: headers must be an object.")
        if "body" in item and not any(k.lower() == "content-type" for k in headers):
            raise _bad(f"Write request id : {item_id} does not contain Content-Type header or body.")
        depends = item.get("dependsOn")
        if depends is not None:
            if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
                raise _bad(f"Request id : {item_id}: dependsOn must be an array of ids.")
            for dep in depends:
                if dep not in seen:  # a dependency must appear earlier (msgraph-sdk-dotnet-core#891)
                    raise _bad(f"Invalid dependency for request Id : {item_id}")
        seen.append(item_id)
    with_deps = [i for i in items[1:] if i.get("dependsOn")]
    if with_deps and len(with_deps) != len(items) - 1:
        raise _bad("Batch should be either fully sequential or fully parallel")
    return items


def _item_request(req: GraphRequest, item: dict[str, Any]) -> GraphRequest:
    headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    body = item.get("body")
    raw = b""
    if body is not None:
        if "json" in headers.get("content-type", "") or not isinstance(body, str):
            raw = json.dumps(body).encode()
        else:
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError:
                raw = body.encode()
    url = item["url"] if item["url"].startswith("/") else "/" + item["url"]
    return GraphRequest.from_target(item["method"], url, headers, raw, base_url=req.base_url, app_id=req.app_id)


def _item_answer(item_id: str, response: GraphResponse) -> dict[str, Any]:
    body: Any = response.body
    headers = dict(response.headers)
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode()
    elif isinstance(body, dict):
        headers.setdefault("Content-Type", "application/json")
    answer: dict[str, Any] = {"id": item_id, "status": response.status, "headers": headers}
    if body is not None:
        answer["body"] = body
    return answer


async def post_batch(emu, req: GraphRequest) -> GraphResponse:
    items = parse_items(req)
    answers: dict[str, dict[str, Any]] = {}
    sequential = any(i.get("dependsOn") for i in items)

    async def run(item: dict[str, Any]) -> None:
        outcome = await emu.handle(_item_request(req, item), batch_id=req.request_id, allow_drop=False)
        answers[item["id"]] = _item_answer(item["id"], outcome.response)

    if sequential:
        for item in items:
            failed = [d for d in item.get("dependsOn") or [] if answers[d]["status"] >= 400]
            if failed:
                answers[item["id"]] = {"id": item["id"], "status": 424, "headers": {"Content-Type": "application/json"},
                                       "body": {"error": {"code": "FailedDependency",
                                                          "message": "The request depends on a request that failed: "
                                                                     + ", ".join(failed)}}}
                continue
            await run(item)
    else:
        for start in range(0, len(items), PARALLELISM):
            await asyncio.gather(*(run(item) for item in items[start:start + PARALLELISM]))
    ordered = [answers[i["id"]] for i in items]
    random.Random(f"{emu.config.faults.seed}:{req.body!r}").shuffle(ordered)
    return GraphResponse(200, {"responses": ordered})


def register(router: Router) -> None:
    router.add("POST", "/$batch", post_batch)
