/**
 * `TokenHttpClient.authorizeCache` over real HTTP on 127.0.0.1 (AuthServer + NodeHttpClient): the token
 * per request (origin as RFC 8707 resource, or a scope chosen per request), step-up on an
 * `insufficient_scope` challenge sent exactly once, never looping against a hostile API, and
 * `invalid_target` surfaced as a typed `HttpError`. The cache is a small one of this file: a token per
 * (scope, resource) key, asked from the token endpoint with a raw client credentials request.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Either, Layer, Redacted } from "effect"
import * as http from "node:http"
import { Token, TokenError, TokenHttpClient } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { basicHeader } from "./support/authServer.js"

const testCache = (tokenUrl: string) => {
  const cached = new Map<string, Token.Token>()
  const requests: Array<string> = []
  const keyOf = (r?: { readonly scope?: string; readonly resource?: string | ReadonlyArray<string> }) =>
    JSON.stringify([r?.scope ?? "", r?.resource ?? ""])
  const cache: TokenHttpClient.Cache = {
    get: (request) =>
      Effect.gen(function*() {
        const key = keyOf(request)
        const hit = cached.get(key)
        if (hit !== undefined) return hit
        requests.push(key)
        const form = new URLSearchParams({ grant_type: "client_credentials" })
        if (request?.scope !== undefined) form.set("scope", request.scope)
        for (const r of [request?.resource ?? []].flat()) form.append("resource", r)
        const response = yield* HttpClient.execute(
          HttpClientRequest.post(tokenUrl).pipe(
            HttpClientRequest.setHeader("authorization", basicHeader("gateway", "s3cret")),
            HttpClientRequest.bodyUrlParams(form)
          )
        ).pipe(Effect.scoped, Effect.orDie)
        const body = (yield* Effect.orDie(response.json)) as Record<string, string>
        if (response.status !== 200) {
          return yield* Effect.fail(
            new TokenError.HttpError({ reason: "Status", url: tokenUrl, status: response.status, error: body.error })
          )
        }
        const token = Token.make({
          accessToken: Redacted.make(body.access_token!),
          tokenType: "Bearer",
          scope: body.scope,
          issuedAt: yield* DateTime.now
        })
        cached.set(key, token)
        return token
      }).pipe(Effect.provide(NodeHttpClient.layerUndici)),
    invalidate: (request) => Effect.sync(() => void cached.delete(keyOf(request)))
  }
  return { cache, requests }
}

const Server = AuthServer.layer({
  clients: [{ id: "gateway", secret: "s3cret", scopes: ["read", "write"] }],
  api: { routes: [{ path: "docs", scope: "read" }, { path: "docs/edit", scope: "read write" }] }
})

const setup = Effect.gen(function*() {
  const server = yield* AuthServer.AuthServer
  const client = yield* HttpClient.HttpClient
  const { cache, requests } = testCache(server.tokenUrl)
  return { server, client, cache, requests }
})

const TestLayer = Layer.merge(Server, NodeHttpClient.layerUndici)

describe("TokenHttpClient.authorizeCache", () => {
  it.effect("picks the token by the request: a scope per path, stepped up once on insufficient_scope", () =>
    Effect.gen(function*() {
      const { cache, client, requests, server } = yield* setup
      const api = TokenHttpClient.authorizeCache(client, cache, {
        request: (request) => ({ scope: request.url.includes("/docs") ? "read" : "" })
      })
      const read = yield* Effect.scoped(api.get(server.apiUrl("docs/1")))
      assert.strictEqual(read.status, 200)
      yield* AuthServer.resetStats
      const edit = yield* Effect.scoped(api.get(server.apiUrl("docs/edit/1")))
      assert.strictEqual(edit.status, 200)
      assert.strictEqual(((yield* Effect.scoped(edit.json)) as { scope: string }).scope, "read write")
      // one 403, then the stepped-up token: two API requests, one token request for "read write"
      assert.deepStrictEqual((yield* AuthServer.stats).apiByStatus, { 200: 1, 403: 1 })
      assert.deepStrictEqual(requests, [JSON.stringify(["read", ""]), JSON.stringify(["read write", ""])])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("an API that always answers insufficient_scope is asked exactly twice, never in a loop", () =>
    Effect.gen(function*() {
      const { cache, requests, server } = yield* setup
      let hits = 0
      yield* HttpServer.serveEffect(Effect.sync(() => {
        hits++
        return HttpServerResponse.empty({
          status: 401,
          headers: { "www-authenticate": `Bearer error="insufficient_scope", scope="write"` }
        })
      }))
      const address = (yield* HttpServer.HttpServer).address
      const url = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}/x` : ""
      const api = TokenHttpClient.authorizeCache(yield* HttpClient.HttpClient, cache)
      const answer = yield* Effect.scoped(api.get(url))
      assert.strictEqual(answer.status, 401)
      assert.strictEqual(hits, 2)
      assert.deepStrictEqual(requests, [JSON.stringify(["", ""]), JSON.stringify(["write", ""])])
      void server
    }).pipe(
      Effect.scoped,
      Effect.provide(TestLayer),
      Effect.provide(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" }))
    ))

  it.effect("resource: origin asks for the API's origin; an unknown one fails with a typed invalid_target", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      yield* server.register({ id: "gateway", secret: "s3cret", resources: [server.url] })
      const { cache, client, requests } = yield* setup
      const api = TokenHttpClient.authorizeCache(client, cache, { resource: "origin" })
      const ok = yield* Effect.scoped(api.get(server.apiUrl("things")))
      assert.deepStrictEqual(((yield* Effect.scoped(ok.json)) as { resource: unknown }).resource, [server.url])
      assert.deepStrictEqual(requests, [JSON.stringify(["", server.url])])
      const refused = yield* Effect.either(Effect.scoped(api.get("http://localhost:1/elsewhere")))
      assert.isTrue(Either.isLeft(refused))
      const error = Either.isLeft(refused) ? refused.left : undefined
      assert.instanceOf(error, TokenError.HttpError)
      assert.strictEqual((error as TokenError.HttpError).error, "invalid_target")
    }).pipe(Effect.provide(TestLayer)))
})
