"""One-line mutants of a Python module, made on its syntax tree.

Each mutant changes one operator, constant or statement, as the mutation tools the field uses do
(mutmut, cosmic-ray): a comparison's boundary or sense, arithmetic, `and`/`or`, a `not`, a
number, a boolean, a short string, a returned value, a `raise` or a call dropped. The mutated
module is written back with `ast.unparse`: comments and layout go, the code's meaning is the
mutant's. Annotations, docstrings and lines marked `# pragma: no mutate` are left alone.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

_SWAP_COMPARE = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SWAP_BINARY = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
_SYMBOL = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.And: "and",
    ast.Or: "or",
}
SHORT_STRING = 4  # strings up to this long are separators and markers worth mutating


@dataclass(frozen=True)
class Mutant:
    path: str  # the file, relative to the repository
    line: int
    description: str  # e.g. "< -> <="
    source_line: str  # the original line, stripped: with path and description, its identity

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.path, self.source_line, self.description)


def mutants(path: str, source: str) -> list[tuple[Mutant, str]]:
    """Every mutant of ``source``, each with the whole mutated module's text."""
    tree = ast.parse(source)
    lines = source.splitlines()
    skipped = {i + 1 for i, line in enumerate(lines) if "pragma: no mutate" in line}
    found = []
    for index, (line, description) in enumerate(_points(tree)):
        if line in skipped:
            continue
        mutated = copy.deepcopy(tree)
        _apply(mutated, index)
        mutant = Mutant(path, line, description, lines[line - 1].strip())
        found.append((mutant, ast.unparse(mutated) + "\n"))
    return found


def _points(tree: ast.AST) -> list[tuple[int, str]]:
    return [(node.lineno, what) for node, what, _ in _walk(tree)]


def _apply(tree: ast.AST, index: int) -> None:
    for i, (_, _, change) in enumerate(_walk(tree)):
        if i == index:
            change()
            return
    raise IndexError(index)


def _walk(tree: ast.AST) -> Iterator[tuple[ast.AST, str, object]]:
    """(node, description, change) for every mutation point, in a fixed order."""
    for node in _nodes(tree):
        yield from _mutations(node)


def _nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node but annotations, docstrings and ``strict=`` flags (zip's length check: an
    assertion on our own data, never a difference a user can see), depth first in source order."""
    if isinstance(node, ast.keyword) and node.arg == "strict":
        return
    yield node
    for name, value in ast.iter_fields(node):
        if name in ("annotation", "returns", "type_comment", "decorator_list"):
            continue
        children = value if isinstance(value, list) else [value]
        for i, child in enumerate(children):
            if not isinstance(child, ast.AST):
                continue
            if i == 0 and name == "body" and _is_docstring(child):
                continue
            yield from _nodes(child)


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(getattr(node, "value", None), ast.Constant)
        and isinstance(node.value.value, str)
    )


def _mutations(node: ast.AST) -> Iterator[tuple[ast.AST, str, object]]:
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            swap = _SWAP_COMPARE.get(type(op))
            if swap:
                yield node, f"{_SYMBOL[type(op)]} -> {_SYMBOL[swap]}", _setter(node.ops, i, swap())
    elif isinstance(node, (ast.BinOp, ast.AugAssign)):
        swap = _SWAP_BINARY.get(type(node.op))
        if swap:
            yield node, f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[swap]}", _attr(node, "op", swap())
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield node, f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[other]}", _attr(node, "op", other())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        yield (
            node,
            f"drop {'not' if isinstance(node.op, ast.Not) else 'unary -'}",
            _attr(node, "op", ast.UAdd() if isinstance(node.op, ast.USub) else _Keep()),
        )
    elif isinstance(node, ast.Constant):
        yield from _constant(node)
    elif isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
        yield node, "return None", _attr(node, "value", ast.Constant(None))
    elif isinstance(node, ast.Raise):
        yield node, "raise -> pass", _replace_statement(node)
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield node, "drop call", _replace_statement(node)
    elif isinstance(node, ast.Break):
        yield node, "break -> continue", _replace_statement(node, ast.Continue())
    elif isinstance(node, ast.Continue):
        yield node, "continue -> break", _replace_statement(node, ast.Break())


def _constant(node: ast.Constant) -> Iterator[tuple[ast.AST, str, object]]:
    value = node.value
    if isinstance(value, bool):
        yield node, f"{value} -> {not value}", _attr(node, "value", not value)
    elif isinstance(value, int):
        yield node, f"{value} -> {value + 1}", _attr(node, "value", value + 1)
    elif isinstance(value, float):
        new = value * 2 if value else 1.0
        yield node, f"{value!r} -> {new!r}", _attr(node, "value", new)
    elif isinstance(value, str) and len(value) <= SHORT_STRING:
        new = value + "X" if value else "X"
        yield node, f"{value!r} -> {new!r}", _attr(node, "value", new)


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


class _Keep(ast.UAdd):
    """`not x` mutated to `x`: unparse writes a UAdd as `+`, so the node is replaced instead."""


def _setter(items: list, i: int, value: object):
    def change() -> None:
        items[i] = value

    return change


def _attr(node: ast.AST, name: str, value: object):
    def change() -> None:
        if isinstance(value, _Keep):  # `not x` -> `x`: make the UnaryOp a no-op wrapper
            node.__class__ = ast.Call
            node.func, node.args, node.keywords = ast.Name("bool", ast.Load()), [node.operand], []
            return
        setattr(node, name, value)

    return change


def _replace_statement(node: ast.AST, new: ast.stmt | None = None):
    """Turn the statement in place into ``new`` (``pass`` by default)."""

    def change() -> None:
        replacement = new or ast.Pass()
        node.__class__ = type(replacement)
        node.__dict__.clear()
        node.__dict__.update(replacement.__dict__)
        node.lineno = node.end_lineno = 1
        node.col_offset = node.end_col_offset = 0

    return change
