// Launch glue for panva's oidc-provider (https://github.com/panva/node-oidc-provider),
// used by okta_bearer's interoperability tests.  Only this configuration is ours:
// token issuance, signing and discovery are the provider's own.
//
// Listens on 127.0.0.1 on a port the OS picks, then prints one line to stdout:
//   {"issuer": "http://127.0.0.1:<port>", "port": <port>}
// and keeps serving until killed.  Resource indicators (RFC 8707) select what a
// client_credentials token looks like (RFC 9068 JWT access tokens):
//   urn:okta-bearer:rs256  -> aud "api://interop",       signed RS256
//   urn:okta-bearer:es256  -> aud "api://interop-es256", signed ES256
//   urn:okta-bearer:other  -> aud "api://someone-else",  signed RS256
// DPoP (RFC 9449) is on: a token request with a DPoP proof gets token_type DPoP
// and an access token bound to the proof key (cnf.jkt); without one, Bearer.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const CLIENT_ID = 'interop-client';
const CLIENT_SECRET = 'interop-secret-not-for-production';
const SCOPES = 'items:read items:write admin';

const RESOURCES = {
  'urn:okta-bearer:rs256': { audience: 'api://interop', alg: 'RS256' },
  'urn:okta-bearer:es256': { audience: 'api://interop-es256', alg: 'ES256' },
  'urn:okta-bearer:other': { audience: 'api://someone-else', alg: 'RS256' },
};

function privateJwk(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `${alg.toLowerCase()}-${crypto.randomUUID()}`, alg, use: 'sig' };
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
        scope: SCOPES,
      },
    ],
    jwks: {
      keys: [
        privateJwk('rsa', { modulusLength: 2048 }, 'RS256'),
        privateJwk('ec', { namedCurve: 'P-256' }, 'ES256'),
      ],
    },
    scopes: ['openid', ...SCOPES.split(' ')],
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    // Every proof algorithm the npm dpop package can make (the default is ES256 and EdDSA).
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'] },
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          const resource = RESOURCES[resourceIndicator];
          if (!resource) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: SCOPES,
            audience: resource.audience,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: resource.alg } },
          };
        },
      },
    },
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

// The tests end the provider with SIGTERM; exit at once and quietly.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
