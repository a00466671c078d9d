/**
 * `POST /introspect` of the embedded `AuthServer` (RFC 7662): what a resource server learns about an
 * access token: whether it is active, and then its client, scope, audiences and RFC 8707 resources.
 * The caller authenticates as a registered client; a token of another client, unknown, expired or
 * revoked is `{"active": false}` (§2.2).
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { formEndpoint, json } from "./httpParts.js"
import * as OAuth from "./oauthServer.js"
import type * as State from "./serverState.js"

/** @internal */
export const make = (options: {
  readonly state: State.State
  readonly issuer: string
  readonly lookup: (clientId: string) => OAuth.Client | undefined
}) =>
(request: HttpServerRequest.HttpServerRequest) =>
  formEndpoint(
    request,
    (endpointRequest) =>
      Effect.gen(function*() {
        yield* OAuth.authenticateClient(endpointRequest, options.lookup)
        const value = yield* OAuth.param(endpointRequest.form, "token")
        if (value === undefined || value === "") return yield* Effect.fail(OAuth.invalidRequest("missing token"))
        const record = options.state.tokensByValue.get(value)
        const now = yield* DateTime.now
        if (record === undefined || record.revoked || !DateTime.lessThan(now, record.expiresAt)) {
          return { active: false }
        }
        const audience = record.audience ?? []
        return {
          active: true,
          client_id: record.clientId,
          token_type: "Bearer",
          iss: options.issuer,
          iat: Math.floor(DateTime.toEpochMillis(record.issuedAt) / 1000),
          exp: Math.floor(DateTime.toEpochMillis(record.expiresAt) / 1000),
          ...(record.scope.length === 0 ? {} : { scope: record.scope.join(" ") }),
          ...(audience.length === 0 ? {} : { aud: audience.length === 1 ? audience[0] : audience }),
          ...((record.resource ?? []).length === 0 ? {} : { resource: record.resource })
        }
      }),
    (answer) => json(answer)
  )
