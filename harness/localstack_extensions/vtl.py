"""Mapping templates run as closures built once from airspeed's parsed tree, not by walking the tree.

airspeed evaluates a template by walking its tree on every render: each node a method call or two (an
``evaluate`` wrapper, an ``evaluate_raw``, a ``calculate``), each variable looked up through a chain of
namespaces that raises ``KeyError`` at every level it is missing from, each expression through an operator
stack built per call. Under a flood through a direct integration the two renders of every webhook were a
large share of LocalStack's CPU. ``program`` turns the tree into nested closures once per template (the
templates are compiled once already, ``templates.CompiledTemplates``) that do what each node's methods do,
in the same order, with the same values:

- statements write what airspeed writes and wrap an exception where airspeed's ``_Element.evaluate`` does,
  in the same ``TemplateExecutionError`` naming the same node;
- a variable is looked up as ``NameOrCall.calculate`` does (item, then attribute unless a namespace, then
  airspeed's additional methods), without the exceptions where the type decides the outcome (a namespace
  chain, a plain dict); every variable expression that is None becomes '' when API Gateway renders
  (LocalStack's own rule, ``templating.calculate``);
- expressions apply their operators in airspeed's precedence order and evaluate the operands when and in the
  order its operator stack does;
- anything else — ``#foreach``, macros, ``#define``, ``#include``/``#parse``, ``#stop``, index access,
  ``${a|b}`` — leaves the whole template to airspeed (``program`` answers None), as do element kinds this
  module does not know.

A program keeps no state between renders (each render's values live in its calls), so threads share it as
they share the compiled template.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from airspeed import operators as ops
from localstack.utils.aws.templating import APIGW_SOURCE, SOURCE_NAMESPACE_VARIABLE

Write = Callable[[str], Any]
Statement = Callable[[Write, Any, Any], None]
Calculation = Callable[[Any, Any], Any]
Lookup = Callable[[Any, Any, Any], Any]


class Unsupported(Exception):
    """An element this module leaves to airspeed."""


class Program:
    """A template's closures: ``merge`` as ``airspeed.Template.merge``; the rest is the template's."""

    def __init__(self, template: Any, body: Statement) -> None:
        self.template = template
        self._body = body

    def merge(self, namespace: Any, loader: Any = None) -> str:
        written: list[str] = []
        self._body(written.append, namespace, ops.NullLoader() if loader is None else loader)
        return "".join(written)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.template, name)


def program(template: Any) -> Program | None:
    """The closures for ``template`` (an ``airspeed.Template``), or None when airspeed must run it."""
    template.ensure_compiled()
    try:
        return Program(template, _template_body(template.root_element))
    except Unsupported:
        return None


def _wrapped(node: Any, run: Statement) -> Statement:
    """``run`` raising as ``node.evaluate`` raises: a ``TemplateExecutionError`` as it is, anything else in one."""

    def statement(write: Write, namespace: Any, loader: Any) -> None:
        try:
            run(write, namespace, loader)
        except ops.TemplateExecutionError:
            raise
        except Exception:
            exc_info = sys.exc_info()
            raise ops.TemplateExecutionError(node, exc_info).with_traceback(exc_info[2]) from None

    return statement


def _template_body(node: Any) -> Statement:
    _require(node, ops.TemplateBody)
    block = _block(node.block)

    def body(write: Write, namespace: Any, loader: Any) -> None:
        if not isinstance(namespace, ops.LocalNamespace):
            namespace = ops.LocalNamespace(namespace)
        block(write, namespace, loader)

    return _wrapped(node, body)


def _block(node: Any) -> Statement:
    _require(node, ops.Block)
    children = [statement for child in node.children if (statement := _statement(child)) is not None]

    def block(write: Write, namespace: Any, loader: Any) -> None:
        for child in children:
            child(write, namespace, loader)

    return block  # a Block's own wrapper only ever sees its children's TemplateExecutionErrors


def _statement(node: Any) -> Statement | None:
    kind = type(node)
    if kind is ops.Comment:
        return None
    if kind in (ops.Text, ops.FallthroughHashText):
        text = node.text

        def literal(write: Write, namespace: Any, loader: Any) -> None:
            write(text)

        return literal
    if kind is ops.FormalReference:
        return _wrapped(node, _reference(node))
    if kind is ops.SetDirective:
        return _assignment(node.assignment)
    if kind is ops.IfDirective:
        return _wrapped(node, _if(node))
    raise Unsupported(kind.__name__)


def _reference(node: Any) -> Statement:
    if node.alternate is not None or node.expression is None:
        raise Unsupported("${a|b} or a bare $")
    calculate = _variable(node.expression)
    text, silent = node.my_text(), node.silent

    def reference(write: Write, namespace: Any, loader: Any) -> None:
        value = calculate(namespace, loader, None)
        if value == ops.REPLACE_FORMAL_TEXT:
            value = text
        elif value is None:
            value = "" if silent else text
        write(value if ops.is_string(value) else ops.value_to_string(value))

    return reference


def _assignment(node: Any) -> Statement:
    _require(node, ops.Assignment)
    value, root, terms = _expression(node.value), node.root_term, list(node.terms)

    def assign(write: Write, namespace: Any, loader: Any) -> None:
        calculated = value(namespace, loader)
        if not terms:
            namespace.set_inherited(root, calculated)
            return
        current = namespace[root]
        for term in terms[:-1]:
            current = current[term.calculate(namespace, loader)]
        current[terms[-1].calculate(namespace, loader)] = calculated

    return _wrapped(node, assign)


def _if(node: Any) -> Statement:
    branches = [(_condition(node.condition), _block(node.block))]
    branches += [(_condition(elseif.condition), _block(elseif.block)) for elseif in node.elseifs]
    otherwise = (
        None if isinstance(node.else_block, ops.Null) else _block(_required(node.else_block, ops.ElseBlock).block)
    )

    def if_directive(write: Write, namespace: Any, loader: Any) -> None:
        for condition, block in branches:
            if condition(namespace, loader):
                block(write, namespace, loader)
                return
        if otherwise is not None:
            otherwise(write, namespace, loader)

    return if_directive


def _condition(node: Any) -> Calculation:
    _require(node, ops.Condition)
    expression = _value_expression(node.expression)

    def condition(namespace: Any, loader: Any) -> bool:
        result = expression(namespace, loader)
        return True if result is None else bool(result)

    return condition


def _expression(node: Any) -> Calculation:
    """``Expression.calculate``: the operator stack's moves are fixed by the operators, so they are worked out
    here; the operands are calculated when, and in the order, its ``stack_calculate`` calculates them."""
    _require(node, ops.Expression)
    values = [_value(term) for term in node.expression[0::2]]
    operators = node.expression[1::2]
    if not operators:
        (only,) = values
        return only
    moves: list[tuple[str, Any]] = [("value", values[0])]
    pending: list[Any] = []
    index = 0
    while index < len(operators):
        if not pending or operators[index].greater_precedence_than(pending[-1]):
            pending.append(operators[index])
            moves.append(("value", values[index + 1]))
            index += 1
        else:
            moves.append(("apply", pending.pop().apply_to))
    moves += [("apply", operator.apply_to) for operator in reversed(pending)]

    def expression(namespace: Any, loader: Any) -> Any:
        stack: list[tuple[bool, Any]] = []  # (calculated yet, value or its calculation)
        for move, what in moves:
            if move == "value":
                stack.append((False, what))
                continue
            done2, value2 = stack.pop()
            value2 = value2 if done2 else value2(namespace, loader)
            done1, value1 = stack.pop()
            value1 = value1 if done1 else value1(namespace, loader)
            stack.append((True, what(value1, value2)))
        done, result = stack[0]
        return result if done else result(namespace, loader)

    return expression


def _value_expression(node: Any) -> Calculation:
    _require(node, ops.ParenthesizedExpression)
    expression = node.calculate.__self__  # the Expression whose calculate it took at parse time
    return _expression(expression)


LITERALS = (ops.NullLiteral, ops.IntegerLiteral, ops.FloatingPointLiteral, ops.BooleanLiteral)


def _value(node: Any) -> Calculation:
    _require(node, ops.Value)
    inner = node.expression
    kind = type(inner)
    if kind is ops.StringLiteral or kind in LITERALS:
        constant = inner.value

        def literal(namespace: Any, loader: Any) -> Any:
            return constant

        return literal
    if kind is ops.FormalReference:
        if inner.expression is None:
            raise Unsupported("a bare $")
        variable = _variable(inner.expression)
        return lambda namespace, loader: variable(namespace, loader, None)
    if kind is ops.ParenthesizedExpression:
        return _value_expression(inner)
    if kind is ops.UnaryOperatorValue:
        operand, apply = _value(inner.value), inner.op

        def unary(namespace: Any, loader: Any) -> Any:
            value = operand(namespace, loader)
            return False if value is None else apply(value)

        return unary
    if kind in (ops.InterpolatedStringLiteral, ops.ArrayLiteral, ops.DictionaryLiteral, ops.Range):
        return inner.calculate  # airspeed's own, node for node (its parts run as airspeed runs them)
    raise Unsupported(kind.__name__)


def _variable(node: Any) -> Lookup:
    """``VariableExpression.calculate`` with LocalStack's rule over it: None renders as '' for API Gateway."""
    _require(node, ops.VariableExpression)
    part = _name_or_call(node.part)
    sub = None
    if node.subexpression is not None:
        _require(node.subexpression, ops.SubExpression)
        if isinstance(node.subexpression.expression, ops.ArrayIndex):
            raise Unsupported("index access")
        sub = _variable(node.subexpression.expression)

    def variable(current: Any, loader: Any, global_namespace: Any = None) -> Any:
        if global_namespace is None:
            global_namespace = current
        value = part(current, loader, global_namespace)
        if sub is not None:
            value = sub(value, loader, global_namespace)
        if value is None and api_gateway_renders(global_namespace):
            return ""
        return value

    return variable


