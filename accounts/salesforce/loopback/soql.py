"""The SOQL subset the sync uses: parse, bind to the schema, evaluate against plain records.

SELECT f, Rel.f, ... | COUNT() FROM Obj [WHERE ...] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
[LIMIT n] [OFFSET n]; WHERE with AND/OR/NOT, parentheses, = != <> < <= > >= IN, NOT IN, LIKE,
null, true/false, quoted strings with \\', numbers, unquoted date/datetime literals, TODAY,
YESTERDAY, LAST_N_DAYS:n. Errors carry Salesforce's codes and message shapes.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accounts.salesforce.loopback.ids import looks_like_id, to18
from accounts.salesforce.loopback.schema import FieldDef, ObjectDef

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
     |(?P<date>\d{4}-\d{2}-\d{2})(?![\d:T])
     |(?P<num>-?\d+(?:\.\d+)?)
     |(?P<str>'(?:\\.|[^'\\])*')
     |(?P<op>!=|<>|<=|>=|=|<|>)
     |(?P<punct>[(),])
     |(?P<datelit>[A-Za-z_]+:\d+)
     |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.X,
)
_KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "like",
    "order",
    "by",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "limit",
    "offset",
    "null",
    "true",
    "false",
    "count",
}
NUMERIC = ("currency", "double", "percent", "int")


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    col: int


@dataclass
class Cond:
    """A leaf: path op value(s). ``values`` holds the bound literals."""

    path: str
    op: str  # = != < <= > >= in notin like
    raw: list[Token]
    col: int
    chain: list[FieldDef] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)


@dataclass
class BoolNode:
    op: str  # and or not
    children: list[Any]


@dataclass
class Query:
    text: str
    object_name: str
    paths: list[str]
    count_only: bool
    where: Cond | BoolNode | None
    order_by: list[tuple[str, bool, bool]]  # path, ascending, nulls_first
    limit: int | None
    offset: int | None
    chains: dict[str, list[FieldDef]] = field(default_factory=dict)


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _malformed(text, pos, f"unexpected token: '{text[pos:].split()[0]}'")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


def _malformed(text: str, col: int, detail: str) -> SoqlError:
    # Salesforce's multi-line shape: the query, a caret, the position, the reason.
    return SoqlError(
        "MALFORMED_QUERY",
        f"\n{text}\n{' ' * col}^\nERROR at Row:1:Column:{col + 1}\n{detail}",
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.i + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def is_kw(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "ident" and token.text.lower() == word

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _malformed(self.text, len(self.text), "unexpected end of query")
        self.i += 1
        return token

    def expect_kw(self, word: str) -> None:
        token = self.take()
        if token.kind != "ident" or token.text.lower() != word:
            raise _malformed(self.text, token.col, f"unexpected token: '{token.text}'")

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise _malformed(self.text, token.col, f"unexpected token: '{token.text}'")

    def ident(self) -> Token:
        token = self.take()
        if token.kind != "ident" or token.text.lower() in _KEYWORDS - {"first", "last"}:
            raise _malformed(self.text, token.col, f"unexpected token: '{token.text}'")
        return token

    def parse(self) -> Query:
        self.expect_kw("select")
        paths: list[str] = []
        count_only = False
        if self.is_kw("count") and (p := self.peek(1)) is not None and p.text == "(":
            self.take(), self.take()
            self.expect(")")
            count_only = True
        else:
            paths.append(self.ident().text)
            while (p := self.peek()) is not None and p.text == ",":
                self.take()
                paths.append(self.ident().text)
        self.expect_kw("from")
        object_name = self.ident().text
        where = None
        if self.is_kw("where"):
            self.take()
            where = self.or_expr()
        order_by: list[tuple[str, bool, bool]] = []
        if self.is_kw("order"):
            self.take()
            self.expect_kw("by")
            while True:
                path = self.ident().text
                ascending = True
                if self.is_kw("asc") or self.is_kw("desc"):
                    ascending = self.take().text.lower() == "asc"
                nulls_first = ascending
                if self.is_kw("nulls"):
                    self.take()
                    word = self.take().text.lower()
                    if word not in ("first", "last"):
                        raise _malformed(
                            self.text, self.tokens[self.i - 1].col, "expected FIRST or LAST"
                        )
                    nulls_first = word == "first"
                order_by.append((path, ascending, nulls_first))
                if (p := self.peek()) is not None and p.text == ",":
                    self.take()
                    continue
                break
        limit = offset = None
        if self.is_kw("limit"):
            self.take()
            limit = self.integer()
        if self.is_kw("offset"):
            self.take()
            offset = self.integer()
        if (p := self.peek()) is not None:
            raise _malformed(self.text, p.col, f"unexpected token: '{p.text}'")
        return Query(self.text, object_name, paths, count_only, where, order_by, limit, offset)

    def integer(self) -> int:
        token = self.take()
        if token.kind != "num" or not token.text.isdigit():
            raise _malformed(self.text, token.col, f"unexpected token: '{token.text}'")
        return int(token.text)

    def or_expr(self) -> Cond | BoolNode:
        children = [self.and_expr()]
        while self.is_kw("or"):
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else BoolNode("or", children)

    def and_expr(self) -> Cond | BoolNode:
        children = [self.not_expr()]
        while self.is_kw("and"):
            self.take()
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else BoolNode("and", children)

    def not_expr(self) -> Cond | BoolNode:
        if self.is_kw("not"):
            self.take()
            return BoolNode("not", [self.not_expr()])
        if (p := self.peek()) is not None and p.text == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Cond:
        path_token = self.ident()
        token = self.take()
        if token.kind == "op":
            op = "!=" if token.text == "<>" else token.text
            return Cond(path_token.text, op, [self.literal()], path_token.col)
        word = token.text.lower()
        negate = False
        if word == "not" and self.is_kw("in"):
            self.take()
            negate, word = True, "in"
        if word == "like":
            return Cond(path_token.text, "like", [self.literal()], path_token.col)
        if word == "in":
            self.expect("(")
            values = [self.literal()]
            while (p := self.peek()) is not None and p.text == ",":
                self.take()
                values.append(self.literal())
            self.expect(")")
            return Cond(path_token.text, "notin" if negate else "in", values, path_token.col)
        raise _malformed(self.text, token.col, f"unexpected token: '{token.text}'")

    def literal(self) -> Token:
        token = self.take()
        if token.kind in ("dt", "date", "num", "str", "datelit"):
            return token
        if token.kind == "ident" and token.text.lower() in (
            "null",
            "true",
            "false",
            "today",
            "yesterday",
            "tomorrow",
        ):
            return token
        raise _malformed(self.text, token.col, f"unexpected token: '{token.text}'")


def parse(text: str) -> Query:
    return _Parser(text).parse()


# --- binding ---------------------------------------------------------------------------------


def resolve_path(
    schema: dict[str, ObjectDef], obj: ObjectDef, path: str, text: str = ""
) -> list[FieldDef]:
    """ "Owner.Name" on Lead -> [Lead.OwnerId, User.Name]; raise INVALID_FIELD like Salesforce."""
    parts = path.split(".")
    chain: list[FieldDef] = []
    current = obj
    # SOQL allows the object name as a prefix: Lead.Email on Lead.
    if len(parts) > 1 and parts[0].lower() == obj.name.lower():
        parts = parts[1:]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if last:
            found = current.field(part)
            if found is None:
                raise _no_such_column(text, path, current.name)
            chain.append(found)
        else:
            relation = current.relationship(part)
            if relation is None:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"\n{text}\nERROR at Row:1\nDidn't understand relationship '{part}' in field "
                    f"path. If you are attempting to use a custom relationship, be sure to append "
                    f"the '__r' after the custom relationship name.",
                )
            chain.append(relation)
            current = schema[relation.reference_to[0]]
    return chain


def _no_such_column(text: str, path: str, object_name: str) -> SoqlError:
    col = max(text.find(path), 0)
    return SoqlError(
        "INVALID_FIELD",
        f"\n{text}\n{' ' * col}^\nERROR at Row:1:Column:{col + 1}\nNo such column '{path}' on "
        f"entity '{object_name}'. If you are attempting to use a custom field, be sure to append "
        f"the '__c' after the custom field name. Please reference your WSDL or the describe call "
        f"for the appropriate names.",
    )


def parse_datetime_literal(text: str) -> dt.datetime:
    value = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _bind_literal(query: Query, cond: Cond, token: Token, target: FieldDef, today: dt.date) -> Any:
    kind, text = token.kind, token.text
    lowered = text.lower()
    ftype = target.type
    if kind == "ident" and lowered == "null":
        return None
    if ftype == "datetime":
        if kind == "str":
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR",
                f"\n{query.text}\nERROR at Row:1\nvalue of filter criterion for field "
                f"'{target.name}' must be of type dateTime and should not be enclosed in quotes",
            )
        if kind == "dt":
            return parse_datetime_literal(text)
        day = _date_literal(kind, text, today, query)
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    if ftype == "date":
        if kind == "str":
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR",
                f"\n{query.text}\nERROR at Row:1\nvalue of filter criterion for field "
                f"'{target.name}' must be of type date and should not be enclosed in quotes",
            )
        if kind == "dt":
            return parse_datetime_literal(text).date()
        return _date_literal(kind, text, today, query)
    if ftype == "boolean":
        if kind == "ident" and lowered in ("true", "false"):
            return lowered == "true"
        raise _bad_value(query, target, "boolean")
    if ftype in NUMERIC:
        if kind != "num":
            raise _bad_value(query, target, "number")
        return float(text) if ftype != "int" else int(float(text))
    if kind != "str":
        raise _bad_value(query, target, "string")
    value = re.sub(r"\\(.)", r"\1", text[1:-1])
    if ftype in ("id", "reference") and looks_like_id(value):
        value = to18(value)
    return value


def _date_literal(kind: str, text: str, today: dt.date, query: Query) -> dt.date:
    if kind == "date":
        return dt.date.fromisoformat(text)
    lowered = text.lower()
    if lowered == "today":
        return today
    if lowered == "yesterday":
        return today - dt.timedelta(days=1)
    if lowered == "tomorrow":
        return today + dt.timedelta(days=1)
    if kind == "datelit" and lowered.startswith("last_n_days:"):
        return today - dt.timedelta(days=int(lowered.split(":")[1]))
    raise SoqlError(
        "MALFORMED_QUERY", f"\n{query.text}\nERROR at Row:1\nunexpected token: '{text}'"
    )


def _bad_value(query: Query, target: FieldDef, expected: str) -> SoqlError:
    return SoqlError(
        "INVALID_QUERY_FILTER_OPERATOR",
        f"\n{query.text}\nERROR at Row:1\nvalue of filter criterion for field '{target.name}' "
        f"must be of type {expected}",
    )


def bind(query: Query, schema: dict[str, ObjectDef], today: dt.date) -> Query:
    obj = next((o for name, o in schema.items() if name.lower() == query.object_name.lower()), None)
    if obj is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"\n{query.text}\nERROR at Row:1\nsObject type '{query.object_name}' is not supported. "
            f"If you are attempting to use a custom object, be sure to append the '__c' after the "
            f"entity name. Please reference your WSDL or the describe call for the appropriate "
            f"names.",
        )
    query.object_name = obj.name
    for path in query.paths + [p for p, _, _ in query.order_by]:
        query.chains[path] = resolve_path(schema, obj, path, query.text)

    def visit(node: Cond | BoolNode | None) -> None:
        if node is None:
            return
        if isinstance(node, BoolNode):
            for child in node.children:
                visit(child)
            return
        node.chain = resolve_path(schema, obj, node.path, query.text)
        target = node.chain[-1]
        node.values = [_bind_literal(query, node, token, target, today) for token in node.raw]

    visit(query.where)
    return query


# --- evaluation ------------------------------------------------------------------------------

Getter = Callable[[dict[str, Any], list[FieldDef]], Any]


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _like(value: Any, pattern: str) -> bool:
    if value is None:
        return False
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, str(value), flags=re.I | re.S) is not None


def _compare(op: str, left: Any, right: Any) -> bool:
    left, right = _norm(left), _norm(right)
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
    except TypeError:
        return False
    raise SoqlError("MALFORMED_QUERY", f"unknown operator {op}")


def matches(node: Cond | BoolNode | None, record: dict[str, Any], get: Getter) -> bool:
    if node is None:
        return True
    if isinstance(node, BoolNode):
        if node.op == "and":
            return all(matches(c, record, get) for c in node.children)
        if node.op == "or":
            return any(matches(c, record, get) for c in node.children)
        return not matches(node.children[0], record, get)
    value = get(record, node.chain)
    if node.op == "in":
        return _norm(value) in {_norm(v) for v in node.values}
    if node.op == "notin":
        return _norm(value) not in {_norm(v) for v in node.values}
    if node.op == "like":
        return _like(value, str(node.values[0]))
    return _compare(node.op, value, node.values[0])


def sort_records(query: Query, records: list[dict[str, Any]], get: Getter) -> list[dict[str, Any]]:
    if not query.order_by:
        return records

    def cmp(a: dict[str, Any], b: dict[str, Any]) -> int:
        for path, ascending, nulls_first in query.order_by:
            chain = query.chains[path]
            left, right = _norm(get(a, chain)), _norm(get(b, chain))
            if left == right:
                continue
            if left is None or right is None:
                # A null sorts first when nulls_first, whatever the direction.
                return (-1 if left is None else 1) * (1 if nulls_first else -1)
            result = -1 if left < right else 1
            return result if ascending else -result
        return 0

    return sorted(records, key=functools.cmp_to_key(cmp))
