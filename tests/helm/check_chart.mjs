// check_chart.mjs CHECK: the Helm chart's properties, one named check per ctest
// (tests/helm/CMakeLists.txt). Each check renders helm/surge with the real helm binary
// (env HELM) under several value sets and asserts on the manifests; run.sh puts the
// tooling in place. Exits 0 when every assertion holds, 1 otherwise, and prints
// "N passed, M failed".
import { spawnSync } from "node:child_process";
import { cpSync, rmSync, mkdirSync, readFileSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";

const HELM = process.env.HELM;
const CHART = process.env.CHART;
const SCRATCH = process.env.SCRATCH;
const RELEASE = "bench";
const NAMESPACE = "loadtest";

// ---------------------------------------------------------------- assertions

let passed = 0;
let failed = 0;
function expect(cond, what) {
    if (cond) {
        passed++;
    } else {
        failed++;
        console.log(`FAIL: ${what}`);
    }
}
function expectEqual(actual, wanted, what) {
    const a = JSON.stringify(actual);
    const w = JSON.stringify(wanted);
    expect(a === w, `${what}: got ${a}, want ${w}`);
}

// ---------------------------------------------------------------- rendering

function helm(args) {
    const r = spawnSync(HELM, args, { encoding: "utf8", maxBuffer: 64 << 20 });
    return { ok: r.status === 0, out: r.stdout || "", err: r.stderr || "" };
}

// The value sets every structural check runs over: the default, both examples, and the
// switches that change which objects and mounts are rendered.
const VARIANTS = {
    default: [],
    "examples/default": ["-f", join(CHART, "examples/default.yaml")],
    "examples/campaign-64gpu": ["-f", join(CHART, "examples/campaign-64gpu.yaml")],
    insecure: ["--set", "insecure=true"],
    "api-key-file": ["--set", "apiKey.existingSecret=vllm-key", "--set", "apiKey.mountAsFile=true"],
    "pvc+servicemonitor": [
        "--set", "results.persistence.enabled=true",
        "--set", "metrics.serviceMonitor.enabled=true",
    ],
    "existing-claim+configmap": [
        "--set", "results.persistence.enabled=true",
        "--set", "results.persistence.existingClaim=old-results",
        "--set", "plan.existingConfigMap=my-plan",
    ],
    "ctl-localhost+no-metrics": ["--set", "ctl.bindAddress=127.0.0.1", "--set", "metrics.enabled=false"],
    "fleet-only": ["--set", "coordinator.enabled=false"],
    networkpolicy: [
        "--set", "networkPolicy.enabled=true",
        "--set", "networkPolicy.ctlFrom[0].podSelector.matchLabels.role=operator",
    ],
};

function render(args, what) {
    const r = helm(["template", RELEASE, CHART, "--namespace", NAMESPACE, ...args]);
    if (!r.ok) {
        expect(false, `helm template ${what}: ${r.err.trim()}`);
        return [];
    }
    return YAML.parseAllDocuments(r.out)
        .map((d) => d.toJS())
        .filter((d) => d && typeof d === "object");
}

function forEachVariant(fn) {
    for (const [name, args] of Object.entries(VARIANTS)) fn(name, render(args, name));
}

const byKind = (docs, kind) => docs.filter((d) => d.kind === kind);
const one = (docs, kind) => byKind(docs, kind)[0];
const podSpecs = (docs) =>
    docs
        .filter((d) => d.spec && d.spec.template && d.spec.template.spec)
        .map((d) => ({ owner: `${d.kind}/${d.metadata.name}`, pod: d.spec.template }));
const allContainers = (spec) => [...(spec.initContainers || []), ...(spec.containers || [])];
const workerContainer = (docs) => one(docs, "Deployment").spec.template.spec.containers[0];
const coordinatorContainer = (docs) => one(docs, "Job").spec.template.spec.containers[0];
// The coordinator's surge arguments: after the sh script and its $0.
const coordinatorArgs = (docs) => coordinatorContainer(docs).args.slice(2);

// Value of a flag in an argument list ("--connect", "x") -> "x"; all values for repeats.
const flagValues = (args, flag) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

// ---------------------------------------------------------------- checks

const checks = {};

// `helm lint --strict` passes for the default values, every example and each switch.
checks.chart_lints_strict = () => {
    for (const [name, args] of Object.entries(VARIANTS)) {
        const r = helm(["lint", "--strict", CHART, "--namespace", NAMESPACE, ...args]);
        expect(r.ok, `helm lint --strict (${name}): ${r.out}${r.err}`);
    }
};

// Every rendered object is a kind we know and validates against Kubernetes' own schemas
// (kubernetes-models, generated from the Kubernetes OpenAPI; the Prometheus Operator's for
// ServiceMonitor); names fit in a DNS label.
checks.manifests_validate_against_kubernetes_schemas = async () => {
    const modelOf = async (apiVersion, kind) => {
        const mod =
            apiVersion === "monitoring.coreos.com/v1"
                ? await import(`@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`)
                : await import(`kubernetes-models/${apiVersion}/${kind}`);
        return mod[kind];
    };
    const seen = new Set();
    for (const [name, args] of Object.entries(VARIANTS)) {
        const docs = render(args, name);
        expect(docs.length >= 2, `${name}: renders objects (got ${docs.length})`);
        for (const doc of docs) {
            const id = `${name}: ${doc.apiVersion} ${doc.kind} ${doc.metadata && doc.metadata.name}`;
            seen.add(doc.kind);
            let Model;
            try {
                Model = await modelOf(doc.apiVersion, doc.kind);
            } catch (e) {
                expect(false, `${id}: no schema for this kind (${e.message})`);
                continue;
            }
            try {
                new Model(doc).validate();
                expect(true, id);
            } catch (e) {
                expect(false, `${id}: ${e.message}`);
            }
            const n = doc.metadata.name;
            expect(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) && n.length <= 63, `${id}: name is a DNS label`);
        }
    }
    for (const k of ["ConfigMap", "Service", "Deployment", "Job", "PersistentVolumeClaim", "ServiceMonitor", "NetworkPolicy"])
        expect(seen.has(k), `some value set renders a ${k}`);
};

