/**
 * The client credentials grant over real HTTP on 127.0.0.1: a recording token endpoint served by
 * `NodeHttpServer` (test/support/tokenEndpoint.ts), called through `NodeHttpClient.layerUndici`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Clock,
  Config,
  ConfigError,
  ConfigProvider,
  Duration,
  Effect,
  Fiber,
  Layer,
  Option,
  Redacted,
  TestClock
} from "effect"
import { inspect } from "node:util"
import { ClientAuth, Grant, RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
import type { TokenError } from "tokenlayer"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const SECRET = "s3cr:et p@ss%+£€/=&"
const ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.dG9wLXNlY3JldA.c2ln"

/**
 * RFC 6749 Appendix B, written out here rather than taken from the library: UTF-8, then every octet
 * except ALPHA / DIGIT / "-" / "." / "_" / "*" percent-encoded (upper-case hex), space as "+".
 */
const formUrlEncode = (value: string): string =>
  Array.from(new TextEncoder().encode(value), (octet) => {
    const char = String.fromCharCode(octet)
    if (/^[A-Za-z0-9*\-._]$/.test(char)) return char
    if (octet === 0x20) return "+"
    return `%${octet.toString(16).toUpperCase().padStart(2, "0")}`
  }).join("")

/** What a server does with the header: base64-decode, split at the first ":", form-decode each half. */
const decodeBasic = (header: string | undefined): readonly [string, string] | undefined => {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? "")
  if (match === null) return undefined
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, " "))
  return [formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))]
}

/** One token request through the public `Grant.clientCredentials` layer, to the test endpoint. */
const requestWith = (options: (tokenUrl: string) => Grant.ClientCredentialsOptions) =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpoint.TokenEndpoint
    const grant = yield* Effect.provide(Grant.Grant, Grant.clientCredentials(options(endpoint.url)))
    return yield* grant.request(Option.none())
  })

const basicOptions = (tokenUrl: string): Grant.ClientCredentialsOptions => ({
  tokenUrl,
  clientId: "my-client",
  clientSecret: Redacted.make(SECRET)
})

/** The only request the endpoint received. */
const onlyRequest = Effect.gen(function*() {
  const requests = yield* Effect.flatMap(TokenEndpoint.TokenEndpoint, (e) => e.requests)
  assert.strictEqual(requests.length, 1, "exactly one request")
  return requests[0]!
})

/** Serves `reply` and returns the failure of one token request. */
const failureFor = (reply: TokenEndpoint.Reply | ReadonlyArray<TokenEndpoint.Reply>) =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpoint.TokenEndpoint
    yield* endpoint.respond(reply)
    return yield* Effect.flip(requestWith(basicOptions))
  })

/** Everything an error shows when printed, logged or serialised. */
const printed = (error: TokenError.HttpError): ReadonlyArray<string> => [
  error.message,
  String(error),
  JSON.stringify(error),
  inspect(error, { depth: 10 })
]

const assertShowsNoSecret = (error: TokenError.HttpError) => {
  for (const text of printed(error)) {
    assert.notInclude(text, ACCESS_TOKEN)
    assert.notInclude(text, SECRET)
  }
}

const ServerAndClient = Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici)

/**
 * A test with its own token endpoint, HTTP client and TestClock.
 *
 * (Not `layer(ServerAndClient)(...)`: in @effect/vitest 0.30, `layer` assigns its `effect` and `scoped`
 * onto the shared `it`, so every top-level `it.effect` declared after it in the file silently runs in
 * that layer's runtime, sharing one TestClock; a backoff sleep left by one test then shows in the next.)
 */
const itHttp = (
  name: string,
  body: () => Effect.Effect<unknown, unknown, TokenEndpoint.TokenEndpoint | HttpClient.HttpClient>
) => it.effect(name, () => Effect.provide(body(), ServerAndClient))

// -----------------------------------------------------------------------------
// client authentication
// -----------------------------------------------------------------------------

