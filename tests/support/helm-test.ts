/**
 * `helm test` on the local control plane, whose nodes are KWOK's: no container runs there, so
 * this plays the kubelet for the release's test pod. It waits until the pod helm created runs on
 * its fake node, runs the pod's own command here — the image's paths (WORKDIR /app, see the
 * Dockerfile) mapped to this checkout's build, and the in-cluster credentials replaced by a token
 * of the pod's own ServiceAccount — and reports the exit code as the pod's phase and container
 * state, which is all `helm test` reads. So helm's verdict is the verdict of the real command
 * with the real permissions.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { repoRoot } from "../cluster/local/layout.js";
import { helm, serviceAccountKubeconfig } from "./helm.js";
import { waitFor } from "./wait.js";

export interface HelmTestRun {
  /** helm test exited 0. */
  readonly passed: boolean;
  /** helm's output, or its error. */
  readonly helm: string;
  /** The test pod's command as run here (its ServiceAccount's kubeconfig added). */
  readonly command: string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The image's command as this checkout runs it: node → this Node, /app/… → the repository. */
export function localCommand(command: readonly string[]): string[] {
  return command.map((arg, i) => {
    if (i === 0 && arg === "node") return process.execPath;
    return arg.startsWith("/app/") ? join(repoRoot, arg.slice("/app/".length)) : arg;
  });
}

/** Runs a command to completion with only PATH in its environment; never rejects. */
export function runCommand(
  command: readonly string[],
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const [binary, ...args] = command as [string, ...string[]];
  return new Promise((resolve) => {
    execFile(
      binary,
      args,
      { env: { PATH: process.env.PATH ?? "" }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ exitCode: code, stdout, stderr });
      },
    );
  });
}

export async function helmTestOnKwok(
  core: k8s.CoreV1Api,
  release: string,
  namespace: string,
  podName: string,
  workDir: string,
): Promise<HelmTestRun> {
  const previous = await core
    .readNamespacedPod({ name: podName, namespace })
    .then((pod) => pod.metadata?.uid)
    .catch(() => undefined);
  const verdict = helm(["test", release, "--namespace", namespace, "--timeout", "120s"]).then(
    (output) => ({ passed: true, helm: output }),
    (error: Error) => ({ passed: false, helm: error.message }),
  );
  // helm deletes the pod of an earlier run first (before-hook-creation), then creates its own.
  const pod = await waitFor(
    `helm's test pod ${podName} running on its fake node`,
    async () => {
      const found = await core.readNamespacedPod({ name: podName, namespace }).catch(() => undefined);
      return found && found.metadata?.uid !== previous && found.status?.phase === "Running"
        ? found
        : undefined;
    },
    60_000,
  );
  const spec = pod.spec as k8s.V1PodSpec;
  const container = spec.containers[0] as k8s.V1Container;
  const kubeconfig = await serviceAccountKubeconfig(
    core,
    namespace,
    spec.serviceAccountName ?? "default",
    workDir,
  );
  const command = [
    ...localCommand([...(container.command ?? []), ...(container.args ?? [])]),
    `--kubeconfig=${kubeconfig}`,
  ];
  const startedAt = new Date();
  const result = await runCommand(command);
  await reportTermination(core, podName, namespace, result.exitCode, startedAt);
  return { ...(await verdict), command, ...result };
}

/** What a kubelet writes when the pod's only container exits: its state, then the pod's phase. */
async function reportTermination(
  core: k8s.CoreV1Api,
  name: string,
  namespace: string,
  exitCode: number,
  startedAt: Date,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const pod = await core.readNamespacedPod({ name, namespace });
    const now = new Date();
    const reason = exitCode === 0 ? "PodCompleted" : "PodFailed";
    pod.status = {
      ...pod.status,
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      conditions: (pod.status?.conditions ?? []).map((condition) =>
        condition.type === "Ready" || condition.type === "ContainersReady"
          ? { ...condition, status: "False", reason, lastTransitionTime: now }
          : condition,
      ),
      containerStatuses: (pod.spec?.containers ?? []).map((container) => ({
        name: container.name,
        image: container.image ?? "",
        imageID: "",
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode,
            reason: exitCode === 0 ? "Completed" : "Error",
            startedAt,
            finishedAt: now,
          },
        },
      })),
    };
    try {
      await core.replaceNamespacedPodStatus({ name, namespace, body: pod });
      return;
    } catch (error) {
      // KWOK may write the pod meanwhile: read it again.
      if ((error as { code?: number }).code !== 409 || attempt >= 5) throw error;
    }
  }
}