// Every pod runs non-root with RuntimeDefault seccomp and no service-account token; every
// container has a read-only root filesystem, no privilege escalation, every capability
// dropped and none added; the only writable paths are volumes (/tmp, /results).
checks.pods_run_nonroot_readonly_without_capabilities = () => {
    forEachVariant((variant, docs) => {
        const pods = podSpecs(docs);
        expect(pods.length >= 1, `${variant}: has pods`);
        for (const { owner, pod } of pods) {
            const at = `${variant} ${owner}`;
            const spec = pod.spec;
            const psc = spec.securityContext || {};
            expect(psc.runAsNonRoot === true, `${at}: pod runAsNonRoot`);
            expect(psc.runAsUser === undefined || psc.runAsUser > 0, `${at}: pod runAsUser is not root`);
            expect(psc.seccompProfile && psc.seccompProfile.type === "RuntimeDefault", `${at}: seccomp RuntimeDefault`);
            expect(spec.automountServiceAccountToken === false, `${at}: no service account token`);
            for (const f of ["hostNetwork", "hostPID", "hostIPC"]) expect(!spec[f], `${at}: no ${f}`);
            const volumes = Object.fromEntries((spec.volumes || []).map((v) => [v.name, v]));
            for (const c of allContainers(spec)) {
                const cat = `${at} container ${c.name}`;
                const sc = c.securityContext || {};
                expect(sc.runAsNonRoot === true, `${cat}: runAsNonRoot`);
                expect(sc.runAsUser === undefined || sc.runAsUser > 0, `${cat}: runAsUser is not root`);
                expect(sc.readOnlyRootFilesystem === true, `${cat}: readOnlyRootFilesystem`);
                expect(sc.allowPrivilegeEscalation === false, `${cat}: allowPrivilegeEscalation false`);
                expect(sc.privileged !== true, `${cat}: not privileged`);
                const caps = sc.capabilities || {};
                expect((caps.drop || []).includes("ALL"), `${cat}: capabilities drop ALL`);
                expect(!caps.add || caps.add.length === 0, `${cat}: no added capabilities`);
                const mounts = c.volumeMounts || [];
                const tmp = mounts.find((m) => m.mountPath === "/tmp");
                expect(tmp && volumes[tmp.name] && volumes[tmp.name].emptyDir, `${cat}: /tmp is a writable emptyDir`);
                for (const m of mounts) {
                    const v = volumes[m.name] || {};
                    if (v.secret || v.projected || v.configMap)
                        expect(m.readOnly === true, `${cat}: ${m.mountPath} (secret/config) mounted read-only`);
                }
            }
        }
    });
};