describe("client authentication (RFC 6749 §2.3)", () => {
  it("the test's form encoder matches RFC 6749 Appendix B's worked example", () => {
    assert.strictEqual(formUrlEncode(" %&+£€"), "+%25%26%2B%C2%A3%E2%82%AC")
  })

  itHttp(
    "basic: Authorization is base64(formEncode(id) ':' formEncode(secret)) and decodes back",
    () =>
      Effect.gen(function*() {
        const clientId = "client:id with space%+é"
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        yield* endpoint.respond(TokenEndpoint.tokenReply())
        yield* requestWith((tokenUrl) => ({ tokenUrl, clientId, clientSecret: Redacted.make(SECRET) }))
        const request = yield* onlyRequest

        const expected = `Basic ${
          Buffer.from(`${formUrlEncode(clientId)}:${formUrlEncode(SECRET)}`, "utf8").toString("base64")
        }`
        assert.strictEqual(request.headers["authorization"], expected)
        // not the naive base64(id:secret) of @effect/platform's basicAuth or the vendors' samples
        assert.notStrictEqual(
          request.headers["authorization"],
          `Basic ${Buffer.from(`${clientId}:${SECRET}`).toString("base64")}`
        )
        assert.deepStrictEqual(decodeBasic(request.headers["authorization"]), [clientId, SECRET])
        // the credentials are in the header only
        assert.isFalse(request.form.has("client_id"))
        assert.isFalse(request.form.has("client_secret"))
        assert.notInclude(request.body, "s3cr")
      })
  )

  itHttp("post: client_id and client_secret in the form body, no Authorization header", () =>
    Effect.gen(function*() {
      const clientId = "client:id with space%+é"
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      yield* requestWith((tokenUrl) => ({ tokenUrl, clientId, clientAuth: ClientAuth.post(Redacted.make(SECRET)) }))
      const request = yield* onlyRequest
      assert.isUndefined(request.headers["authorization"])
      assert.deepStrictEqual(request.form.getAll("client_id"), [clientId])
      assert.deepStrictEqual(request.form.getAll("client_secret"), [SECRET])
      assert.strictEqual(request.form.get("grant_type"), "client_credentials")
    }))

  itHttp("none: only client_id, no secret anywhere", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      yield* requestWith((tokenUrl) => ({ tokenUrl, clientId: "public-app", clientAuth: ClientAuth.none }))
      const request = yield* onlyRequest
      assert.isUndefined(request.headers["authorization"])
      assert.deepStrictEqual([...request.form.keys()].sort(), ["client_id", "grant_type"])
      assert.strictEqual(request.form.get("client_id"), "public-app")
    }))
})

// -----------------------------------------------------------------------------
// the request
// -----------------------------------------------------------------------------

describe("the token request (RFC 6749 §4.4.2)", () => {
  itHttp(
    "is a form POST that asks for JSON, with grant_type=client_credentials and nothing else",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        yield* endpoint.respond(TokenEndpoint.tokenReply())
        yield* requestWith(basicOptions)
        const request = yield* onlyRequest
        assert.strictEqual(request.method, "POST")
        assert.strictEqual(request.url, "/oauth2/token")
        assert.match(request.headers["content-type"] ?? "", /^application\/x-www-form-urlencoded\b/)
        assert.strictEqual(request.headers["accept"], "application/json")
        assert.strictEqual(request.body, "grant_type=client_credentials")
      })
  )

  for (const [name, scope] of [["an empty string", ""], ["blanks", "   "], ["an empty list", []]] as const) {
    itHttp(`sends no scope= when the scope is ${name}`, () =>
      Effect.gen(function*() {
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        yield* endpoint.respond(TokenEndpoint.tokenReply())
        yield* requestWith((url) => ({ ...basicOptions(url), scope }))
        const request = yield* onlyRequest
        assert.isFalse(request.form.has("scope"))
        assert.notInclude(request.body, "scope")
      }))
  }

  itHttp("sends a scope given as a string or as a list, space-separated", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      yield* requestWith((url) => ({ ...basicOptions(url), scope: "catalog:read tasking:write" }))
      yield* requestWith((url) => ({ ...basicOptions(url), scope: ["catalog:read", "tasking:write"] }))
      const requests = yield* endpoint.requests
      assert.deepStrictEqual(requests.map((r) => r.form.getAll("scope")), [
        ["catalog:read tasking:write"],
        ["catalog:read tasking:write"]
      ])
      assert.include(requests[0]!.body, "scope=catalog%3Aread+tasking%3Awrite")
    }))

  itHttp("sends audience, every resource, and extraParams when given", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      yield* requestWith((url) => ({
        ...basicOptions(url),
        audience: "https://api.example.com",
        resource: ["https://a.example.com/", "https://b.example.com/"],
        extraParams: { tenant: "acme & co", "x-custom": "1", "x-empty": "" }
      }))
      yield* requestWith((url) => ({ ...basicOptions(url), resource: "https://a.example.com/" }))
      const [first, second] = yield* endpoint.requests
      assert.strictEqual(first!.form.get("grant_type"), "client_credentials")
      assert.deepStrictEqual(first!.form.getAll("audience"), ["https://api.example.com"])
      assert.deepStrictEqual(first!.form.getAll("resource"), ["https://a.example.com/", "https://b.example.com/"])
      assert.deepStrictEqual(first!.form.getAll("tenant"), ["acme & co"])
      assert.deepStrictEqual(first!.form.getAll("x-custom"), ["1"])
      assert.deepStrictEqual(first!.form.getAll("x-empty"), [""]) // sent as given
      assert.isFalse(first!.form.has("scope"))
      assert.deepStrictEqual(second!.form.getAll("resource"), ["https://a.example.com/"])
      assert.isFalse(second!.form.has("audience"))
    }))
})

