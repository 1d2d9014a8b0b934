"""Pydantic's validation errors in Pier's words: each sentence names the field, says what is
expected and, for an unknown key or value, suggests the closest known one."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = [
    "FieldProblem",
    "beside",
    "explain",
    "explain_errors",
    "field_path",
    "sentences",
    "unknown_key",
]

MAX_LISTED = 12
_BOUNDS = {
    "greater_than": ("more than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
    "multiple_of": ("a multiple of", "multiple_of"),
}
_KINDS = {
    "a whole number": ("int_parsing", "int_type", "int_from_float", "int_parsing_size"),
    "a number": ("float_parsing", "float_type", "decimal_parsing", "decimal_type"),
    "a finite number": ("finite_number",),
    "true or false": ("bool_parsing", "bool_type"),
    "text": ("string_type", "string_unicode"),
    "a mapping of keys to values": ("dict_type", "model_type", "model_attributes_type"),
    "a list": ("list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type"),
}
_EXPECTED = {kind: words for words, kinds in _KINDS.items() for kind in kinds}
_OWN_CHECK = re.compile(r"^(?:Value error|Assertion failed), ")
_FIRST_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with an input: where it is (a dotted path) and a sentence naming it."""

    field: str
    message: str


def field_path(prefix: str, loc: Iterable[str | int]) -> str:
    """`prefix` and a pydantic location as one path: model.inputs[0].dtype."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _listed(options: Sequence[str]) -> str:
    shown = ", ".join(options[:MAX_LISTED])
    return shown + (", …" if len(options) > MAX_LISTED else "")


def unknown_key(path: str, key: str, known: Collection[str]) -> str:
    """The sentence for a key nobody reads: the closest known key, then all of them."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    guess = f"; did you mean `{close[0]}`?" if close else "."
    listed = f" Expected one of: {_listed(list(known))}." if known else ""
    return f"{path}: unknown key{guess}{listed}"


def _alternatives(tp: Any) -> list[Any]:
    """The types a value may have: Optional and unions opened, Annotated stripped."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _alternatives(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [a for arg in get_args(tp) if arg is not type(None) for a in _alternatives(arg)]
    return [tp]


def _as_model(tp: Any) -> type[BaseModel] | None:
    for alt in _alternatives(tp):
        if isinstance(alt, type) and issubclass(alt, BaseModel):
            return alt
    return None


def _keys(model: type[BaseModel]) -> dict[str, Any]:
    """A model's keys as an input spells them (names and aliases) to their field's type."""
    keys: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        keys[name] = info
        if isinstance(info.alias, str):
            keys[info.alias] = info
    return keys


def _step(tp: Any, part: str | int) -> Any:
    """The type one location step below `tp`; None when the step leads nowhere known."""
    for alt in _alternatives(tp):
        model = _as_model(alt)
        if model is not None:
            info = _keys(model).get(part) if isinstance(part, str) else None
            if info is not None:
                return info.annotation
            continue
        origin, args = get_origin(alt), get_args(alt)
        if isinstance(part, int) and origin is tuple and args and Ellipsis not in args:
            return args[part] if part < len(args) else None
        if isinstance(part, int) and origin in (list, tuple, set, frozenset, Sequence) and args:
            return args[0]
        if isinstance(part, str) and origin in (dict, Mapping) and len(args) == 2:
            return args[1]
    return None


def _type_at(model: type[BaseModel] | None, loc: Sequence[str | int]) -> Any:
    tp: Any = model
    for part in loc:
        if tp is None:
            return None
        tp = _step(tp, part)
    return tp


def _described(tp: Any) -> str | None:
    """What a value of this type looks like, in words; None when there are no simple words."""
    alts = _alternatives(tp)
    if len(alts) != 1:
        return None
    t = alts[0]
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    if t in words:
        return words[t]
    if get_origin(t) is Literal:
        return "one of " + _listed([str(a) for a in get_args(t)])
    if isinstance(t, type) and issubclass(t, Enum):
        return "one of " + _listed([str(m.value) for m in t])
    if _as_model(t) is not None:
        return "a mapping with the keys " + _listed(list(t.model_fields))
    if get_origin(t) in (list, tuple, set, frozenset, Sequence):
        return "a list"
    if get_origin(t) in (dict, Mapping):
        return "a mapping of keys to values"
    return None


def _got(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple | set):
        return "a list"
    return f"a {type(value).__name__}"


def _number(value: Any) -> str:
    """A bound, or a value beside one: 1000.0 reads 1000, and a number typed into a form
    reads as the number."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.strip() if isinstance(value, str) and value.strip() else _got(value)


def _choices(expected: str) -> list[str]:
    """The options of pydantic's "'a', 'b' or 'c'" (or "1, 2 or 3")."""
    return re.findall(r"'([^']*)'", expected) or re.split(r", | or ", expected)


def _character_class(body: str) -> str | None:
    """`a-zA-Z0-9_.-` as "letters, digits, '_', '.' or '-'"; None when it is not that simple."""
    ranges = {"a-z": "lowercase letters", "A-Z": "capital letters", "0-9": "digits"}
    found = [r for r in ranges if r in body]
    rest = body
    for r in found:
        rest = rest.replace(r, "")
    rest = rest.replace("\\", "")
    if any(c.isalnum() or c in "[]^" for c in rest):
        return None
    names = [ranges[r] for r in found]
    if {"lowercase letters", "capital letters"} <= set(names):
        names = ["letters", *[n for n in names if "letters" not in n]]
    parts = names + [repr(c) for c in rest]
    return ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0]