// Workers connect to the coordinator Service's "workers" port by its fully qualified name,
// the Service selects the coordinator pod (and not the workers), every allow-list entry
// becomes exactly one --allow-target, and the coordinator waits for as many workers as the
// Deployment runs.
checks.workers_connect_to_coordinator_service_within_allow_list = () => {
    const cases = {
        default: { args: [], targets: ["vllm.inference.svc.cluster.local:8000"], replicas: 4 },
        "examples/campaign-64gpu": {
            args: VARIANTS["examples/campaign-64gpu"],
            targets: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `vllm-${i}.inference.svc.cluster.local:8000`),
            replicas: 16,
        },
        "two targets, port 5600": {
            args: [
                "--set", "workers.allowTargets={a.example:80,[::1]:8000}",
                "--set", "coordinator.port=5600", "--set", "workers.replicas=3",
            ],
            targets: ["a.example:80", "[::1]:8000"],
            replicas: 3,
        },
    };
    for (const [name, c] of Object.entries(cases)) {
        const docs = render(c.args, name);
        const svc = one(docs, "Service");
        const dep = one(docs, "Deployment");
        const job = one(docs, "Job");
        if (!svc || !dep || !job) {
            expect(false, `${name}: renders a Service, a Deployment and a Job`);
            continue;
        }
        const w = workerContainer(docs);
        const port = svc.spec.ports.find((p) => p.name === "workers");
        expectEqual(w.command, ["surge"], `${name}: worker command`);
        expectEqual(w.args[0], "worker", `${name}: worker subcommand`);
        expectEqual(
            flagValues(w.args, "--connect"),
            [`tcp://${svc.metadata.name}.${NAMESPACE}.svc.cluster.local:${port.port}`],
            `${name}: workers connect to the coordinator Service`
        );
        const jobPort = coordinatorContainer(docs).ports.find((p) => p.name === port.targetPort);
        expect(jobPort, `${name}: Service targetPort ${port.targetPort} is a coordinator port`);
        expectEqual(
            flagValues(coordinatorArgs(docs), "--bind"),
            [`tcp://*:${jobPort && jobPort.containerPort}`],
            `${name}: the coordinator binds the port the Service targets`
        );
        const sel = svc.spec.selector;
        const matches = (labels) => Object.entries(sel).every(([k, v]) => labels[k] === v);
        expect(matches(job.spec.template.metadata.labels), `${name}: Service selects the coordinator pod`);
        expect(!matches(dep.spec.template.metadata.labels), `${name}: Service does not select worker pods`);
        expectEqual(flagValues(w.args, "--allow-target"), c.targets, `${name}: --allow-target list`);
        expectEqual(flagValues(w.args, "--id"), ["$(POD_NAME)"], `${name}: worker id is the pod name`);
        const podName = (w.env || []).find((e) => e.name === "POD_NAME");
        expect(
            podName && podName.valueFrom.fieldRef.fieldPath === "metadata.name",
            `${name}: POD_NAME comes from metadata.name`
        );
        expectEqual(flagValues(w.args, "--reconnect-timeout"), ["24h"], `${name}: a standing fleet waits for the next run`);
        expectEqual(dep.spec.replicas, c.replicas, `${name}: worker replicas`);
        expectEqual(flagValues(coordinatorArgs(docs), "--workers"), [String(c.replicas)], `${name}: --workers`);
        expectEqual(coordinatorArgs(docs).slice(0, 2), ["coordinator", "/etc/surge/plan/plan.yaml"], `${name}: plan path`);
        const spread = dep.spec.template.spec.topologySpreadConstraints || [];
        expect(
            spread.some(
                (t) =>
                    t.topologyKey === "kubernetes.io/hostname" &&
                    Object.entries(t.labelSelector.matchLabels).every(
                        ([k, v]) => dep.spec.template.metadata.labels[k] === v
                    )
            ),
            `${name}: workers spread across nodes (kubernetes.io/hostname, selecting the workers)`
        );
    }
    // The 64-GPU example places workers on the load pool, tolerates it and has a priority.
    const c = render(VARIANTS["examples/campaign-64gpu"], "campaign");
    const ps = one(c, "Deployment").spec.template.spec;
    expectEqual(ps.nodeSelector, { "node-pool": "loadgen" }, "campaign: worker nodeSelector");
    expect(ps.tolerations && ps.tolerations.length === 1, "campaign: worker tolerations");
    expectEqual(ps.priorityClassName, "loadgen", "campaign: worker priorityClassName");
    expect(ps.affinity && ps.affinity.nodeAffinity, "campaign: worker affinity");
    expectEqual(flagValues(coordinatorArgs(c), "--min-workers"), ["14"], "campaign: --min-workers");
    // The NetworkPolicy guards the coordinator pod and admits the worker pods on the port
    // the workers use; ctl only from the listed peers.
    const np = render(VARIANTS.networkpolicy, "networkpolicy");
    const pol = one(np, "NetworkPolicy");
    const npJob = one(np, "Job");
    const npDep = one(np, "Deployment");
    const selects = (sel, labels) => Object.entries(sel.matchLabels).every(([k, v]) => labels[k] === v);
    expect(pol && selects(pol.spec.podSelector, npJob.spec.template.metadata.labels), "NetworkPolicy selects the coordinator pod");
    expect(pol && !selects(pol.spec.podSelector, npDep.spec.template.metadata.labels), "NetworkPolicy does not select workers");
    const rules = pol ? pol.spec.ingress : [];
    const rulePorts = (r) => r.ports.map((p) => p.port);
    const workersRule = rules.find((r) => rulePorts(r).includes("workers"));
    expect(
        workersRule && workersRule.from.length === 1 && selects(workersRule.from[0].podSelector, npDep.spec.template.metadata.labels),
        "NetworkPolicy admits the worker pods (only) on the workers port"
    );
    const ctlRule = rules.find((r) => rulePorts(r).includes("ctl"));
    expectEqual(ctlRule && ctlRule.from, [{ podSelector: { matchLabels: { role: "operator" } } }], "ctl only from the listed peers");
    expect(!rules.some((r) => rulePorts(r).includes("metrics")), "no metricsFrom: nobody scrapes through the policy");
    expect(!rules.some((r) => !r.from || r.from.length === 0), "no rule admits everyone");

    // Without a coordinator the fleet still has a Service name to wait on.
    const fleet = render(VARIANTS["fleet-only"], "fleet-only");
    expect(!one(fleet, "Job") && one(fleet, "Service") && one(fleet, "Deployment"), "fleet-only: Service + workers, no Job");
    // An empty allow-list is refused at render time, not discovered at run time.
    const empty = helm(["template", RELEASE, CHART, "--set", "workers.allowTargets=null"]);
    expect(!empty.ok, "an empty allow-list is refused");
};

