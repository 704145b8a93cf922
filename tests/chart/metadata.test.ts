/**
 * Chart.yaml's metadata for users and Artifact Hub: where the chart comes from, who keeps it, the
 * Kubernetes versions it supports, and Artifact Hub's annotations, whose image list must name
 * the images the chart's defaults pull (appVersion, redis.image.tag). No cluster.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartDir, repoRoot } from "../cluster/local/layout.js";

const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as {
  version: string;
  appVersion: string;
  kubeVersion: string;
  home: string;
  sources: string[];
  maintainers: { name: string; url?: string; email?: string }[];
  keywords: string[];
  annotations: Record<string, string>;
};
const values = parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as {
  image: { repository: string; tag: string };
  redis: { image: { repository: string; tag: string } };
};
const annotation = <T>(key: string) => parse(chart.annotations[key] ?? "null") as T;

describe("Chart.yaml", () => {
  it("says where the chart comes from, who keeps it and which Kubernetes it needs", () => {
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(chart.home).toMatch(/^https:\/\//);
    expect(chart.sources.length).toBeGreaterThan(0);
    for (const source of chart.sources) expect(source).toMatch(/^https:\/\//);
    expect(chart.maintainers.length).toBeGreaterThan(0);
    expect(chart.keywords).toEqual(expect.arrayContaining(["scheduler", "gang-scheduling"]));
    expect(chart.kubeVersion).toBe(">=1.29.0-0");
  });

  it("lists in Artifact Hub's annotations the images its defaults pull", () => {
    expect(annotation<{ name: string; image: string }[]>("artifacthub.io/images")).toEqual([
      {
        name: "sharded-scheduler",
        image: `${values.image.repository}:${values.image.tag || chart.appVersion}`,
      },
      { name: "redis", image: `${values.redis.image.repository}:${values.redis.image.tag}` },
    ]);
  });

  it("has well-formed Artifact Hub annotations", () => {
    expect(chart.annotations["artifacthub.io/license"]).toBe(
      (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { license: string }).license,
    );
    for (const key of [
      "artifacthub.io/prerelease",
      "artifacthub.io/operator",
      "artifacthub.io/containsSecurityUpdates",
    ])
      expect(["true", "false"], key).toContain(chart.annotations[key]);
    for (const link of annotation<{ name: string; url: string }[]>("artifacthub.io/links"))
      expect(link).toEqual({ name: expect.any(String), url: expect.stringMatching(/^https:\/\//) });
    const changes = annotation<{ kind: string; description: string }[]>("artifacthub.io/changes");
    expect(changes.length).toBeGreaterThan(0);
    for (const change of changes) {
      expect(["added", "changed", "deprecated", "removed", "fixed", "security"]).toContain(change.kind);
      expect(change.description.length).toBeGreaterThan(10);
    }
  });
});