// -----------------------------------------------------------------------------
// responses
// -----------------------------------------------------------------------------

describe("token responses (RFC 6749 §5.1)", () => {
  const tokenFor = (reply: TokenEndpoint.Reply) =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(reply)
      return yield* requestWith(basicOptions)
    })

  for (const expiresIn of [3600, "3600"]) {
    itHttp(
      `expires_in ${JSON.stringify(expiresIn)}: a token that expires 3600 s after receipt`,
      () =>
        Effect.gen(function*() {
          const token = yield* tokenFor({
            body: { access_token: ACCESS_TOKEN, token_type: "Bearer", expires_in: expiresIn }
          })
          const now = yield* Clock.currentTimeMillis
          assert.strictEqual(Redacted.value(token.accessToken), ACCESS_TOKEN)
          assert.strictEqual(token.expiresIn, 3600)
          assert.strictEqual(token.issuedAt.epochMillis, now)
          assert.strictEqual(token.expiresAt?.epochMillis, now + 3_600_000)
        })
    )
  }

  itHttp("no expires_in: a token without expiresAt", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor({ body: { access_token: ACCESS_TOKEN, token_type: "Bearer" } })
      assert.isUndefined(token.expiresAt)
      assert.isUndefined(token.expiresIn)
    }))

  itHttp("token_type \"bearer\" becomes \"Bearer\"; unknown fields are ignored", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor({
        body: {
          access_token: ACCESS_TOKEN,
          token_type: "bearer",
          expires_in: 300,
          refresh_expires_in: 0,
          "not-before-policy": 0,
          scope: "profile email",
          id_token: "x.y.z"
        }
      })
      assert.strictEqual(token.tokenType, "Bearer")
      assert.strictEqual(token.scope, "profile email")
      assert.strictEqual(token.expiresIn, 300)
    }))

  itHttp("a Jackson-style body with every field, some null, is a token", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor({
        body: { access_token: ACCESS_TOKEN, token_type: "bearer", expires_in: 3600, refresh_token: null, scope: null }
      })
      assert.strictEqual(Redacted.value(token.accessToken), ACCESS_TOKEN)
      assert.strictEqual(token.tokenType, "Bearer")
      assert.strictEqual(token.expiresIn, 3600)
      assert.isUndefined(token.refreshToken)
      assert.isUndefined(token.scope)
    }))

  const decodeCases: ReadonlyArray<readonly [string, object, string]> = [
    ["a negative expires_in", { access_token: ACCESS_TOKEN, expires_in: -5 }, "expires_in"],
    ["a non-numeric expires_in", { access_token: ACCESS_TOKEN, expires_in: "abc" }, "expires_in"],
    ["an expires_in over a year", { access_token: ACCESS_TOKEN, expires_in: 366 * 24 * 3600 }, "expires_in"],
    ["an empty access_token", { access_token: "", expires_in: 3600 }, "access_token"],
    ["no access_token", { token_type: "Bearer", expires_in: 3600 }, "access_token"]
  ]
  for (const [name, body, field] of decodeCases) {
    itHttp(`${name}: HttpError Decode naming ${field}, not the token`, () =>
      Effect.gen(function*() {
        const error = yield* failureFor({ body })
        assert.strictEqual(error._tag, "HttpError")
        assert.strictEqual(error.reason, "Decode")
        assert.strictEqual(error.status, 200)
        assert.include(error.message, field)
        assert.isFalse(error.isTransient)
        assertShowsNoSecret(error)
      }))
  }

  itHttp("an HTML page with status 200 (a login page, a proxy) is Decode", () =>
    Effect.gen(function*() {
      const error = yield* failureFor({
        body: `<html><body>Sign in<input value="${ACCESS_TOKEN}"></body></html>`,
        contentType: "text/html; charset=utf-8"
      })
      assert.strictEqual(error.reason, "Decode")
      assert.strictEqual(error.status, 200)
      assert.include(error.message, "text/html")
      assertShowsNoSecret(error)
    }))

  itHttp("malformed JSON is Decode", () =>
    Effect.gen(function*() {
      const error = yield* failureFor({ body: `{"access_token":"${ACCESS_TOKEN}","expires_in":` })
      assert.strictEqual(error.reason, "Decode")
      assertShowsNoSecret(error)
    }))

  itHttp("status 200 with an RFC 6749 error body is a Status error with its code", () =>
    Effect.gen(function*() {
      const error = yield* failureFor({ body: { error: "invalid_client", error_description: "unknown client" } })
      assert.strictEqual(error.reason, "Status")
      assert.strictEqual(error.status, 200)
      assert.strictEqual(error.error, "invalid_client")
      assert.strictEqual(error.errorDescription, "unknown client")
      assert.isFalse(error.isTransient)
    }))
})

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

