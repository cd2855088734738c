"""A web worker starts without OpenDP's prelude: the site's noise comes from OpenDP's own
modules, and the prelude's extras (its scikit-learn, polars and example helpers) would add to
every worker's memory for nothing (bench/README.md, "Against the scoring limit")."""

import json
import os
import subprocess
import sys

from tests.processes import ROOT

# A fresh interpreter, as a worker starts: this test process may have imported anything.
START_A_WORKER = """
import json, sys
import django
django.setup()
import newsite.wsgi
from django.urls import get_resolver
get_resolver().url_patterns
from privacy.aggregation import release_counts
from privacy.federated import noise_sigma
from trust.survey import randomize
# Each mechanism once: none of them reaches for the prelude when it runs either.
release_counts(counts=[3, 4], sensitivity=1, epsilon=1.0)
release_counts(counts=[3, 4], sensitivity=2, epsilon=1.0, mechanism="gaussian", delta=1e-6)
noise_sigma(epsilon=1.0, delta=1e-5, clip=1.0)
randomize("very")
print(json.dumps(sorted(name for name in sys.modules if name.startswith("opendp"))))
"""


def test_a_worker_loads_opendps_own_modules_and_not_its_prelude_or_extras():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "newsite.settings"}
    result = subprocess.run(
        [sys.executable, "-c", START_A_WORKER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    assert "opendp.measurements" in loaded
    assert "opendp.prelude" not in loaded
    assert not [name for name in loaded if name.startswith("opendp.extras")]
