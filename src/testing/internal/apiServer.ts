/**
 * `/api/*` of the embedded `AuthServer`: a protected resource (RFC 6750) that answers 200 for a valid
 * Bearer token and 401 with a `WWW-Authenticate` challenge for a missing, unknown, expired or revoked
 * one, or for every token while `setApiAlwaysUnauthorized` is on. A route of `Options.api` may require
 * a resource (401 `invalid_token` for a token issued for another) and scopes (403, or 401, with an
 * `insufficient_scope` challenge naming them, RFC 6750 §3.1).
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

/** A route's requirements, resolved: its path below `/api`, its resource, its scopes. */
interface Route {
  readonly path: string
  readonly resource: string | undefined
  readonly scope: ReadonlyArray<string>
  readonly status: 401 | 403
}

const routesOf = (api: AuthServer.ApiOptions | undefined): ReadonlyArray<Route> =>
  (api?.routes ?? []).map((route): Route => ({
    path: `/api/${route.path.replace(/^\/+|\/+$/g, "")}`.replace(/\/$/, ""),
    resource: route.resource,
    scope: typeof route.scope === "string"
      ? route.scope.split(" ").filter((s) => s !== "")
      : [...(route.scope ?? [])],
    status: route.insufficientScopeStatus ?? 403
  })).sort((a, b) => b.path.length - a.path.length)

/** The route a path is under, the longest first. */
const routeOf = (routes: ReadonlyArray<Route>, path: string): Route | undefined =>
  routes.find((route) => path === route.path || path.startsWith(`${route.path}/`))

/** @internal */
export const make = (state: State.State, api?: AuthServer.ApiOptions) => {
  const routes = routesOf(api)
  // RFC 6750 §3.1: the scope needed, so that the client can ask for it
  const insufficientScope = (route: Route, missing: ReadonlyArray<string>) =>
    json(
      { error: "insufficient_scope", error_description: `the access token lacks ${missing.join(" ")}` },
      route.status,
      {
        "www-authenticate": `Bearer realm="${realm}", error="insufficient_scope", ` +
          `error_description="the access token lacks a required scope", scope="${route.scope.join(" ")}"`
      }
    )

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
        const route = routeOf(routes, path)
        if (route?.resource !== undefined && !(record.resource ?? []).includes(route.resource)) {
          return unauthorized("unknown", "the access token is not for this resource")
        }
        const missing = (route?.scope ?? []).filter((s) => !record.scope.includes(s))
        if (route !== undefined && missing.length > 0) return insufficientScope(route, missing)
        return json({
          ok: true,
          method: request.method,
          path,
          client_id: record.clientId,
          ...(record.scope.length === 0 ? {} : { scope: record.scope.join(" ") }),
          ...((record.resource ?? []).length === 0 ? {} : { resource: record.resource }),
          ...((record.audience ?? []).length === 0 ? {} : { aud: record.audience })
        })
      })
      State.bump(state.counters.apiByStatus, response.status)
      return response
    })
}
