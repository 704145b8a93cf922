/**
 * The image (Dockerfile, .dockerignore at the repository root), checked without a Docker engine:
 * multi-stage on a pinned Node LTS base, a non-root numeric user, both entry points at the paths
 * the Helm chart runs, and every path it copies present in the repository after a build (the
 * global setup builds) and let through by .dockerignore; and what the runtime stage copies, laid
 * out as in the image with no node_modules, runs a shard and a coordinator against the real
 * cluster (the entry points are bundles that carry their dependencies).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, posix, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../cluster/local/layout.js";
import { runtimeNodeOptions } from "../stack/stack.js";
import { chartDir } from "../support/helm.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

interface Instruction {
  keyword: string;
  /** The words after the keyword, flags (--from=…) removed. */
  words: string[];
  flags: Record<string, string>;
  text: string;
}

interface Stage {
  image: string;
  name: string;
  instructions: Instruction[];
}

/** Stages of a Dockerfile: continuation lines joined, comments dropped, global ARGs substituted in FROM. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .split("\n")
    .filter((line) => !line.trim().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const globals: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const flags: Record<string, string> = {};
    const words = rest.filter((word) => {
      const flag = /^--([a-z-]+)=(.*)$/.exec(word);
      if (flag) flags[flag[1] as string] = flag[2] as string;
      return !flag;
    });
    const instruction = { keyword: keyword.toUpperCase(), words, flags, text: line };
    const current = stages[stages.length - 1];
    if (instruction.keyword === "ARG" && !current) {
      const [name, value = ""] = (words[0] ?? "").split("=");
      globals[name as string] = value;
    } else if (instruction.keyword === "FROM") {
      const image = (words[0] ?? "").replace(/\$\{?(\w+)\}?/g, (_, name: string) => globals[name] ?? "");
      const alias = words[1]?.toUpperCase() === "AS" ? (words[2] ?? "") : "";
      stages.push({ image, name: alias, instructions: [] });
    } else if (current) {
      current.instructions.push(instruction);
    }
  }
  return stages;
}

const dockerfile = parseDockerfile(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
const runtime = dockerfile[dockerfile.length - 1] as Stage;
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const workdirOf = (stage: Stage) => of(stage, "WORKDIR").at(-1)?.words[0] ?? "/";
const runText = (stage: Stage) =>
  of(stage, "RUN")
    .map((i) => i.text)
    .join("\n");

/** Where each COPY of a stage puts what: image path → repository path it comes from. */
function copiedPaths(stage: Stage): { image: string; repo: string }[] {
  const workdir = workdirOf(stage);
  return of(stage, "COPY").flatMap((copy) => {
    const sources = copy.words.slice(0, -1);
    const target = posix.resolve(workdir, copy.words.at(-1) ?? "");
    const intoDirectory = (copy.words.at(-1) ?? "").endsWith("/") || sources.length > 1;
    const from = copy.flags.from;
    const fromStage = dockerfile.find((s) => s.name === from);
    return sources.map((source) => ({
      image: intoDirectory ? posix.join(target, basename(source)) : target,
      // A build stage's output lies where the build left it in the repository.
      repo: fromStage ? posix.relative(workdirOf(fromStage), source) : source,
    }));
  });
}

/** The repository path an image path comes from, or undefined when the image lacks it. */
function repoPathOf(imagePath: string): string | undefined {
  for (const { image, repo } of copiedPaths(runtime)) {
    if (imagePath === image) return repo;
    if (imagePath.startsWith(`${image}/`)) return posix.join(repo, imagePath.slice(image.length + 1));
  }
  return undefined;
}

