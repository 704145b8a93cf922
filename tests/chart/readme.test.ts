/**
 * The chart's README (charts/sharded-scheduler/README.md) is what helm-docs generates from
 * README.md.gotmpl, Chart.yaml and values.yaml now, and every value in its table has a
 * description (a `# --` comment in values.yaml). No cluster: helm-docs only reads files.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartDir, toolPaths } from "../cluster/local/layout.js";

const readme = () => readFileSync(join(chartDir, "README.md"), "utf8");

/** The leaves of values.yaml as helm-docs names them (a.b.c; an empty map or list is a leaf). */
function leafKeys(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value) || Object.keys(value).length === 0)
    return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) =>
    leafKeys(inner, prefix ? `${prefix}.${key}` : key),
  );
}

describe("chart README", () => {
  it("is what helm-docs generates from values.yaml (run: bash tests/cluster/chart-readme.sh)", () => {
    const generated = execFileSync(
      toolPaths().helmDocs,
      ["--chart-search-root", chartDir, "--sort-values-order", "file", "--log-level", "warning", "--dry-run"],
      { encoding: "utf8" },
    );
    expect(generated.trim().length).toBeGreaterThan(1000);
    expect(readme().trim()).toBe(generated.trim());
  });

  it("describes every value", () => {
    const rows = readme()
      .split("\n")
      .filter(
        (line) => /^\| [a-zA-Z]/.test(line) && !line.startsWith("| Key ") && !line.startsWith("| Name "),
      )
      .filter((line) => line.split(" | ").length >= 4);
    const table = new Map(
      rows.map((line) => {
        const cells = line.slice(2, -2).split(" | ");
        return [cells[0] as string, cells.slice(3).join(" | ").trim()];
      }),
    );
    const values = parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Record<string, unknown>;
    // Objects documented as a whole (e.g. resources) stand for their leaves.
    const documented = (key: string) =>
      [...table.keys()].some((row) => key === row || key.startsWith(`${row}.`));
    expect(leafKeys(values).filter((key) => !documented(key))).toEqual([]);
    expect([...table].filter(([, description]) => description === "").map(([key]) => key)).toEqual([]);
  });
});
