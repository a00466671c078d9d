/**
 * JWT assertions in the embedded `AuthServer` (RFC 7523):
 *
 * - the JWT bearer grant (§2.1) for registered service accounts (Disruptive Technologies' flow), found
 *   by the assertion's `kid`: an entry of `oauthServer.ts`'s grant table;
 * - the `client_secret_jwt` and `private_key_jwt` client authentication methods (§2.2, OpenID Connect
 *   Core §9): entries of its method table.
 *
 * The state of one server (its URLs, service accounts and the `jti`s seen) is a `JwtState` that
 * `authServer.ts` makes and provides to every request; the table entries read it from the context.
 *
 * Every assertion is checked the same way, by `jwtVerify.ts`.
 *
 * No import cycle: `oauthServer.ts` imports this module for its tables; this module takes the
 * protocol's primitives from `oauthBase.ts` and only types from `oauthServer.ts` (whether a request
 * claims a client comes in the `GrantContext`).
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as AuthServer from "../AuthServer.js"
import {
  header,
  type JtiStore,
  makeJtiStore,
  unverifiedClaims,
  verify,
  type VerifyKey,
  verifyKey
} from "./jwtVerify.js"
import * as Base from "./oauthBase.js"
import type * as OAuth from "./oauthServer.js"

/** @internal */
export const jwtBearerGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

export { verifyKey } from "./jwtVerify.js"

/** @internal */
export const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/**
 * The JWT state of one server: its URLs, its service accounts, the `jti`s its service accounts used.
 *
 * @internal
 */
export interface JwtState {
  readonly tokenUrl: string
  readonly issuer: string
  /** Adds a service account key, or replaces the one with the same `keyId`. Throws for an unreadable key. */
  readonly register: (account: AuthServer.ServiceAccountRegistration) => void
  readonly account: (keyId: string) => Account | undefined
  readonly jtis: JtiStore
}

/**
 * The JWT state of the server serving a request.
 *
 * @internal
 */
export class CurrentJwtState
  extends Context.Tag("tokenlayer/testing/AuthServer/JwtState")<CurrentJwtState, JwtState>()
{}

const currentState: Effect.Effect<JwtState, Base.OAuthError> = Effect.flatMap(
  Effect.serviceOption(CurrentJwtState),
  Option.match({
    onNone: () =>
      Effect.fail(
        new Base.OAuthError({ status: 500, error: "server_error", description: "the server has no JWT state" })
      ),
    onSome: Effect.succeed
  })
)

interface Account {
  readonly registration: AuthServer.ServiceAccountRegistration
  readonly key: VerifyKey
  /** The service account as a client, for issuing its tokens and granting scopes. */
  readonly client: OAuth.Client
}

/** @internal */
export const make = (options: {
  readonly tokenUrl: string
  readonly issuer: string
  readonly defaultLifetime: Duration.Duration
  readonly serviceAccounts?: ReadonlyArray<AuthServer.ServiceAccountRegistration> | undefined
}): JwtState => {
  const accounts = new Map<string, Account>()
  const register = (registration: AuthServer.ServiceAccountRegistration): void => {
    accounts.set(registration.keyId, {
      registration,
      key: verifyKey(`service account key ${registration.keyId}`, registration),
      client: {
        id: registration.email,
        secret: "",
        method: "none",
        tokenLifetime: registration.tokenLifetime === undefined
          ? options.defaultLifetime
          : Duration.decode(registration.tokenLifetime),
        scopes: registration.scopes
      }
    })
  }
  for (const account of options.serviceAccounts ?? []) register(account)
  return {
    tokenUrl: options.tokenUrl,
    issuer: options.issuer,
    register,
    account: (keyId) => accounts.get(keyId),
    jtis: makeJtiStore()
  }
}

// -----------------------------------------------------------------------------
// client authentication: client_secret_jwt, private_key_jwt
// -----------------------------------------------------------------------------

/** Per registered client (a re-registration is a new `Client`): its verification key and its `jti`s. */
const clientState = new WeakMap<OAuth.Client, { readonly key: VerifyKey; readonly jtis: JtiStore }>()

const stateOf = (client: OAuth.Client, method: "client_secret_jwt" | "private_key_jwt") => {
  let state = clientState.get(client)
  if (state === undefined) {
    state = {
      key: verifyKey(
        `client ${client.id}`,
        method === "private_key_jwt" ? { publicKey: client.publicKey } : { secret: client.secret }
      ),
      jtis: makeJtiStore()
    }
    clientState.set(client, state)
  }
  return state
}

/**
 * Which client a JWT client assertion claims to be: its `sub` (else `iss`), or the `client_id` parameter.
 * Claimed by `client_secret_jwt` when it is HMAC-signed and by `private_key_jwt` otherwise, so that a
 * client registered for one cannot pass with the other (no HS256-with-the-public-key confusion).
 */