// CURVE is on unless `insecure: true` is set explicitly: then, and only then, both sides
// get --insecure and no key mounts. Each side mounts only its own secret certificate.
checks.insecure_only_when_asked = () => {
    forEachVariant((variant, docs) => {
        if (variant === "insecure") return;
        const w = workerContainer(docs);
        expect(!w.args.includes("--insecure"), `${variant}: worker is not --insecure`);
        expectEqual(flagValues(w.args, "--cert"), ["/etc/surge/keys/worker.key_secret"], `${variant}: worker --cert`);
        expectEqual(
            flagValues(w.args, "--coordinator-key"),
            ["/etc/surge/keys/coordinator.key"],
            `${variant}: worker --coordinator-key`
        );
        const wkeys = one(docs, "Deployment").spec.template.spec.volumes.find((v) => v.name === "keys");
        const witems = wkeys.projected.sources.flatMap((s) => s.secret.items.map((i) => i.key));
        expectEqual(witems.sort(), ["coordinator.key", "worker.key_secret"], `${variant}: worker gets only its keys`);
        if (!one(docs, "Job")) return;
        const a = coordinatorArgs(docs);
        expect(!a.includes("--insecure"), `${variant}: coordinator is not --insecure`);
        expectEqual(
            flagValues(a, "--cert"),
            ["/etc/surge/keys/coordinator.key_secret"],
            `${variant}: coordinator --cert`
        );
        expectEqual(flagValues(a, "--allowed-keys"), ["/etc/surge/keys/workers/"], `${variant}: --allowed-keys`);
        // Operators' keys live in a directory of their own: a worker key never commands ctl.
        expectEqual(
            flagValues(a, "--ctl-allowed-keys"),
            ["/etc/surge/keys/operators/"],
            `${variant}: --ctl-allowed-keys`
        );
        const ckeys = one(docs, "Job").spec.template.spec.volumes.find((v) => v.name === "keys");
        const citems = ckeys.projected.sources.flatMap((s) => s.secret.items);
        const publicDir = (i) => i.path.startsWith("workers/") || i.path.startsWith("operators/");
        expect(
            citems.every((i) => i.key === "coordinator.key_secret" || publicDir(i)),
            `${variant}: coordinator gets its secret key and worker/operator public keys only`
        );
        expect(
            citems.filter(publicDir).every((i) => !i.key.endsWith("_secret")),
            `${variant}: no secret key in the allowed-keys directories`
        );
        expect(
            citems.some((i) => i.path === "operators/operator.key"),
            `${variant}: the default operator key is mounted for ctl`
        );
    });
    const docs = render(["--set", "insecure=true"], "insecure");
    const w = workerContainer(docs);
    const a = coordinatorArgs(docs);
    expect(w.args.includes("--insecure") && a.includes("--insecure"), "insecure=true: both sides --insecure");
    expect(!w.args.includes("--cert") && !a.includes("--cert"), "insecure=true: no --cert");
    for (const { owner, pod } of podSpecs(docs))
        expect(!(pod.spec.volumes || []).some((v) => v.name === "keys"), `insecure=true: ${owner} mounts no keys`);
    // Only a real boolean turns it on.
    for (const args of [["--set-string", "insecure=true"], ["--set", "insecure=1"], ["--set", "insecure=yes"]]) {
        const r = helm(["template", RELEASE, CHART, ...args]);
        expect(!r.ok, `${args.join(" ")} is refused (not a boolean)`);
    }
};

