#!/usr/bin/env python3
"""Assert the chart's promises on manifests rendered from one ci/*.yaml values file.

usage: check_rendered.py RENDERED.yaml VALUES.yaml
Prints one line per failed promise and exits 1 if any failed.
"""
import sys

import yaml

rendered_path, values_path = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(rendered_path)) if d]
values = yaml.safe_load(open(values_path)) or {}
errors = []


def err(msg):
    errors.append(msg)


def by_kind(kind):
    return [d for d in docs if d.get("kind") == kind]


def v(path, default=None, src=values):
    cur = src
    for key in path.split("."):
        if not isinstance(cur, dict) or key not in cur:
            return default
        cur = cur[key]
    return cur


RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
}

# --- every object: labels -------------------------------------------------------------
for d in docs:
    labels = d["metadata"].get("labels", {})
    name = f'{d["kind"]}/{d["metadata"]["name"]}'
    for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "helm.sh/chart"):
        if key not in labels:
            err(f"{name}: label {key} missing")
    if labels.get("app") != "todo":
        err(f"{name}: label app=todo missing")
    if d["kind"] not in ("Namespace", "PersistentVolume") and not d["metadata"].get("namespace"):
        err(f"{name}: no metadata.namespace")

# --- workloads ------------------------------------------------------------------------
workloads = by_kind("Deployment") + by_kind("StatefulSet")
for d in workloads:
    name = f'{d["kind"]}/{d["metadata"]["name"]}'
    tpl = d["spec"]["template"]
    pod = tpl["spec"]
    plabels = tpl["metadata"].get("labels", {})
    if "app.kubernetes.io/component" not in plabels or "component" not in plabels:
        err(f"{name}: pod template lacks component labels")
    psc = pod.get("securityContext", {})
    if not (psc.get("runAsNonRoot") and psc.get("runAsUser") == 10001 and psc.get("runAsGroup") == 10001
            and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"):
        err(f"{name}: pod securityContext is not restricted with UID/GID 10001")
    if pod.get("automountServiceAccountToken") is not False:
        err(f"{name}: service account token mounted")
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        for key, want in RESTRICTED_CONTAINER.items():
            if sc.get(key) != want:
                err(f"{name}/{c['name']}: securityContext.{key} != {want}")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            err(f"{name}/{c['name']}: capabilities not dropped")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe not in c:
                err(f"{name}/{c['name']}: {probe} missing")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(kind, {}):
                    err(f"{name}/{c['name']}: resources.{kind}.{r} missing")
        mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
        if "/tmp" not in mounts:
            err(f"{name}/{c['name']}: no writable /tmp mount")
        if ":latest" in c["image"] or ":" not in c["image"].rsplit("/", 1)[-1] and "@" not in c["image"]:
            err(f"{name}/{c['name']}: image {c['image']} not pinned")
        for e in c.get("env", []):
            if any(s in e["name"] for s in ("SECRET", "PASSWORD", "KEY")) and "value" in e:
                err(f"{name}/{c['name']}: secret-like env {e['name']} has a literal value")

deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in by_kind("Deployment")}
sqlite_on_pvc = v("database.mode", "sqlite") == "sqlite" and v("database.sqlite.persistence.enabled", True)
drain = int(v("config.shutdownTimeoutSeconds", 10))
for comp, d in deployments.items():
    name = f"Deployment/{d['metadata']['name']}"
    st = d["spec"].get("strategy", {})
    ru = st.get("rollingUpdate", {})
    if comp == "backend" and sqlite_on_pvc:
        # One SQLite writer on a ReadWriteOnce volume: the old pod must release it first.
        if st.get("type") != "Recreate":
            err(f"{name}: SQLite on a PVC must roll with Recreate, not {st.get('type')}")
    elif st.get("type") != "RollingUpdate" or ru.get("maxSurge") != 1 or ru.get("maxUnavailable") != 0:
        err(f"{name}: strategy is not RollingUpdate maxSurge 1 / maxUnavailable 0")
    pod = d["spec"]["template"]["spec"]
    sleep = pod["containers"][0].get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    if sleep < 1:
        err(f"{name}: no preStop sleep (endpoint removal must propagate before SIGTERM)")
    if pod.get("terminationGracePeriodSeconds", 30) <= sleep + drain:
        err(f"{name}: terminationGracePeriodSeconds {pod.get('terminationGracePeriodSeconds')} <= "
            f"preStop {sleep} s + drain {drain} s")
    ann = d["spec"]["template"]["metadata"].get("annotations", {})
    for key in ("checksum/config", "checksum/secret"):
        if len(ann.get(key, "")) != 64:
            err(f"{name}: {key} annotation missing")
    c = d["spec"]["template"]["spec"]["containers"][0]
    if c["livenessProbe"]["httpGet"]["path"] != "/health" or c["readinessProbe"]["httpGet"]["path"] != "/ready":
        err(f"{name}: liveness must be /health and readiness /ready")
    env = {e["name"]: e for e in c.get("env", [])}
    role = {"frontend": "web", "backend": "api", "mcp-server": "mcp", "ai-agent": "agent"}[comp]
    if env.get("ROLE", {}).get("value") != role or c.get("args", [])[-1:] != [role]:
        err(f"{name}: role is not {role}")
    port = c["ports"][0]["containerPort"]
    if env.get("PORT", {}).get("value") != str(port):
        err(f"{name}: PORT env != containerPort {port}")
    if v("config.environment", "production") != "development" and \
            "secretKeyRef" not in env.get("JWT_SECRET", {}).get("valueFrom", {}):
        err(f"{name}: JWT_SECRET not from a Secret (required outside development)")
    if comp == "frontend" and not env.get("API_URL", {}).get("value", "").startswith("http://"):
        err(f"{name}: API_URL not set for the web role")
    if comp == "frontend" and v("aiAgent.enabled", False) and v("frontend.env.AGENT_URL") is None:
        # the web role's proxy sends the chat routes to the ai-agent's Service
        agent_svc = next((s_ for s_ in by_kind("Service")
                          if s_["metadata"]["labels"].get("app.kubernetes.io/component") == "ai-agent"), None)
        want = agent_svc and f"http://{agent_svc['metadata']['name']}:{agent_svc['spec']['ports'][0]['port']}"
        if env.get("AGENT_URL", {}).get("value") != want:
            err(f"{name}: AGENT_URL {env.get('AGENT_URL')} is not the ai-agent's Service {want}")
    if comp == "frontend" and not v("aiAgent.enabled", False) and "AGENT_URL" in env and \
            v("frontend.env.AGENT_URL") is None:
        err(f"{name}: AGENT_URL set with no ai-agent")
    if role == "mcp" and env.get("MCP_SERVER_PORT", {}).get("value") != str(port):
        # the mcp role listens on MCP_SERVER_PORT, not PORT
        err(f"{name}: MCP_SERVER_PORT env != containerPort {port}")
    if role == "agent":
        # the agent role listens on AGENT_PORT and calls its tools on the MCP server: the
        # mcp-server's Service when enabled, else the backend's /mcp
        if env.get("AGENT_PORT", {}).get("value") != str(port):
            err(f"{name}: AGENT_PORT env != containerPort {port}")
        mcp_comp = "mcpServer" if v("mcpServer.enabled", False) else "backend"
        svc_names = {s_["metadata"]["labels"].get("app.kubernetes.io/component"): s_ for s_ in by_kind("Service")}
        target = svc_names.get("mcp-server" if mcp_comp == "mcpServer" else "backend")
        want_url = target and f"http://{target['metadata']['name']}:{target['spec']['ports'][0]['port']}/mcp"
        if v("aiAgent.env.MCP_SERVER_URL") is None and env.get("MCP_SERVER_URL", {}).get("value") != want_url:
            err(f"{name}: MCP_SERVER_URL {env.get('MCP_SERVER_URL')} is not {want_url}")

