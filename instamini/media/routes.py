"""HTTP handlers of the media module: upload, status, and the bytes themselves.

In a cluster an upload for someone another instance owns is relayed there before this
handler runs (forwarding.py), the status is read on the owner of the media's shard
(`MediaService.get` is forwarded), and a file held by another instance is served
through the in-process edge cache (peer_files.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Request, get, post, route
from litestar.datastructures import State
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import Parameter
from litestar.response.base import ASGIResponse

from ..accounts.auth import Viewer, logged_in
from ..config import Config
from ..errors import InvalidInput, NotFound, RateLimited, TooLarge, UnsupportedMedia
from ..ids import parse_id
from ..posts.schemas import MAX_ALT_TEXT_CHARS
from .forwarding import counts_against_limit, to_owner
from .schemas import MediaOut, media_out
from .serve import media_response
from .sniff import SUPPORTED

UPLOAD_RATE_LIMIT_STORE = "upload_rate_limit"  # swept by the plugin (background.sweep_expired)

MediaId = Annotated[str, Parameter(max_length=20, description="a media id")]
FileName = Annotated[str, Parameter(max_length=80, description="<sha256>.<webp|jpg|mp4>, as a variant's url gives it")]


@dataclass
class UploadOperation(Operation):
    """OpenAPI for the upload: the body is streamed by hand, so Litestar cannot infer it."""

    def __post_init__(self) -> None:
        fields = {
            "file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description=SUPPORTED),
            "alt_text": Schema(type=OpenAPIType.STRING, max_length=MAX_ALT_TEXT_CHARS, description="what the photo or video shows"),
        }
        form = Schema(type=OpenAPIType.OBJECT, properties=fields, required=["file"])
        self.request_body = RequestBody(content={"multipart/form-data": OpenAPIMediaType(schema=form)}, required=True)


def build_handlers(config: Config) -> list:
    upload_limit = RateLimitConfig(
        rate_limit=("minute", config.media.uploads_per_address_per_minute), store=UPLOAD_RATE_LIMIT_STORE,
        check_throttle_handler=counts_against_limit,
    )
    # Litestar refuses a body over this before reading it; receive_upload applies the exact cap per kind.
    body_limit = max(config.media.max_image_mb, config.media.max_video_mb) * 2**20 + 64 * 1024

    @post(
        "/api/v1/media",
        tags=["media"],
        summary="Upload a photo or video (multipart `file`, optional `alt_text`); processing starts at once",
        status_code=202,
        guards=[logged_in],
        middleware=[upload_limit.middleware, to_owner],
        request_max_body_size=body_limit,
        operation_class=UploadOperation,
        raises=[InvalidInput, TooLarge, UnsupportedMedia, RateLimited],  # the form is parsed by hand: 400s are ours
    )
    async def upload(request: Request[Viewer, str, State], state: State) -> MediaOut:
        return media_out(await state.media.upload(request.user.id, request))

    @get("/api/v1/media/{media_id:str}", tags=["media"], summary="Processing status and variants of your upload", guards=[logged_in],
         raises=[NotFound])
    async def status(media_id: MediaId, request: Request[Viewer, str, State], state: State) -> MediaOut:
        parsed = parse_id(media_id)
        if parsed is None:
            raise NotFound("no such media")
        return media_out(await state.media.get(request.user.id, parsed))

    @route("/media/{name:str}", http_method=["GET", "HEAD"], tags=["media"], summary="A processed file: immutable, with ETag and Range",
            raises=[NotFound], responses=FILE_ANSWERS)
    async def file(name: FileName, request: Request, state: State) -> ASGIResponse:
        try:
            return await media_response(state.blobs, name, request.headers, head_only=request.method == "HEAD")
        except NotFound:
            peers = state.get("peer_files")
            if peers is None or peers.asked_by_peer(request):
                raise
        return await peers.serve(name, request)  # held by another instance, or by none

    return [upload, status, file]


# What a file's GET answers besides its 200 (media/serve.py): bodies are the file's bytes, or none.
FILE_ANSWERS = {
    206: ResponseSpec(None, description="Partial Content: the bytes of the one range that `Range` asked for"),
    304: ResponseSpec(None, description="Not Modified: `If-None-Match` names the file's ETag"),
    416: ResponseSpec(None, description="Range Not Satisfiable: the range starts past the file's end"),
}