// The inference API key reaches the workers only as a reference to a Secret: an env var
// with valueFrom.secretKeyRef (or a secret volume), never a literal value, never in a
// ConfigMap, never in the coordinator; the chart has no value to inline it and renders no
// Secret of its own.
// Every flag the chart renders is one `surge coordinator` / `surge worker` accepts (a flag the
// binary lacks makes the pod exit 2 at once), in every variant.
checks.rendered_flags_are_surge_flags = () => {
    const bin = process.env.SURGE_BIN;
    expect(bin && existsSync(bin), `SURGE_BIN (${bin}) is the surge binary`);
    const known = (cmd) => {
        const r = spawnSync(bin, [cmd, "--help"], { encoding: "utf8" });
        return new Set((r.stdout + r.stderr).match(/--[a-z][a-z0-9-]*/g) || []);
    };
    const coordinatorFlags = known("coordinator");
    const workerFlags = known("worker");
    forEachVariant((variant, docs) => {
        const flags = (args) => args.filter((a) => /^--[a-z]/.test(a)).map((a) => a.split("=")[0]);
        for (const f of flags(workerContainer(docs).args))
            expect(workerFlags.has(f), `${variant}: worker flag ${f} is in surge worker --help`);
        if (!one(docs, "Job")) return;
        for (const f of flags(coordinatorArgs(docs)))
            expect(coordinatorFlags.has(f), `${variant}: coordinator flag ${f} is in surge coordinator --help`);
    });
};

checks.api_key_referenced_from_secret_never_inlined = () => {
    const docs = render(
        ["--set", "apiKey.existingSecret=vllm-api-key", "--set", "apiKey.secretKey=token", "--set", "apiKey.envName=VLLM_KEY"],
        "api key"
    );
    const w = workerContainer(docs);
    const env = (w.env || []).find((e) => e.name === "VLLM_KEY");
    expect(env, "worker has the VLLM_KEY env var");
    expect(env && env.value === undefined, "VLLM_KEY has no literal value");
    expectEqual(env && env.valueFrom, { secretKeyRef: { name: "vllm-api-key", key: "token" } }, "VLLM_KEY from the Secret");
    expect(!(coordinatorContainer(docs).env || []).some((e) => e.name === "VLLM_KEY"), "coordinator does not get the key");
    // The one Secret the chart renders is the live page's random token (docs/live.md).
    expectEqual(byKind(docs, "Secret").map((d) => d.metadata.name.endsWith("-live-token")), [true], "the chart renders no Secret but the live token's");
    for (const sec of byKind(docs, "Secret"))
        expect(!JSON.stringify(sec).includes("vllm-api-key"), `Secret ${sec.metadata.name} does not mention the key`);
    for (const cm of byKind(docs, "ConfigMap"))
        expect(!JSON.stringify(cm).includes("vllm-api-key"), `ConfigMap ${cm.metadata.name} does not mention the key`);

    const file = render(VARIANTS["api-key-file"], "api key file");
    const fw = workerContainer(file);
    const vol = one(file, "Deployment").spec.template.spec.volumes.find((v) => v.name === "api-key");
    expectEqual(vol && vol.secret && vol.secret.secretName, "vllm-key", "api-key file volume is the Secret");
    const m = (fw.volumeMounts || []).find((x) => x.name === "api-key");
    expect(m && m.readOnly === true && m.mountPath === "/etc/surge/api-key", "api-key mounted read-only");
    expectEqual(flagValues(fw.args, "--api-key-dir"), ["/etc/surge/api-key"], "workers read key files only in the mount (--api-key-dir)");
    expectEqual(flagValues(workerContainer(render([], "default")).args, "--api-key-dir"), [], "no --api-key-dir without a key file");
    expect(!(coordinatorContainer(file).volumeMounts || []).some((x) => x.name === "api-key"), "coordinator mounts no api key");

    // No value set ever inlines a secret: no env var anywhere has a literal that came from
    // values other than the chart's own fixed settings.
    const none = render([], "default");
    expect(!(workerContainer(none).env || []).some((e) => e.name === "SURGE_API_KEY"), "no key env without a Secret");
    for (const bad of ["apiKey.value=sk-live-123", "apiKey.key=sk-live-123", "workers.env[0].value=sk-live-123"]) {
        const r = helm(["template", RELEASE, CHART, "--set", bad]);
        expect(!r.ok && !r.out.includes("sk-live-123"), `--set ${bad} is refused`);
    }
};