# --- services -------------------------------------------------------------------------
services = {s["metadata"]["labels"].get("app.kubernetes.io/component"): s for s in by_kind("Service")}
fe_svc, be_svc = services.get("frontend"), services.get("backend")
if be_svc and (be_svc["spec"]["type"] != "ClusterIP" or be_svc["spec"]["ports"][0]["port"] != v("backend.service.port", 8000)):
    err("backend Service is not ClusterIP on its port")
want_fe_type = v("frontend.service.type", "NodePort")
if fe_svc:
    if fe_svc["spec"]["type"] != want_fe_type:
        err(f"frontend Service type {fe_svc['spec']['type']} != {want_fe_type}")
    if want_fe_type == "NodePort" and fe_svc["spec"]["ports"][0].get("nodePort") != v("frontend.service.nodePort", 30000):
        err("frontend NodePort is not the configured one (default 30000)")
for comp in ("frontend", "backend", "mcpServer", "aiAgent"):
    want = v(f"{comp}.service.name")
    if want and v(f"{comp}.enabled", comp in ("frontend", "backend")):
        if want not in {s["metadata"]["name"] for s in by_kind("Service")}:
            err(f"Service {want} (from {comp}.service.name) not rendered")

# The MCP server alone (role mcp): its own ClusterIP Service on mcpServer.service.port (8001).
mcp_svc = services.get("mcp-server")
if v("mcpServer.enabled", False):
    if not mcp_svc:
        err("mcpServer enabled but no mcp-server Service")
    elif mcp_svc["spec"]["type"] != v("mcpServer.service.type", "ClusterIP") or \
            mcp_svc["spec"]["ports"][0]["port"] != v("mcpServer.service.port", 8001):
        err("mcp-server Service is not on mcpServer.service.type / port (ClusterIP 8001)")