const claimAssertion = (hmac: boolean) => (request: OAuth.EndpointRequest) =>
  Either.flatMap(Base.param(request.form, "client_assertion"), (assertion) => {
    if (assertion === undefined) return Either.right(undefined)
    return Either.flatMap(Base.param(request.form, "client_assertion_type"), (type) => {
      if (type !== clientAssertionType) {
        return Either.left(
          Base.invalidRequest(`client_assertion_type must be ${clientAssertionType}`)
        )
      }
      const alg = header(assertion)?.alg ?? ""
      if (alg.startsWith("HS") !== hmac) return Either.right(undefined)
      const claims = unverifiedClaims(assertion)
      const id = typeof claims?.sub === "string"
        ? claims.sub
        : typeof claims?.iss === "string"
        ? claims.iss
        : request.form.get("client_id") ?? undefined
      return Either.right(id === "" ? undefined : id)
    })
  })

const verifyAssertion = (method: "client_secret_jwt" | "private_key_jwt") =>
(
  request: OAuth.EndpointRequest,
  client: OAuth.Client
): Effect.Effect<void, Base.OAuthError> =>
  Effect.gen(function*() {
    const state = yield* Effect.try({
      try: () => stateOf(client, method),
      // registration checks the key, so only a client registered under another method gets here
      catch: (error) => `cannot verify its assertions: ${error instanceof Error ? error.message : "no key"}`
    })
    const server = yield* Effect.orElseSucceed(currentState, () => undefined)
    const audiences = server === undefined ? [] : [server.tokenUrl, server.issuer]
    yield* verify(request.form.get("client_assertion") ?? "", {
      key: state.key,
      issuer: client.id,
      subject: client.id,
      subjectRequired: true,
      audiences,
      jtiRequired: true,
      jtis: state.jtis
    })
  }).pipe(
    Effect.mapError((description) =>
      new Base.OAuthError({
        status: 401,
        error: "invalid_client",
        description: `client ${client.id}: ${description}`
      })
    )
  )

/** A JWT client assertion method: HMAC keyed by the client's secret, or the client's private key. */
const assertionMethod = (name: "client_secret_jwt" | "private_key_jwt"): OAuth.ClientAuthMethod => ({
  name,
  challenge: false,
  claim: (request) => claimAssertion(name === "client_secret_jwt")(request),
  verify: (request, client) => verifyAssertion(name)(request, client)
})

/**
 * `client_secret_jwt`: a JWT client assertion signed with HMAC keyed by the client's secret.
 *
 * @internal
 */
export const clientSecretJwt = (): OAuth.ClientAuthMethod => assertionMethod("client_secret_jwt")

/**
 * `private_key_jwt`: a JWT client assertion signed with the client's private key, checked with the
 * registered public key.
 *
 * @internal
 */
export const privateKeyJwt = (): OAuth.ClientAuthMethod => assertionMethod("private_key_jwt")

// -----------------------------------------------------------------------------
// the JWT bearer grant, for service accounts
// -----------------------------------------------------------------------------

const invalidGrant = (description: string): Base.OAuthError =>
  new Base.OAuthError({ status: 400, error: "invalid_grant", description })

/**
 * The JWT bearer grant for the server's service accounts: the assertion's `kid` names the key, whose
 * account's email must be `iss` (and `sub` when sent).
 *
 * @internal
 */
export function jwtBearer(): OAuth.GrantHandler {
  return {
    grantType: "urn:ietf:params:oauth:grant-type:jwt-bearer",
    handle(context) {
      return handleJwtBearer(context)
    }
  }
}

const handleJwtBearer = (context: OAuth.GrantContext): Effect.Effect<OAuth.GrantResult, Base.OAuthError> =>
  Effect.gen(function*() {
    const state = yield* currentState
    const assertion = yield* Base.param(context.request.form, "assertion")
    if (assertion === undefined || assertion === "") {
      return yield* Effect.fail(Base.invalidRequest("missing assertion"))
    }
    // RFC 7523 §3.1: client authentication is optional; when a request carries it, it must pass
    if (context.claimsClient) yield* context.authenticateClient
    const kid = header(assertion)?.kid
    if (kid === undefined) return yield* Effect.fail(invalidGrant("the assertion has no kid"))
    const account = state.account(kid)
    if (account === undefined) return yield* Effect.fail(invalidGrant(`unknown key id ${kid}`))
    yield* Effect.mapError(
      verify(assertion, {
        key: account.key,
        issuer: account.registration.email,
        subject: account.registration.email,
        subjectRequired: false,
        audiences: [state.tokenUrl, state.issuer],
        jtiRequired: false,
        jtis: state.jtis
      }),
      invalidGrant
    )
    const scope = yield* Either.flatMap(
      Base.param(context.request.form, "scope"),
      (s) => Base.grantedScope(account.client, s)
    )
    const token = yield* context.issue({ client: account.client, grantType: jwtBearerGrantType, scope })
    return { token }
  })