describe("error responses (RFC 6749 §5.2)", () => {
  for (const status of [400, 401]) {
    itHttp(
      `${status} invalid_client: Status with the code, description and URI; not transient`,
      () =>
        Effect.gen(function*() {
          const error = yield* failureFor({
            status,
            headers: status === 401 ? { "www-authenticate": "Basic realm=\"token\"" } : {},
            body: {
              error: "invalid_client",
              error_description: "Client authentication failed",
              error_uri: "https://auth.example.com/docs/errors#invalid_client"
            }
          })
          assert.strictEqual(error.reason, "Status")
          assert.strictEqual(error.status, status)
          assert.strictEqual(error.error, "invalid_client")
          assert.strictEqual(error.errorDescription, "Client authentication failed")
          assert.strictEqual(error.errorUri, "https://auth.example.com/docs/errors#invalid_client")
          assert.isUndefined(error.retryAfter)
          assert.isFalse(error.isTransient)
          assert.include(error.message, "invalid_client")
          assertShowsNoSecret(error)
        })
    )
  }

  for (const status of [503, 429]) {
    itHttp(`${status} with Retry-After: 7 is transient and carries 7 seconds`, () =>
      Effect.gen(function*() {
        const error = yield* failureFor({
          status,
          headers: { "retry-after": "7" },
          body: "busy",
          contentType: "text/plain"
        })
        assert.strictEqual(error.reason, "Status")
        assert.strictEqual(error.status, status)
        assert.isUndefined(error.error)
        assert.isTrue(error.retryAfter !== undefined && Duration.equals(error.retryAfter, Duration.seconds(7)))
        assert.isTrue(error.isTransient)
      }))
  }

  itHttp("Retry-After as an HTTP date is the time from now (by the Clock) until then", () =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const error = yield* failureFor({
        status: 503,
        headers: { "retry-after": new Date(now + 7_000).toUTCString() },
        body: ""
      })
      assert.isTrue(error.retryAfter !== undefined && Duration.equals(error.retryAfter, Duration.seconds(7)))
      assert.isTrue(error.isTransient)
    }))

  itHttp("400 without an error code (a proxy's page) is transient", () =>
    Effect.gen(function*() {
      const error = yield* failureFor({ status: 400, body: "<h1>Bad Request</h1>", contentType: "text/html" })
      assert.strictEqual(error.reason, "Status")
      assert.strictEqual(error.status, 400)
      assert.isUndefined(error.error)
      assert.isTrue(error.isTransient)
    }))

  itHttp("400 invalid_grant / invalid_scope / unauthorized_client are not transient", () =>
    Effect.gen(function*() {
      for (const code of ["invalid_grant", "invalid_scope", "unauthorized_client"]) {
        const error = yield* failureFor({ status: 400, body: { error: code } })
        assert.strictEqual(error.error, code)
        assert.isFalse(error.isTransient, code)
      }
    }))

  itHttp("a closed port is a Transport error, transient, naming the URL and no secret", () =>
    Effect.gen(function*() {
      const url = yield* TokenEndpoint.closedPortUrl
      const grant = yield* Effect.provide(
        Grant.Grant,
        Grant.clientCredentials({
          tokenUrl: url,
          clientId: "my-client",
          clientAuth: ClientAuth.post(Redacted.make(SECRET))
        })
      )
      const error = yield* Effect.flip(grant.request(Option.none()))
      assert.strictEqual(error.reason, "Transport")
      assert.strictEqual(error.url, url)
      assert.isUndefined(error.status)
      assert.isTrue(error.isTransient)
      assertShowsNoSecret(error)
    }))
})