/** .dockerignore as Docker reads it: the last matching pattern wins; a match on a parent counts. */
function dockerignore(): (path: string) => boolean {
  const patterns = readFileSync(join(repoRoot, ".dockerignore"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const glob = posix.normalize(negated ? line.slice(1) : line);
      const regex = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) =>
          part === "**/"
            ? "(?:.*/)?"
            : part === "**"
              ? ".*"
              : part === "*"
                ? "[^/]*"
                : part === "?"
                  ? "[^/]"
                  : part.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
        )
        .join("");
      return { negated, regex: new RegExp(`^${regex}$`) };
    });
  return (path) => {
    const prefixes = path.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"));
    let ignored = false;
    for (const { negated, regex } of patterns)
      if (prefixes.some((prefix) => regex.test(prefix))) ignored = !negated;
    return ignored;
  };
}

function filesUnder(path: string): string[] {
  const absolute = join(repoRoot, path);
  if (!statSync(absolute).isDirectory()) return [path];
  return readdirSync(absolute, { recursive: true, encoding: "utf8" })
    .map((entry) => join(absolute, entry))
    .filter((entry) => statSync(entry).isFile())
    .map((entry) => relative(repoRoot, entry));
}

describe("Dockerfile", () => {
  it("builds in stages on a pinned Node LTS base image", () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    const names = dockerfile.map((stage) => stage.name);
    for (const stage of dockerfile) {
      expect(stage.name, stage.image).not.toBe("");
      if (names.includes(stage.image)) continue;
      // A full version (or a digest), never a moving tag such as latest or 24-alpine.
      expect(stage.image).toMatch(/^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$/);
      const node = /^node:(\d+)\./.exec(stage.image);
      expect(node, "a Node.js base image").not.toBeNull();
      const major = Number(node?.[1]);
      expect(major % 2 === 0 && major >= 22, `Node ${major} is an LTS line`).toBe(true);
    }
    expect(runText(dockerfile[0] as Stage)).toMatch(/npm ci/);
    expect(runText(dockerfile[0] as Stage)).toMatch(/turbo run build/);
  });

  it("ships only the compiled output: the entry points are bundles, no node_modules", () => {
    expect(runText(runtime)).not.toMatch(/npm|yarn|pnpm/);
    const copied = copiedPaths(runtime).map((c) => c.repo);
    expect([...copied].sort()).toEqual([
      "coordinator/dist",
      "coordinator/package.json",
      "scheduler/dist",
      "scheduler/package.json",
    ]);
    // The build stage's bundle step needs its script.
    expect(copiedPaths(dockerfile[0] as Stage).map((c) => c.repo)).toContain("scheduler/scripts");
  });

  it("runs as a numeric non-root user, the one the chart's pods declare", () => {
    const user = of(runtime, "USER").at(-1)?.words[0] ?? "";
    const [uid, gid] = user.split(":");
    // Numeric, so that the kubelet can verify runAsNonRoot.
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    const values = parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as {
      podSecurityContext: { runAsUser: number; runAsGroup: number };
    };
    expect(values.podSecurityContext.runAsUser).toBe(Number(uid));
    expect(values.podSecurityContext.runAsGroup).toBe(Number(gid ?? uid));
  });

  it("runs node with the V8 options local shards run with", () => {
    const env = of(runtime, "ENV").flatMap((instruction) => instruction.words);
    const options = env.find((word) => word.startsWith("NODE_OPTIONS="));
    expect(options?.slice("NODE_OPTIONS=".length).replace(/^"|"$/g, "")).toBe(runtimeNodeOptions);
  });

  it("holds both entry points where the chart and CMD run them", () => {
    // Every template, those of helm test (templates/tests/) included.
    const templates = readdirSync(join(chartDir, "templates"), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(join(entry.parentPath, entry.name), "utf8"));
    const chartEntries = templates.flatMap((text) => [
      ...[...text.matchAll(/command: \["node", "([^"]+)"\]/g)].map((m) => m[1] as string),
      ...[...text.matchAll(/command:\n\s+- node\n\s+- (\S+)/g)].map((m) => m[1] as string),
    ]);
    expect([...new Set(chartEntries)].sort()).toEqual([
      "/app/coordinator/dist/cli.js",
      "/app/scheduler/dist/cli.js",
    ]);
    // helm test runs the shard's program too (its status command).
    expect(chartEntries.filter((entry) => entry === "/app/scheduler/dist/cli.js")).toHaveLength(2);
    const cmd = JSON.parse(of(runtime, "CMD").at(-1)?.words.join(" ") ?? "[]") as string[];
    const entries = [...chartEntries, cmd[1] ?? ""];
    for (const entry of entries) {
      const repoPath = repoPathOf(entry);
      expect(repoPath, `${entry} is copied into the image`).toBeDefined();
      expect(existsSync(join(repoRoot, repoPath ?? "")), `${entry} from ${repoPath}`).toBe(true);
    }
  });

  it("copies only paths that exist after a build and that .dockerignore lets through", () => {
    const ignored = dockerignore();
    for (const stage of dockerfile) {
      for (const { repo } of copiedPaths(stage)) {
        expect(existsSync(join(repoRoot, repo)), `${stage.name}: ${repo}`).toBe(true);
      }
      const fromContext = of(stage, "COPY")
        .filter((copy) => !copy.flags.from)
        .flatMap((copy) => copy.words.slice(0, -1));
      for (const path of fromContext)
        expect(filesUnder(path).filter(ignored), `${stage.name}: ${path} excluded`).toEqual([]);
    }
    // And the context stays small: no dependencies, build output or other workspaces' files.
    for (const path of [
      "node_modules/x",
      "scheduler/dist/cli.js",
      "tests/integration/x.ts",
      "charts/x",
      ".git/x",
    ])
      expect(ignored(path), path).toBe(true);
  });
});

