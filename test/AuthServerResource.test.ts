/**
 * The embedded AuthServer's RFC 8707 resources and scopes over real HTTP on 127.0.0.1: tokens per
 * resource with their audiences, `invalid_target` for an unknown or malformed resource, scope narrowing
 * (RFC 6749 §3.3), RFC 7662 introspection, and API routes answering an `insufficient_scope` challenge.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AuthServer } from "tokenlayer/testing"
import { basicHeader, send, tokenRequest } from "./support/authServer.js"

const ORDERS = "https://orders.example.com"
const BILLING = "https://billing.example.com"

const TestLayer = Layer.merge(
  AuthServer.layer({
    clients: [
      {
        id: "gateway",
        secret: "s3cret",
        scopes: ["orders:read", "orders:write", "billing"],
        resources: [BILLING, { resource: ORDERS, audience: "orders-api", scopes: ["orders:read", "orders:write"] }]
      },
      { id: "narrow", secret: "s3cret", scopes: ["read"], scopePolicy: "narrow" },
      { id: "open", secret: "s3cret" }
    ],
    api: {
      routes: [
        { path: "orders", resource: ORDERS, scope: "orders:read" },
        { path: "orders/edit", resource: ORDERS, scope: ["orders:read", "orders:write"], insufficientScopeStatus: 401 }
      ]
    }
  }),
  NodeHttpClient.layerUndici
)

const ask = (client: string, form: ReadonlyArray<readonly [string, string]>) =>
  tokenRequest([["grant_type", "client_credentials"], ...form], {
    authorization: basicHeader(client, "s3cret")
  })

const accessToken = (answer: { readonly json: unknown }) => (answer.json as { access_token: string }).access_token

const api = (path: string, token: string) =>
  Effect.flatMap(
    AuthServer.AuthServer,
    (s) => send(HttpClientRequest.get(s.apiUrl(path)).pipe(HttpClientRequest.bearerToken(token)))
  )

describe("AuthServer resources (RFC 8707)", () => {
  it.effect("issues a token for the resources asked, with their audiences and the scope they allow", () =>
    Effect.gen(function*() {
      const answer = yield* ask("gateway", [["resource", ORDERS], ["scope", "orders:read billing"]])
      assert.strictEqual(answer.status, 200)
      // billing is not a scope of the orders resource: left out, and the answer says so
      assert.strictEqual((answer.json as { scope: string }).scope, "orders:read")
      const [issued] = yield* AuthServer.tokens
      assert.deepStrictEqual(issued!.resource, [ORDERS])
      assert.deepStrictEqual(issued!.audience, ["orders-api"])

      const two = yield* ask("gateway", [["resource", ORDERS], ["resource", BILLING]])
      assert.strictEqual(two.status, 200)
      const tokens = yield* AuthServer.tokens
      assert.deepStrictEqual(tokens[1]!.audience, ["orders-api", BILLING])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("refuses an unknown or malformed resource with invalid_target", () =>
    Effect.gen(function*() {
      const unknown = yield* ask("gateway", [["resource", "https://evil.example.com"]])
      assert.strictEqual(unknown.status, 400)
      assert.strictEqual((unknown.json as { error: string }).error, "invalid_target")
      const malformed = yield* ask("open", [["resource", "not a uri"]])
      assert.strictEqual((malformed.json as { error: string }).error, "invalid_target")
      const fragment = yield* ask("open", [["resource", "https://a.example.com/#x"]])
      assert.strictEqual((fragment.json as { error: string }).error, "invalid_target")
      // a client without registered resources may name any absolute URI
      const any = yield* ask("open", [["resource", "https://a.example.com"]])
      assert.strictEqual(any.status, 200)
      assert.strictEqual((yield* AuthServer.tokens).length, 1)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("narrows a scope with scopePolicy narrow, refuses one by default", () =>
    Effect.gen(function*() {
      const narrowed = yield* ask("narrow", [["scope", "read write"]])
      assert.strictEqual((narrowed.json as { scope: string }).scope, "read")
      const none = yield* ask("narrow", [["scope", "write"]])
      assert.strictEqual((none.json as { error: string }).error, "invalid_scope")
      const refused = yield* ask("gateway", [["scope", "orders:read admin"]])
      assert.strictEqual((refused.json as { error: string }).error, "invalid_scope")
    }).pipe(Effect.provide(TestLayer)))

  it.effect("introspection tells the resource server the token's scope, audience and resource", () =>
    Effect.gen(function*() {
      const s = yield* AuthServer.AuthServer
      const token = accessToken(yield* ask("gateway", [["resource", ORDERS], ["scope", "orders:read"]]))
      const introspect = (value: string) =>
        send(
          HttpClientRequest.post(s.introspectionUrl).pipe(
            HttpClientRequest.setHeader("authorization", basicHeader("gateway", "s3cret")),
            HttpClientRequest.bodyUrlParams({ token: value })
          )
        )
      const answer = (yield* introspect(token)).json as Record<string, unknown>
      assert.strictEqual(answer.active, true)
      assert.strictEqual(answer.aud, "orders-api")
      assert.deepStrictEqual(answer.resource, [ORDERS])
      assert.strictEqual(answer.scope, "orders:read")
      assert.deepStrictEqual((yield* introspect("nope")).json, { active: false })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("API routes: a token for another resource is 401, a missing scope an insufficient_scope challenge", () =>
    Effect.gen(function*() {
      const billing = accessToken(yield* ask("gateway", [["resource", BILLING], ["scope", "billing"]]))
      const wrong = yield* api("orders/1", billing)
      assert.strictEqual(wrong.status, 401)
      assert.include(wrong.headers["www-authenticate"], "invalid_token")

      const read = accessToken(yield* ask("gateway", [["resource", ORDERS], ["scope", "orders:read"]]))
      const ok = yield* api("orders/1", read)
      assert.strictEqual(ok.status, 200)
      assert.deepStrictEqual((ok.json as { aud: unknown }).aud, ["orders-api"])

      const edit = yield* api("orders/edit/1", read)
      assert.strictEqual(edit.status, 401)
      assert.strictEqual(
        edit.headers["www-authenticate"],
        "Bearer realm=\"tokenlayer\", error=\"insufficient_scope\", " +
          "error_description=\"the access token lacks a required scope\", scope=\"orders:read orders:write\""
      )
      const write = accessToken(yield* ask("gateway", [["resource", ORDERS], ["scope", "orders:read orders:write"]]))
      assert.strictEqual((yield* api("orders/edit/1", write)).status, 200)
      // unrouted paths still take any valid token
      assert.strictEqual((yield* api("other", billing)).status, 200)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("the default insufficient-scope status is 403", () =>
    Effect.gen(function*() {
      const token = accessToken(yield* ask("gateway", [["resource", ORDERS], ["scope", "orders:write"]]))
      const answer = yield* api("orders", token)
      assert.strictEqual(answer.status, 403)
      assert.include(answer.headers["www-authenticate"], "scope=\"orders:read\"")
    }).pipe(Effect.provide(TestLayer)))
})