elif mcp_svc or "mcp-server" in deployments:
    err("mcpServer disabled (the default) but an mcp-server Service or Deployment is rendered")

# --- topology-specific promises -----------------------------------------------------
mode = v("database.mode", "sqlite")
backend = deployments.get("backend")
if mode == "sqlite" and backend:
    if backend["spec"].get("replicas") != 1:
        err("sqlite mode: backend must run exactly 1 replica")
    vols = {vol["name"]: vol for vol in backend["spec"]["template"]["spec"]["volumes"]}
    if "persistentVolumeClaim" not in vols.get("data", {}):
        err("sqlite mode: /data is not on a PVC")
if mode == "postgresql":
    sts = by_kind("StatefulSet")
    if len(sts) != 1 or not sts[0]["spec"].get("volumeClaimTemplates"):
        err("postgresql mode: no StatefulSet with a volumeClaimTemplate")
    elif not sts[0]["spec"]["template"]["spec"]["containers"][0]["image"].startswith("postgres:"):
        err("postgresql mode: StatefulSet does not use the official postgres image")
    if backend:
        env = {e["name"] for e in backend["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        if "PGPASSWORD" not in env:
            err("postgresql mode: backend gets no PGPASSWORD")
for d in workloads:
    for c in d["spec"]["template"]["spec"].get("containers", []):
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            cmd = c.get(probe, {}).get("exec", {}).get("command", [])
            if cmd[:1] == ["pg_isready"] and "-U" not in cmd:
                # UID 10001 has no passwd entry: without -U pg_isready exits 3 ("no attempt").
                err(f"{d['metadata']['name']}/{c['name']}: {probe} runs pg_isready without -U")
if mode == "external" and backend:
    env = {e["name"]: e for e in backend["spec"]["template"]["spec"]["containers"][0].get("env", [])}
    if "secretKeyRef" not in env.get("DATABASE_URL", {}).get("valueFrom", {}):
        err("external mode: DATABASE_URL not taken from a Secret")

if v("ingress.enabled"):
    # the main Ingress; the agent's (chat routes, a regular expression) is checked below
    ings = [i for i in by_kind("Ingress") if not i["metadata"]["name"].endswith("-agent")]
    if len(ings) != 1:
        err("ingress enabled but no Ingress rendered")
    else:
        rule = ings[0]["spec"]["rules"][0]
        if rule["host"] != v("ingress.host", "todo.local"):
            err("Ingress host mismatch")
        paths = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
        if be_svc and paths.get("/api") != be_svc["metadata"]["name"]:
            err("Ingress /api does not go to the backend")
        if fe_svc and paths.get("/") != fe_svc["metadata"]["name"]:
            err("Ingress / does not go to the frontend")
        # /mcp and its OAuth metadata: to the MCP server when it runs, else to the backend
        # (a path a values file leaves out falls under "/": the frontend proxies it)
        mcp_target = mcp_svc or be_svc
        for path in ("/mcp", "/.well-known/oauth-protected-resource"):
            if mcp_target and path in paths and paths[path] != mcp_target["metadata"]["name"]:
                err(f"Ingress {path} does not go to {mcp_target['metadata']['name']}")
        if mcp_svc and paths.get("/mcp") != mcp_svc["metadata"]["name"]:
            err("mcpServer enabled but the Ingress does not send /mcp to it")

if v("ingress.enabled") and v("networkPolicy.enabled", True) and be_svc:
    pols = [p for p in by_kind("NetworkPolicy") if p["spec"]["podSelector"]["matchLabels"].get(
        "app.kubernetes.io/component") == "backend"]
    ns = v("networkPolicy.ingressControllerNamespace", "ingress-nginx")
    peers = [peer for rule in (pols[0]["spec"].get("ingress", []) if pols else []) for peer in rule.get("from", [])]
    if not any(p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == ns
               for p in peers):
        err(f"ingress routes to the backend but its NetworkPolicy does not admit namespace {ns}")

# --- the MCP server (issue 11): the mcp-server runs with the backend's database and
# secret, under the configured server name, and the ingress can reach whatever serves /mcp.
DB_COMPONENTS = ("backend", "mcp-server", "ai-agent")
cms = [c for c in by_kind("ConfigMap") if c["metadata"]["labels"].get("app.kubernetes.io/component")
       not in ("postgresql",)]


def container_env(comp):
    d = deployments.get(comp)
    if not d:
        return None, None
    c = d["spec"]["template"]["spec"]["containers"][0]
    refs = {r["configMapRef"]["name"] for r in c.get("envFrom", []) if "configMapRef" in r}
    return {e["name"]: e for e in c.get("env", [])}, refs


mcp_env, mcp_refs = container_env("mcp-server")
if mcp_env is not None:
    be_env, _ = container_env("backend")
    for key in ("JWT_SECRET", "PGPASSWORD", "DATABASE_URL"):
        # the same credential from the same place as the backend's: one database, one secret
        if be_env is not None and key in be_env and mcp_env.get(key) != be_env[key]:
            err(f"mcp-server: {key} is not the backend's ({mcp_env.get(key)} != {be_env[key]})")
    cm_names = {c["metadata"]["name"] for c in cms}
    if not (mcp_refs & cm_names):
        err("mcp-server: does not read the chart's ConfigMap (envFrom)")
    name = v("config.mcpServerName")
    if name and not any(c.get("data", {}).get("MCP_SERVER_NAME") == name for c in cms
                        if c["metadata"]["name"] in mcp_refs):
        err(f"config.mcpServerName={name} is not MCP_SERVER_NAME in the mcp-server's ConfigMap")
# --- the assistant (issue 12): the agent shares the backend's database and secret, the
# provider settings are in the ConfigMap, and with an ingress the chat routes reach the agent.
agent_env, agent_refs = container_env("ai-agent")
if agent_env is not None:
    be_env, _ = container_env("backend")
    for key in ("JWT_SECRET", "PGPASSWORD", "DATABASE_URL", "OPENAI_API_KEY", "LLM_API_KEY"):
        if be_env is not None and key in be_env and agent_env.get(key) != be_env[key]:
            err(f"ai-agent: {key} is not the backend's")
    if not (agent_refs & {c["metadata"]["name"] for c in cms}):
        err("ai-agent: does not read the chart's ConfigMap (envFrom)")
for key, var in (("provider", "LLM_PROVIDER"), ("baseUrl", "LLM_BASE_URL"), ("model", "LLM_MODEL")):
    want = v(f"config.llm.{key}")
    got = {c.get("data", {}).get(var) for c in cms}
    if want and want not in got:
        err(f"config.llm.{key}={want} is not {var} in the ConfigMap")
    if not want and "" in got:
        err(f"{var} rendered empty (an unset value must be left out)")
if v("ingress.enabled") and v("aiAgent.enabled", False):
    import re as _re
    agent_svc = next((s_["metadata"]["name"] for s_ in by_kind("Service")
                      if s_["metadata"]["labels"].get("app.kubernetes.io/component") == "ai-agent"), None)
    agent_paths = [(i, p) for i in by_kind("Ingress") for r in i["spec"]["rules"] for p in r["http"]["paths"]
                   if p["backend"]["service"]["name"] == agent_svc]
    for url in ("/api/0b5e1a52-9f0e-4c1e-9d3a-2f0c7a1b2c3d/chat", "/api/me/chat",
                "/api/me/conversations", "/api/me/conversations/12"):
        if not any(p["pathType"] == "ImplementationSpecific"
                   and i["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/use-regex") == "true"
                   and _re.match(p["path"], url) for i, p in agent_paths):
            err(f"the ingress does not send {url} to the ai-agent")
    for url in ("/api/me/tasks", "/api/auth/login", "/api/me/chatter"):
        if any(_re.match(p["path"], url) and _re.match(p["path"], url).end() == len(url) for _, p in agent_paths):
            err(f"the ingress sends {url} to the ai-agent")
if mode == "postgresql":
    for comp in DB_COMPONENTS:
        env, _ = container_env(comp)
        if env is not None and "PGPASSWORD" not in env:
            err(f"postgresql mode: {comp} gets no PGPASSWORD")
if mode == "external":
    for comp in DB_COMPONENTS:
        env, _ = container_env(comp)
        if env is not None and "secretKeyRef" not in env.get("DATABASE_URL", {}).get("valueFrom", {}):
            err(f"external mode: {comp}'s DATABASE_URL not taken from a Secret")
if v("ingress.enabled") and v("networkPolicy.enabled", True):
    ns = v("networkPolicy.ingressControllerNamespace", "ingress-nginx")
    ings = by_kind("Ingress")
    routed = {p["backend"]["service"]["name"] for i in ings for r in i["spec"]["rules"]
              for p in r["http"]["paths"]}
    for svc in by_kind("Service"):
        comp = svc["metadata"]["labels"].get("app.kubernetes.io/component")
        if svc["metadata"]["name"] not in routed or comp == "frontend":
            continue
        pols = [p for p in by_kind("NetworkPolicy")
                if p["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == comp]
        peers = [peer for pol in pols for rule in pol["spec"].get("ingress", [])
                 for peer in rule.get("from", [])]
        if not any(p.get("namespaceSelector", {}).get("matchLabels", {}).get(
                "kubernetes.io/metadata.name") == ns for p in peers):
            err(f"the Ingress routes to {comp} but its NetworkPolicy does not admit namespace {ns}")

if v("persistence.uploads.hostPath.enabled"):
    pvs = by_kind("PersistentVolume")
    if len(pvs) != 1 or "hostPath" not in pvs[0]["spec"]:
        err("uploads hostPath PV missing")
    pvcs = [p for p in by_kind("PersistentVolumeClaim") if p["metadata"]["name"].endswith("-uploads")]
    if not pvcs or pvcs[0]["spec"].get("volumeName") != pvs[0]["metadata"]["name"]:
        err("uploads PVC not bound to the hostPath PV")

for comp, d in deployments.items():
    key = {"frontend": "frontend", "backend": "backend", "mcp-server": "mcpServer", "ai-agent": "aiAgent"}[comp]
    if v(f"{key}.autoscaling.enabled"):
        if "replicas" in d["spec"]:
            err(f"{comp}: autoscaled Deployment must not set replicas")
        if not [h for h in by_kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == d["metadata"]["name"]]:
            err(f"{comp}: no HPA")
    elif d["spec"].get("replicas") != v(f"{key}.replicaCount", 1):
        err(f"{comp}: replicas != {key}.replicaCount")

if by_kind("Namespace"):
    err("a Namespace is rendered (Helm 3 cannot install a chart that creates its own namespace)")

# No secret value from a values file may be rendered (ci files use existingSecret).
for s in by_kind("Secret"):
    comp = s["metadata"]["labels"].get("app.kubernetes.io/component")
    # Allowed: the generated database password, and the chart's Secret when it holds only a
    # JWT secret the chart generated (no secrets.jwtSecret in the values).
    generated_jwt = (set(s.get("data") or {}) == {v("secrets.keys.jwtSecret", "JWT_SECRET")}
                     and not v("secrets.jwtSecret") and not v("secrets.existingSecret"))
    if comp != "postgresql" and not generated_jwt:
        err(f"Secret/{s['metadata']['name']} rendered from committed values")

tests = [d for d in by_kind("Pod") if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
for d in docs:
    ann = d["metadata"].get("annotations", {})
    if ann.get("helm.sh/hook") == "test" and d["kind"] != "Pod":
        err(f"{d['kind']}/{d['metadata']['name']}: only Pods may be test hooks (helm test --logs reads every test hook as a pod)")
    if ann.get("helm.sh/hook") == "test":
        # Helm never deletes hooks on uninstall: a passing test's pod must go by itself
        # (hook-succeeded), a failing one stay for its logs (no hook-failed) until the next
        # helm test replaces it (before-hook-creation).
        policy = {p.strip() for p in ann.get("helm.sh/hook-delete-policy", "").split(",") if p.strip()}
        if policy != {"before-hook-creation", "hook-succeeded"}:
            err(f"{d['kind']}/{d['metadata']['name']}: hook-delete-policy {sorted(policy)}, want "
                "before-hook-creation,hook-succeeded (nothing left after uninstall; a failure kept for its logs)")
for pv in by_kind("PersistentVolume"):
    if pv["metadata"].get("annotations", {}).get("helm.sh/resource-policy") != "keep":
        err(f"PersistentVolume/{pv['metadata']['name']}: not kept with its kept claim (it would hang Terminating)")
if not any("/ready" in " ".join(p["spec"]["containers"][0].get("args", [])) for p in tests):
    err("no helm test pod running `todo healthcheck --url http://<backend>/ready`")

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
