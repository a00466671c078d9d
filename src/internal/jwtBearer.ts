/**
 * What the JWT bearer grant's key is made of. The grant itself is `Grant/JwtBearer.ts`.
 *
 * @internal
 */
import type * as JwtBearer from "../Grant/JwtBearer.js"
import type { KeyPart } from "./grant.js"
import { scopeString } from "./tokenEndpoint.js"
import { urlKeyParts } from "./urls.js"

/** @internal */
export const grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

/**
 * The grant's key parts: the token URL (`issuer` here is the assertion's, not an authorization
 * server's), the assertion's issuer, subject and audience, the scope, the client.
 *
 * @internal
 */
export const keyParts = (options: JwtBearer.KeyOptions): ReadonlyArray<KeyPart> => {
  const scope = scopeString(options.scope)
  return [
    ...urlKeyParts("url", options.tokenUrl),
    ["iss", options.issuer],
    ["sub", options.subject],
    ["aud", options.audience],
    ["scope", scope === undefined ? undefined : scope.split(/\s+/)],
    ["client", options.clientId]
  ]
}