def _pattern(pattern: str) -> str:
    m = re.fullmatch(r"\^\[([^\]]+)\](?:\{(\d+),(\d+)\}|(\+))\$", pattern)
    each = _character_class(m.group(1)) if m else None
    if m is None or each is None:
        return f"text matching the pattern {pattern}"
    count = f"{m.group(2)}-{m.group(3)}" if m.group(2) else "one or more"
    return f"{count} {each}"


def _length(ctx: Mapping[str, Any], what: str, value: Any, items: bool) -> str:
    bound = ctx.get(f"{what}_length")
    actual = ctx.get("actual_length", len(value) if hasattr(value, "__len__") else "?")
    unit = (
        ("item" if bound == 1 else "items")
        if items
        else ("character" if bound == 1 else "characters")
    )
    least = "at least" if what == "min" else "at most"
    return f"expected {least} {bound} {unit}, got {actual}"


def _missing(subject: str, model: type[BaseModel] | None, loc: tuple[str | int, ...]) -> str:
    parent = _as_model(_type_at(model, loc[:-1])) if loc else None
    info = _keys(parent).get(str(loc[-1])) if parent is not None else None
    expected = _described(info.annotation) if info is not None else None
    if expected:
        return f"{subject} is required; expected {expected}"
    described = info.description if info is not None else None
    return f"{subject} is required: {described}" if described else f"{subject} is required"


def _problem(err: Mapping[str, Any], path: str, model: type[BaseModel] | None) -> str:
    """The sentence for one error, naming `path`."""
    kind, ctx, value = err.get("type", ""), err.get("ctx") or {}, err.get("input")
    loc = tuple(err.get("loc", ()))
    subject = path or "the input"
    if kind == "extra_forbidden" and loc:
        parent = _as_model(_type_at(model, loc[:-1]))
        known = list(_keys(parent)) if parent is not None else []
        return unknown_key(subject, str(loc[-1]), known)
    if kind == "missing":
        return _missing(subject, model, loc)
    if kind in _EXPECTED:
        return f"{subject}: expected {_EXPECTED[kind]}, got {_got(value)}"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"{subject}: expected {words} {_number(ctx.get(key))}, got {_number(value)}"
    if kind in ("literal_error", "enum"):
        options = _choices(str(ctx.get("expected", "")))
        close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.6)
        guess = f"; did you mean `{close[0]}`?" if close else ""
        return f"{subject}: expected one of {_listed(options)}, got {_got(value)}{guess}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{subject} must not be empty"
    if kind in ("string_too_short", "string_too_long", "too_short", "too_long"):
        what = "min" if kind.endswith("short") else "max"
        return f"{subject}: {_length(ctx, what, value, not kind.startswith('string'))}"
    if kind == "string_pattern_mismatch":
        return f"{subject}: expected {_pattern(str(ctx.get('pattern', '')))}, got {_got(value)}"
    if kind == "json_invalid":
        return f"{subject} is not valid JSON: {ctx.get('error', 'it cannot be parsed')}"
    message = _OWN_CHECK.sub("", str(err.get("msg", "is not valid")))
    if kind in ("value_error", "assertion_error"):
        return f"{path}: {message}" if path else message
    plain = re.match(r"Input should be (.*)", message)
    if plain:
        return f"{subject}: expected {plain.group(1)}, got {_got(value)}"
    return f"{subject}: {message[:1].lower()}{message[1:]}"


def _located(err: Mapping[str, Any], prefix: str, model: type[BaseModel] | None) -> str:
    """The field a problem belongs beside; a whole-model check that opens with one of the
    model's field names belongs beside that field."""
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "value_error" and model is not None:
        target = _as_model(_type_at(model, loc))
        first = _FIRST_WORD.match(_OWN_CHECK.sub("", str(err.get("msg", ""))))
        if target is not None and first and first.group() in target.model_fields:
            return field_path(prefix, (*loc, first.group()))
    return field_path(prefix, loc)


def explain_errors(
    errors: Iterable[Mapping[str, Any]],
    *,
    prefix: str = "",
    model: type[BaseModel] | None = None,
) -> list[FieldProblem]:
    """Pydantic's error dicts (ValidationError.errors(), FastAPI's) as FieldProblems; with
    `model`, unknown keys get the closest known key of the model they were found in."""
    problems = []
    for err in errors:
        path = field_path(prefix, err.get("loc", ()))
        try:
            text, field = _problem(err, path, model), _located(err, prefix, model)
        except Exception:  # a sentence must never cost the answer; name the field anyway
            text, field = f"{path or 'the input'}: {err.get('msg', 'is not valid')}", path
        problems.append(FieldProblem(field, _sentence(text)))
    return problems


def explain(
    e: ValidationError, *, prefix: str = "", model: type[BaseModel] | None = None
) -> list[FieldProblem]:
    """The problems of a ValidationError, one sentence each."""
    return explain_errors(e.errors(), prefix=prefix, model=model)


def sentences(
    e: ValidationError | Sequence[FieldProblem],
    *,
    prefix: str = "",
    model: type[BaseModel] | None = None,
    sep: str = " ",
) -> str:
    """Every problem's sentence in one string, for a toast, a log line or an API answer."""
    problems = explain(e, prefix=prefix, model=model) if isinstance(e, ValidationError) else e
    return sep.join(p.message for p in problems)


def beside(problems: Iterable[FieldProblem], inputs: Mapping[str, str]) -> dict[str, str]:
    """Each sentence keyed by the form input it belongs beside (`inputs`: field path to the
    input); a problem no input holds goes under "form", beside the form's button."""
    found: dict[str, str] = {}
    for p in problems:
        key = inputs.get(p.field, "form")
        found[key] = f"{found[key]} {p.message}" if key in found else p.message
    return found