/**
 * What the runtime stage copies, laid out as in the image under a directory with no node_modules
 * above it: the bundled entry points must run from it alone.
 */
function imageLayout(): string {
  const root = mkdtempSync(join(tmpdir(), "image-layout-"));
  for (const { image, repo } of copiedPaths(runtime))
    cpSync(join(repoRoot, repo), join(root, image), { recursive: true });
  return root;
}

describe("the image's layout, without node_modules", () => {
  const root = imageLayout();
  const suite = schedulerSuite("image-layout", {
    redis: true,
    entries: {
      shard: join(root, "app/scheduler/dist/cli.js"),
      coordinator: join(root, "app/coordinator/dist/cli.js"),
    },
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("holds no node_modules", () => {
    expect(
      readdirSync(root, { recursive: true, encoding: "utf8" }).filter((p) => p.includes("node_modules")),
    ).toEqual([]);
  });

  it("runs a shard that binds a pod, and a coordinator that leads", async () => {
    const [node] = await suite.addNodes("layout", 1);
    await suite.create(suite.pod("layout", { pool: "layout", cpu: "100m" }));
    expect(await suite.waitBound(["layout"])).toEqual({ layout: node });
    const coordinator = await suite.startCoordinator("layout");
    await waitFor(
      "the coordinator leads",
      async () => ((await coordinator.isLeader()) ? true : undefined),
      20_000,
    );
  });
});

describe("tests/kind/deploy.sh (for users with Docker; not run here)", () => {
  const script = join(repoRoot, "tests/kind/deploy.sh");
  const text = readFileSync(script, "utf8");
  const values = parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as {
    schedulerName: string;
    image: Record<string, unknown>;
  };

  it("is valid bash", () => {
    const result = spawnSync("bash", ["-n", script], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("installs this repository's chart with the image it built, and smoke-tests the chart's scheduler name", () => {
    expect(text).toContain('docker build -t "$image" "$repo"');
    expect(text).toContain('"$repo/charts/sharded-scheduler"');
    for (const key of ["repository", "tag", "pullPolicy"]) {
      expect(values.image).toHaveProperty(key);
      expect(text).toContain(`--set image.${key}=`);
    }
    expect(text).toContain(`"schedulerName": "${values.schedulerName}"`);
  });
});
