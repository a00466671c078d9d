/**
 * The mutable state of one embedded `AuthServer` that its endpoints share: the access tokens it issued,
 * the faults queued for the token endpoint, the API switch, and the counters.
 *
 * @internal
 */
import * as Redacted from "effect/Redacted"
import type * as AuthServer from "../AuthServer.js"
import type { TokenRecord } from "./oauthServer.js"

type Counts = Record<string, number>

/** @internal */
export interface Counters {
  tokenRequests: number
  tokenRequestsBy: Record<string, Counts>
  apiRequests: number
  apiByStatus: Counts
  unauthorizedBy: Record<AuthServer.UnauthorizedReason, number>
  revocationRequests: number
  deviceAuthorizationRequests: number
  metadataRequests: number
}

/** @internal */
export interface State {
  /** Every access token issued, oldest first. */
  readonly tokens: Array<TokenRecord>
  readonly tokensByValue: Map<string, TokenRecord>
  /** Faults for the next token requests, one each. */
  readonly faults: Array<AuthServer.Fault>
  /** The fault for every token request after the queued ones. */
  alwaysFault: AuthServer.Fault | undefined
  apiAlwaysUnauthorized: boolean
  counters: Counters
}

const emptyCounters = (): Counters => ({
  tokenRequests: 0,
  tokenRequestsBy: {},
  apiRequests: 0,
  apiByStatus: {},
  unauthorizedBy: { missing: 0, unknown: 0, expired: 0, revoked: 0, forced: 0, certificate: 0 },
  revocationRequests: 0,
  deviceAuthorizationRequests: 0,
  metadataRequests: 0
})

/** @internal */
export const make = (): State => ({
  tokens: [],
  tokensByValue: new Map(),
  faults: [],
  alwaysFault: undefined,
  apiAlwaysUnauthorized: false,
  counters: emptyCounters()
})

/** @internal */
export const resetCounters = (state: State): void => {
  state.counters = emptyCounters()
}

/** @internal */
export const bump = (counters: Counts, key: string | number): void => {
  counters[key] = (counters[key] ?? 0) + 1
}

/**
 * Counts a token request by the client it claimed and its outcome.
 *
 * @internal
 */
export const countToken = (state: State, clientId: string, outcome: string): void => {
  bump(state.counters.tokenRequestsBy[clientId] ??= {}, outcome)
}

/** @internal */
export const addToken = (state: State, record: TokenRecord): void => {
  state.tokens.push(record)
  state.tokensByValue.set(record.value, record)
}

/** @internal */
export const stats = (state: State): AuthServer.Stats => {
  const c = state.counters
  return {
    tokenRequests: c.tokenRequests,
    tokenRequestsBy: Object.fromEntries(
      Object.entries(c.tokenRequestsBy).map(([client, outcomes]) => [client, { ...outcomes }])
    ),
    apiRequests: c.apiRequests,
    apiByStatus: { ...c.apiByStatus },
    unauthorizedBy: { ...c.unauthorizedBy },
    revocationRequests: c.revocationRequests,
    deviceAuthorizationRequests: c.deviceAuthorizationRequests,
    metadataRequests: c.metadataRequests
  }
}

/** @internal */
export const issuedToken = (record: TokenRecord): AuthServer.IssuedToken => ({
  accessToken: Redacted.make(record.value),
  clientId: record.clientId,
  grantType: record.grantType,
  scope: record.scope,
  issuedAt: record.issuedAt,
  expiresAt: record.expiresAt,
  revoked: record.revoked,
  resource: record.resource ?? [],
  audience: record.audience ?? [],
  ...(record.exchange === undefined ? {} : { exchange: record.exchange }),
  ...(record.certificateThumbprint === undefined ? {} : { certificateThumbprint: record.certificateThumbprint })
})
