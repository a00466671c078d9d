/**
 * `/api/*` of the embedded `AuthServer`: a protected resource (RFC 6750) that answers 200 for a valid
 * Bearer token and 401 with a `WWW-Authenticate` challenge for a missing, unknown, expired or revoked
 * one, or for every token while `setApiAlwaysUnauthorized` is on.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as AuthServer from "../AuthServer.js"
import { json, peerCertificateOf } from "./httpParts.js"
import * as MtlsServer from "./mtlsServer.js"
import { realm } from "./oauthServer.js"
import * as State from "./serverState.js"

/** @internal */
export const make = (state: State.State) => {
  const unauthorized = (reason: AuthServer.UnauthorizedReason, description: string) => {
    state.counters.unauthorizedBy[reason]++
    const challenge = reason === "missing"
      ? `Bearer realm="${realm}"`
      : `Bearer realm="${realm}", error="invalid_token", error_description="${description}"`
    return json(
      { error: reason === "missing" ? "unauthorized" : "invalid_token", error_description: description },
      401,
      {
        "www-authenticate": challenge
      }
    )
  }

  return (
    request: HttpServerRequest.HttpServerRequest,
    path: string
  ): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
    Effect.gen(function*() {
      state.counters.apiRequests++
      const response = yield* Effect.gen(function*() {
        if (state.apiAlwaysUnauthorized) return unauthorized("forced", "the server refuses every token")
        const match = /^bearer +(\S+) *$/i.exec(request.headers["authorization"] ?? "")
        if (match === null) return unauthorized("missing", "no Bearer token")
        const record = state.tokensByValue.get(match[1]!)
        if (record === undefined) return unauthorized("unknown", "unknown access token")
        if (record.revoked) return unauthorized("revoked", "the access token was revoked")
        const now = yield* DateTime.now
        if (!DateTime.lessThan(now, record.expiresAt)) return unauthorized("expired", "the access token expired")
        if (record.certificateThumbprint !== undefined) {
          const peer = peerCertificateOf(request)
          if (peer === undefined || MtlsServer.thumbprint(peer.certificate) !== record.certificateThumbprint) {
            return unauthorized(
              "certificate",
              "the access token is bound to a client certificate this request did not present"
            )
          }
        }
        return json({
          ok: true,
          method: request.method,
          path,
          client_id: record.clientId,
          ...(record.scope.length === 0 ? {} : { scope: record.scope.join(" ") })
        })
      })
      State.bump(state.counters.apiByStatus, response.status)
      return response
    })
}
