/**
 * The chart rendered without a cluster: `helm template r` into namespace "ns", the documents
 * parsed (empty ones dropped). The chart tests that need no API server read what it gives.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { chartDir, toolPaths } from "../cluster/local/layout.js";

/** The rendered objects with these flags (`--set`, `-f`, `--show-only` …), typed as the caller says. */
export async function helmTemplate<T>(...flags: string[]): Promise<T[]> {
  const { stdout } = await promisify(execFile)(toolPaths().helm, [
    "template",
    "r",
    chartDir,
    "--namespace",
    "ns",
    ...flags,
  ]);
  return renderedObjects<T>(stdout);
}

/** The objects of rendered YAML (empty documents dropped), typed as the caller says. */
export function renderedObjects<T>(yaml: string): T[] {
  return parseAllDocuments(yaml)
    .map((doc) => doc.toJS() as T | null)
    .filter((object): object is T => object !== null);
}
