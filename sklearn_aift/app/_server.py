"""The HTTP side of `sklearn-aift label`: a Starlette app over a :class:`LabelingCampaign`.

Every route (page, static files, API, OpenAPI) goes through one token check
when a token is set; images are served by candidate id only; request bodies
are bounded before they are read.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
import numpy as np
from PIL import Image

from ..io import UnreadableImageError, read_image
from ._campaign import LabelingCampaign
from ._serving import is_loopback

__all__ = ["create_app"]

_logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
TOKEN_COOKIE = "aift_token"
MAX_BODY_BYTES = 4096
# requests worked on at once, counted after the token check (connections are not
# limited: see _connections.py)
MAX_REQUESTS_IN_FLIGHT = 64


# formats every browser displays as they are; others are converted to PNG
_WEB_FORMATS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".gif": "image/gif", ".webp": "image/webp"}


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if "token" in request.query_params:
        return request.query_params["token"]
    return request.cookies.get(TOKEN_COOKIE)


def _eight_bit(path: Path) -> bool:
    """Whether a browser shows the file as the model sees it (8 bits per channel)."""
    try:
        with Image.open(path) as im:
            return im.mode in ("1", "L", "LA", "P", "RGB", "RGBA")
    except (OSError, ValueError, SyntaxError):
        return False


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def _read_json(request: Request) -> Any:
    """The JSON body, read at most ``MAX_BODY_BYTES`` (413 beyond, 400 when not JSON).

    Requiring ``Content-Type: application/json`` makes browsers send a CORS
    preflight, which this server never answers: another site open in the
    expert's browser cannot post labels (a form's ``text/plain`` is refused).
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise HTTPException(415, f"Content-Type must be application/json; got {media!r}.")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise HTTPException(413, f"request body must be at most {MAX_BODY_BYTES} bytes; "
                                 f"Content-Length is {length!r}.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, f"request body must be at most {MAX_BODY_BYTES} bytes.")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(400, f"request body must be JSON: {exc}.") from exc
    except RecursionError:
        raise HTTPException(400, "request body is JSON nested too deeply.") from None


def create_app(campaign: LabelingCampaign, token: str | None = None) -> FastAPI:
    """Build the labeling web application for a campaign.

    Routes: ``/`` (the page), ``/static/*``, ``GET /api/status``,
    ``GET /api/batch``, ``POST /api/labels`` (``{"id", "label"}``, or
    ``{"id", "skip": true}``), ``DELETE /api/labels/{id}`` (undo),
    ``GET /api/labels.csv``, ``GET /api/rounds.csv``, ``GET /api/history/{id}``,
    ``GET /api/recent``,
    ``GET /api/images/{id}`` (8-bit, as the network sees it),
    ``GET /api/pixels/{id}`` (the stored values at full depth, for windowing),
    and the OpenAPI description at ``/api/openapi.json``.

    Parameters
    ----------
    campaign : LabelingCampaign
        The campaign the app serves.
    token : str or None, default=None
        When set, every request (page, static files, API, docs) must present
        it as ``Authorization: Bearer <token>``, a ``?token=`` query parameter
        (the page then sets a cookie) or that cookie; others get 401.

    Returns
    -------
    app : fastapi.FastAPI
        An ASGI application (serve it with uvicorn).

    Raises
    ------
    ValueError
        If ``token`` is an empty string.

    Examples
    --------
    With ``campaign`` built as in :class:`LabelingCampaign`'s example,
    ``uvicorn.run(create_app(campaign, token=generate_token()))`` serves it
    until interrupted (``sklearn-aift label`` does this). The token is checked
    first:

    >>> from sklearn_aift.app import create_app
    >>> create_app(None, token="short")
    Traceback (most recent call last):
    ...
    ValueError: token must be a string of at least 8 characters; got 'short'.
    """
    if token is not None and (not isinstance(token, str) or len(token) < 8):
        raise ValueError(f"token must be a string of at least 8 characters; got {token!r}.")
    app = FastAPI(
        title="sklearn-aift label",
        description="Label images ranked by AIFT; every label is committed before the reply.",
        # Swagger's page loads its scripts from a CDN (blank offline): the
        # description itself is served, for any OpenAPI viewer or client generator
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )

    in_flight = [0]  # requests past the token check, being worked on

    @app.middleware("http")
    async def check_token(request: Request, call_next):  # noqa: ANN001, ANN202
        if token is None:
            # without a token the server is for this machine only: refuse other Host
            # names, so a web page cannot reach it by rebinding its DNS name to 127.0.0.1
            host = request.headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
            if not is_loopback(name):
                return _error(403, f"Host {host!r} is refused: without a token this server "
                                   f"answers only localhost and loopback addresses.")
        else:
            presented = _presented_token(request)
            if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
                return _error(401, "missing or wrong token: open the URL printed by "
                                   "`sklearn-aift label` (it carries ?token=...).")
        if in_flight[0] >= MAX_REQUESTS_IN_FLIGHT:
            return _error(503, "the server is busy; try again in a moment.")
        in_flight[0] += 1
        try:
            response = await call_next(request)
        finally:
            in_flight[0] -= 1
        if token is not None and request.query_params.get("token") == token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/status", summary="Where the campaign stands")
    def status() -> dict:
        return campaign.status()

    @app.get("/api/batch", summary="The current batch, most worth labeling first")
    def batch() -> dict:
        items = campaign.batch()
        for item in items:
            item["image_url"] = f"/api/images/{item['id']}"
        # the round of these very candidates: the campaign may move to the next round
        # between the two reads (its batch is then ranked), and the page must not file
        # the old candidates under the new round
        round_ = items[0]["round"] if items else campaign.status()["round"]
        return {"round": round_, "candidates": items}

    @app.post("/api/labels", summary="Label (or skip) a candidate; committed before the reply")
    async def post_label(request: Request) -> dict:
        body = await _read_json(request)
        if not isinstance(body, dict) or "id" not in body:
            raise HTTPException(422, f'body must be a JSON object {{"id": ..., "label": ...}}; '
                                     f"got {body!r}.")
        extra = set(body) - {"id", "label", "skip", "annotator"}
        if extra:
            raise HTTPException(422, f"unknown field(s) {sorted(extra)}; expected id, label, "
                                     f"skip, annotator.")
        annotator = body.get("annotator", "expert")
        try:
            if "skip" in body and "label" in body:
                raise HTTPException(422, 'body has both "label" and "skip": send one of them.')
            if "skip" in body:
                if body["skip"] is not True:
                    raise HTTPException(422, f'"skip" must be true; got {body["skip"]!r}.')
                return campaign.skip(body["id"], annotator=annotator)
            if "label" not in body:
                raise HTTPException(422, 'body needs "label" (or "skip": true).')
            return campaign.label(body["id"], body["label"], annotator=annotator)
        except KeyError as exc:
            raise HTTPException(404, exc.args[0]) from exc
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.delete("/api/labels/{candidate_id}", summary="Undo a candidate's label or skip")
    def undo(candidate_id: str) -> dict:
        try:
            return campaign.undo(candidate_id)
        except KeyError as exc:
            raise HTTPException(404, exc.args[0]) from exc

    @app.get("/api/recent", summary="The latest decisions, newest first")
    def recent(limit: int = 30) -> list:
        if not 1 <= limit <= 1000:
            raise HTTPException(422, f"limit must be in 1-1000; got {limit}.")
        return campaign.recent(limit)

    @app.get("/api/labels.csv",
             summary="Export the labels: file,label,round,time,check_set")
    def labels_csv() -> PlainTextResponse:
        return PlainTextResponse(
            campaign.labels_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="labels.csv"'},
        )

    @app.get("/api/rounds.csv",
             summary="Export the rounds, with the check set's AUC, sensitivity, specificity")
    def rounds_csv() -> PlainTextResponse:
        return PlainTextResponse(
            campaign.rounds_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="rounds.csv"'},
        )

    @app.get("/api/history/{candidate_id}", summary="Every label given to a candidate")
    def history(candidate_id: str) -> list:
        try:
            return campaign.history(candidate_id)
        except KeyError as exc:
            raise HTTPException(404, exc.args[0]) from exc

    @app.get("/api/images/{candidate_id}", summary="A candidate's image, by id only")
    def image(candidate_id: str) -> Response:
        try:
            path = campaign.image_path(candidate_id)
        except KeyError as exc:
            raise HTTPException(404, exc.args[0]) from exc
        media = _WEB_FORMATS.get(path.suffix.lower())
        if media is not None and _eight_bit(path):
            return FileResponse(path, media_type=media)
        # DICOM, TIFF and high bit depth: the 8-bit pixels the model sees
        try:
            pixels = read_image(path, mode="RGB").pixels
        except UnreadableImageError as exc:
            raise HTTPException(404, str(exc)) from exc
        out = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(out, format="PNG")
        return Response(out.getvalue(), media_type="image/png")

    @app.get("/api/pixels/{candidate_id}",
             summary="A candidate's stored values at full depth, for windowing")
    def pixels(candidate_id: str) -> Response:
        try:
            image = read_image(campaign.image_path(candidate_id))
        except KeyError as exc:
            raise HTTPException(404, exc.args[0]) from exc
        except UnreadableImageError as exc:
            raise HTTPException(404, str(exc)) from exc
        return _pixels_response(image)

    return app


def _pixels_response(image: Any) -> Response:
    """The raw values, row-major, little-endian, with their shape and window in headers.

    8-bit images are sent as bytes, deeper ones as float32 (exact for 16-bit
    integers); ``X-Window`` is the window the network's input uses.
    """
    raw = image.raw if image.raw.ndim == 3 else image.raw[:, :, None]
    eight_bit = raw.dtype == np.uint8
    data = raw if eight_bit else np.asarray(raw, dtype="<f4")
    finite = raw[np.isfinite(raw)] if not eight_bit else raw
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    center, width = image.window
    headers = {
        "X-Shape": ",".join(str(n) for n in raw.shape),
        "X-Dtype": "uint8" if eight_bit else "float32",
        "X-Window": f"{center!r},{width!r}",
        "X-Range": f"{low!r},{high!r}",
        "X-Inverted": "1" if image.inverted else "0",
        "Cache-Control": "no-store",
    }
    return Response(np.ascontiguousarray(data).tobytes(), media_type="application/octet-stream",
                    headers=headers)
