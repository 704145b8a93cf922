/**
 * What the owning shard writes on a scheduler-plugins PodGroup (scheduling.x-k8s.io/v1alpha1):
 * status.phase, scheduled, running, succeeded, failed (core/gang coschedulingStatus decides what).
 * Bounded per group, never per member: a status the PodGroup already says, or that this writer
 * sent and the watch has not brought back yet, is not sent again; while a group's write is on
 * its way, later wishes replace each other and only the newest follows it.
 */
import type { Logger } from "pino";
import { type CoschedulingStatus, coschedulingStatusUpdate, type PodGroupObject } from "../core/index.js";
import type { KubeClient } from "./kube-client.js";
import { patchPodGroupStatus } from "./pod-group-status-writer.js";

/** A CRD has no strategic merge: a JSON merge patch of the status fields. */
const mergePatch = "application/merge-patch+json";

/** At most this many groups' last writes are remembered; the oldest go first. */
const maxRemembered = 10_000;

export class CoschedulingStatusWriter {
  private readonly lastSent = new Map<string, string>();
  private readonly inFlight = new Map<
    string,
    { next?: { podGroup: PodGroupObject; status: CoschedulingStatus } }
  >();

  constructor(
    private readonly client: Pick<KubeClient, "call">,
    private readonly log: Logger,
  ) {}

  /** Makes the PodGroup say `status` (podGroup: the watch's latest version of it). */
  write(podGroup: PodGroupObject, status: CoschedulingStatus): void {
    const key = podGroup.metadata.uid ?? `${podGroup.metadata.namespace}/${podGroup.metadata.name}`;
    const flight = this.inFlight.get(key);
    if (flight) {
      flight.next = { podGroup, status };
      return;
    }
    if (coschedulingStatusUpdate(podGroup, status) === undefined) return;
    const text = JSON.stringify(status);
    if (this.lastSent.get(key) === text) return;
    if (this.lastSent.size >= maxRemembered)
      this.lastSent.delete(this.lastSent.keys().next().value as string);
    this.lastSent.set(key, text);
    const entry: { next?: { podGroup: PodGroupObject; status: CoschedulingStatus } } = {};
    this.inFlight.set(key, entry);
    void this.send(podGroup, status).then((ok) => {
      this.inFlight.delete(key);
      // Not written: the next wish must not be skipped as a repeat.
      if (!ok && this.lastSent.get(key) === text) this.lastSent.delete(key);
      if (entry.next) this.write(entry.next.podGroup, entry.next.status);
    });
  }

  private send(podGroup: PodGroupObject, status: CoschedulingStatus): Promise<boolean> {
    const { namespace = "", name } = podGroup.metadata;
    const path = `/apis/scheduling.x-k8s.io/v1alpha1/namespaces/${namespace}/podgroups/${name}/status`;
    return patchPodGroupStatus(this.client, this.log, path, { status }, mergePatch);
  }
}
