"""API Gateway's mapping templates prepared once, not on every request.

LocalStack renders a mapping template (VTL) by rewriting its text with two regular expressions, then
``airspeed.Template(text).merge(namespace)``: every request rewrites and parses its template again, and
under a flood through a direct integration that was the largest share of the gateway's time
(docs/performance.md). Two stand-ins, put in place by ``patches`` where LocalStack's renderer
(``utils/aws/templating.py``) looks them up:

- ``CompiledTemplates`` for the ``airspeed`` module: the same text gives the same compiled template,
  whose tree only reads the namespace it is merged with (``test_patches`` checks that no evaluation
  writes to it), so threads can share it; run as closures built from its tree (``vtl.program``) where
  every element in it is one that module knows;
- ``RememberedSubstitutions`` for the ``re`` module: ``sub`` is a pure function of its arguments, so
  the same template's rewrite is remembered (and the strings' ``replaceAll`` with it).

API Gateway's renderer (``ApiGatewayVtlTemplate.render_request`` / ``render_response``) deep-copied a
request's variables before each render, and ``render_vtl`` then walked the copy to make each string value
an ``ExtendedString``. The replacements here make the copy with ``extended_copy``: the variables are dicts,
lists, strings and numbers (and the request's headers), copied for those types alone (``plain_deepcopy``:
``copy.deepcopy``'s general dispatch cost more than the render of a short template), their strings
extended as they are copied, so the render does not walk them again.

And one replacement of LocalStack's own patch of airspeed (``templating.calculate``, over
``VariableExpression.calculate``: a variable that is None renders as '' in API Gateway's templates): it
asked which service renders — a walk up the namespaces — on every variable evaluated, through a proxy;
``none_as_empty_for_api_gateway`` asks only when the value is None, which is the only time the answer
matters.

And ``render_vtl``, LocalStack's renderer, as it is but for two steps it repeated on every render: it made
its string class (``ExtendedString``: Java's ``trim``, ``toLowerCase``, ... for the variables' strings)
anew, and walked the variables to make each string value one, writing a path string for every value it
passed. The class is made once here (its name and module as LocalStack's), and the walk keeps no paths
(the renders of API Gateway above skip it: their copy already extended the strings).
"""

from __future__ import annotations

import copy as _stock_copy
import functools
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

from localstack.services.apigateway.next_gen.execute_api.variables import ContextVariableOverrides
from localstack.utils.aws import templating
from werkzeug.datastructures import Headers

from .vtl import api_gateway_renders, program

TEMPLATES_KEPT = 512
"""Distinct templates kept compiled (each API's request and response templates, after LocalStack's rewrites)."""


class CompiledTemplates:
    """The ``airspeed`` module, but ``Template(text)`` answers one compiled template per distinct text."""

    def __init__(self, airspeed: ModuleType) -> None:
        self._airspeed = airspeed
        self.Template = functools.lru_cache(maxsize=TEMPLATES_KEPT)(self._compiled)

    def _compiled(self, content: str, filename: str = "<string>") -> Any:
        template = self._airspeed.Template(content, filename)
        template.ensure_compiled()
        return program(template) or template

    def __getattr__(self, name: str) -> Any:
        return getattr(self._airspeed, name)