// -----------------------------------------------------------------------------
// configuration and keys
// -----------------------------------------------------------------------------

const fromEnv = (entries: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries)), { pathDelim: "_" }))

describe("Grant.clientCredentialsConfig", () => {
  itHttp("reads TOKEN_URL, CLIENT_ID, CLIENT_SECRET, CLIENT_AUTH=post and SCOPE", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      const grant = yield* Effect.provide(
        Grant.Grant,
        Grant.clientCredentialsConfig().pipe(Layer.provide(fromEnv({
          TOKEN_URL: endpoint.url,
          CLIENT_ID: "thingpark-client",
          CLIENT_SECRET: SECRET,
          CLIENT_AUTH: "post",
          SCOPE: "openid devices"
        })))
      )
      yield* grant.request(Option.none())
      const request = yield* onlyRequest
      assert.isUndefined(request.headers["authorization"])
      assert.strictEqual(request.form.get("client_id"), "thingpark-client")
      assert.strictEqual(request.form.get("client_secret"), SECRET)
      assert.strictEqual(request.form.get("scope"), "openid devices")
      assert.include(grant.key, endpoint.url)
      assert.include(grant.key, "thingpark-client")
      assert.notInclude(grant.key, SECRET)
    }))

  itHttp(
    "nested under ICEYE it reads ICEYE_* (HTTP Basic by default) and ignores the plain names",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        yield* endpoint.respond(TokenEndpoint.tokenReply())
        const grant = yield* Effect.provide(
          Grant.Grant,
          Grant.clientCredentialsConfig(Config.nested(Grant.clientCredentialsOptionsConfig, "ICEYE")).pipe(
            Layer.provide(fromEnv({
              ICEYE_TOKEN_URL: endpoint.url,
              ICEYE_CLIENT_ID: "iceye-client",
              ICEYE_CLIENT_SECRET: SECRET,
              TOKEN_URL: "http://127.0.0.1:9/wrong",
              CLIENT_ID: "other-client",
              CLIENT_SECRET: "other-secret",
              CLIENT_AUTH: "post"
            }))
          )
        )
        yield* grant.request(Option.none())
        const request = yield* onlyRequest
        assert.deepStrictEqual(decodeBasic(request.headers["authorization"]), ["iceye-client", SECRET])
        assert.strictEqual(request.body, "grant_type=client_credentials")
      })
  )

  itHttp("a missing CLIENT_SECRET is a ConfigError that names it and shows no secret", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(
        Grant.clientCredentialsConfig().pipe(Layer.provide(fromEnv({
          TOKEN_URL: "https://auth.example.com/token",
          CLIENT_ID: "my-client",
          ICEYE_CLIENT_SECRET: SECRET
        })))
      ).pipe(Effect.scoped, Effect.flip)
      assert.isTrue(ConfigError.isConfigError(error))
      const text = String(error)
      assert.include(text, "CLIENT_SECRET")
      assert.notInclude(text, SECRET)
      assert.notInclude(inspect(error, { depth: 10 }), SECRET)
    }))

  itHttp("an invalid CLIENT_AUTH or TOKEN_URL next to a valid secret shows no secret", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(
        Grant.clientCredentialsConfig().pipe(Layer.provide(fromEnv({
          TOKEN_URL: "not a url",
          CLIENT_ID: "my-client",
          CLIENT_SECRET: SECRET,
          CLIENT_AUTH: "jwt"
        })))
      ).pipe(Effect.scoped, Effect.flip)
      assert.isTrue(ConfigError.isConfigError(error))
      const text = String(error)
      assert.include(text, "CLIENT_AUTH")
      assert.notInclude(text, SECRET)
      assert.notInclude(inspect(error, { depth: 10 }), SECRET)
    }))
})

