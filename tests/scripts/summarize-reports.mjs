// Sums the vitest JSON reports of a run into one plain line: "N passed, N failed", after naming
// each failed test with the first lines of its error, so the end of a long CI log says what failed.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? "reports";
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
let files = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith(".json"));
} catch {
  // no reports: nothing ran
}
for (const file of files) {
  const report = JSON.parse(readFileSync(join(dir, file), "utf8"));
  passed += report.numPassedTests ?? 0;
  failed += (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  console.log(`${file}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
  for (const suite of report.testResults ?? []) {
    const where = suite.name?.replace(`${process.cwd()}/`, "") ?? file;
    if (suite.status === "failed" && suite.message) failures.push([where, suite.message]);
    for (const test of suite.assertionResults ?? []) {
      if (test.status === "failed")
        failures.push([`${where} > ${test.fullName}`, test.failureMessages?.[0] ?? ""]);
    }
  }
}
for (const [where, message] of failures) {
  console.log(`FAILED ${where}`);
  for (const line of String(message).split("\n").slice(0, 6)) console.log(`    ${line}`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
