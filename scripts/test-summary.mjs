// Prints vitest's JSON report as one plain closing line: "tests: N passed, N failed, N skipped",
// after the reasons of the suites that skipped (their titles say "(skipped: why)").
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-results.json';
const report = JSON.parse(readFileSync(file, 'utf8'));
const reasons = new Set();
for (const result of report.testResults ?? []) {
  for (const test of result.assertionResults ?? []) {
    if (test.status !== 'skipped' && test.status !== 'pending') continue;
    for (const title of test.ancestorTitles ?? [])
      if (title.includes('(skipped: ')) reasons.add(title);
  }
}
for (const reason of reasons) console.log(`skipped suite: ${reason}`);
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(
  `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`,
);
process.exitCode = report.success && report.numTotalTests > 0 ? 0 : 1;
