"""What the processes engagement_lab starts for itself (the command line, the report's kernel) skip at start-up.

jsonschema, which altair, nbformat and Jupyter import, imports the optional IRI checker ``rfc3987_syntax`` whenever
it is installed (``jsonschema[format-nongpl]``, which Jupyter asks for), and that module compiles 38 Earley grammars
at import: about 3 s of every process that draws a chart or runs a notebook (3.4 s measured in a report's
kernel; python-jsonschema/jsonschema#1428, no release fixes it yet). Nothing here validates IRI formats, so the
processes we own mark the module absent before anything imports jsonschema; jsonschema then leaves the ``iri``
format unchecked, as it does where the module is not installed. A user's own Python session is left as it is (unless
it calls the command line's ``main()`` itself).
"""

from __future__ import annotations

import sys

__all__ = ["SKIP_SLOW_IMPORTS", "skip_slow_imports"]

SKIP_SLOW_IMPORTS = "import sys; sys.modules.setdefault('rfc3987_syntax', None)"
"""The same, as a line of code for a kernel's start-up file."""


def skip_slow_imports() -> None:
    """Mark ``rfc3987_syntax`` absent in this process (a no-op once it is imported)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: "not importable"
