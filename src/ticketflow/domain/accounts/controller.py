"""HTTP endpoints of accounts: /register, /login, /me, /users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.users import Role
from ticketflow.db.models.users import User as UserModel
from ticketflow.domain.accounts.auth import EXCLUDE_FROM_AUTH, admin_only, any_role, optional_user
from ticketflow.domain.accounts.schemas import AccessToken, LoginRequest, User, UserCreate
from ticketflow.domain.accounts.service import AccountService
from ticketflow.lib.state import AppContext

LOGIN_BODY_LIMIT = 4096


def to_user(user: UserModel) -> User:
    return User(
        id=user.id, name=user.name, email=user.email, role=Role(user.role), created_at=user.created_at
    )


def provide_account_service(db_session: AsyncSession, context: AppContext) -> AccountService:
    return AccountService(db_session, context.passwords)


@dataclass
class LoginOperation(Operation):
    """Documents that /login takes JSON or Swagger's OAuth2 password form."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["email", "password"],
                        properties={
                            "email": Schema(type=OpenAPIType.STRING),
                            "password": Schema(type=OpenAPIType.STRING),
                        },
                    )
                ),
                RequestEncodingType.URL_ENCODED.value: OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["username", "password"],
                        properties={
                            "username": Schema(type=OpenAPIType.STRING, description="the e-mail address"),
                            "password": Schema(type=OpenAPIType.STRING),
                        },
                    )
                ),
            },
        )
        if self.responses is not None:
            self.responses.setdefault("401", OpenAPIResponse(description="wrong e-mail or password"))
            self.responses.setdefault("429", OpenAPIResponse(description="too many attempts"))


async def read_login_request(request: Request[Any, Any, Any]) -> LoginRequest:
    """Parse JSON `{email, password}` or the form `username`, `password`."""
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    body = await request.body()
    if len(body) > LOGIN_BODY_LIMIT:
        raise ValidationException("request body too large")
    if content_type in (
        RequestEncodingType.URL_ENCODED.value,
        RequestEncodingType.MULTI_PART.value,
    ):
        form = await request.form()
        email, password = form.get("username"), form.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            raise ValidationException("form needs username and password")
        return msgspec.convert({"email": email, "password": password}, LoginRequest)
    try:
        return msgspec.json.decode(body, type=LoginRequest)
    except msgspec.DecodeError as exc:
        raise ValidationException(f"invalid login body: {exc}") from exc


class AccountController(Controller):
    tags = ["Accounts"]
    dependencies = {
        "accounts": Provide(provide_account_service, sync_to_thread=False),
    }

    @post(
        "/register",
        opt=EXCLUDE_FROM_AUTH,
        summary="Sign up",
        description=(
            "Creates an attendee account. `role: admin` or `role: staff` needs an admin's bearer"
            " token (403 otherwise)."
        ),
        raises=[ValidationException],
        security=[{}],
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: UserCreate,
        accounts: AccountService,
        context: AppContext,
    ) -> User:
        actor = await optional_user(request, context.settings)
        user = await accounts.register(
            name=data.name, email=data.email, password=data.password, role=data.role, actor=actor
        )
        return to_user(user)

    @post(
        "/login",
        opt=EXCLUDE_FROM_AUTH,
        status_code=200,
        summary="Log in",
        description="Returns a bearer token. Accepts JSON or the OAuth2 password form.",
        operation_class=LoginOperation,
        security=[{}],
    )
    async def login(
        self, request: Request[Any, Any, Any], accounts: AccountService, context: AppContext
    ) -> AccessToken:
        credentials = await read_login_request(request)
        client = request.client.host if request.client else "unknown"
        user = await accounts.authenticate(
            credentials.email,
            credentials.password,
            client_limiter=context.login_client_limiter,
            client=client,
            account_limiter=context.login_account_limiter,
        )
        jwt_auth = request.app.state["jwt_auth"]
        token = jwt_auth.create_token(identifier=str(user.id))
        return AccessToken(access_token=token, expires_in=context.settings.jwt_ttl_seconds)

    @get("/me", guards=[any_role], summary="The current user")
    async def me(self, request: Request[UserModel, Any, Any]) -> User:
        return to_user(request.user)

    @post("/users", guards=[admin_only], summary="Create a user (admin)", description="Any role.")
    async def create_user(self, data: UserCreate, accounts: AccountService) -> User:
        user = await accounts.create_user(
            name=data.name, email=data.email, password=data.password, role=data.role
        )
        return to_user(user)

    @get("/users/{user_id:int}", guards=[admin_only], summary="A user (admin)")
    async def get_user(
        self, accounts: AccountService, user_id: Annotated[int, Parameter(ge=1, le=2**62)]
    ) -> User:
        return to_user(await accounts.get_user(user_id))