def api_gateway_renders(namespace: Any) -> bool:
    """Whether the template merged with ``namespace`` is API Gateway's (LocalStack marks its top namespace),
    where a variable that is None renders as ''."""
    return namespace.top().get(SOURCE_NAMESPACE_VARIABLE) == APIGW_SOURCE


def _name_or_call(node: Any) -> Lookup:
    _require(node, ops.NameOrCall)
    if node.index is not None:
        raise Unsupported("index access")
    name, parameters = node.name, None
    if node.parameters is not None:
        _require(node.parameters, ops.ParameterList)
        values = node.parameters.values
        arguments = [] if isinstance(values, ops._EmptyValues) else [_value(value) for value in values.values]

        def parameters(namespace: Any, loader: Any) -> list[Any]:
            return [argument(namespace, loader) for argument in arguments]

    def name_or_call(current: Any, loader: Any, top_namespace: Any) -> Any:
        result = _item(current, name)
        if result is None and not isinstance(current, ops.LocalNamespace):
            result = getattr(current, name, None)  # None where it raises AttributeError
        if result is None:
            methods = ops.__additional_methods__.get(current.__class__)
            if methods and name in methods:
                if parameters is None:  # the method itself, as airspeed makes it
                    return node.calculate(current, loader, top_namespace)
                return methods[name](current, *parameters(top_namespace, loader))
            return None
        if isinstance(result, ops._FunctionDefinition):
            return node.calculate(current, loader, top_namespace)
        if parameters is not None:
            result = result(*parameters(top_namespace, loader))
        return result

    return name_or_call


def _item(current: Any, name: str) -> Any:
    """``current[name]``, None where that raises ``KeyError``, ``TypeError`` or ``AttributeError``."""
    kind = type(current)
    if kind is ops.LocalNamespace:
        while type(current) is ops.LocalNamespace:
            if dict.__contains__(current, name):
                return dict.__getitem__(current, name)
            current = current.parent
        kind = type(current)
    if kind is dict:
        return current.get(name)
    if not hasattr(kind, "__getitem__") and not isinstance(current, type):
        return None  # not subscriptable (``$util``, ``$input``): ``current[name]`` raises TypeError
    try:
        return current[name]
    except (KeyError, TypeError, AttributeError):
        return None


def _require(node: Any, kind: type) -> None:
    if type(node) is not kind:
        raise Unsupported(type(node).__name__)


def _required(node: Any, kind: type) -> Any:
    _require(node, kind)
    return node
