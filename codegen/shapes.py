"""The spec format's YAML shapes (see ``specs/README.md``): what each file may hold, checked
with file and line by :mod:`codegen.schema`."""

from __future__ import annotations

# The runtime's own vocabulary: a spec may name exactly what the runtime implements.
from cambist._runtime.errormap import ERROR_KINDS
from cambist._runtime.signing import SIGNERS
from cambist._runtime.streamdef import HEARTBEATS
from cambist._runtime.wire import PROTOCOLS
from codegen.schema import (
    BOOL,
    INT,
    STR,
    Obj,
    any_of,
    listof,
    mapof,
    scalar,
)

METHODS = ("GET", "POST", "PUT", "DELETE")
PRIMITIVES = ("string", "int", "long", "decimal", "bool", "json")
NUMBER = scalar(int, float, str)
NOTE = {"note": STR}
SECONDS = scalar(int, float)
AFTER_RATE_LIMIT = Obj(optional={"resend": BOOL, "wait": SECONDS, **NOTE})

EXCHANGE_SHAPE = Obj(
    required={
        "exchange": Obj(
            required={
                "id": STR,
                "name": STR,
                "client": STR,
                "environments": mapof(
                    Obj(
                        required={"rest": STR},
                        # ws: the WebSocket base; exchanges with several hosts add ws_<name>.
                        optional={"ws": STR, "ws_market": STR, "ws_public": STR, "ws_user": STR},
                        # rest_<name>: a host of its own for endpoints that say `base: rest_<name>`
                        extra=(r"rest_[a-z0-9_]+", STR),
                    )
                ),
                "auth": Obj(
                    required={
                        "scheme": scalar(str, choices=tuple(SIGNERS)),
                        "api_key_header": STR,
                    },
                    optional={
                        "signature_param": STR,
                        "signature_header": STR,
                        "expire_header": STR,
                        "timestamp_param": STR,
                        "recv_window_param": STR,
                        "recv_window_max": INT,
                        "json_body_signed": BOOL,
                        **NOTE,
                    },
                ),
                "security": mapof(
                    Obj(optional={"api_key": BOOL, "signed": BOOL, "headers": mapof(STR), **NOTE})
                ),
                "response": Obj(
                    required={"error": Obj(required={"code": STR, "message": STR})},
                    optional={
                        "numbers": scalar(str, choices=("strings", "numbers")),
                        "envelope": Obj(
                            required={"code": STR, "data": STR},
                            optional={"message": STR, "required": BOOL},
                            nullable=True,
                        ),
                        "success_codes": listof(scalar(str, int)),
                        "status_messages": mapof(mapof(scalar(str, choices=ERROR_KINDS))),
                        # an HTTP status -> the kind it means when no known code says otherwise
                        "status_kinds": mapof(scalar(str, choices=ERROR_KINDS)),
                        **NOTE,
                    },
                ),
            },
            optional={
                "document": STR,
                "patterns": mapof(STR),
                "client_order_ids": scalar(str, choices=("hex", "digits")),
                "credentials_env": Obj(required={"api_key": STR, "api_secret": STR}),
                "server_time": Obj(required={"path": STR, "field": STR}),
                # Headers and params carrying credentials: masked in every log line.
                "secrets": Obj(optional={"headers": listof(STR), "params": listof(STR), **NOTE}),
                # what the document prescribes after a 429 / a rate_limited code, per endpoint
                # kind (safe or unsafe to resend), and how long a ban without Retry-After lasts
                "rate_limits": Obj(
                    optional={
                        "safe": AFTER_RATE_LIMIT,
                        "unsafe": AFTER_RATE_LIMIT,
                        "ban_seconds": SECONDS,
                        **NOTE,
                    }
                ),
                "coverage": Obj(
                    optional={
                        "endpoint_list": STR,
                        "patterns": listof(STR),
                        "ignore": listof(
                            any_of(
                                Obj(required={"path": STR, "reason": STR}),
                                Obj(required={"endpoint": STR, "reason": STR}),
                            )
                        ),
                    }
                ),
                **NOTE,
            },
        ),
    },
    optional={
        "errors": listof(
            Obj(
                required={
                    "code": scalar(str, int),
                    "kind": scalar(str, choices=ERROR_KINDS),
                    "message": STR,
                },
                optional={"http": INT, "description": STR, **NOTE},
            )
        ),
    },
)

