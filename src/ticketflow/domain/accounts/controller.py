"""HTTP endpoints of accounts: /register, /login, /me, /users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, ValidationException
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.users import EMAIL_MAX, Language, Role
from ticketflow.db.models.users import User as UserModel
from ticketflow.domain.accounts.auth import UserTokens, admin_only, any_role
from ticketflow.domain.accounts.schemas import (
    PASSWORD_MAX,
    AccessToken,
    LoginRequest,
    User,
    UserCreate,
    UserPage,
    UserUpdate,
)
from ticketflow.domain.accounts.service import AccountService
from ticketflow.lib.access import PUBLIC_ROUTE, TOKEN_OPTIONAL_ROUTE
from ticketflow.lib.api_docs import OPTIONAL_BEARER, PUBLIC, id_parameter
from ticketflow.lib.error_handlers import (
    BAD_INPUT,
    JSON_BODY_ERRORS,
    NO_TOKEN,
    NOT_JSON,
    TOO_LARGE,
    error_responses,
)
from ticketflow.lib.i18n import request_locale
from ticketflow.lib.json_bodies import (
    INVALID_BODY_IS_422,
    is_json,
    media_type,
    require_json_body,
    unsupported_media_type,
)
from ticketflow.lib.pagination import page_of, provide_limit_offset
from ticketflow.lib.ratelimit import LIMITS_UNAVAILABLE, client_address
from ticketflow.lib.state import AppContext

LOGIN_BODY_LIMIT = 16_384
"""Room for the longest e-mail and password the document allows, every character escaped."""
FORM_MEDIA_TYPES = (RequestEncodingType.URL_ENCODED.value, RequestEncodingType.MULTI_PART.value)
NOT_ADMIN = (403, "your role does not allow this")
EMAIL_TAKEN = (409, "a user with this e-mail already exists")


def to_user(user: UserModel) -> User:
    return User(
        id=user.id,
        name=user.name,
        email=user.email,
        role=Role(user.role),
        locale=Language(user.locale),
        created_at=user.created_at,
    )


def provide_account_service(
    db_session: NamedDependency[AsyncSession], context: NamedDependency[AppContext]
) -> AccountService:
    return AccountService(db_session, context.passwords)


@dataclass
class LoginOperation(Operation):
    """Documents the JSON body of /login.

    The handler also takes the OAuth2 password form (`username`, `password`) that Swagger's
    Authorize dialog posts to the `SwaggerLogin` scheme's token URL; the document names JSON only,
    so that a generated client has one way to log in.
    """

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["email", "password"],
                        properties={
                            "email": Schema(
                                type=OpenAPIType.STRING, max_length=EMAIL_MAX, examples=["ada@example.com"]
                            ),
                            "password": Schema(
                                type=OpenAPIType.STRING,
                                max_length=PASSWORD_MAX,
                                examples=["correct horse battery"],
                            ),
                        },
                        additional_properties=False,
                    )
                ),
            },
        )


async def read_login_request(request: Request[Any, Any, Any]) -> LoginRequest:
    """Parse JSON `{email, password}` or the form `username`, `password`."""
    content_type = media_type(request)
    if content_type not in FORM_MEDIA_TYPES and not is_json(content_type):
        raise unsupported_media_type("application/json or application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > LOGIN_BODY_LIMIT:
        raise ClientException("request body too large", status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    try:
        if content_type in FORM_MEDIA_TYPES:
            form = await request.form()
            email, password = form.get("username"), form.get("password")
            if not isinstance(email, str) or not isinstance(password, str):
                raise ValidationException("form needs username and password")
            return msgspec.convert({"email": email, "password": password}, LoginRequest)
        return msgspec.json.decode(body, type=LoginRequest)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        raise ValidationException(f"invalid login body: {exc}") from exc


class AccountController(Controller):
    tags = ["Accounts"]
    dependencies = {
        "accounts": Provide(provide_account_service, sync_to_thread=False),
        "limit_offset": Provide(provide_limit_offset, sync_to_thread=False),
    }

    @post(
        "/register",
        opt=TOKEN_OPTIONAL_ROUTE,
        before_request=require_json_body,
        operation_id="register",
        summary="Sign up",
        description=(
            "Creates an attendee account. `role: admin` or `role: staff` needs an admin's bearer"
            " token (403 otherwise). Without `locale`, the account takes the language of the"
            " request's `Accept-Language` (English when it names no supported language)."
        ),
        responses=error_responses(
            *JSON_BODY_ERRORS,
            (401, "an invalid or expired bearer token was sent"),
            (403, "only an admin may create admin or staff accounts"),
            EMAIL_TAKEN,
            (422, "an e-mail address no e-mail can reach (`extra.field`: email)"),
            (429, "too many sign-ups from this address; see the Retry-After header"),
            LIMITS_UNAVAILABLE,
        ),
        security=OPTIONAL_BEARER,
    )
    async def register(
        self,
        request: Request[UserModel | None, Any, Any],
        data: JSONBody[UserCreate],
        accounts: NamedDependency[AccountService],
        context: NamedDependency[AppContext],
    ) -> User:
        user = await accounts.register(
            name=data.name,
            email=data.email,
            password=data.password,
            role=data.role,
            actor=request.user,
            locale=request_locale(request) if data.locale is msgspec.UNSET else data.locale,
            client_limiter=context.register_limiter,
            client=client_address(request),
        )
        return to_user(user)

    @post(
        "/login",
        opt=PUBLIC_ROUTE,
        status_code=200,
        operation_id="login",
        summary="Log in",
        description=(
            "Returns a bearer token for `Authorization: Bearer <access_token>`. Also takes the OAuth2"
            " password form (`username` = e-mail, `password`), as Swagger's Authorize dialog sends it."
        ),
        operation_class=LoginOperation,
        security=PUBLIC,
        responses=error_responses(
            (400, "malformed body, or a field longer than documented"),
            (401, "wrong e-mail or password (the same answer for both)"),
            (413, "the body is larger than 16 KiB"),
            (415, "neither JSON nor the OAuth2 password form"),
            (429, "too many attempts; see the Retry-After header"),
            LIMITS_UNAVAILABLE,
        ),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[AccountService],
        context: NamedDependency[AppContext],
        user_tokens: NamedDependency[UserTokens],
    ) -> AccessToken:
        credentials = await read_login_request(request)
        client = client_address(request)
        user = await accounts.authenticate(
            credentials.email,
            credentials.password,
            client_limiter=context.login_client_limiter,
            client=client,
            account_limiter=context.login_account_limiter,
        )
        token = user_tokens.issue(user.id)
        return AccessToken(
            access_token=token, expires_in=context.settings.jwt_ttl_seconds, token_type="bearer"
        )

    @get(
        "/me",
        guards=[any_role],
        operation_id="getMe",
        summary="The current user",
        description="The role is read from the database on every request.",
        responses=error_responses(NO_TOKEN),
    )
    async def me(self, request: Request[UserModel, Any, Any]) -> User:
        return to_user(request.user)

    @patch(
        "/me",
        guards=[any_role],
        before_request=require_json_body,
        operation_id="updateMe",
        summary="Change my name or language",
        description="Only the fields sent change. `locale` is the language of my e-mails and pages.",
        responses=error_responses(*JSON_BODY_ERRORS, NO_TOKEN),
    )
    async def update_me(
        self,
        request: Request[UserModel, Any, Any],
        data: JSONBody[UserUpdate],
        accounts: NamedDependency[AccountService],
    ) -> User:
        user = await accounts.update_profile(
            request.user.id,
            name=None if data.name is msgspec.UNSET else data.name,
            locale=None if data.locale is msgspec.UNSET else data.locale,
        )
        return to_user(user)

    @post(
        "/users",
        guards=[admin_only],
        before_request=require_json_body,
        opt=INVALID_BODY_IS_422,
        operation_id="createUser",
        summary="Create a user (admin)",
        description=(
            "Creates an account of any role, e.g. door staff. A body that is JSON but not a valid"
            " user (a field missing or of the wrong type, an invalid e-mail, a password shorter"
            " than 8) is 422; malformed JSON is 400."
        ),
        responses=error_responses(
            (400, "malformed JSON"),
            TOO_LARGE,
            NOT_JSON,
            NO_TOKEN,
            NOT_ADMIN,
            EMAIL_TAKEN,
            (
                422,
                "not a valid user: a field missing, mistyped or invalid (each problem listed in"
                " `extra`), or an e-mail address no e-mail can reach",
            ),
        ),
    )
    async def create_user(
        self, data: JSONBody[UserCreate], accounts: NamedDependency[AccountService]
    ) -> User:
        user = await accounts.create_user(
            name=data.name,
            email=data.email,
            password=data.password,
            role=data.role,
            locale=Language.EN if data.locale is msgspec.UNSET else data.locale,
        )
        return to_user(user)

    @get(
        "/users",
        guards=[admin_only],
        operation_id="listUsers",
        summary="List users (admin)",
        description="Oldest first; `role` keeps one role only.",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN),
    )
    async def list_users(
        self,
        accounts: NamedDependency[AccountService],
        limit_offset: NamedDependency[LimitOffset],
        role: Annotated[Role | None, Parameter(description="only users of this role")] = None,
    ) -> UserPage:
        return page_of(await accounts.list_users(role=role, limit_offset=limit_offset), to_user)

    @get(
        "/users/{user_id:int}",
        guards=[admin_only],
        operation_id="getUser",
        summary="A user (admin)",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN, (404, "user not found")),
    )
    async def get_user(
        self,
        accounts: NamedDependency[AccountService],
        user_id: Annotated[int, id_parameter("user id")],
    ) -> User:
        return to_user(await accounts.get_user(user_id))
