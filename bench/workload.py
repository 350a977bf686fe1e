"""What the benchmark asks of the console: shared by bench/run.py and bench/seeding.py.

No Django here: bench/run.py only drives processes and HTTP.
"""

from __future__ import annotations

SEARCH_TERM = "payments"  # in the names and descriptions of 1 in 25 seeded secrets
FILTER_LABEL = "team-03"  # on 1 in 12 seeded secrets
USERNAME = "bench"

# The GET pages measured against the floor, by figure name.
PAGES = {
    "floor": "/bench/floor/",
    "list": "/secrets/",
    "search": f"/secrets/?q={SEARCH_TERM}",
    "filter": f"/secrets/?labels={FILTER_LABEL}",
    "api_list": "/api/v2/secrets?limit=200",
}
# The wizard step that is POSTed (valid input: it answers 302 to the next step).
WIZARD_KIND = "arbitrary"
WIZARD_STEP = "details"