PARAM_KEYS = {
    "description": STR,
    "py_name": STR,
    "default": scalar(str, int, float, bool),
    "min": NUMBER,
    "max": NUMBER,
    "exclusive_min": NUMBER,
    "exclusive_max": NUMBER,
    "max_items": INT,
    "pattern": STR,
    "accept_int": BOOL,
    "example": scalar(str, int, float, bool),
    "body": BOOL,
    "in": scalar(str, choices=("query",)),
    "prefix": STR,
    "encode": scalar(str, choices=("json",)),
    **NOTE,
}
PARAM_SHAPE = Obj(
    required={"name": STR, "type": STR, "required": scalar(bool, str)},
    optional=PARAM_KEYS,
)
FIELD_SHAPE = Obj(
    required={"name": STR, "type": STR},
    optional={"description": STR, "py_name": STR, "optional": BOOL, **NOTE},
)
PAGING_SHAPE = Obj(
    # how a list endpoint pages: the generated iter_<noun> methods walk every page
    required={
        "by": scalar(str, choices=("id", "time", "page", "offset")),
        "param": STR,
        "limit": STR,
    },
    optional={
        "field": STR,
        "key": STR,
        "direction": scalar(str, choices=("down", "up")),
        "size": INT,
        "items": STR,
        "total": STR,
        "first": INT,
        **NOTE,
    },
)
RULE_SHAPE = any_of(
    Obj(required={"one_of": listof(STR)}),
    Obj(required={"exclusive": listof(STR)}),
    Obj(required={"require": STR, "when": mapof(listof(scalar(str, int)))}),
)
ENUM_VALUE = any_of(
    scalar(str, int),
    Obj(required={"value": scalar(str, int)}, optional={"name": STR, "description": STR, **NOTE}),
)
CHANNEL_SHAPE = Obj(
    required={"name": STR, "summary": STR, "topic": STR, "event": STR},
    optional={
        "description": STR,
        "source": STR,
        "params": listof(PARAM_SHAPE),
        "book": Obj(
            required={
                "mode": scalar(str, choices=("snapshot", "incremental", "sequenced")),
                "bids": STR,
                "asks": STR,
                "version": STR,
            },
            optional={
                "first": STR,
                "previous": STR,
                "snapshot": Obj(
                    required={
                        "endpoint": STR,
                        "bids": STR,
                        "asks": STR,
                        "version": STR,
                    },
                    optional={"params": mapof(scalar(str, int)), **NOTE},
                ),
                **NOTE,
            },
        ),
        **NOTE,
    },
)
STREAM_SHAPE = Obj(
    required={
        "name": STR,
        "summary": STR,
        "source": STR,
        "path": STR,
        "protocol": scalar(str, choices=tuple(PROTOCOLS)),
    },
    optional={
        "description": STR,
        "base": STR,
        "heartbeat": Obj(
            required={"kind": scalar(str, choices=HEARTBEATS), "interval": NUMBER},
            optional={"timeout": NUMBER, **NOTE},
        ),
        "listen_key": Obj(
            required={
                "create": STR,
                "extend": STR,
                "delete": STR,
                "field": STR,
                "param": STR,
                "lifetime": INT,
            },
            optional=NOTE,
        ),
        "handshake_auth": Obj(
            required={"api_key_header": STR}, optional={"sign_header": STR, **NOTE}
        ),
        # Seconds after which the exchange closes a connection (its document's figure).
        "max_connection_age": scalar(int, float),
        "event_field": STR,
        "events": listof(
            Obj(required={"type": STR, "event": STR}, optional={"description": STR, **NOTE})
        ),
        "channels": listof(CHANNEL_SHAPE),
        **NOTE,
    },
)
SECTION_SHAPE = Obj(
    optional={
        "streams": listof(STREAM_SHAPE),
        "endpoints": listof(
            Obj(
                required={
                    "name": STR,
                    "summary": STR,
                    "source": STR,
                    "method": scalar(str, choices=METHODS),
                    "path": STR,
                    "security": STR,
                },
                optional={
                    "description": STR,
                    "weight": scalar(int, str),
                    "resend": scalar(str, choices=("safe", "unsafe")),
                    "params_in": scalar(str, choices=("query", "form", "json")),
                    "client_order_id": STR,
                    "base": STR,
                    "params": listof(PARAM_SHAPE),
                    "rules": listof(RULE_SHAPE),
                    "response": scalar(str, nullable=True),
                    "paging": PAGING_SHAPE,
                    **NOTE,
                },
            )
        ),
        "models": mapof(
            Obj(
                required={"fields": listof(any_of(FIELD_SHAPE, PARAM_SHAPE))},
                optional={
                    "description": STR,
                    "row": BOOL,
                    "book_level": BOOL,
                    "input": BOOL,
                    "bare": STR,
                    "rules": listof(RULE_SHAPE),
                    **NOTE,
                },
            )
        ),
        "enums": mapof(
            Obj(required={"values": listof(ENUM_VALUE)}, optional={"description": STR, **NOTE})
        ),
    }
)
