/**
 * `POST /token` of the embedded `AuthServer`: the injected faults first, then the grant handler of the
 * request's `grant_type`, the token recorded and answered (RFC 6749 §5.1) or the error (§5.2), every
 * request counted by the client it claims and its outcome.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as AuthServer from "../AuthServer.js"
import { checkForm, errorResponse, json, jsonHeaders, readForm, socketOf } from "./httpParts.js"
import * as MtlsServer from "./mtlsServer.js"
import * as OAuth from "./oauthServer.js"
import * as State from "./serverState.js"
import * as Target from "./targetServer.js"

const htmlPage = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>" +
  "<body><h1>Please sign in</h1><form method=\"post\"><input name=\"user\"></form></body></html>\n"

/** @internal */
export interface Options {
  readonly state: State.State
  /** The grants served, by `grant_type`: the first that matches. */
  readonly grantHandlers: ReadonlyArray<OAuth.GrantHandler>
  readonly lookup: (clientId: string) => OAuth.Client | undefined
}

/** The answer of an injected fault that replaces the token endpoint's own, if any. */
const faultAnswer = (
  fault: AuthServer.Fault | undefined,
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined => {
  switch (fault?._tag) {
    case "Status": {
      const headers: Record<string, string> = { "cache-control": "no-store" }
      if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter)
      return Effect.succeed(
        fault.error === undefined
          ? HttpServerResponse.empty({ status: fault.status, headers })
          : json(
            { error: fault.error, error_description: fault.description ?? "injected fault" },
            fault.status,
            headers
          )
      )
    }
    case "Hang":
      return Effect.never
    case "Reset": {
      const socket = socketOf(request)
      if (socket === undefined) return Effect.dieMessage("AuthServer: Reset needs a Node HttpServer")
      socket.destroy()
      return Effect.never
    }
    case "MalformedJson": {
      const body = JSON.stringify({ access_token: OAuth.randomToken(), token_type: "Bearer", expires_in: 3600 })
      return Effect.succeed(
        HttpServerResponse.text(body.slice(0, body.length - 7), {
          contentType: "application/json",
          headers: jsonHeaders
        })
      )
    }
    case "Html":
      return Effect.succeed(HttpServerResponse.text(htmlPage, { contentType: "text/html; charset=utf-8" }))
    default:
      return undefined
  }
}

const tokenBody = (result: OAuth.GrantResult, fault: AuthServer.Fault | undefined): Record<string, unknown> => {
  const { token } = result
  const seconds = Math.round(DateTime.distance(token.issuedAt, token.expiresAt) / 1000)
  const body: Record<string, unknown> = { access_token: token.value, token_type: "Bearer" }
  if (fault?._tag === "ExpiresInString") body.expires_in = fault.value ?? String(seconds)
  else if (fault?._tag !== "ExpiresInMissing") body.expires_in = seconds
  if (token.scope.length > 0) body.scope = token.scope.join(" ")
  return { ...body, ...result.extra }
}

/** RFC 8705 §3: a token requested with a client certificate is bound to it. */
const certificateBinding = (request: OAuth.EndpointRequest): { readonly certificateThumbprint?: string } => {
  const bound = MtlsServer.bindingOf(request)
  return bound === undefined ? {} : { certificateThumbprint: bound }
}

/** @internal */
export const make = (options: Options) => {
  const { state } = options

  const issue = (
    lifetimeOverride: number | undefined,
    request: OAuth.EndpointRequest
  ): OAuth.GrantContext["issue"] =>
  (grant) =>
    Effect.gen(function*() {
      // token exchange checks its own audiences and resources (RFC 8693 §2.1)
      const target = grant.exchange === undefined
        ? yield* Target.target(grant.client, request.form, grant.scope)
        : { resource: [], audience: [], scope: grant.scope }
      const now = yield* DateTime.now
      const seconds = lifetimeOverride ??
        Math.floor(Duration.toSeconds(grant.lifetime ?? grant.client.tokenLifetime))
      const record: OAuth.TokenRecord = {
        value: OAuth.randomToken(),
        clientId: grant.client.id,
        grantType: grant.grantType,
        scope: target.scope,
        issuedAt: now,
        expiresAt: DateTime.addDuration(now, Duration.seconds(seconds)),
        revoked: false,
        resource: target.resource,
        audience: target.audience,
        ...(grant.exchange === undefined ? {} : { exchange: grant.exchange }),
        ...certificateBinding(request)
      }
      State.addToken(state, record)
      return record
    })

  /** The token endpoint's own answer, before any fault changes its body. */
  const grantFor = (
    request: OAuth.EndpointRequest,
    lifetimeOverride: number | undefined
  ): Effect.Effect<OAuth.GrantResult, OAuth.OAuthError> =>
    Effect.gen(function*() {
      const grantType = yield* OAuth.param(request.form, "grant_type")
      if (grantType === undefined || grantType === "") {
        return yield* Effect.fail(OAuth.invalidRequest("missing grant_type"))
      }
      const handler = options.grantHandlers.find((g) => g.grantType === grantType)
      if (handler === undefined) {
        return yield* Effect.fail(
          new OAuth.OAuthError({
            status: 400,
            error: "unsupported_grant_type",
            description: `grant_type ${grantType} is not supported`
          })
        )
      }
      return yield* handler.handle({
        request,
        claimsClient: OAuth.claimedClientId(request) !== undefined,
        authenticateClient: OAuth.authenticateClient(request, options.lookup),
        issue: issue(lifetimeOverride, request)
      })
    })

  return (request: HttpServerRequest.HttpServerRequest): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
    Effect.gen(function*() {
      state.counters.tokenRequests++
      const endpointRequest = yield* readForm(request)
      const clientId = OAuth.claimedClientId(endpointRequest) ??
        OAuth.assertionIssuer(endpointRequest.form.get("assertion")) ?? "-"
      const fault = state.faults.shift() ?? state.alwaysFault

      const replaced = faultAnswer(fault, request)
      if (replaced !== undefined && fault !== undefined) {
        State.countToken(state, clientId, fault._tag)
        return yield* replaced
      }
      if (fault?._tag === "Latency") yield* Effect.sleep(fault.duration)

      const invalid = checkForm(request)
      const answer = yield* Effect.either(
        invalid === undefined
          ? grantFor(endpointRequest, fault?._tag === "ExpiresIn" ? fault.seconds : undefined)
          : Effect.fail(invalid)
      )
      if (Either.isLeft(answer)) {
        State.countToken(state, clientId, answer.left.error)
        return errorResponse(answer.left)
      }
      State.countToken(state, clientId, "issued")
      return json(tokenBody(answer.right, fault))
    })
}
