"""Refuse answers that would not make a valid project, before anything is rendered."""

import json
import sys

ANSWERS = json.loads({{ cookiecutter | jsonify | tojson }})

try:
    from diva.scaffold import check_answers
except ImportError:
    sys.exit(
        f"error: diva is not installed in the Python running cookiecutter ({sys.executable}); "
        "install it with `python3 -m pip install diva-lifecycle`, or use `diva new`"
    )

problems = check_answers(ANSWERS)
if problems:
    print("error: invalid answers, nothing was created:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    sys.exit(1)