describe("Grant key", () => {
  const keyOf = (options: Partial<Grant.ClientCredentialsOptions>) =>
    Grant.makeClientCredentials(
      {
        tokenUrl: "https://auth.example.com/token",
        clientId: "my-client",
        clientSecret: Redacted.make(SECRET),
        ...options
      } as Grant.ClientCredentialsOptions,
      // never called: the key is computed without a request
      undefined as never
    ).key

  it("differs for different scopes, audiences, resources, clients and token URLs", () => {
    const keys = [
      keyOf({}),
      keyOf({ scope: "read" }),
      keyOf({ scope: "read write" }),
      keyOf({ audience: "https://a.example.com" }),
      keyOf({ audience: "https://b.example.com" }),
      keyOf({ resource: "https://r.example.com" }),
      keyOf({ clientId: "other-client" }),
      keyOf({ tokenUrl: "https://other.example.com/token" })
    ]
    assert.strictEqual(new Set(keys).size, keys.length, keys.join("\n"))
  })

  it("is the same for the same scopes in another order or form, and for no scope and an empty one", () => {
    assert.strictEqual(keyOf({ scope: "read write" }), keyOf({ scope: ["write", "read"] }))
    assert.strictEqual(keyOf({}), keyOf({ scope: "" }))
  })

  it("never matches another grant's key when values contain the key's own separators (; = % space)", () => {
    const pairs: ReadonlyArray<
      readonly [Partial<Grant.ClientCredentialsOptions>, Partial<Grant.ClientCredentialsOptions>]
    > = [
      // RFC 6749 §3.3: a scope token may contain ";" and "="
      [{ scope: "read;audience=x" }, { scope: "read", audience: "x" }],
      [{ clientId: "c;scope=read" }, { clientId: "c", scope: "read" }],
      [{ audience: "a%3Bb" }, { audience: "a;b" }],
      [{ resource: ["https://a.example.com/ https://b.example.com/"] }, {
        resource: ["https://a.example.com/", "https://b.example.com/"]
      }]
    ]
    for (const [left, right] of pairs) {
      assert.notStrictEqual(keyOf(left), keyOf(right), JSON.stringify([left, right]))
    }
  })

  it("contains no secret, whatever the authentication method", () => {
    for (
      const key of [
        keyOf({}),
        keyOf({ clientSecret: undefined, clientAuth: ClientAuth.post(Redacted.make(SECRET)) }),
        keyOf({ clientSecret: undefined, clientAuth: ClientAuth.basic(Redacted.make(SECRET)) })
      ]
    ) {
      assert.notInclude(key, SECRET)
      assert.notInclude(key, "s3cr")
    }
  })
})

// -----------------------------------------------------------------------------
// end to end: TokenService over the real endpoint
// -----------------------------------------------------------------------------

/**
 * A TokenService over the client credentials grant at the test endpoint. Each test gets its own endpoint
 * and its own TestClock.
 */
const withTokenService = <A, E>(
  grantOptions: (tokenUrl: string) => Grant.ClientCredentialsOptions,
  refreshPolicy: Layer.Layer<RefreshPolicy.RefreshPolicy>,
  replies: TokenEndpoint.Reply | ReadonlyArray<TokenEndpoint.Reply>,
  body: (
    endpoint: TokenEndpoint.Service
  ) => Effect.Effect<A, E, TokenService.TokenService>
) =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpoint.TokenEndpoint
    yield* endpoint.respond(replies)
    return yield* body(endpoint).pipe(
      Effect.provide(
        TokenService.layer().pipe(
          Layer.provide(Grant.clientCredentials(grantOptions(endpoint.url))),
          Layer.provide([refreshPolicy, RetryPolicy.layerDefault, TokenStore.layerMemory])
        )
      )
    )
  }).pipe(Effect.provide(ServerAndClient))