class RememberedSubstitutions:
    """The ``re`` module, but ``sub`` of string arguments answers from memory when it was asked the same."""

    def __init__(self, re: ModuleType) -> None:
        self._re = re
        self._sub = functools.lru_cache(maxsize=TEMPLATES_KEPT)(re.sub)

    def sub(self, pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
        if isinstance(pattern, str) and isinstance(repl, str) and type(string) is str:
            return self._sub(pattern, repl, string, count, flags)
        return self._re.sub(pattern, repl, string, count, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._re, name)


IMMUTABLE_ATOMS = frozenset({str, int, float, bool, type(None), bytes})
"""Types (exactly these: a subclass may carry state) that ``copy.deepcopy`` answers with the object itself."""


def plain_deepcopy(value: Any, memo: dict[int, Any] | None = None, *, extend_strings: bool = False) -> Any:
    """``copy.deepcopy`` of dicts, lists, immutable atoms and ``Headers``; anything else is handed to
    ``copy.deepcopy`` with the same memo, so an object met twice is copied once, as there. With
    ``extend_strings``, ``with_extended_strings`` of that copy made in the same pass: each string value of a
    dict copied as an ``ExtendedString`` (strings elsewhere, and keys, as they are), what is handed to
    ``copy.deepcopy`` walked after it is copied."""
    kind = type(value)
    if kind in IMMUTABLE_ATOMS:
        return value
    if memo is None:
        memo = {}
    if (copied := memo.get(id(value))) is not None:
        return copied
    atoms = IMMUTABLE_ATOMS  # (checked here too for each key and item: most are atoms, and a call costs more)
    if kind is dict:
        memo[id(value)] = copied = {}
        for key, item in value.items():
            if type(key) not in atoms:
                key = plain_deepcopy(key, memo)
            if extend_strings and isinstance(item, str):
                copied[key] = ExtendedString(item)
            else:
                copied[key] = item if type(item) in atoms else plain_deepcopy(item, memo, extend_strings=extend_strings)
    elif kind is list:
        memo[id(value)] = copied = []  # in the memo before its items, as deepcopy does: a list in itself
        copied.extend(
            [
                item if type(item) in atoms else plain_deepcopy(item, memo, extend_strings=extend_strings)
                for item in value
            ]
        )
    elif kind is Headers and all(type(part) is str for pair in value.items() for part in pair):
        memo[id(value)] = copied = value.copy()  # its (name, value) pairs: strings, shared as deepcopy would
    else:
        copied = _stock_copy.deepcopy(value, memo)
        return with_extended_strings(copied) if extend_strings else copied
    return copied  # (no keep-alive list: the originals stay reachable from the value being copied)


def extended_copy(value: Any) -> Any:
    """``with_extended_strings(plain_deepcopy(value))`` in one pass."""
    return plain_deepcopy(value, extend_strings=True)


def none_as_empty_for_api_gateway(calculate: Callable[..., Any]) -> Callable[..., Any]:
    """airspeed's ``VariableExpression.calculate`` as LocalStack patches it (None is '' when API Gateway
    renders), the rendering service looked up only for a None."""

    def calculate_variable(self: Any, namespace: Any, loader: Any, global_namespace: Any = None) -> Any:
        result = calculate(self, namespace, loader, global_namespace)
        if result is None and api_gateway_renders(namespace if global_namespace is None else global_namespace):
            return ""
        return result

    return calculate_variable


class ExtendedString(str):
    """``render_vtl``'s string with Java's string methods (LocalStack defines it inside ``render_vtl``)."""

    def toString(self, *_: Any, **__: Any) -> ExtendedString:
        return self

    def trim(self, *args: Any, **kwargs: Any) -> ExtendedString:
        return ExtendedString(self.strip(*args, **kwargs))

    def toLowerCase(self, *_: Any, **__: Any) -> ExtendedString:
        return ExtendedString(self.lower())

    def toUpperCase(self, *_: Any, **__: Any) -> ExtendedString:
        return ExtendedString(self.upper())

    def contains(self, *args: Any) -> bool:
        return self.find(*args) >= 0

    def replaceAll(self, regex: str, replacement: str) -> ExtendedString:
        escaped_replacement = replacement.replace("$", "\\")
        return ExtendedString(templating.re.sub(regex, escaped_replacement, self))


ExtendedString.__module__ = templating.__name__
ExtendedString.__qualname__ = "VtlTemplate.render_vtl.<locals>.ExtendedString"

EMPTY_PLACEHOLDER = " __pLaCe-HoLdEr__ "


def render_vtl(self: Any, template: str, variables: dict, as_json: bool = False) -> str | dict:
    """``VtlTemplate.render_vtl``, step for step (its rewrites with ``count=re.MULTILINE`` included)."""
    return _render(self, template, variables, as_json, extend=True)


def render_request(self: Any, template: str, variables: dict, context_overrides: dict) -> tuple[str, dict]:
    """``ApiGatewayVtlTemplate.render_request``: its copies of the variables made with their strings extended
    as they are copied (``extended_copy``), so the render does not walk them again."""
    result, context = _render_a_copy(self, template, variables, context_overrides)
    return result, ContextVariableOverrides(
        requestOverride=context["requestOverride"], responseOverride=context["responseOverride"]
    )


def render_response(self: Any, template: str, variables: dict, context_overrides: dict) -> tuple[str, dict]:
    """``ApiGatewayVtlTemplate.render_response``, its copies made as ``render_request``'s."""
    result, context = _render_a_copy(self, template, variables, context_overrides)
    return result, context["responseOverride"]


def _render_a_copy(self: Any, template: str, variables: dict, context_overrides: dict) -> tuple[Any, dict]:
    """What both renders do: the variables copied with the overrides in their context, the template rendered
    on the copy (its strings already extended); the rendering and the copy's context, which it may change."""
    variables_copy = extended_copy(variables)
    variables_copy["context"].update(extended_copy(context_overrides))
    return _render(self, template.strip(), variables_copy, False, extend=False), variables_copy["context"]


def _render(self: Any, template: str, variables: dict, as_json: bool, extend: bool) -> str | dict:
    if variables is None:
        variables = {}
    if not template:
        return template
    re = templating.re  # what LocalStack's renderer calls: remembered substitutions while patched
    template = re.sub(r"(^|\n)#\s+set(.*)", r"\1#set\2", template, count=re.MULTILINE)
    template = re.sub(r"([^\s]+)#\$({)?(.*)", rf"\1#{EMPTY_PLACEHOLDER}$\2\3", template, count=re.MULTILINE)
    if extend:
        with_extended_strings(variables)
    compiled = templating.airspeed.Template(template)
    namespace = self.prepare_namespace(variables)
    input_var = variables.get("input") or {}
    dict_pack = input_var.get("body")
    if isinstance(dict_pack, dict):
        for key, value in dict_pack.items():
            namespace.update({key: value})
    rendered_template = compiled.merge(namespace).replace(EMPTY_PLACEHOLDER, "")
    return json.loads(rendered_template) if as_json else rendered_template


def with_extended_strings(value: Any) -> Any:
    """What ``recurse_object(value, apply)`` does in ``render_vtl``: every string value of every dict, at any
    depth through dicts and lists, made an ``ExtendedString`` in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                value[key] = ExtendedString(item)
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return value
    for item in items:
        if isinstance(item, dict | list):
            with_extended_strings(item)
    return value
