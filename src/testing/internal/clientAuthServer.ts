/**
 * Client authentication at the embedded `AuthServer`'s token and revocation endpoints (RFC 6749 §2.3):
 * the table of methods (`client_secret_basic`, `client_secret_post`, the two JWT methods of
 * `jwtServer.ts`, `none`), and `authenticateClient`, which every grant that needs a client goes through.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as crypto from "node:crypto"
import * as JwtServer from "./jwtServer.js"
import * as MtlsServer from "./mtlsServer.js"
import { invalidRequest, OAuthError, param, realm } from "./oauthBase.js"
import type { Client, EndpointRequest } from "./oauthServer.js"

const basicChallenge = { "www-authenticate": `Basic realm="${realm}"` } as const

/** `invalid_client`, 401; with a Basic challenge when HTTP Basic was expected or attempted (RFC 6749 §5.2). */
const invalidClient = (description: string, challenge: boolean): OAuthError =>
  new OAuthError({
    status: 401,
    error: "invalid_client",
    description,
    ...(challenge ? { headers: basicChallenge } : {})
  })

// -----------------------------------------------------------------------------
// client authentication
// -----------------------------------------------------------------------------

/**
 * A client authentication method. `claim` says which client the request claims to be when it uses
 * this method (`undefined` when it does not use it), `verify` checks the proof.
 *
 * @internal
 */
export interface ClientAuthMethod {
  /** The RFC 7591 `token_endpoint_auth_method` name. */
  readonly name: string
  /** A `WWW-Authenticate` challenge is sent when this method was expected or attempted. */
  readonly challenge: boolean
  readonly claim: (request: EndpointRequest) => Either.Either<string | undefined, OAuthError>
  /** `true` / `false`, or an `Effect` for checks that take time or say more (JWT assertions). */
  readonly verify: (request: EndpointRequest, client: Client) => boolean | Effect.Effect<void, OAuthError>
}

/** RFC 6749 Appendix B decoding of one value: `+` is a space, then percent-decoding. */
const formDecode = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "))
  } catch {
    return undefined
  }
}

/**
 * The client id and secret of an HTTP Basic `Authorization` header, decoded as RFC 6749 §2.3.1 says:
 * base64, split at the first `:`, each half form-url-decoded. `undefined` when there is no Basic header;
 * an error when there is one that cannot be decoded.
 *
 * @internal
 */
export const basicCredentials = (
  authorization: string | undefined
): Either.Either<readonly [string, string] | undefined, OAuthError> => {
  const match = /^basic(?: +(.*))?$/i.exec((authorization ?? "").trim())
  if (match === null) return Either.right(undefined)
  const encoded = (match[1] ?? "").trim()
  const malformed = () => Either.left(invalidClient("malformed HTTP Basic credentials", true))
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return malformed()
  const decoded = Buffer.from(encoded, "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  if (colon < 0) return malformed()
  const id = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  if (id === undefined || secret === undefined || id === "") return malformed()
  return Either.right([id, secret] as const)
}

const digest = (value: string): Buffer => crypto.createHash("sha256").update(value, "utf8").digest()

/** Compares secrets in constant time (over their digests, so lengths do not show either). */
const sameSecret = (given: string, expected: string): boolean => crypto.timingSafeEqual(digest(given), digest(expected))

const clientSecretBasic: ClientAuthMethod = {
  name: "client_secret_basic",
  challenge: true,
  claim: (request) => Either.map(basicCredentials(request.headers["authorization"]), (c) => c?.[0]),
  verify: (request, client) => {
    const credentials = basicCredentials(request.headers["authorization"])
    return Either.isRight(credentials) && credentials.right !== undefined &&
      sameSecret(credentials.right[1], client.secret)
  }
}

const clientSecretPost: ClientAuthMethod = {
  name: "client_secret_post",
  challenge: false,
  claim: (request) =>
    Either.flatMap(param(request.form, "client_secret"), (secret) => {
      if (secret === undefined) return Either.right(undefined)
      return Either.flatMap(param(request.form, "client_id"), (id) =>
        id === undefined || id === ""
          ? Either.left(invalidRequest("client_secret without client_id"))
          : Either.right(id))
    }),
  verify: (request, client) => {
    const secret = request.form.get("client_secret")
    return secret !== null && sameSecret(secret, client.secret)
  }
}

/**
 * `none` (RFC 7591): a public client (a device-flow or command-line client) names itself with `client_id`
 * in the body and proves nothing. Claimed only when the request carries no other credentials.
 */
const none: ClientAuthMethod = {
  name: "none",
  challenge: false,
  claim: (request) =>
    request.headers["authorization"] !== undefined || request.form.has("client_secret") ||
      request.form.has("client_assertion")
      ? Either.right(undefined)
      : Either.map(param(request.form, "client_id"), (id) => id === "" ? undefined : id),
  verify: () => true
}

/**
 * The client authentication methods the server understands, by name. Add one here and it is accepted at
 * the token and revocation endpoints and listed in the discovery document.
 *
 * @internal
 */
export const clientAuthMethods: ReadonlyArray<ClientAuthMethod> = [
  clientSecretBasic,
  clientSecretPost,
  JwtServer.clientSecretJwt(),
  JwtServer.privateKeyJwt(),
  MtlsServer.tlsClientAuth,
  MtlsServer.selfSignedTlsClientAuth,
  none
]

const methodNamed = (name: string): ClientAuthMethod | undefined => clientAuthMethods.find((m) => m.name === name)

/**
 * The client id a request claims, for counters: from whichever method it uses, else its `client_id`
 * parameter. Never fails.
 *
 * @internal
 */
export const claimedClientId = (request: EndpointRequest): string | undefined => {
  for (const method of clientAuthMethods) {
    const claim = method.claim(request)
    if (Either.isRight(claim) && claim.right !== undefined) return claim.right
  }
  return request.form.get("client_id") ?? undefined
}

/**
 * The `iss` of a JWT-bearer grant's assertion (RFC 7523 §2.1), read without checking it: who the request
 * says it is, for counting only.
 *
 * @internal
 */
export const assertionIssuer = (assertion: string | null): string | undefined => {
  const payload = assertion?.split(".")[1]
  if (payload === undefined) return undefined
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
    const iss = typeof claims === "object" && claims !== null ? (claims as { readonly iss?: unknown }).iss : undefined
    return typeof iss === "string" && iss !== "" ? iss : undefined
  } catch {
    return undefined
  }
}