const bearer = (accessToken: string, expiresIn: number): TokenEndpoint.Reply => ({
  body: { access_token: accessToken, token_type: "Bearer", expires_in: expiresIn }
})

describe("end to end", () => {
  it.effect("ICEYE (seed 000): Basic auth, 1 h tokens, renewed 5 minutes before expiry", () =>
    withTokenService(
      (tokenUrl) => ({ tokenUrl, clientId: "iceye-client", clientSecret: Redacted.make(SECRET) }),
      RefreshPolicy.fixed("5 minutes"),
      [bearer("iceye-token-1", 3600), bearer("iceye-token-2", 3600)],
      (endpoint) =>
        Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          const first = yield* tokens.get
          assert.strictEqual(Redacted.value(first.accessToken), "iceye-token-1")
          assert.strictEqual((yield* endpoint.requests).length, 1)

          // every later get, concurrent or not, reuses it
          const many = yield* Effect.all(Array.from({ length: 50 }, () => tokens.get), { concurrency: "unbounded" })
          assert.isTrue(many.every((t) => Redacted.value(t.accessToken) === "iceye-token-1"))
          yield* TestClock.adjust("54 minutes")
          yield* TestClock.adjust("59 seconds")
          assert.strictEqual(Redacted.value((yield* tokens.get).accessToken), "iceye-token-1")
          assert.strictEqual((yield* endpoint.requests).length, 1)

          // 5 minutes before expiry: a new token
          yield* TestClock.adjust("1 second")
          assert.strictEqual(Redacted.value((yield* tokens.get).accessToken), "iceye-token-2")
          const requests = yield* endpoint.requests
          assert.strictEqual(requests.length, 2)
          for (const request of requests) {
            assert.deepStrictEqual(decodeBasic(request.headers["authorization"]), ["iceye-client", SECRET])
            assert.strictEqual(request.body, "grant_type=client_credentials")
          }
        })
    ))

  it.effect("ThingPark (seed 001): credentials in the body, renewed 10 seconds before expiry", () =>
    withTokenService(
      (tokenUrl) => ({ tokenUrl, clientId: "tp-client", clientAuth: ClientAuth.post(Redacted.make(SECRET)) }),
      RefreshPolicy.fixed("10 seconds"),
      [bearer("tp-token-1", 300), bearer("tp-token-2", 300)],
      (endpoint) =>
        Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          assert.strictEqual(Redacted.value((yield* tokens.get).accessToken), "tp-token-1")
          yield* Effect.all(Array.from({ length: 20 }, () => tokens.get), { concurrency: "unbounded" })
          assert.strictEqual((yield* endpoint.requests).length, 1)

          yield* TestClock.adjust("289 seconds")
          assert.strictEqual(Redacted.value((yield* tokens.get).accessToken), "tp-token-1")
          assert.strictEqual((yield* endpoint.requests).length, 1)

          yield* TestClock.adjust("1 second")
          assert.strictEqual(Redacted.value((yield* tokens.get).accessToken), "tp-token-2")
          const requests = yield* endpoint.requests
          assert.strictEqual(requests.length, 2)
          for (const request of requests) {
            assert.isUndefined(request.headers["authorization"])
            assert.strictEqual(request.form.get("grant_type"), "client_credentials")
            assert.strictEqual(request.form.get("client_id"), "tp-client")
            assert.strictEqual(request.form.get("client_secret"), SECRET)
          }
        })
    ))
})

// -----------------------------------------------------------------------------
// retries over real HTTP, driven by the TestClock
// -----------------------------------------------------------------------------

/**
 * The retry schedule's pending backoff sleeps, as delays from now: the TestClock sleeps that end within
 * 4 s. (An attempt's 10 s timeout, the store operations' 5 s timeouts and the 30 s lock timeout also sleep
 * on the Clock, and the TestClock keeps the sleeps of finished operations in its list until it passes
 * them; the tests here look at the window before they have advanced the clock by 4 s, which keeps those
 * out of it.)
 */
