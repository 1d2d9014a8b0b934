#!/usr/bin/env bash
# The user's path on a real cluster, from a fresh `helm install` (.github/workflows/e2e.yml).
set -euo pipefail

ns=pier
kubectl -n "$ns" port-forward svc/pier 3000:3000 >/tmp/pf-cp.log 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
export PIER_URL=http://127.0.0.1:3000
PIER_TOKEN="$(kubectl -n "$ns" get secret pier -o jsonpath='{.data.admin-token}' | base64 -d)"
export PIER_TOKEN

wait_for() { # what, command...
    local what="$1"; shift
    for _ in $(seq 150); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 2
    done
    echo "timed out waiting for $what" >&2
    return 1
}

wait_for "the control plane" curl -fsS "$PIER_URL/api/v1/health"

pier push examples/iris/pier.yaml
pier deploy iris v1.0.0 --timeout 300
kubectl -n "$ns" rollout status deployment/pier-iris --timeout=300s

kubectl -n "$ns" port-forward svc/pier-iris 8080:80 >/tmp/pf-iris.log 2>&1 &
predict() {
    curl -fsS -X POST http://127.0.0.1:8080/predict -H 'content-type: application/json' \
        -d '{"model": "iris", "inputs": [[5.1, 3.5, 1.4, 0.2]]}'
}
wait_for "a first prediction" predict
predict | python -c 'import json,sys; r=json.load(sys.stdin); assert r["version"] == "v1.0.0", r'

pier push examples/iris/v2/pier.yaml
v2="$(python -c 'import yaml; print(yaml.safe_load(open("examples/iris/v2/pier.yaml"))["model"]["version"])')"

served() { # how many of 40 predictions each version answered
    for _ in $(seq 40); do
        predict | python -c 'import json,sys; print(json.load(sys.stdin)["version"])'
    done | sort | uniq -c | tr '\n' ' '
}

# A canary: v2 joins the versions the pods hold, which needs memory for both
# (docs/kubernetes.md), so this one change rolls the pods once.
pier split iris "v1.0.0=50" "$v2=50" --timeout 300
kubectl -n "$ns" rollout status deployment/pier-iris --timeout=300s
wait_for "the new pods behind the Service" predict
mix="$(served)"; echo "50/50 split: $mix"
[[ "$mix" == *v1.0.0* && "$mix" == *"$v2"* ]]

# From here on the set of loaded versions stays the same: no pod may restart.
pods_before="$(kubectl -n "$ns" get pods -l pier.dev/model=iris -o jsonpath='{.items[*].metadata.uid}')"
pier split iris "v1.0.0=100" --timeout 300
mix="$(served)"; echo "all to v1.0.0: $mix"
[[ "$mix" != *"$v2"* ]]
pier rollback iris --reason "e2e: back to the canary" --timeout 300
mix="$(served)"; echo "rolled back to the split: $mix"
[[ "$mix" == *v1.0.0* && "$mix" == *"$v2"* ]]
pods_after="$(kubectl -n "$ns" get pods -l pier.dev/model=iris -o jsonpath='{.items[*].metadata.uid}')"
if [ "$pods_before" != "$pods_after" ]; then
    echo "a weight change or a rollback restarted pods: $pods_before -> $pods_after" >&2
    exit 1
fi
kubectl -n "$ns" get deployment,service,hpa,pdb -l pier.dev/model=iris
echo "e2e scenario passed"