/**
 * Authenticates the client of a request (RFC 6749 §2.3): exactly one method, a registered client, the
 * method it registered for, and the right secret. Every refusal is `invalid_client` (401), with a Basic
 * challenge when HTTP Basic was expected or attempted.
 *
 * @internal
 */
export const authenticateClient = (
  request: EndpointRequest,
  lookup: (clientId: string) => Client | undefined
): Effect.Effect<Client, OAuthError> =>
  Effect.suspend(() => {
    let claims: Array<readonly [ClientAuthMethod, string]> = []
    for (const method of clientAuthMethods) {
      const claim = method.claim(request)
      if (Either.isLeft(claim)) return Effect.fail(claim.left)
      if (claim.right !== undefined) claims.push([method, claim.right])
    }
    // a certificate and a client_id: none or one of the mTLS methods, as the client registered
    const first = claims[0]
    if (claims.length > 1 && claims.every(([m, id]) => MtlsServer.idOnlyMethods.has(m.name) && id === first?.[1])) {
      const registered = lookup(first![1])?.method
      claims = [claims.find(([m]) => m.name === registered) ?? claims.find(([m]) => m.name !== "none")!]
    }
    if (claims.length > 1) {
      return Effect.fail(
        invalidRequest(`more than one client authentication method: ${claims.map(([m]) => m.name).join(", ")}`)
      )
    }
    const bodyId = param(request.form, "client_id")
    if (Either.isLeft(bodyId)) return Effect.fail(bodyId.left)

    if (claims.length === 0) {
      const id = bodyId.right
      if (id === undefined || id === "") return Effect.fail(invalidClient("client authentication required", true))
      const client = lookup(id)
      if (client === undefined) return Effect.fail(invalidClient(`unknown client ${id}`, true))
      return Effect.fail(
        invalidClient(
          `client ${id} must authenticate with ${client.method}`,
          methodNamed(client.method)?.challenge ?? false
        )
      )
    }

    const [method, id] = claims[0]!
    const client = lookup(id)
    if (client === undefined) return Effect.fail(invalidClient(`unknown client ${id}`, method.challenge))
    const expected = methodNamed(client.method)
    if (client.method !== method.name) {
      return Effect.fail(
        invalidClient(
          `client ${id} is registered for ${client.method}, not ${method.name}`,
          method.challenge || (expected?.challenge ?? false)
        )
      )
    }
    const verified = method.verify(request, client)
    if (verified === false) {
      return Effect.fail(invalidClient(`client ${id} failed to authenticate`, method.challenge))
    }
    if (bodyId.right !== undefined && bodyId.right !== id) {
      return Effect.fail(invalidRequest("client_id does not match the authenticated client"))
    }
    return verified === true ? Effect.succeed(client) : Effect.as(verified, client)
  })