const pendingBackoffs: Effect.Effect<ReadonlyArray<number>> = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  return Chunk.toReadonlyArray(yield* TestClock.sleeps())
    .filter((t) => t > now && t < now + 4_000)
    .map((t) => t - now)
})

/** The next backoff delay, once the retrying fiber has reached its sleep (real I/O turns, no real time). */
const nextBackoff: Effect.Effect<number> = Effect.gen(function*() {
  yield* TokenEndpoint.pollUntil("the retry schedule to sleep", Effect.map(pendingBackoffs, (d) => d.length > 0))
  return Math.min(...(yield* pendingBackoffs))
})

describe("RetryPolicy over real HTTP", () => {
  const options = (tokenUrl: string): Grant.ClientCredentialsOptions => ({
    tokenUrl,
    clientId: "my-client",
    clientSecret: Redacted.make(SECRET)
  })
  const unavailable: TokenEndpoint.Reply = { status: 503, body: "<h1>503</h1>", contentType: "text/html" }

  it.effect("503, 503, then 200: one token after 3 requests", () =>
    withTokenService(
      options,
      RefreshPolicy.fixed("5 minutes"),
      [unavailable, unavailable, bearer("after-retries", 3600)],
      (endpoint) =>
        Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          const fiber = yield* Effect.fork(tokens.get)
          for (const seen of [1, 2]) {
            yield* endpoint.awaitRequests(seen)
            const delay = yield* nextBackoff
            assert.strictEqual((yield* endpoint.requests).length, seen, "no request before the backoff ends")
            yield* TestClock.adjust(delay)
          }
          const token = yield* Fiber.join(fiber)
          assert.strictEqual(Redacted.value(token.accessToken), "after-retries")
          assert.strictEqual((yield* endpoint.requests).length, 3)
          // and the token is then reused
          yield* tokens.get
          assert.strictEqual((yield* endpoint.requests).length, 3)
        })
    ))

  it.effect("429 with Retry-After: 3 waits exactly the 3 seconds the server asked for", () =>
    withTokenService(
      options,
      RefreshPolicy.fixed("5 minutes"),
      [{ status: 429, headers: { "retry-after": "3" }, body: "" }, bearer("after-429", 3600)],
      (endpoint) =>
        Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          const fiber = yield* Effect.fork(tokens.get)
          yield* endpoint.awaitRequests(1)
          assert.strictEqual(yield* nextBackoff, 3_000)
          yield* TestClock.adjust("3 seconds")
          const token = yield* Fiber.join(fiber)
          assert.strictEqual(Redacted.value(token.accessToken), "after-429")
          assert.strictEqual((yield* endpoint.requests).length, 2)
        })
    ))

  it.effect("invalid_client is not retried: exactly one request, and the failure is not cached", () =>
    withTokenService(
      options,
      RefreshPolicy.fixed("5 minutes"),
      { status: 401, body: { error: "invalid_client", error_description: "bad secret" } },
      (endpoint) =>
        Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          const fiber = yield* Effect.fork(tokens.get)
          yield* endpoint.awaitRequests(1)
          // the get either fails at once, or the schedule goes to sleep before a retry
          yield* TokenEndpoint.pollUntil(
            "the get to fail or to back off",
            Effect.zipWith(
              Fiber.poll(fiber),
              pendingBackoffs,
              (done, backoffs) => Option.isSome(done) || backoffs.length > 0
            )
          )
          assert.deepStrictEqual(yield* pendingBackoffs, [], "invalid_client must not be retried")
          const error = yield* Effect.flip(Fiber.join(fiber))
          assert.strictEqual(error.reason, "Status")
          assert.strictEqual(error.status, 401)
          assert.strictEqual(error.error, "invalid_client")
          yield* TestClock.adjust("1 minute")
          assert.strictEqual((yield* endpoint.requests).length, 1)
          // the failure is not cached: the next get asks again
          yield* Effect.flip(tokens.get)
          assert.strictEqual((yield* endpoint.requests).length, 2)
        })
    ))
})
