// SPDX-License-Identifier: MIT
// The real Azure SDK (@azure/identity ManagedIdentityCredential, unmodified)
// asks for a token; openclawd's managed-identity endpoint is found through
// AZURE_POD_IDENTITY_AUTHORITY_HOST, exactly as in an agent's session.
//
//   node mi-token.js SCOPE [CLIENT_ID]
//
// Prints one JSON line: the token's claims that identify it (never the
// token itself), or the error, and which Node.js and @azure/identity ran
// ("node", "sdk"). Exit status 0 with a token, 1 without.
"use strict";

const fs = require("fs");
const path = require("path");
const { ManagedIdentityCredential } = require("@azure/identity");

// The version of the @azure/identity that require() found (its own
// package.json, next to the module it loaded).
function sdkVersion() {
    let dir = path.dirname(require.resolve("@azure/identity"));
    for (let i = 0; i < 8; i++) {
        const f = path.join(dir, "package.json");
        try {
            const p = JSON.parse(fs.readFileSync(f, "utf8"));
            if (p.name === "@azure/identity") return p.version;
        } catch (e) {
            // not this directory: go up
        }
        dir = path.dirname(dir);
    }
    return "unknown";
}
const ran = { node: process.version, sdk: "@azure/identity " + sdkVersion() };

function claims(jwt) {
    const part = jwt.split(".")[1];
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

async function main() {
    const [scope, clientId] = process.argv.slice(2);
    if (!scope) {
        console.error("usage: node mi-token.js SCOPE [CLIENT_ID]");
        process.exit(2);
    }
    const cred = clientId
        ? new ManagedIdentityCredential({ clientId })
        : new ManagedIdentityCredential();
    try {
        const t = await cred.getToken(scope);
        const c = claims(t.token);
        console.log(
            JSON.stringify({
                ok: true,
                appid: c.appid ?? c.azp,
                oid: c.oid,
                aud: c.aud,
                tid: c.tid,
                expires_in: Math.round((t.expiresOnTimestamp - Date.now()) / 1000),
                ...ran,
            })
        );
    } catch (e) {
        console.log(
            JSON.stringify({
                ok: false,
                name: e.name,
                message: String(e.message).slice(0, 600),
                ...ran,
            })
        );
        process.exitCode = 1;
    }
}

main();
