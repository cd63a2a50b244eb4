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
//   urn:okta-bearer:opaque -> aud "api://interop-opaque", an opaque token
// Introspection (RFC 7662) and revocation (RFC 7009) are enabled for the resource
// servers below: interop-rs (client_secret_basic), interop-rs-post
// (client_secret_post) and interop-rs-jwt (private_key_jwt; its private JWK is
// printed as "rs_private_jwk" on the first line, for the tests to sign with).
// DPoP (RFC 9449) is on: a token request with a DPoP proof gets token_type DPoP
// and an access token bound to the proof key (cnf.jkt); without one, Bearer.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const CLIENT_ID = 'interop-client';
const CLIENT_SECRET = 'interop-secret-not-for-production';
const SCOPES = 'items:read items:write admin';
const RS_SECRET = 'interop-rs-secret-not-for-production';

const RESOURCES = {
  'urn:okta-bearer:rs256': { audience: 'api://interop', alg: 'RS256' },
  'urn:okta-bearer:es256': { audience: 'api://interop-es256', alg: 'ES256' },
  'urn:okta-bearer:other': { audience: 'api://someone-else', alg: 'RS256' },
  'urn:okta-bearer:opaque': { audience: 'api://interop-opaque', format: 'opaque' },
};

function privateJwk(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `${alg.toLowerCase()}-${crypto.randomUUID()}`, alg, use: 'sig' };
}

const rsKey = privateJwk('rsa', { modulusLength: 2048 }, 'RS256');
const { d, p, q, dp, dq, qi, ...rsPublicKey } = rsKey;

function resourceServer(clientId, method, extra = {}) {
  return {
    client_id: clientId,
    grant_types: [],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: method,
    ...extra,
  };
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
      resourceServer('interop-rs', 'client_secret_basic', { client_secret: RS_SECRET }),
      resourceServer('interop-rs-post', 'client_secret_post', { client_secret: RS_SECRET }),
      resourceServer('interop-rs-jwt', 'private_key_jwt', {
        jwks: { keys: [rsPublicKey] },
        token_endpoint_auth_signing_alg: 'RS256',
      }),
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
      introspection: { enabled: true },
      revocation: { enabled: true },
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
            accessTokenFormat: resource.format ?? 'jwt',
            ...(resource.format === 'opaque' ? {} : { jwt: { sign: { alg: resource.alg } } }),
          };
        },
      },
    },
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, port, rs_private_jwk: rsKey })}\n`);
});

// The tests end the provider with SIGTERM; exit at once and quietly.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