// values.schema.json refuses wrong types, out-of-range numbers, unknown keys and bad enums
// with a message naming the key; the same command with good values renders (so the
// refusals come from the values, not from a broken chart).
// The live page (docs/live.md): the coordinator Service has a port named `live` onto the
// server of /metrics; its token is in a Secret (the chart's random one, or yours), mounted
// read-only and named by --live-token-file; the ServiceMonitor sends it; NOTES.txt says
// how to port-forward and open the page.
checks.live_page_on_service_port_with_token_secret = () => {
    const docs = render([], "default");
    const svc = one(docs, "Service");
    const live = (svc.spec.ports || []).find((p) => p.name === "live");
    expect(live && live.targetPort === "metrics", `Service ${svc.metadata.name} has port live -> metrics`);
    const secret = byKind(docs, "Secret").find((d) => d.metadata.name.endsWith("-live-token"));
    expect(secret && Buffer.from(secret.data.token || "", "base64").toString().length >= 32, "a random token of 32+ characters in the chart's Secret");
    const args = coordinatorArgs(docs);
    expectEqual(flagValues(args, "--live-token-file"), ["/etc/surge/live/token"], "--live-token-file names the mounted token");
    const c = coordinatorContainer(docs);
    const job = one(docs, "Job").spec.template.spec;
    const vol = (job.volumes || []).find((v) => v.name === "live-token");
    expect(vol && secret && vol.secret && vol.secret.secretName === secret.metadata.name, "the token volume is the Secret");
    expect((c.volumeMounts || []).some((m) => m.name === "live-token" && m.mountPath === "/etc/surge/live" && m.readOnly), "mounted read-only at /etc/surge/live");

    const own = render(["--set", "metrics.liveToken.existingSecret=my-token", "--set", "metrics.liveToken.secretKey=t",
                        "--set", "metrics.serviceMonitor.enabled=true"], "own token");
    expectEqual(byKind(own, "Secret").length, 0, "with existingSecret the chart renders no Secret");
    const ovol = (one(own, "Job").spec.template.spec.volumes || []).find((v) => v.name === "live-token");
    expect(ovol && ovol.secret.secretName === "my-token" && ovol.secret.items[0].key === "t", "the volume uses your Secret and key");
    const sm = one(own, "ServiceMonitor");
    expectEqual(sm && sm.spec.endpoints[0].authorization, { type: "Bearer", credentials: { name: "my-token", key: "t" } }, "the ServiceMonitor sends the token");

    const off = render(["--set", "metrics.enabled=false"], "metrics off");
    expect(!coordinatorArgs(off).includes("--live-token-file"), "metrics off: no token flag");
    expectEqual(byKind(off, "Secret").length, 0, "metrics off: no Secret");
    expect(!(one(off, "Service").spec.ports || []).some((p) => p.name === "live"), "metrics off: no live port");

    const notes = readFileSync(join(CHART, "templates/NOTES.txt"), "utf8");
    expect(/port-forward svc\/\{\{ \$svc \}\} 8080:live/.test(notes), "NOTES.txt port-forwards the live port");
    expect(notes.includes("?token=$TOKEN") && notes.includes("surge.liveTokenSecret"), "NOTES.txt says how to read the token and open the page");
};

checks.schema_rejects_wrong_values = () => {
    const good = helm(["template", RELEASE, CHART, "--set", "workers.replicas=8"]);
    expect(good.ok, `control: workers.replicas=8 renders (${good.err.trim()})`);
    const bad = [
        [["--set-string", "workers.replicas=many"], "replicas"],
        [["--set", "workers.replicas=-1"], "replicas"],
        [["--set", "workers.replica=3"], "replica"],
        [["--set", "unknownTopLevel=1"], "unknownTopLevel"],
        [["--set", "image.pullPolicy=Sometimes"], "pullPolicy"],
        [["--set", "podSecurityContext.runAsUser=0"], "runAsUser"],
        [["--set", "workers.allowTargets={http://vllm:8000/v1}"], "allowTargets"],
        [["--set", "ctl.bindAddress=10.0.0.1"], "bindAddress"],
        [["--set", "coordinator.readyTimeout=soon"], "readyTimeout"],
        [["--set", "coordinator.port=70000"], "port"],
        [["--set", "workers.topologySpread.whenUnsatisfiable=Sometimes"], "whenUnsatisfiable"],
        [["--set", "results.persistence.enabled=maybe"], "enabled"],
    ];
    for (const [args, key] of bad) {
        const r = helm(["template", RELEASE, CHART, ...args]);
        expect(!r.ok, `${args.join(" ")} is refused`);
        expect(r.err.includes("schema") && r.err.includes(key), `${args.join(" ")}: message names the schema and ${key} (${r.err.trim()})`);
        const l = helm(["lint", "--strict", CHART, ...args]);
        expect(!l.ok, `helm lint --strict ${args.join(" ")} fails`);
    }
};

