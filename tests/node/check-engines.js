// SPDX-License-Identifier: MIT
// Does every package that package-lock.json pins declare (engines.node)
// that it runs on each Node.js version given? Debian 12's nodejs is 18.20,
// so the lockfile must hold only packages that accept it.
//
//   node check-engines.js VERSION...     e.g. 18.20.0 20.0.0
//
// Prints one line per version: "ok VERSION: N packages" or the packages
// that refuse it. Exit status 0 when every version is accepted by all.
"use strict";

const fs = require("fs");
const path = require("path");
const semver = require("semver"); // locked itself (a dependency of msal-node)

const lock = JSON.parse(fs.readFileSync(path.join(__dirname, "package-lock.json"), "utf8"));
const versions = process.argv.slice(2);
if (versions.length === 0) {
    console.error("usage: node check-engines.js VERSION...");
    process.exit(2);
}
let bad = 0;
for (const v of versions) {
    const refused = [];
    let n = 0;
    for (const [name, p] of Object.entries(lock.packages)) {
        if (name === "") continue; // the test package itself
        n++;
        const range = p.engines && p.engines.node;
        if (range && !semver.satisfies(v, range)) refused.push(`${name}@${p.version} (node ${range})`);
    }
    if (refused.length) {
        console.log(`refused ${v}: ${refused.join(", ")}`);
        bad = 1;
    } else {
        console.log(`ok ${v}: ${n} packages`);
    }
}
process.exitCode = bad;
