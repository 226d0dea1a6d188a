"""The runner's failures, each with a message that names the fix, and how it reads a
runtime's error text."""


class ModelError(Exception):
    """A failure with a hint that names the fix."""


class Incompatible(Exception):
    """The runtime lacks an operator (or operator version) the model needs."""


class DelegateError(Exception):
    """The delegate asked for cannot load, or takes none of the model: never fall back to the
    CPU silently."""


# What TFLite runtimes say when a model needs an operator they do not have. The host parses
# the operator and version out of these lines (bench/orchestration/flows/compat.py); here
# they only classify.
_MISSING_OP_SIGNS = ("Didn't find op for builtin opcode", "Didn't find custom op",
                     "Encountered unresolved custom op")


def missing_op(exc):
    """The runtime's line about a missing operator, or None when the failure is another one."""
    for line in str(exc).splitlines():
        if any(sign in line for sign in _MISSING_OP_SIGNS):
            return line.strip()
    return None


def type_and_line(exc):
    """One line: the exception's type and its first line (e.g. the missing library)."""
    return "%s: %s" % (type(exc).__name__, first_line(exc))


def first_line(exc):
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
