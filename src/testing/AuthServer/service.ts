/**
 * The `AuthServer` service and its Tag, in a module of their own so that the accessors (and the Promise
 * API) can import the Tag without importing `AuthServer.ts`, which re-exports them.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { Fault } from "./fault.js"
import type {
  ClientRegistration,
  IssuedRefreshToken,
  IssuedToken,
  ServiceAccountRegistration,
  Stats
} from "./models.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** The issuer in the discovery document: the same as `url`. */
  readonly issuer: string
  /** `${url}/token` */
  readonly tokenUrl: string
  /** `${url}/revoke` */
  readonly revocationUrl: string
  /** `${url}/introspect`: RFC 7662 token introspection, for a registered client. */
  readonly introspectionUrl: string
  /** `${url}/.well-known/oauth-authorization-server` */
  readonly discoveryUrl: string
  /** `${url}/device_authorization` (RFC 8628 §3.1) */
  readonly deviceAuthorizationUrl: string
  /** `${url}/device`: the page where a person enters a user code and approves or denies it. */
  readonly verificationUrl: string
  /** `${url}/api/<path>` (a leading `/` in `path` is dropped). */
  readonly apiUrl: (path?: string) => string
  /**
   * The https listener that asks for client certificates, when `mutualTls` was given (RFC 8705): the
   * same endpoints and API, named in the discovery document's `mtls_endpoint_aliases`.
   */
  readonly mtls?: {
    /** `https://127.0.0.1:<port>` */
    readonly url: string
    /** `${mtls.url}/token` */
    readonly tokenUrl: string
    /** `${mtls.url}/api/<path>`: where certificate-bound tokens are accepted, from the same certificate. */
    readonly apiUrl: (path?: string) => string
  } | undefined
  /** Adds a client, or replaces the one with the same id. */
  readonly register: (client: ClientRegistration) => Effect.Effect<void>
  /** Adds a service account key, or replaces the one with the same key id. A bad key is a defect. */
  readonly registerServiceAccount: (account: ServiceAccountRegistration) => Effect.Effect<void>
  /** Queues faults: each is consumed by one token request, in order. */
  readonly inject: (...faults: ReadonlyArray<Fault>) => Effect.Effect<void>
  /** A fault for every token request (after the queued ones) until cleared with `undefined`. */
  readonly injectAlways: (fault: Fault | undefined) => Effect.Effect<void>
  /** While on, the API answers every request with 401 (`forced`). */
  readonly setApiAlwaysUnauthorized: (on: boolean) => Effect.Effect<void>
  /**
   * Revokes an access token, or a refresh token and with it its whole login. `true` when it was issued
   * here and not revoked yet.
   */
  readonly revoke: (accessToken: string | Redacted.Redacted<string>) => Effect.Effect<boolean>
  /** Revokes every token of a client, refresh tokens too; how many were not revoked yet. */
  readonly revokeClient: (clientId: string) => Effect.Effect<number>
  /**
   * A refresh token for a client, as if from an earlier login (with the given scope, default none):
   * what a test hands to `Grant.refreshToken`. Dies for an unknown client.
   */
  readonly issueRefreshToken: (
    clientId: string,
    options?: { readonly scope?: ReadonlyArray<string> | undefined }
  ) => Effect.Effect<Redacted.Redacted<string>>
  /** Every refresh token issued, oldest first. */
  readonly refreshTokens: Effect.Effect<ReadonlyArray<IssuedRefreshToken>>
  /** Approves a pending device-flow user code (any spelling: `bcdf ghjk`). `false` when none is pending. */
  readonly approve: (userCode: string) => Effect.Effect<boolean>
  /** Denies a pending device-flow user code: the device gets `access_denied`. */
  readonly deny: (userCode: string) => Effect.Effect<boolean>
  /** The user codes waiting for approval, oldest first. */
  readonly pendingUserCodes: Effect.Effect<ReadonlyArray<string>>
  readonly stats: Effect.Effect<Stats>
  /** Every token issued, oldest first. */
  readonly tokens: Effect.Effect<ReadonlyArray<IssuedToken>>
  /** Sets the counters back to zero (tokens, clients and faults stay). */
  readonly resetStats: Effect.Effect<void>
}

/**
 * The embedded authorization server.
 *
 * @since 0.1.0
 * @category tags
 */
export class AuthServer extends Context.Tag("tokenlayer/testing/AuthServer")<AuthServer, Service>() {}
