"""The handlers of ``/api/accounts/``: thin, as the styleguide wants them. Reads go through :mod:`.selectors`
(the caller's own address book only), writes through :mod:`.services`; what runs before a handler (negotiation,
authentication, permission, method) is :class:`~.resources.Resource`'s, which also looks up the caller's users
row (:func:`~.resources.caller_row`).

The monolith's ``MeApi`` (who is calling, and their names), its ``AddressViewSet`` (a ModelViewSet without
pagination: the caller's addresses in id order; another's address is not found) and its internal address look-up
for the orders service's checkout (:mod:`legacy_monolith.accounts.internal`).
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from . import services, validation
from .exceptions import NotAuthenticated, NotFound
from .identity import Caller
from .parsers import read_body
from .rendering import address_dict, internal_address_dict, json_response, user_dict
from .resources import State, caller_row

ADDRESS_404: Final = services.ADDRESS_404
INTERNAL_404: Final = "No such address in your address book."


def _user_id(caller: Caller | None) -> int:
    if caller is None:  # the views' permission (IsAuthenticated) has refused anonymous callers
        raise NotAuthenticated()
    return caller.user_id


# --- /api/accounts/me/ ------------------------------------------------------------------------------------------


async def me(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(user_dict(caller_row(request)))


async def me_update(request: Request, caller: Caller | None, state: State) -> Response:
    """``PATCH``: the names sent (partial; the read-only fields are ignored), the caller as they are now."""
    fields = validation.profile((await read_body(request))())
    user_id = _user_id(caller)
    await state.write(services.user_update, state.engine, user_id, fields)
    row = await state.read(state.reader.user, user_id)
    if row is None:  # deleted in between
        raise NotAuthenticated()
    return json_response(user_dict(row))


# --- /api/accounts/addresses/ -----------------------------------------------------------------------------------


async def address_list(request: Request, caller: Caller | None, state: State) -> Response:
    rows = await state.read(state.reader.address_list, _user_id(caller))
    return json_response([address_dict(row) for row in rows])


async def address_create(request: Request, caller: Caller | None, state: State) -> Response:
    fields = validation.address((await read_body(request))(), partial=False)
    row = await state.write(services.address_save, state.engine, _user_id(caller), None, fields)
    return json_response(address_dict(row), status=201)


async def address_object(request: Request, caller: Caller | None, state: State) -> Any:
    """DRF's ``get_object()``: one of the caller's addresses; anything else a 404."""
    row = await state.read(state.reader.address, _user_id(caller), request.path_params["id"])
    if row is None:
        raise NotFound(ADDRESS_404)
    return row


async def address_detail(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(address_dict(await address_object(request, caller, state)))


async def _update(request: Request, caller: Caller | None, state: State, *, partial: bool) -> Response:
    """The address looked up first (404), then the body (400), then the write."""
    load = await read_body(request)
    row = await address_object(request, caller, state)
    fields = validation.address(load(), partial=partial)
    saved = await state.write(services.address_save, state.engine, _user_id(caller), row[0], fields)
    return json_response(address_dict(saved))


async def address_put(request: Request, caller: Caller | None, state: State) -> Response:
    return await _update(request, caller, state, partial=False)


async def address_patch(request: Request, caller: Caller | None, state: State) -> Response:
    return await _update(request, caller, state, partial=True)


async def address_delete(request: Request, caller: Caller | None, state: State) -> Response:
    row = await address_object(request, caller, state)
    await state.write(services.address_delete, state.engine, _user_id(caller), row[0])
    return Response(status_code=204)


# --- internal: the orders service's checkout ----------------------------------------------------------------------


async def internal_address(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/accounts/internal/addresses/`` ``{"user", "address"}``: the fields an order copies, or 404 when
    that user has no such address."""
    user_id, address_id = validation.address_lookup((await read_body(request))())
    row = await state.read(state.reader.address, user_id, address_id)
    if row is None:
        raise NotFound(INTERNAL_404)
    return json_response(internal_address_dict(row))
