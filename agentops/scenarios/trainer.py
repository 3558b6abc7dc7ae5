"""The demo's simulated trainer: `python -m agentops.scenarios.trainer`.

`agentops demo` sets it as its AGENTOPS_RETRAIN_COMMAND, so the demo shows a retraining job
all the way through the promotion gate without training anything. It reads the job the
executor sends on standard input and prints a result (the JSON `agentops retrain-result`
takes): a candidate named after the incident, with the scores the scenario's healthy data
would give, against the serving model's scores from the degraded window. The numbers are the
scenario's, not a measurement; a real trainer computes both on one holdout.
"""

from __future__ import annotations

import json
import sys

# what the scenario's healthy windows score (candidate) vs its degraded windows (current)
CANDIDATE = {"f1": 0.861, "precision": 0.905, "recall": 0.821}
CURRENT = {"f1": 0.657, "precision": 0.799, "recall": 0.557}


def result_for(job: dict[str, object]) -> dict[str, object]:
    incident = str(job.get("incident_id") or "incident")
    window = job.get("job") if isinstance(job.get("job"), dict) else {}
    assert isinstance(window, dict)
    holdout = f"the last day before {window.get('end', 'the window end')} (simulated)"
    return {
        "status": "succeeded",
        "candidate_version": f"retrained-{incident}",
        "candidate": CANDIDATE,
        "current": CURRENT,
        "holdout": holdout,
        "detail": "simulated by agentops demo: nothing was trained",
    }


def main() -> None:
    job = json.loads(sys.stdin.read() or "{}")
    print(json.dumps(result_for(job)))


if __name__ == "__main__":
    main()
