// A DPoP client made only of panva's `dpop` package (https://github.com/panva/dpop),
// used by okta_bearer's interoperability tests: proofs no code of ours produced.
//
// Usage: node dpop_client.mjs <alg>
// Generates one key pair for <alg> (ES256, RS256 or PS256), prints one line
//   {"jkt": "<the key's RFC 7638 thumbprint, as the dpop package computes it>"}
// then, for each line of JSON read from stdin
//   {"htu": "...", "htm": "...", "nonce": "..."?, "accessToken": "..."?}
// prints one line {"proof": "<compact JWS>"} signed with that same key.
import * as readline from 'node:readline';

import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';

const alg = process.argv[2] ?? 'ES256';
const keypair = await generateKeyPair(alg);
process.stdout.write(`${JSON.stringify({ jkt: await calculateThumbprint(keypair.publicKey) })}\n`);

const lines = readline.createInterface({ input: process.stdin, terminal: false });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { htu, htm, nonce, accessToken } = JSON.parse(line);
  const proof = await generateProof(keypair, htu, htm, nonce ?? undefined, accessToken ?? undefined);
  process.stdout.write(`${JSON.stringify({ proof })}\n`);
}