// The coordinator Job's shell wrapper runs the real coordinator command line, prints the
// results at the end, exits with the coordinator's status (0, 1 = verdict failed, ...) and
// forwards SIGTERM so a deleted pod still writes its results. A stand-in `surge` plays the
// coordinator; the wrapper and arguments are the rendered ones, run by /bin/sh.
checks.coordinator_job_prints_results_and_keeps_exit_status = async () => {
    const docs = render(["--set", "coordinator.holdAfterRunSeconds=0"], "wrapper");
    const c = coordinatorContainer(docs);
    expectEqual(c.command, ["/bin/sh", "-c"], "coordinator runs under sh -c");
    const results = join(SCRATCH, "results");
    const bin = join(SCRATCH, "bin");
    mkdirSync(bin, { recursive: true });
    // The stand-in writes results.json into --out, then exits with $FAKE_RC, or on SIGTERM
    // writes "terminated" results and exits 3. `surge report` does not know --summary, so
    // the wrapper must fall back to printing results.json.
    writeFileSync(
        join(bin, "surge"),
        `#!/bin/sh
if [ "$1" = report ]; then echo "report: unknown option --summary" >&2; exit 2; fi
[ "$1" = coordinator ] || exit 9
out=""; prev=""
for a in "$@"; do [ "$prev" = --out ] && out=$a; prev=$a; done
mkdir -p "$out"
echo "$@" > "$out/argv"
if [ -n "$FAKE_WAIT" ]; then
    trap 'echo "{\\"summary\\":\\"terminated\\"}" > "$out/results.json"; exit 3' TERM
    : > "$FAKE_WAIT"
    i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    exit 8
fi
echo "{\\"summary\\":\\"rc-$FAKE_RC\\"}" > "$out/results.json"
exit "$FAKE_RC"
`
    );
    chmodSync(join(bin, "surge"), 0o755);
    const outDir = (s) => s.replace(/^\/results/, results);
    const args = c.args.map((a, i) => (i >= 2 ? outDir(a) : a));
    const env = { PATH: `${bin}:/usr/bin:/bin`, HOSTNAME: "coordinator-pod" };
    for (const e of c.env) env[e.name] = outDir(e.value);

    for (const rc of [0, 1, 3]) {
        const r = spawnSync("/bin/sh", ["-c", ...args], { env: { ...env, FAKE_RC: String(rc) }, encoding: "utf8", timeout: 20000 });
        expectEqual(r.status, rc, `wrapper exits with the coordinator's status ${rc}`);
        expect(r.stdout.includes(`"summary":"rc-${rc}"`), `status ${rc}: results.json printed (${r.stdout.trim()})`);
        expect(r.stdout.includes(`exited with status ${rc}`), `status ${rc}: says how the run ended`);
    }
    const argv = readFileSync(join(env.SURGE_RESULTS_DIR, "argv"), "utf8").trim();
    expectEqual(argv.split(" ").slice(0, 2), ["coordinator", "/etc/surge/plan/plan.yaml"], "wrapper passes the coordinator arguments through");

    // SIGTERM to the wrapper (what the kubelet sends to PID 1) reaches the coordinator.
    const ready = join(SCRATCH, "ready");
    rmSync(ready, { force: true });
    const { spawn } = await import("node:child_process");
    const child = spawn("/bin/sh", ["-c", ...args], { env: { ...env, FAKE_WAIT: ready } });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const deadline = Date.now() + 10000;
    while (!existsSync(ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(ready), "stand-in coordinator started");
    child.kill("SIGTERM");
    const code = await new Promise((resolve) => {
        const t = setTimeout(() => (child.kill("SIGKILL"), resolve("timeout")), 10000);
        child.on("exit", (c2) => (clearTimeout(t), resolve(c2)));
    });
    expectEqual(code, 3, "SIGTERM: wrapper exits with the coordinator's status");
    expect(stdout.includes('"summary":"terminated"'), `SIGTERM: the coordinator's final results printed (${stdout.trim()})`);
};

// NOTES.txt (rendered through a copy of the chart that wraps it in a ConfigMap, since
// `helm template` does not render NOTES) and docs/kubernetes.md tell users to create
// Secrets with `kubectl create secret generic NAME --from-file=KEY=...`: those commands
// must create every Secret and key the pods mount, under the names the chart uses.
checks.notes_and_docs_create_the_secrets_the_pods_mount = () => {
    const copy = join(SCRATCH, "chart");
    cpSync(CHART, copy, { recursive: true });
    const notes = readFileSync(join(copy, "templates/NOTES.txt"), "utf8");
    writeFileSync(join(copy, "templates/_notes_render.tpl"), `{{- define "notes.render" -}}\n${notes}\n{{- end }}\n`);
    writeFileSync(
        join(copy, "templates/notes-render.yaml"),
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-render\ndata:\n  notes: {{ include "notes.render" . | quote }}\n`
    );
    const secretCommands = (text) => {
        const created = {};
        const joined = text.replace(/\\\n\s*/g, " ");
        for (const line of joined.split("\n")) {
            const m = line.match(/create secret generic (\S+)(.*)$/);
            if (!m) continue;
            created[m[1]] = [...m[2].matchAll(/--from-(?:file|literal)=([^=\s]+)=/g)].map((x) => x[1]);
        }
        return created;
    };
    const mounted = (docs) => {
        const need = {};
        const rendered = new Set(byKind(docs, "Secret").map((d) => d.metadata.name)); // the chart's own
        for (const { pod } of podSpecs(docs)) {
            for (const v of pod.spec.volumes || []) {
                const sources = v.projected ? v.projected.sources : v.secret ? [{ secret: { ...v.secret, name: v.secret.secretName } }] : [];
                for (const src of sources)
                    if (src.secret && !rendered.has(src.secret.name)) need[src.secret.name] = [...(need[src.secret.name] || []), ...src.secret.items.map((i) => i.key)];
            }
            for (const c of allContainers(pod.spec))
                for (const e of c.env || [])
                    if (e.valueFrom && e.valueFrom.secretKeyRef) {
                        const r = e.valueFrom.secretKeyRef;
                        need[r.name] = [...(need[r.name] || []), r.key];
                    }
        }
        return need;
    };
    const covers = (created, need, what) => {
        expect(Object.keys(need).length > 0, `${what}: pods mount secrets`);
        for (const [name, keys] of Object.entries(need)) {
            expect(created[name], `${what}: a command creates Secret ${name} (commands create ${JSON.stringify(Object.keys(created))})`);
            for (const k of keys)
                expect(created[name] && created[name].includes(k), `${what}: Secret ${name} gets key ${k}`);
        }
    };
    const apiArgs = ["--set", "apiKey.existingSecret=vllm-api-key"];
    for (const [what, args] of [["default", apiArgs], ["campaign", VARIANTS["examples/campaign-64gpu"]]]) {
        const r = helm(["template", "surge", copy, "--namespace", NAMESPACE, ...args]);
        expect(r.ok, `${what}: renders with NOTES (${r.err.trim()})`);
        if (!r.ok) continue;
        const docs = YAML.parseAllDocuments(r.out).map((d) => d.toJS()).filter(Boolean);
        const text = docs.find((d) => d.metadata && d.metadata.name === "notes-render").data.notes;
        covers(secretCommands(text), mounted(docs), `NOTES.txt (${what})`);
        const job = one(docs, "Job").metadata.name;
        expect(text.includes(`logs -f job/${job}`), `NOTES.txt (${what}): how to follow the Job ${job}`);
    }
    // The docs walk through release "surge" in namespace "loadtest" with the 64-GPU example.
    const docsText = readFileSync(join(CHART, "../../docs/kubernetes.md"), "utf8");
    const rd = render(VARIANTS["examples/campaign-64gpu"], "campaign");
    const release = helm(["template", "surge", CHART, "--namespace", "loadtest", ...VARIANTS["examples/campaign-64gpu"]]);
    const docs = YAML.parseAllDocuments(release.out).map((d) => d.toJS()).filter(Boolean);
    expect(rd.length > 0 && docs.length > 0, "docs: the campaign renders");
    covers(secretCommands(docsText), mounted(docs), "docs/kubernetes.md");
    const job = one(docs, "Job").metadata.name;
    const svc = one(docs, "Service").metadata.name;
    expect(docsText.includes(`job/${job}`), `docs/kubernetes.md names the Job ${job}`);
    expect(docsText.includes(`svc/${svc}`), `docs/kubernetes.md port-forwards the Service ${svc}`);
    expect(docsText.includes(flagValues(workerContainer(docs).args, "--connect")[0]), "docs/kubernetes.md shows the workers' endpoint");

    const insecure = helm(["template", "surge", copy, "--namespace", NAMESPACE, "--set", "insecure=true"]);
    const itext = YAML.parseAllDocuments(insecure.out).map((d) => d.toJS()).find((d) => d && d.metadata.name === "notes-render");
    expect(itext && itext.data.notes.includes("WARNING: insecure=true"), "NOTES.txt warns when insecure");
    expect(itext && !itext.data.notes.includes("create secret generic"), "NOTES.txt (insecure): no key commands");
};

// The plans the chart ships (the default and each example's) are valid surge plans, as
// `surge validate` judges them. Skipped while the binary has no `validate` command.
checks.shipped_plans_validate = () => {
    const bin = process.env.SURGE_BIN;
    const probe = bin ? spawnSync(bin, ["validate", "--help"], { encoding: "utf8" }) : { status: null };
    if (probe.status !== 0) {
        console.log(`SKIP: ${bin || "SURGE_BIN"} has no \`validate\` command yet`);
        process.exit(77);
    }
    for (const [name, args] of [["default", []], ["examples/campaign-64gpu", VARIANTS["examples/campaign-64gpu"]]]) {
        const cm = one(render(args, name), "ConfigMap");
        const file = join(SCRATCH, `${name.replace(/\W/g, "_")}.yaml`);
        writeFileSync(file, cm.data["plan.yaml"]);
        const r = spawnSync(bin, ["validate", file], { encoding: "utf8" });
        expect(r.status === 0, `${name}: surge validate accepts the plan (exit ${r.status}: ${r.stdout}${r.stderr})`);
    }
};

// ---------------------------------------------------------------- main

const name = process.argv[2];
if (!checks[name]) {
    console.error(`check_chart.mjs: unknown check ${name}; known: ${Object.keys(checks).join(", ")}`);
    process.exit(2);
}
await checks[name]();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
