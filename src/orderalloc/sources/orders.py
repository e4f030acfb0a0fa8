"""Order operations in the library's own terms: what the desk sends to a data source.

A desk turns an allocation into an `OrderTicket` (one security, one side, one
`OrderLine` per account), asks for a compliance check (`WhatIfReport`), posts
it (`PostedOrder`), and may later modify or cancel it. Every type is an
immutable ``attrs`` value; quantities are original face.

Idempotency: every ticket carries the caller's *external_id*. Before posting
again after an error whose outcome is unknown, look the order up with
``find_order(external_id)``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

import attrs

from orderalloc._model import Side
from orderalloc.errors import InvalidOrderError


class _AccountLine(Protocol):
    @property
    def account_id(self) -> str: ...


_L = TypeVar("_L", bound=_AccountLine)

__all__ = [
    "ComplianceViolation",
    "OrderLine",
    "OrderStatus",
    "OrderTicket",
    "PostedOrder",
    "WhatIfReport",
]


class OrderStatus:
    """The order statuses `PostedOrder.status` uses (Aladdin's words, upper-case).

    Aladdin answers ``"Open"``, ``"Canceled"``, ``"Compl Pending"``, ...; the
    client normalises them to upper case with underscores and spells
    ``CANCELLED`` the British way. Statuses other than these pass through
    normalised the same way.
    """

    OPEN = "OPEN"
    COMPL_PENDING = "COMPL_PENDING"
    AUTHORIZED = "AUTHORIZED"
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    BOOKED = "BOOKED"

    #: The statuses an order can still be modified or cancelled in.
    LIVE = frozenset({OPEN, COMPL_PENDING, AUTHORIZED, ACTIVE})

    @staticmethod
    def normalise(raw: str | None) -> str:
        """``"Compl Pending"`` -> ``"COMPL_PENDING"``, ``"Canceled"`` -> ``"CANCELLED"``."""
        if not raw:
            return "UNKNOWN"
        word = raw.strip().upper().replace(" ", "_").replace("-", "_")
        return "CANCELLED" if word == "CANCELED" else word


def _side(value: object) -> Side:
    if isinstance(value, Side):
        return value
    if isinstance(value, str) and value.strip().upper() in Side.__members__:
        return Side[value.strip().upper()]
    raise InvalidOrderError("ticket.side", value, "must be 'BUY' or 'SELL'")


def _quantity(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise InvalidOrderError(attribute.name, value, "must be a finite face amount > 0")


@attrs.frozen
class OrderLine:
    """One account's share of an order.

    Args:
        account_id: The account (portfolio ticker).
        quantity: Original face for this account, > 0.

    Raises:
        InvalidOrderError: The quantity is not a finite amount > 0.
    """

    account_id: str
    quantity: float = attrs.field(converter=float, validator=_quantity)


def account_lines(value: object, kind: type[_L], field: str) -> tuple[_L, ...]:
    """*value* as a non-empty tuple of *kind* lines (an ``account_id`` each), no account twice.

    Shared by order tickets (`OrderLine`) and trade tickets (`TradeLine`).
    """
    name = kind.__name__
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes)):
        raise InvalidOrderError(field, value, f"must be a sequence of {name}")
    lines: tuple[object, ...] = tuple(value)
    if not lines:
        raise InvalidOrderError(field, lines, f"must hold at least one {name}")
    seen: set[str] = set()
    out: list[_L] = []
    for line in lines:
        if not isinstance(line, kind):
            article = "an" if name[0] in "AEIOU" else "a"
            raise InvalidOrderError(field, line, f"must be {article} {name}")
        account_id = line.account_id
        if account_id in seen:
            raise InvalidOrderError(field, account_id, "account appears twice")
        seen.add(account_id)
        out.append(line)
    return tuple(out)


def _lines(value: object) -> tuple[OrderLine, ...]:
    return account_lines(value, OrderLine, "ticket.lines")


def _external_id(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    # Aladdin's externalId1 holds at most 64 characters.
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise InvalidOrderError(attribute.name, value, "must be 1 to 64 characters")


@attrs.frozen(kw_only=True)
class OrderTicket:
    """An order to post: one security, one side, one line per account.

    Args:
        security_id: The security (CUSIP / Aladdin asset id).
        side: ``Side.BUY`` or ``Side.SELL`` (or the strings).
        lines: One `OrderLine` per account, each account at most once.
        external_id: The caller's idempotency key (Aladdin's
            ``externalOrderReference.externalId1``), 1 to 64 characters.
        comment: A free-text comment stored with the order.
        settle_date: The settlement date, or None for the security's default.

    Raises:
        InvalidOrderError: No lines, a repeated account, a bad side or
            external id.
    """

    security_id: str
    side: Side = attrs.field(converter=_side)
    lines: tuple[OrderLine, ...] = attrs.field(converter=_lines)
    external_id: str = attrs.field(validator=_external_id)
    comment: str | None = None
    settle_date: dt.date | None = None

    @property
    def quantity(self) -> float:
        """Total face of the ticket: the sum of its lines."""
        return math.fsum(line.quantity for line in self.lines)

    def posted(self, order_id: str, *, status: str, version: int = 1) -> PostedOrder:
        """The `PostedOrder` this ticket is once the order system holds it as *order_id*.

        For adapters and fakes that keep their own book.

        .. versionadded:: 0.2
        """
        fields = ticket_fields(self)
        return PostedOrder(
            order_id=order_id, quantity=self.quantity, status=status, version=version, **fields
        )


_TICKET_FIELDS = ("external_id", "security_id", "side", "lines")


def ticket_fields(ticket: Any) -> dict[str, Any]:
    """What a ticket shares with the order or trade it becomes (id, security, side, lines)."""
    return {name: getattr(ticket, name) for name in _TICKET_FIELDS}


#: Severities that do not stop an order (Aladdin's ``COMPLIANCE_SEVERITY_*`` words).
NON_BLOCKING_SEVERITIES = frozenset({"WARNING", "SILENT_ALARM", "UNSPECIFIED"})


@attrs.frozen(kw_only=True)
class ComplianceViolation:
    """One compliance rule the order would break.

    Args:
        account_id: The account the violation is about, or None for the order.
        rule: The rule's id (Aladdin's ``ruleId``, or the assignment name).
        message: What is wrong, in words.
        severity: ``"RESTRICTION"``, ``"WARNING"``, ``"SILENT_ALARM"``, ...
            (Aladdin's ``COMPLIANCE_SEVERITY_*`` without the prefix).
    """

    account_id: str | None
    rule: str
    message: str
    severity: str

    @property
    def blocking(self) -> bool:
        """Whether this violation stops the order (anything but a warning or silent alarm)."""
        return self.severity not in NON_BLOCKING_SEVERITIES


def _violations(value: Iterable[ComplianceViolation]) -> tuple[ComplianceViolation, ...]:
    return tuple(value)


@attrs.frozen
class WhatIfReport:
    """The answer of a what-if compliance run: the violations the order would cause."""

    violations: tuple[ComplianceViolation, ...] = attrs.field(converter=_violations, default=())

    @property
    def passed(self) -> bool:
        """True when no violation is blocking (warnings alone pass)."""
        return not any(v.blocking for v in self.violations)

    def for_account(self, account_id: str) -> tuple[ComplianceViolation, ...]:
        """The violations about *account_id*."""
        return tuple(v for v in self.violations if v.account_id == account_id)


def _plain_lines(value: Iterable[OrderLine]) -> tuple[OrderLine, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class PostedOrder:
    """An order as the order system holds it.

    Args:
        order_id: The order system's id (Aladdin's order number).
        external_id: The caller's idempotency key.
        security_id: The security.
        side: Buy or sell.
        quantity: Total original face.
        lines: One `OrderLine` per account.
        status: An `OrderStatus` word (``"OPEN"``, ``"CANCELLED"``, ...).
        version: Increases with every accepted modification (starts at 1).
    """

    order_id: str
    external_id: str | None
    security_id: str
    side: Side = attrs.field(converter=_side)
    quantity: float
    lines: tuple[OrderLine, ...] = attrs.field(converter=_plain_lines)
    status: str
    version: int

    @property
    def is_live(self) -> bool:
        """Whether the order can still be modified or cancelled."""
        return self.status in OrderStatus.LIVE
