/**
 * Accessors of the `AuthServer` in context. Re-exported by `AuthServer.ts`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { Fault } from "./fault.js"
import type * as Models from "./models.js"
import { AuthServer } from "./service.js"

/**
 * The counters of the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stats: Effect.Effect<Models.Stats, never, AuthServer> = Effect.flatMap(AuthServer, (s) => s.stats)

/**
 * The tokens the server in context issued, oldest first.
 *
 * @since 0.1.0
 * @category accessors
 */
export const tokens: Effect.Effect<ReadonlyArray<Models.IssuedToken>, never, AuthServer> = Effect.flatMap(
  AuthServer,
  (s) => s.tokens
)

/**
 * Sets the counters of the server in context back to zero.
 *
 * @since 0.1.0
 * @category accessors
 */
export const resetStats: Effect.Effect<void, never, AuthServer> = Effect.flatMap(AuthServer, (s) => s.resetStats)

/**
 * Registers a client with the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const register = (client: Models.ClientRegistration): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.register(client))

/**
 * Registers a service account key (for the JWT bearer grant) with the server in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const program = AuthServer.registerServiceAccount({
 *   keyId: "key-1",
 *   email: "robot@project.serviceaccount.example",
 *   secret: "s3cret",
 *   tokenLifetime: "1 hour"
 * }).pipe(Effect.provide(AuthServer.layer()))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const registerServiceAccount = (
  account: Models.ServiceAccountRegistration
): Effect.Effect<void, never, AuthServer> => Effect.flatMap(AuthServer, (s) => s.registerServiceAccount(account))

/**
 * Queues faults on the server in context, one per token request.
 *
 * @since 0.1.0
 * @category accessors
 */
export const inject = (...faults: ReadonlyArray<Fault>): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.inject(...faults))

/**
 * Sets (or, with `undefined`, clears) a fault for every token request of the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const injectAlways = (fault: Fault | undefined): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.injectAlways(fault))

/**
 * Makes the API of the server in context answer 401 to everything, or stop doing so.
 *
 * @since 0.1.0
 * @category accessors
 */
export const setApiAlwaysUnauthorized = (on: boolean): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.setApiAlwaysUnauthorized(on))

/**
 * Revokes an access token at the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const revoke = (accessToken: string | Redacted.Redacted<string>): Effect.Effect<boolean, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.revoke(accessToken))

/**
 * Revokes every token of a client at the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const revokeClient = (clientId: string): Effect.Effect<number, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.revokeClient(clientId))

/**
 * A refresh token for a client of the server in context, as if from an earlier login.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const Server = AuthServer.layer({ clients: [{ id: "cli", method: "none" }] })
 * const program = AuthServer.issueRefreshToken("cli").pipe(Effect.provide(Server))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const issueRefreshToken = (
  clientId: string,
  options?: { readonly scope?: ReadonlyArray<string> | undefined }
): Effect.Effect<Redacted.Redacted<string>, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.issueRefreshToken(clientId, options))

/**
 * The refresh tokens the server in context issued, oldest first.
 *
 * @since 0.1.0
 * @category accessors
 */
export const refreshTokens: Effect.Effect<ReadonlyArray<Models.IssuedRefreshToken>, never, AuthServer> = Effect.flatMap(
  AuthServer,
  (s) => s.refreshTokens
)

/**
 * Approves a pending device-flow user code at the server in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * // approve every code waiting
 * const approveAll = Effect.flatMap(AuthServer.pendingUserCodes, Effect.forEach(AuthServer.approve))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const approve = (userCode: string): Effect.Effect<boolean, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.approve(userCode))

/**
 * Denies a pending device-flow user code at the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const deny = (userCode: string): Effect.Effect<boolean, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.deny(userCode))

/**
 * The device-flow user codes waiting for approval at the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const pendingUserCodes: Effect.Effect<ReadonlyArray<string>, never, AuthServer> = Effect.flatMap(
  AuthServer,
  (s) => s.pendingUserCodes
)
